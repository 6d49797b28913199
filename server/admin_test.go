package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
)

// adminCall makes one raw admin request and returns status and decoded body.
func adminCall(t *testing.T, h *testserver.Harness, method, path, token string, header map[string]string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+h.Server.AdminAddr()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func zstdOf(t *testing.T, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(data, nil)
}

func TestAdminImportBodies(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, _ := h.Account(1, 0)
	tok := h.Server.AdminToken()
	path := fmt.Sprintf("/v1/accounts/%d/followers", account)

	status, body := adminCall(t, h, "POST", path, tok, nil, strings.NewReader("1\n2\n"))
	if status != 200 || body["added"] != 2.0 {
		t.Fatalf("identity import: %d %v", status, body)
	}
	status, body = adminCall(t, h, "POST", path, tok, map[string]string{"Content-Encoding": "zstd"}, bytes.NewReader(zstdOf(t, []byte("3\n4\n4\n"))))
	if status != 200 || body["added"] != 2.0 || body["followers"] != 4.0 {
		t.Fatalf("zstd import: %d %v", status, body)
	}

	// 64 MiB of "5\n" compresses to a few KiB: refused as a bomb after the
	// first MiB, with the ids before it imported.
	bomb := zstdOf(t, bytes.Repeat([]byte("5\n"), 32<<20))
	status, body = adminCall(t, h, "POST", path, tok, map[string]string{"Content-Encoding": "zstd"}, bytes.NewReader(bomb))
	if status != 400 || !strings.Contains(body["error"].(string), "decompression bomb") {
		t.Fatalf("bomb (%d compressed bytes): %d %v", len(bomb), status, body)
	}
	status, body = adminCall(t, h, "POST", path, tok, map[string]string{"Content-Encoding": "zstd"}, strings.NewReader("not zstd at all"))
	if status != 400 || !strings.Contains(body["error"].(string), "reading body") {
		t.Fatalf("corrupt zstd: %d %v", status, body)
	}
	status, _ = adminCall(t, h, "POST", path, tok, map[string]string{"Content-Encoding": "gzip"}, strings.NewReader("x"))
	if status != http.StatusUnsupportedMediaType {
		t.Fatalf("gzip: %d", status)
	}
	if a, err := h.Admin.Account(t.Context(), 1); err != nil || a.Followers != 5 {
		t.Fatalf("followers after the bad bodies = %+v, %v (want 5: 1-4 and the bomb's 5)", a, err)
	}
	compressing := *h.Admin
	compressing.Compress = true
	if res, err := compressing.ImportFollowers(t.Context(), account, strings.NewReader("6\n7\n")); err != nil || res.Added != 2 || res.Followers != 7 {
		t.Fatalf("SDK import with Compress = %+v, %v", res, err)
	}
}

func TestAdminRejectsBadRequests(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	tok := h.Server.AdminToken()
	tests := []struct {
		name, method, path, token, body string
		want                            int
	}{
		{"wrong token", "GET", "/v1/accounts/1", "nope", "", 401},
		{"no token", "POST", "/v1/accounts", "", `{"name":"x"}`, 401},
		{"bad json", "POST", "/v1/accounts", tok, `{"name":`, 400},
		{"empty name", "POST", "/v1/accounts", tok, `{"name":""}`, 400},
		{"bad tier", "POST", "/v1/accounts", tok, `{"name":"x","tier":"gold"}`, 400},
		{"bad account id", "GET", "/v1/accounts/abc", tok, "", 400},
		{"zero account id", "GET", "/v1/accounts/0", tok, "", 400},
		{"unknown account", "GET", "/v1/accounts/77", tok, "", 404},
		{"import to unknown account", "POST", "/v1/accounts/77/followers", tok, "1\n", 404},
		{"token without user", "POST", "/v1/tokens", tok, `{}`, 400},
		{"token with bad ttl", "POST", "/v1/tokens", tok, `{"user":1,"ttl":"-5s"}`, 400},
		{"token with huge ttl", "POST", "/v1/tokens", tok, `{"user":1,"ttl":"100000h"}`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := adminCall(t, h, tc.method, tc.path, tc.token, nil, strings.NewReader(tc.body))
			if status != tc.want || body["error"] == nil {
				t.Fatalf("got %d %v, want %d with an error message", status, body, tc.want)
			}
		})
	}
	status, body := adminCall(t, h, "GET", "/healthz", "", nil, nil)
	if status != 200 || body["status"] != "ok" {
		t.Fatalf("healthz: %d %v", status, body)
	}
}

// TestMetricsAndProfiles: /metrics serves Prometheus text with Herald's
// series; /debug/pprof needs the admin token.
func TestMetricsAndProfiles(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	sub := h.Subscribe(2, 0)
	if _, err := h.Publisher(account, secret).Publish(t.Context(), testutil.Message("m")); err != nil {
		t.Fatal(err)
	}
	testserver.Receive(t, sub, 5*time.Second)
	// The delivery counter is added once the loop's drain has finished
	// writing, which can be just after the client has read the frame.
	var body []byte
	testutil.WaitFor(t, 5*time.Second, "the delivery counter", func() bool {
		resp, err := http.Get("http://" + h.Server.AdminAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(body), "herald_deliveries_total 1")
	})
	for _, want := range []string{
		`herald_connections{listener="client"} 1`,
		`herald_connections{listener="publisher"} 1`,
		"herald_publishes_total 1",
		"herald_deliveries_total 1",
		"herald_commit_seconds_count",
		"herald_last_message_id 1",
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}
	status, _ := adminCall(t, h, "GET", "/debug/pprof/", "wrong", nil, nil)
	if status != 401 {
		t.Fatalf("pprof without the token: %d", status)
	}
	req, _ := http.NewRequest("GET", "http://"+h.Server.AdminAddr()+"/debug/pprof/heap", nil)
	req.Header.Set("Authorization", "Bearer "+h.Server.AdminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pprof heap: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}
