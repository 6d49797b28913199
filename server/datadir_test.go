package server_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/server"
	"herald/wire"
)

// TestDataDirectoryIsPrivate: the data directory is created 0700 and every
// file in it (database, token keys, admin token, lock) is 0600, before and
// after a restart; a directory that others can read is refused with what
// to run.
func TestDataDirectoryIsPrivate(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	if _, err := h.Publisher(account, secret).Publish(context.Background(), testutil.Message("x")); err != nil {
		t.Fatal(err)
	}
	requirePrivate(t, h.Dir) // as the first start made it
	h.Stop()
	h.Restart()
	h.Stop()
	requirePrivate(t, h.Dir)
	for _, name := range []string{"token.keys", "admin.token", "herald.lock"} {
		if _, err := os.Stat(filepath.Join(h.Dir, name)); err != nil {
			t.Error(err)
		}
	}

	open := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := node.Start(node.Config{Engine: fanout.Config{DataDir: open}, Edge: server.Config{ClientAddr: "127.0.0.1:0", PublisherAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}})
	if !errors.Is(err, fanout.ErrDataDir) || !strings.Contains(err.Error(), "chmod 700 "+open) {
		t.Fatalf("start on a 0755 directory: %v", err)
	}
}

// requirePrivate checks that dir is 0700 and everything in it 0600.
func requirePrivate(t *testing.T, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if e.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}

// TestSecondServerOnTheDataDirectory: a second server on a directory in use
// says another Herald holds it, with its pid.
func TestSecondServerOnTheDataDirectory(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	_, err := node.Start(node.Config{Engine: fanout.Config{DataDir: h.Dir}, Edge: server.Config{ClientAddr: "127.0.0.1:0", PublisherAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}})
	if !errors.Is(err, fanout.ErrDataDirInUse) || !strings.Contains(err.Error(), fmt.Sprintf("another Herald server (process %d)", os.Getpid())) {
		t.Fatalf("second start: %v", err)
	}
	// The first one is unharmed.
	h.Subscribe(1, 0)
}

// TestSecondServerOnTheClientPort: the client listeners share their port
// among the loops (SO_REUSEPORT), yet a second server on the same port is
// refused, as any program holding it would be, and the first keeps every
// client.
func TestSecondServerOnTheClientPort(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	cfg := node.Config{
		Engine: fanout.Config{DataDir: filepath.Join(t.TempDir(), "second")},
		Edge:   server.Config{ClientAddr: h.Server.ClientAddr(), PublisherAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"},
	}
	if n, err := node.Start(cfg); !errors.Is(err, syscall.EADDRINUSE) {
		if err == nil {
			_ = n.Close()
		}
		t.Fatalf("second server on the client port %s: %v, want EADDRINUSE", h.Server.ClientAddr(), err)
	}
	for user := uint32(1); user <= 8; user++ {
		h.Subscribe(user, 0) // each one's WELCOME comes from the first
	}
}

// TestPortInUseLeavesNoDataDirectory: a start that fails to listen removes
// the data directory it had just created.
func TestPortInUseLeavesNoDataDirectory(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, edge := range []server.Config{
		{ClientAddr: ln.Addr().String(), PublisherAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"},
		{ClientAddr: "127.0.0.1:0", PublisherAddr: "127.0.0.1:0", AdminAddr: ln.Addr().String()},
	} {
		cfg := node.Config{Edge: edge, Engine: fanout.Config{DataDir: filepath.Join(t.TempDir(), "fresh")}}
		if n, err := node.Start(cfg); err == nil {
			_ = n.Close()
			t.Fatalf("started on a port in use: %+v", edge)
		}
		if _, err := os.Stat(cfg.Engine.DataDir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a failed start left %s behind: %v", cfg.Engine.DataDir, err)
		}
	}
}

// TestTokenKeyRotation: after a rotation, tokens signed with the replaced
// key are accepted until its overlap ends (across a restart), new tokens
// use the new key, and a key whose overlap has ended is refused.
func TestTokenKeyRotation(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	ctx := context.Background()
	hello := func(token string) wire.Code {
		t.Helper()
		r := testutil.DialRaw(t, h.Server.ClientAddr())
		r.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: token}))
		f, err := r.Next(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == wire.TypeWelcome {
			return 0
		}
		m, err := wire.DecodeError(f.Body)
		if err != nil {
			t.Fatal(err)
		}
		return m.Code
	}
	first := h.Token(5)
	until, err := h.Admin.RotateTokenKey(ctx, time.Hour)
	if err != nil || time.Until(until) < 59*time.Minute {
		t.Fatalf("rotate: %v, %v", until, err)
	}
	second := h.Token(5)
	if first == second {
		t.Fatal("the rotation did not change the signing key")
	}
	h.Stop()
	h.Restart()
	for name, token := range map[string]string{"first": first, "second": second} {
		if code := hello(token); code != 0 {
			t.Fatalf("%s token refused with %s after a rotation", name, code)
		}
	}
	// The second key retires at once; the first keeps its hour.
	if _, err := h.Admin.RotateTokenKey(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if code := hello(second); code != wire.CodeTokenInvalid {
		t.Fatalf("token of a retired key: %v, want TOKEN_INVALID", code)
	}
	if code := hello(first); code != 0 {
		t.Fatalf("token of a key still in its overlap: %v", code)
	}
	if code := hello(h.Token(5)); code != 0 {
		t.Fatalf("new token: %v", code)
	}
	var e *client.AdminError
	if _, err := h.Admin.RotateTokenKey(ctx, 10000*time.Hour); !errors.As(err, &e) || e.Status != 400 {
		t.Fatalf("overlap over the longest token lifetime: %v", err)
	}
}
