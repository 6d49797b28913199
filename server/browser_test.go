package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
)

// TestDemoPageInChromium loads the demo page (/demo/ on the admin
// listener) in headless Chromium, subscribes with a token typed into its
// form, receives a broadcast published from Go, survives a restart of the
// server with nothing lost or shown twice, and fails on any console error
// of the page: console.error, an uncaught exception, or an error the
// browser logs — but for its own line about each reconnect refused while
// the server is down, which no page can avoid.
func TestDemoPageInChromium(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(42, 42)
	token := h.Token(42)

	b := newBrowser(t, 0, 0)
	ctx := b.ctx
	var restarting atomic.Bool
	refused := 0
	b.excuse(func(source cdplog.EntrySource, text string) bool {
		// The browser's own line for each reconnect tried while the
		// server is down: expected, and counted.
		if restarting.Load() && source == cdplog.EntrySourceNetwork && strings.Contains(text, "ERR_CONNECTION_REFUSED") {
			refused++
			return true
		}
		return false
	})
	page := "http://" + h.Server.AdminAddr() + "/demo/"
	if err := chromedp.Do(ctx,
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("subscribe")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="live"]`)),
	); err != nil {
		t.Fatalf("subscribing on %s: %v", page, err)
	}
	pub := h.Publisher(account, secret)
	publish := func(text string) uint64 {
		res, err := pub.Publish(context.Background(), client.Message{Payload: []byte(text)})
		if err != nil {
			t.Fatal(err)
		}
		return res.MessageID
	}
	shows := func(id uint64, text string) {
		t.Helper()
		sel := chromedp.CSS(fmt.Sprintf(`#messages li[data-id="%d"] .text`, id))
		err := chromedp.Do(ctx, chromedp.WaitVisible(sel))
		var got string
		if err == nil {
			got, err = chromedp.Run(ctx, chromedp.Text(sel))
		}
		if err != nil || got != text {
			t.Fatalf("the page shows %q for %d (%v), want %q", got, id, err, text)
		}
	}
	first := publish("hello from Go")
	shows(first, "hello from Go")

	restarting.Store(true)
	h.Stop()
	h.Restart() // same ports and data: the page's subscriber reconnects
	second := publish("after the restart")
	shows(second, "after the restart")
	restarting.Store(false)
	items, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#messages li[data-id]").length`))
	if err != nil || items != 2 {
		t.Fatalf("the page lists %d messages (%v), want 2: one each, none twice", items, err)
	}
	b.mu.Lock()
	t.Logf("the page reconnected after %d refused attempts while the server was down", refused)
	b.mu.Unlock()
	b.check(t)
}
