package cluster_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"herald/client"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
)

// selfSigned writes a certificate and key for 127.0.0.1 in one PEM file
// (HAProxy's crt) and returns the file and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(dir, "herald.pem")
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return path, pool
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestTLSThroughHAProxy runs the front door of docs/CLUSTER.md
// (docs/cluster/haproxy.cfg): HAProxy terminates TLS for clients and
// publishers and spreads them over three edges with the PROXY protocol
// (v2 for clients, v1 for publishers);
// broadcasts reach every client, and an edge logs the client's own
// address, not HAProxy's.
func TestTLSThroughHAProxy(t *testing.T) {
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_HAPROXY") != "" {
			t.Fatal("haproxy is not installed (.ci/run installs it)")
		}
		t.Skip("haproxy is not installed (apt-get install haproxy; .ci/run does)")
	}
	logs := &testutil.SyncBuffer{}
	c := startClusterWith(t, 3, clusterOptions{edgeConfig: func(cfg *node.Config) {
		cfg.Edge.ProxyProtocol = true
		cfg.Edge.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}})
	dir := t.TempDir()
	crt, pool := selfSigned(t, dir)
	clientsAddr, publishersAddr := freePort(t), freePort(t)
	doc, err := os.ReadFile("../docs/cluster/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	// The documented file, on this test's addresses.
	replace := []string{"127.0.0.1:7443", clientsAddr, "127.0.0.1:7444", publishersAddr, "/etc/herald/herald.pem", crt}
	for i, port := range []string{"7400", "7410", "7420"} {
		replace = append(replace, "127.0.0.1:"+port+" ", c.edges[i].Edge.ClientAddr()+" ")
	}
	for i, port := range []string{"7401", "7411", "7421"} {
		replace = append(replace, "127.0.0.1:"+port+" ", c.edges[i].Edge.PublisherAddr()+" ")
	}
	for i := 0; i < len(replace); i += 2 {
		if !strings.Contains(string(doc), replace[i]) {
			t.Fatalf("docs/cluster/haproxy.cfg has no %q to replace", replace[i])
		}
	}
	conf := strings.NewReplacer(replace...).Replace(string(doc))
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	proc := exec.Command(haproxy, "-f", cfgPath, "-db")
	proc.Stdout, proc.Stderr = os.Stderr, os.Stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Process.Kill(); _ = proc.Wait() })
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for { // until HAProxy listens
		conn, err := tls.Dial("tcp", clientsAddr, tlsConfig)
		if err == nil {
			conn.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("haproxy does not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	account, secret := c.account(1, 6)
	var subs []*client.Subscriber
	for user := uint32(1); user <= 6; user++ {
		token, err := c.admin(0).MintToken(ctx, user, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := client.Subscribe(ctx, client.SubscriberConfig{Addr: clientsAddr, TLS: tlsConfig, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if err := sub.WaitLive(ctx); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub)
	}
	for i, e := range c.edges {
		// At least: HAProxy's health checks come and go.
		if n := e.Edge.Connections(); n < 2 {
			t.Fatalf("edge %d holds %d connections, want 2 (leastconn)", i, n)
		}
	}
	pub, err := client.DialPublisher(ctx, client.PublisherConfig{Addr: publishersAddr, TLS: tlsConfig, Account: account, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	res, err := pub.Publish(ctx, client.Message{Payload: []byte("through the front door")})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		if m := testserver.Receive(t, sub, 10*time.Second); m.ID != res.MessageID {
			t.Fatalf("user %d got %d", sub.User(), m.ID)
		}
	}

	// A client that breaks the protocol is closed, and the edge names it
	// by its own address.
	bad, err := tls.Dial("tcp", clientsAddr, tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Write([]byte{0, 0, 0, 1, 0}); err != nil {
		t.Fatal(err)
	}
	_ = bad.SetReadDeadline(time.Now().Add(10 * time.Second))
	var sink [256]byte
	for {
		if _, err := bad.Read(sink[:]); err != nil {
			break // closed by the edge, through HAProxy
		}
	}
	want := "remote=" + bad.LocalAddr().String()
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("no edge logged %s:\n%s", want, logs.String())
	}
}
