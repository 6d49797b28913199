package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
)

// TestDashboardInChromium logs in to the dashboard (/dashboard/ on the
// admin listener) as the operator in headless Chromium, finds the
// accounts, opens one and reads its follower figures — the chart, the
// sources, the days — sees a new follow from "qr" after a reload, logs in
// as the account itself, and fails on any console error. Screenshots go to
// $HERALD_SCREENSHOTS when it is set (docs/img/dashboard.png is one).
func TestDashboardInChromium(t *testing.T) {
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(1, 1200)
	b := newBrowser(t, 420, 900)
	ctx := b.ctx
	text := func(sel string) string {
		t.Helper()
		return b.text(t, sel)
	}
	shot := func(name string) {
		dir := os.Getenv("HERALD_SCREENSHOTS")
		if dir == "" {
			return
		}
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
	base := "http://" + h.Server.AdminAddr() + "/dashboard/"
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base),
		chromedp.SendKeys(chromedp.ID("token"), h.Server.AdminToken()),
		chromedp.Click(chromedp.ID("enter")),
	); err != nil {
		t.Fatal(err)
	}
	if got := text(fmt.Sprintf(`#accounts tr[data-id="%d"] td:last-child`, account)); got != "1,200" {
		t.Fatalf("the accounts table says %q followers, want 1,200", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#accounts tr[data-id="%d"] a`, account)))); err != nil {
		t.Fatal(err)
	}
	if got := text(`#sources tr[data-source="import"] td:last-child`); got != "1,200" {
		t.Fatalf("import follows %q, want 1,200", got)
	}
	if got := text("#followers"); got != "1,200" {
		t.Fatalf("followers card %q", got)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if got := text(fmt.Sprintf(`#days tr[data-day="%s"] td:last-child`, today)); got != "1,200" {
		t.Fatalf("today's row says %q followers", got)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`svg.chart rect[data-day="%s"]`, today)))); err != nil {
		t.Fatalf("no bar for today in the chart: %v", err)
	}

	sub := h.Subscribe(5000, 0)
	if err := sub.FollowFrom(context.Background(), account, "qr"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	b.waitText(t, "#online", "1") // user 5000, online and now a follower
	if got := text(`#sources tr[data-source="qr"] td:last-child`); got != "1" {
		t.Fatalf("qr follows %q after a follow, want 1", got)
	}
	if got := text("#followers"); got != "1,201" {
		t.Fatalf("followers card %q, want 1,201", got)
	}
	shot("dashboard.png")

	// The account itself sees its own page (and only that: the API
	// refuses it the others, tested in TestAccountReadsItsOwnFigures).
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("account")),
		chromedp.SendKeys(chromedp.ID("account"), fmt.Sprint(account)),
		chromedp.SendKeys(chromedp.ID("secret"), secret),
		chromedp.Click(chromedp.ID("enter")),
	); err != nil {
		t.Fatal(err)
	}
	if got := text("#followers"); got != "1,201" {
		t.Fatalf("the account's own page: followers %q", got)
	}
	if got := text("#who"); got != fmt.Sprintf("account %d", account) {
		t.Fatalf("logged in as %q", got)
	}
	if got := text("#live"); !strings.Contains(got, "connections") {
		t.Fatalf("live figures %q", got)
	}
	if got := text("#no-broadcasts"); !strings.Contains(got, "herald publish") {
		t.Fatalf("the broadcasts' empty state says %q", got)
	}

	// A broadcast: its row appears, and its funnel moves as user 5000
	// acknowledges and opens it — without a reload.
	res, err := h.Publisher(account, secret).Publish(context.Background(), client.Message{Payload: []byte("news")})
	if err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf(`#broadcasts tr[data-id="%d"]`, res.MessageID)
	b.waitText(t, row+" td.recipients", "1,201")
	b.waitText(t, row+" td.sent", "1")
	if got := testserver.Receive(t, sub, 5*time.Second); got.ID != res.MessageID {
		t.Fatalf("user 5000 got %d", got.ID)
	}
	sub.Opened(res.MessageID)
	_ = sub.Close()
	b.waitText(t, row+" td.delivered", "1")
	b.waitText(t, row+" td.opened", "1")
	b.waitText(t, fmt.Sprintf(`.funnel[data-id="%d"] [data-step="delivered"] .n`, res.MessageID), "1 · <1%")
	today = time.Now().UTC().Format("2006-01-02")
	b.waitText(t, fmt.Sprintf(`#bdays tr[data-day="%s"] td:nth-child(4)`, today), "1")
	shot("dashboard-broadcasts.png")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row+" a"))); err != nil {
		t.Fatal(err)
	}
	b.waitText(t, "#b-delivered", "1")
	b.waitText(t, "#b-recipients", "1,201")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`svg.chart[aria-label="delivery curve"] rect[data-seconds="86400"]`))); err != nil {
		t.Fatalf("no delivery curve: %v", err)
	}
	shot("dashboard-broadcast.png")
	b.check(t)
}
