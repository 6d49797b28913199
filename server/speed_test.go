package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"herald/client"
	"herald/fanout"
	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
)

// TestSpeedLevelPacesLiveDelivery: a broadcast at speed level 1 (800,000
// a minute) reaches its 10,000 followers in audience order over at least
// the time the level allows (never faster); another account's broadcast
// meanwhile is not held back, and a user it reaches before that user's
// turn gets the paced broadcast just before it, so ids stay in order.
func TestSpeedLevelPacesLiveDelivery(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	paced, secret := h.Account(1, 10_000)
	other, otherSecret := h.Account(9_000, 9_000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	users := []uint32{1, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000}
	type arrival struct {
		user uint32
		m    client.Push
		at   time.Time
	}
	arrivals := make(chan arrival, 64)
	for _, u := range users {
		sub := h.Subscribe(u, 0)
		go func() {
			for m := range sub.Messages() {
				arrivals <- arrival{u, m, time.Now()}
			}
		}()
	}
	pub, otherPub := h.Publisher(paced, secret), h.Publisher(other, otherSecret)
	began := time.Now()
	res, err := pub.Publish(ctx, client.Message{Speed: 1, Payload: []byte("paced")})
	if err != nil || res.Recipients != 10_000 {
		t.Fatalf("paced publish: %+v, %v", res, err)
	}
	side, err := otherPub.Publish(ctx, client.Message{Payload: []byte("other")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32][]arrival{}
	for n := 0; n < len(users)+1; n++ {
		select {
		case a := <-arrivals:
			got[a.user] = append(got[a.user], a)
		case <-ctx.Done():
			t.Fatalf("only %d of %d deliveries: %v", n, len(users)+1, got)
		}
	}
	last := got[10_000][0].at
	if min := time.Duration(float64(9_999) / (800_000.0 / 60_000) * 0.9 * float64(time.Millisecond)); last.Sub(began) < min {
		t.Fatalf("user 10,000 had the paced broadcast %v after the publish, sooner than the level allows (%v)", last.Sub(began), min)
	}
	for i := 1; i < len(users); i++ {
		if got[users[i]][0].at.Before(got[users[i-1]][0].at) && users[i] != 9_000 {
			t.Fatalf("user %d had it before user %d", users[i], users[i-1])
		}
	}
	at9000 := got[9_000]
	if len(at9000) != 2 || at9000[0].m.ID != res.MessageID || at9000[1].m.ID != side.MessageID {
		t.Fatalf("user 9,000 got %+v; want the paced broadcast %d, then the other account's %d", at9000, res.MessageID, side.MessageID)
	}
	if !at9000[1].at.Before(last) {
		t.Fatalf("the other account's broadcast came %v after the publish, not before the paced one ended (%v)", at9000[1].at.Sub(began), last.Sub(began))
	}
	var report client.JobReport
	testutil.WaitFor(t, 10*time.Second, "the paced broadcast's job done", func() bool {
		report, err = pub.Status(ctx, res.MessageID)
		return err == nil && !report.InProgress
	})
	if report.SentLive != uint32(len(users)) || report.PendingOffline != 10_000-uint32(len(users)) {
		t.Fatalf("status after pacing: %+v", report)
	}
}

// BenchmarkSpeedLevel measures the rate a paced broadcast reaches its
// audience: 10,000 followers, every 100th online, at speed level 1
// (800,000 a minute) and 3 (400,000); the rate is the audience positions
// between the first and the last online recipient over the time between
// their arrivals, against the level.
func BenchmarkSpeedLevel(b *testing.B) {
	for _, level := range []int{1, 3} {
		b.Run(fmt.Sprint("level", level), func(b *testing.B) {
			h := testserver.Start(b, "", node.Config{})
			account, secret := h.Account(1, 10_000)
			arrivals := make(chan time.Time, 1024)
			for u := uint32(100); u <= 10_000; u += 100 {
				sub := h.Subscribe(u, 0)
				go func() {
					for range sub.Messages() {
						arrivals <- time.Now()
					}
				}()
			}
			pub := h.Publisher(account, secret)
			ctx := context.Background()
			var rates []float64
			for b.Loop() {
				if _, err := pub.Publish(ctx, client.Message{Speed: level, Payload: []byte("paced")}); err != nil {
					b.Fatal(err)
				}
				var first, last time.Time
				for i := range 100 {
					at := <-arrivals
					if i == 0 {
						first = at
					}
					last = at
				}
				rates = append(rates, 9_900/last.Sub(first).Minutes())
			}
			slices.Sort(rates)
			want := float64(fanout.SpeedPerMinute(uint8(level)))
			b.ReportMetric(rates[len(rates)/2], "deliveries/min")
			b.ReportMetric(rates[len(rates)/2]/want, "of-level")
		})
	}
}
