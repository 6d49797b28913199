package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// healthz reads the admin port's counters.
func healthz(t *testing.T, h *testserver.Harness) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + h.Server.AdminAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	nums := map[string]float64{}
	for k, v := range out {
		if f, ok := v.(float64); ok {
			nums[k] = f
		}
	}
	return nums
}

// TestSlowConsumerIsCutOffAndLosesNothing: a client that stops reading is
// disconnected once its queue passes the cap, the others keep receiving,
// and the slow user gets everything on RESUME.
func TestSlowConsumerIsCutOffAndLosesNothing(t *testing.T) {
	const payload = 60 << 10
	h := testserver.Start(t, "", node.Config{Edge: server.Config{MaxFrame: 128 << 10, MaxOutbound: 256 << 10}, Engine: fanout.Config{MaxPayload: payload}})
	account, secret := h.Account(1, 2)
	healthy := h.Subscribe(1, 0)

	slow := testutil.DialRaw(t, h.Server.ClientAddr())
	slow.Welcome(0, h.Token(2))
	slow.Send(wire.AppendResume(nil, wire.Resume{}, 0))
	if f, err := slow.Next(5 * time.Second); err != nil || f.Type != wire.TypeResumed {
		t.Fatalf("RESUME answered by %s, %v", f.Type, err)
	}
	// From here the slow client reads nothing. Loopback socket buffers hold
	// a few MiB, so publish well past them.
	pub := h.Publisher(account, secret)
	const n = 400
	var ids []uint64
	for i := 0; i < n; i++ {
		res, err := pub.Publish(context.Background(), client.Message{ClientMsgID: fmt.Sprint(i), Payload: make([]byte, payload)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.MessageID)
		// The healthy subscriber keeps up (and keeps the test from
		// measuring its own slowness).
		if m := testserver.Receive(t, healthy, 10*time.Second); m.ID != res.MessageID {
			t.Fatalf("healthy subscriber got %d, want %d", m.ID, res.MessageID)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "a slow-consumer disconnect", func() bool {
		return healthz(t, h)["slow_consumers"] == 1
	})

	// Nothing is lost: the slow user resumes and gets all of it, in order.
	resumed := h.Subscribe(2, 0)
	for _, want := range ids {
		if m := testserver.Receive(t, resumed, 10*time.Second); m.ID != want {
			t.Fatalf("resumed user got %d, want %d", m.ID, want)
		}
	}
}

// TestRepeatedResumesAreCapped: a client that sends 100 RESUMEs without
// reading would queue a catch-up page for each (one 64 KiB broadcast a
// page here, 6.4 MB in all); the cap (256 KiB) applies to catch-up pages
// as to live pushes, so it is cut off with SLOW_CONSUMER well before the
// last, and the server never holds the rest.
func TestRepeatedResumesAreCapped(t *testing.T) {
	h := testserver.Start(t, "", node.Config{Edge: server.Config{MaxFrame: 128 << 10, MaxOutbound: 256 << 10}, Engine: fanout.Config{CatchUpPage: 1}})
	account, secret := h.Account(1, 2)
	pub := h.Publisher(account, secret)
	ctx := context.Background()
	payload := make([]byte, 64<<10)
	for i := 0; i < 100; i++ {
		payload[0] = byte(i)
		if _, err := pub.Publish(ctx, client.Message{Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	r := testutil.DialRaw(t, h.Server.ClientAddr())
	r.Welcome(0, h.Token(2))
	var resumes []byte
	for i := 0; i < 100; i++ {
		resumes = wire.AppendResume(resumes, wire.Resume{}, 0)
	}
	r.Send(resumes) // and read nothing until the server has decided
	testutil.WaitFor(t, 10*time.Second, "a slow-consumer cut-off", func() bool { return healthz(t, h)["slow_consumers"] == 1 })
	// What was queued before the cut is read; the ERROR after it is best
	// effort (PROTOCOL.md: a slow consumer may not read it).
	pages := 0
	for {
		f, err := r.Next(10 * time.Second)
		if errors.Is(err, io.EOF) || testutil.IsReset(err) {
			break
		}
		if err != nil {
			t.Fatalf("after %d pages: %v", pages, err)
		}
		if f.Type == wire.TypeResumed {
			pages++
		}
		if f.Type == wire.TypeError {
			if m, _ := wire.DecodeError(f.Body); m.Code != wire.CodeSlowConsumer {
				t.Fatalf("%s after %d pages", m.Code, pages)
			}
		}
	}
	t.Logf("cut off after %d of 100 pages had been queued", pages)
	if pages >= 100 {
		t.Fatalf("all %d pages were queued", pages)
	}
}
