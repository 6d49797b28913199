package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/wire"
)

// TestLatencyAndErrorMetrics: /metrics has the fan-out latency (PUBLISH
// → every live recipient written), the acknowledgement latency (PUBLISH
// → PUBLISH_ACK queued), the catch-up latency (RESUME → live)
// and the ERROR frames sent by code, answers to requests and closing ones
// alike, every code present from the start.
func TestLatencyAndErrorMetrics(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 3)
	sub := h.Subscribe(2, 0) // one RESUME, live
	if _, err := h.Publisher(account, secret).Publish(t.Context(), testutil.Message("m")); err != nil {
		t.Fatal(err)
	}
	testserver.Receive(t, sub, 5*time.Second)
	if err := sub.Follow(context.Background(), 999); err == nil { // UNKNOWN_ACCOUNT, answered
		t.Fatal("followed an unknown account")
	}
	raw := testutil.DialRaw(t, h.Server.ClientAddr())
	raw.Send(wire.AppendHello(nil, wire.Hello{Version: wire.Version1, Credential: "not a token"}))
	raw.ExpectError(wire.CodeTokenInvalid, 0) // closes the connection
	var body string
	testutil.WaitFor(t, 5*time.Second, "the fan-out to be observed", func() bool {
		resp, err := http.Get("http://" + h.Server.AdminAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return strings.Contains(body, "herald_fanout_seconds_count 1")
	})
	for _, want := range []string{
		"herald_catchup_seconds_count 1",
		"herald_publish_ack_seconds_count 1",
		`herald_errors_total{code="UNKNOWN_ACCOUNT"} 1`,
		`herald_errors_total{code="TOKEN_INVALID"} 1`,
		`herald_errors_total{code="SLOW_CONSUMER"} 0`,
		`herald_fanout_seconds_bucket{le="0.0005"}`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}
}
