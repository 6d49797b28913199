package main

import (
	"bytes"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagsBelongToTheirCommands: a flag is accepted only by the commands
// it affects; serve refuses the client-side ones instead of ignoring them.
func TestFlagsBelongToTheirCommands(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--admin", "http://x"},
		{"serve", "--client-addr", "127.0.0.1:1"},
		{"serve", "--publisher-addr", "127.0.0.1:1"},
		{"publish", "--admin", "http://x", "--account", "1", "--secret", "s", "x"},
		{"token", "--client-addr", "x", "--user", "1"},
	} {
		root := newRoot()
		root.SetArgs(args)
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "unknown flag") {
			t.Errorf("%v: %v, want an unknown flag", args, err)
		}
	}
}

// TestHelpShowsOneDefault: no flag's help shows two defaults, a default of
// -1 standing for "not given", or an empty list as a default.
func TestHelpShowsOneDefault(t *testing.T) {
	bad := regexp.MustCompile(`\(default[^)]*\).*\(default|\(default -1\)|\(default \[\]\)|\(required\) \(default`)
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{cmd.LocalFlags(), cmd.InheritedFlags()} {
			for _, line := range strings.Split(fs.FlagUsages(), "\n") {
				if bad.MatchString(line) {
					t.Errorf("herald %s: %s", cmd.CommandPath(), strings.TrimSpace(line))
				}
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
}

// TestSizesParse: a size flag on the command line is shown back the way
// it was given (node's TestSizesParse tests the parser).
func TestSizesParse(t *testing.T) {
	root := newRoot()
	serve, _, _ := root.Find([]string{"serve"})
	if err := serve.Flags().Set("max-frame", "2MiB"); err != nil || serve.Flags().Lookup("max-frame").Value.String() != "2MiB" {
		t.Fatalf("--max-frame 2MiB: %v", err)
	}
}

// TestNewUserErrors: what a new user meets first is said plainly.
func TestNewUserErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close() // nothing listens there now
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"negative user", []string{"token", "--user", "-5", "--admin-token", "t"}, `"-5" is not a number from 0 to 4294967295 (a user id)`},
		{"server down (admin)", []string{"account", "show", "--account", "1", "--admin", "http://" + down, "--admin-token", "t"}, "start one with `herald serve`"},
		{"server down (publisher)", []string{"publish", "--publisher-addr", down, "--account", "1", "--secret", "s", "hello"}, "start one with `herald serve`"},
		{"no message", []string{"publish", "--account", "1", "--secret", "s"}, "give the message as arguments or with --file"},
		{"port in use", []string{"serve", "--data-dir", filepath.Join(t.TempDir(), "d"), "--client-listen", busy.Addr().String(),
			"--publisher-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"}, "another program (another herald serve?) has that port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot()
			root.SetArgs(tc.args)
			root.SetOut(&bytes.Buffer{})
			root.SetErr(&bytes.Buffer{})
			err := explain(root.Execute())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestAccountsAndFollowersFromTheCommandLine: account list and show
// --account, follow remove and follow list, and a message given as words.
func TestAccountsAndFollowersFromTheCommandLine(t *testing.T) {
	h := start(t)
	if out, err := run(t, h, "", "account", "list"); err != nil || !strings.Contains(out, "no accounts") {
		t.Fatalf("empty list: %q %v", out, err)
	}
	out, err := run(t, h, "", "account", "create", "--name", "news", "--tier", "service")
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`secret: (\S+)`).FindStringSubmatch(out)[1]
	if _, err := run(t, h, "", "account", "create", "--name", "sports"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, h, "1\n2\n3\n4\n5\n", "follow", "import", "--account", "1", "-"); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, h, "2\n4\n9\n", "follow", "remove", "--account", "1", "-"); err != nil || !strings.Contains(out, "removed 2 followers; account 1 has 3") {
		t.Fatalf("follow remove: %q %v", out, err)
	}
	if out, err := run(t, h, "", "follow", "list", "--account", "1", "--limit", "2"); err != nil || out != "account 1 has 3 followers\n1\n3\nmore: herald follow list --account 1 --after 3\n" {
		t.Fatalf("follow list: %q %v", out, err)
	}
	if out, err := run(t, h, "", "follow", "list", "--account", "1", "--after", "3"); err != nil || out != "account 1 has 3 followers\n5\n" {
		t.Fatalf("follow list --after: %q %v", out, err)
	}
	if out, err := run(t, h, "", "account", "list", "--limit", "1"); err != nil || !regexp.MustCompile(`1\s+news\s+service\s+3\n`).MatchString(out) || !strings.Contains(out, "--after 1") {
		t.Fatalf("account list: %q %v", out, err)
	}
	if out, err := run(t, h, "", "account", "show", "--account", "2"); err != nil || !strings.Contains(out, "account 2 (sports, subscription): 0 followers") {
		t.Fatalf("account show --account: %q %v", out, err)
	}
	if out, err := run(t, h, "", "publish", "--account", "1", "--secret", secret, "--dry-run", "hello", "followers"); err != nil || !strings.Contains(out, "dry run: audience 3") {
		t.Fatalf("publish of words: %q %v", out, err)
	}
}
