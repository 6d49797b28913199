package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"herald/internal/testserver"
	"herald/node"
)

// start runs a server for a test and points the commands at it, through
// the environment variables each command's flags default to.
func start(t *testing.T) *testserver.Harness {
	t.Helper()
	h := testserver.Start(t, "", node.Config{})
	t.Setenv("HERALD_ADMIN", "http://"+h.Server.AdminAddr())
	t.Setenv("HERALD_ADMIN_TOKEN", h.Server.AdminToken())
	t.Setenv("HERALD_CLIENT_ADDR", h.Server.ClientAddr())
	t.Setenv("HERALD_PUBLISHER_ADDR", h.Server.PublisherAddr())
	return h
}

// run executes one herald command line (against the server start pointed
// the environment at) and returns its output.
func run(t *testing.T, _ *testserver.Harness, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestWalkThrough is the README's walk-through: create an account, import
// followers, subscribe, publish, and see the push.
func TestWalkThrough(t *testing.T) {
	h := start(t)
	out, err := run(t, h, "", "account", "create", "--name", "news")
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)
	if !strings.Contains(out, "account 1 (news, subscription)") || secret == nil {
		t.Fatalf("account create printed %q", out)
	}
	file := filepath.Join(t.TempDir(), "followers.txt")
	if err := os.WriteFile(file, []byte("# ids\n1\n2\n42\n\n42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, h, "", "follow", "import", "--account", "1", file); err != nil || !strings.Contains(out, "imported 3 new followers; account 1 has 3") {
		t.Fatalf("import: %q, %v", out, err)
	}

	subOut := make(chan string, 1)
	go func() {
		out, err := run(t, h, "", "subscribe", "--user", "42", "--count", "1")
		if err != nil {
			out += "error: " + err.Error()
		}
		subOut <- out
	}()
	testserver.WaitForConnections(t, h, 1)
	if out, err := run(t, h, "", "publish", "--account", "1", "--secret", secret[1], "hello from herald"); err != nil || !strings.Contains(out, "audience 3") {
		t.Fatalf("publish: %q, %v", out, err)
	}
	select {
	case out := <-subOut:
		if !regexp.MustCompile(`#1 from account 1 at \S+ \[text/plain\] hello from herald`).MatchString(out) {
			t.Fatalf("subscribe printed %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber printed nothing")
	}

	if out, err := run(t, h, "", "status", "--account", "1", "--secret", secret[1], "1"); err != nil ||
		!regexp.MustCompile(`message 1 (delivered|delivering): audience 3, filtered 0, sent live \d, pending offline \d, errors 0`).MatchString(out) {
		t.Fatalf("status: %q, %v", out, err)
	}
	if out, err := run(t, h, "", "status", "--reach", "--account", "1", "--secret", secret[1], "1"); err != nil ||
		!regexp.MustCompile(`message 1 (delivered|delivering): audience 3.*\n  left out: 0 not in the list or tags, 0 blocked, 0 at the cap\n  delivered \d of 3 \(\d of them caught up\), opened 0\n  delivered within 1s: \d`).MatchString(out) {
		t.Fatalf("status --reach: %q, %v", out, err)
	}
	if out, err := run(t, h, "", "retract", "--account", "1", "--secret", secret[1], "1"); err != nil || !strings.Contains(out, "message 1 retracted") {
		t.Fatalf("retract: %q, %v", out, err)
	}
	if _, err := run(t, h, "", "retract", "--account", "1", "--secret", secret[1], "99"); err == nil || !strings.Contains(err.Error(), "UNKNOWN_MESSAGE") {
		t.Fatalf("retract of an unknown id: %v", err)
	}
	if out, err := run(t, h, "", "block", "--account", "1", "--secret", secret[1], "5", "6"); err != nil || !strings.Contains(out, "blocked 2 users") {
		t.Fatalf("block: %q, %v", out, err)
	}
	if out, err := run(t, h, "", "unblock", "--account", "1", "--secret", secret[1], "5"); err != nil || !strings.Contains(out, "unblocked 1 users") {
		t.Fatalf("unblock: %q, %v", out, err)
	}
	if _, err := run(t, h, "", "block", "--account", "1", "--secret", secret[1], "x"); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Fatalf("block x: %v", err)
	}
	tag := func(want string, args ...string) {
		t.Helper()
		out, err := run(t, h, "", append([]string{"tag", args[0], "--account", "1", "--secret", secret[1]}, args[1:]...)...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("tag %v: %q, %v; want %q", args, out, err, want)
		}
	}
	tag(`created tag "vip" (#1): 0 members`, "create", "vip")
	tag(`added to tag "vip" (#1): 2 members`, "add", "vip", "1", "42")
	tag(`created tag "gone" (#2)`, "create", "gone")
	tag(`deleted tag "gone" (#2)`, "delete", "gone")
	tag(`renamed tag "gold" (#1): 2 members`, "rename", "vip", "gold")
	tag(`removed from tag "gold" (#1): 1 members`, "remove", "gold", "1")
	tag("#1\tgold\t1 members", "list")
	if out, err := run(t, h, "", "publish", "--account", "1", "--secret", secret[1], "--dry-run", "--tags", "gold OR NOT gold", "x"); err != nil || !strings.Contains(out, "dry run: audience 3") {
		t.Fatalf("publish --tags: %q, %v", out, err)
	}
	if _, err := run(t, h, "", "publish", "--account", "1", "--secret", secret[1], "--tags", "silver", "x"); err == nil || !strings.Contains(err.Error(), "UNKNOWN_TAG") {
		t.Fatalf("publish to an unknown tag: %v", err)
	}
	if _, err := run(t, h, "", "publish", "--account", "1", "--secret", secret[1], "--tags", "gold AND (", "x"); err == nil || !strings.Contains(err.Error(), "expected a tag") {
		t.Fatalf("publish to a malformed expression: %v", err)
	}
	if out, err := run(t, h, "", "account", "show", "1"); err != nil || !strings.Contains(out, "3 followers") {
		t.Fatalf("show: %q, %v", out, err)
	}
	if out, err := run(t, h, "", "token", "--user", "7"); err != nil || !strings.Contains(out, ".") {
		t.Fatalf("token: %q, %v", out, err)
	}
}

func TestCommandErrors(t *testing.T) {
	h := start(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"wrong secret", []string{"publish", "--account", "1", "--secret", "nope", "x"}, "AUTH_FAILED"},
		{"missing account flag", []string{"publish", "--secret", "s", "x"}, "--account and --secret"},
		{"bad tier", []string{"account", "create", "--name", "n", "--tier", "gold"}, "unknown tier"},
		{"unknown account", []string{"account", "show", "9"}, "account 9 does not exist"},
		{"bad account id", []string{"account", "show", "x"}, "not a number"},
		{"import to unknown account", []string{"follow", "import", "--account", "5", "-"}, "account 5 does not exist"},
		{"token without user", []string{"token"}, "--user is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, h, "1\n", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// A bad line stops the import and says how much went in.
	if _, err := run(t, h, "", "account", "create", "--name", "n"); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, h, "1\n2\nthree\n", "follow", "import", "--account", "1", "-")
	if err == nil || !strings.Contains(err.Error(), `line 3: "three"`) || !strings.Contains(err.Error(), "2 new follows were imported") {
		t.Fatalf("bad line: %v", err)
	}
	// Without a token the admin commands say how to get one.
	t.Setenv("HERALD_ADMIN_TOKEN", "")
	root := newRoot()
	root.SetArgs([]string{"account", "show", "--admin-token-file", filepath.Join(t.TempDir(), "none"), "1"})
	root.SetOut(&bytes.Buffer{})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "no admin token") {
		t.Fatalf("no token: %v", err)
	}
}

// TestNotificationsFromTheCommandLine: define a template, send a
// notification a subscriber prints, grant and spend a consent, list and
// delete templates.
func TestNotificationsFromTheCommandLine(t *testing.T) {
	h := start(t)
	account, secret := h.Account(1, 2)
	as := func(args ...string) []string {
		return append(args[:1:1], append([]string{"--account", fmt.Sprint(account), "--secret", secret}, args[1:]...)...)
	}
	cmd := func(want string, args ...string) {
		t.Helper()
		out, err := run(t, h, "", args...)
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("%v: %q, %v; want %q", args, out, err, want)
		}
	}
	cmd(`defined template "receipt" (Payment receipt, to followers): fields amount, shop`,
		append([]string{"template"}, as("define", "receipt", "--title", "Payment receipt", "--field", "amount,shop")...)...)
	cmd(`defined template "code" (Login code, needs consent): fields code`,
		append([]string{"template"}, as("define", "code", "--title", "Login code", "--field", "code", "--consent")...)...)
	cmd("template \"code\" (Login code, needs consent): fields code\ntemplate \"receipt\"", append([]string{"template"}, as("list")...)...)

	subOut := make(chan string, 1)
	go func() {
		out, err := run(t, h, "", "subscribe", "--user", "2", "--count", "1")
		if err != nil {
			out += "error: " + err.Error()
		}
		subOut <- out
	}()
	testserver.WaitForConnections(t, h, 1)
	cmd("dry run: 1 recipients", as("notify", "--template", "receipt", "--to", "2,7", "--dry-run")...)
	cmd(": 1 recipients", as("notify", "--template", "receipt", "--to", "2", "--field", "amount=9.99", "--field", "shop=Tea, House", "--link", "https://x/1")...)
	select {
	case out := <-subOut:
		if !regexp.MustCompile(`#1 from account \d+ at \S+: notification receipt \{amount=9.99, shop=Tea, House\} https://x/1`).MatchString(out) {
			t.Fatalf("subscribe printed %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber printed nothing")
	}
	if _, err := run(t, h, "", as("notify", "--template", "code", "--to", "9")...); err == nil || !strings.Contains(err.Error(), "CONSENT_REQUIRED") {
		t.Fatalf("notify before consent: %v", err)
	}
	cmd("user 9: grant 1 code of account", "consent", "--user", "9", "--account", fmt.Sprint(account), "--template", "code", "grant", "1")
	cmd(": 1 recipients", as("notify", "--template", "code", "--to", "9", "--field", "code=4711")...)
	if _, err := run(t, h, "", as("notify", "--template", "receipt", "--to", "2", "--field", "amount")...); err == nil || !strings.Contains(err.Error(), "NAME=VALUE") {
		t.Fatalf("notify with a bad field: %v", err)
	}
	cmd(`deleted template "receipt"`, append([]string{"template"}, as("delete", "receipt")...)...)
	if _, err := run(t, h, "", as("notify", "--template", "receipt", "--to", "2")...); err == nil || !strings.Contains(err.Error(), "UNKNOWN_TEMPLATE") {
		t.Fatalf("notify of a deleted template: %v", err)
	}
}

// TestLettersFromTheCommandLine: a user writes, the account reads its
// inbox and replies, and the subscriber prints the reply.
func TestLettersFromTheCommandLine(t *testing.T) {
	h := start(t)
	account, secret := h.Account(1, 2)
	acct := fmt.Sprint(account)
	if out, err := run(t, h, "", "write", "--user", "2", "--account", acct, "where", "is", "my", "order?"); err != nil || !strings.Contains(out, "user 2 wrote to account") {
		t.Fatalf("write: %q, %v", out, err)
	}
	if _, err := run(t, h, "", "write", "--user", "5", "--account", acct, "hi"); err == nil || !strings.Contains(err.Error(), "NOT_FOLLOWING") {
		t.Fatalf("write as a non-follower: %v", err)
	}
	out, err := run(t, h, "", "inbox", "--account", acct, "--secret", secret)
	if err != nil || !regexp.MustCompile(`#1 from user 2 at \S+ \[text/plain\] where is my order\?`).MatchString(out) {
		t.Fatalf("inbox: %q, %v", out, err)
	}
	if out, err := run(t, h, "", "inbox", "--account", acct, "--secret", secret, "--after", "1"); err != nil || !strings.Contains(out, "no letters") {
		t.Fatalf("inbox --after 1: %q, %v", out, err)
	}
	subOut := make(chan string, 1)
	go func() {
		out, err := run(t, h, "", "subscribe", "--user", "2", "--count", "1", "--cursor", "0")
		if err != nil {
			out += "error: " + err.Error()
		}
		subOut <- out
	}()
	testserver.WaitForConnections(t, h, 1)
	if out, err := run(t, h, "", "publish", "--account", acct, "--secret", secret, "--reply-to", "2", "it ships today"); err != nil || !strings.Contains(out, "audience 1") {
		t.Fatalf("publish --reply-to: %q, %v", out, err)
	}
	select {
	case out := <-subOut:
		if !regexp.MustCompile(`#1 from account \d+ at \S+ reply \[text/plain\] it ships today`).MatchString(out) {
			t.Fatalf("subscribe printed %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber printed nothing")
	}
	if _, err := run(t, h, "", "publish", "--account", acct, "--secret", secret, "--reply-to", "1", "unasked"); err == nil || !strings.Contains(err.Error(), "WINDOW_CLOSED") {
		t.Fatalf("reply to a user who never wrote: %v", err)
	}
}

// TestScheduleFromTheCommandLine: publish --at schedules, cancel withdraws,
// and a bad time is a clear error.
func TestScheduleFromTheCommandLine(t *testing.T) {
	h := start(t)
	account, secret := h.Account(1, 2)
	acct := fmt.Sprint(account)
	if out, err := run(t, h, "", "publish", "--account", acct, "--secret", secret, "--at", "1h", "--id", "later", "x"); err != nil || !strings.Contains(out, `scheduled "later" for`) {
		t.Fatalf("publish --at: %q, %v", out, err)
	}
	if out, err := run(t, h, "", "cancel", "--account", acct, "--secret", secret, "--id", "later"); err != nil || !strings.Contains(out, `cancelled "later"`) {
		t.Fatalf("cancel: %q, %v", out, err)
	}
	if _, err := run(t, h, "", "cancel", "--account", acct, "--secret", secret, "--id", "later"); err == nil || !strings.Contains(err.Error(), "UNKNOWN_MESSAGE") {
		t.Fatalf("cancel twice: %v", err)
	}
	if _, err := run(t, h, "", "publish", "--account", acct, "--secret", secret, "--at", "tomorrow", "x"); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Fatalf("publish --at tomorrow: %v", err)
	}
}
