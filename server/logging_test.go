package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"herald/internal/testserver"
	"herald/internal/testutil"
	"herald/node"
	"herald/server"
	"herald/wire"
)

// findLine returns the first JSON line in logs whose msg is msg, decoded.
func findLine(logs *testutil.SyncBuffer, msg string) map[string]any {
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

// TestLogLines: a line per import, per publish (account, message id,
// audience, filtered, commit time), per finished delivery (sent live,
// pending offline, errors, duration), and per connection the server closes
// with an error (at debug for a client's own mistake).
func TestLogLines(t *testing.T) {
	var logs testutil.SyncBuffer
	log, err := server.NewLogger(&logs, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	h := testserver.Start(t, "", node.Config{Edge: server.Config{Logger: log}})
	account, secret := h.Account(1, 3)
	h.Subscribe(1, 0)
	res, err := h.Publisher(account, secret).Publish(context.Background(), testutil.Message("logged"))
	if err != nil {
		t.Fatal(err)
	}
	r := testutil.DialRaw(t, h.Server.ClientAddr())
	r.Send(wire.AppendFrame(nil, wire.TypeHello, 0, []byte{1}))
	r.ExpectError(wire.CodeMalformedFrame, 0)

	var lines map[string]map[string]any
	testutil.WaitFor(t, 5*time.Second, "the log lines", func() bool {
		lines = map[string]map[string]any{}
		for _, msg := range []string{"followers added", "publish", "job done", "connection closed"} {
			if m := findLine(&logs, msg); m != nil {
				lines[msg] = m
			}
		}
		return len(lines) == 4
	})
	if m := lines["followers added"]; m["account"] != float64(account) || m["added"] != float64(3) {
		t.Errorf("import line: %v", m)
	}
	if m := lines["publish"]; m["account"] != float64(account) || m["message_id"] != float64(res.MessageID) || m["audience"] != float64(3) ||
		m["filtered"] != float64(0) || m["commit_ms"] == nil || m["level"] != "INFO" {
		t.Errorf("publish line: %v", m)
	}
	if m := lines["job done"]; m["message_id"] != float64(res.MessageID) || m["sent_live"] != float64(1) || m["pending_offline"] != float64(2) ||
		m["errors"] != float64(0) || m["ms"] == nil {
		t.Errorf("job done line: %v", m)
	}
	if m := lines["connection closed"]; m["code"] != "MALFORMED_FRAME" || m["level"] != "DEBUG" || m["listener"] != "client" {
		t.Errorf("disconnect line: %v", m)
	}
	if _, err := server.NewLogger(&logs, "xml", "info"); err == nil {
		t.Error("log format xml accepted")
	}
	if _, err := server.NewLogger(&logs, "text", "loud"); err == nil {
		t.Error("log level loud accepted")
	}
}
