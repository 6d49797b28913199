package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"herald/client"
	"herald/internal/testserver"
	"herald/node"
)

// chromium finds Debian's chromium; the test is skipped without it unless
// HERALD_REQUIRE_CHROMIUM is set (CI installs it and sets it).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HERALD_REQUIRE_CHROMIUM") != "" {
		t.Fatal("no chromium on PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH")
	return ""
}

// TestDemoPageInChromium loads the demo page (/demo/ on the admin
// listener) in headless Chromium, subscribes with a token typed into its
// form, receives a broadcast published from Go, survives a restart of the
// server with nothing lost or shown twice, and fails on any console error
// of the page: console.error, an uncaught exception, or an error the
// browser logs — but for its own line about each reconnect refused while
// the server is down, which no page can avoid.
func TestDemoPageInChromium(t *testing.T) {
	exe := chromium(t)
	h := testserver.Start(t, "", node.Config{})
	account, secret := h.Account(42, 42)
	token := h.Token(42)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	var mu sync.Mutex
	var problems []string
	restarting, refused := false, 0
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *cdplog.EventEntryAdded:
			switch {
			case ev.Entry.Level != cdplog.EntryLevelError:
			case restarting && ev.Entry.Source == cdplog.EntrySourceNetwork && strings.Contains(ev.Entry.Text, "ERR_CONNECTION_REFUSED"):
				// The browser's own line for each reconnect tried while
				// the server is down: expected, and counted.
				refused++
			default:
				problems = append(problems, fmt.Sprintf("log (%s): %s", ev.Entry.Source, ev.Entry.Text))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, fmt.Sprintf("exception: %s %+v", ev.ExceptionDetails.Text, ev.ExceptionDetails.Exception))
		}
	}); err != nil {
		t.Fatal(err)
	}
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

	mu.Lock()
	restarting = true
	mu.Unlock()
	h.Stop()
	h.Restart() // same ports and data: the page's subscriber reconnects
	second := publish("after the restart")
	shows(second, "after the restart")
	mu.Lock()
	restarting = false
	t.Logf("the page reconnected after %d refused attempts while the server was down", refused)
	mu.Unlock()
	items, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#messages li[data-id]").length`))
	if err != nil || items != 2 {
		t.Fatalf("the page lists %d messages (%v), want 2: one each, none twice", items, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("the page reported:\n%s", strings.Join(problems, "\n"))
	}
}
