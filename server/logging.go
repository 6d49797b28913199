package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"herald/wire"
)

// disconnectLogLimit is the most disconnect lines logged a second; a storm
// of bad clients must not become a storm of log lines.
const disconnectLogLimit = 20

// rateLimit lets at most perSecond events a second through (as a token
// bucket of that size) and counts the rest, so that the next line let
// through can say how many were left out.
type rateLimit struct {
	perSecond float64
	mu        struct {
		sync.Mutex
		tokens     float64
		last       time.Time
		suppressed int
	}
}

// allow reports whether an event may be logged now, and how many were
// suppressed since the last one that was.
func (r *rateLimit) allow(now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.last.IsZero() {
		r.mu.tokens = r.perSecond
	} else {
		r.mu.tokens = min(r.perSecond, r.mu.tokens+now.Sub(r.mu.last).Seconds()*r.perSecond)
	}
	r.mu.last = now
	if r.mu.tokens < 1 {
		r.mu.suppressed++
		return false, 0
	}
	r.mu.tokens--
	n := r.mu.suppressed
	r.mu.suppressed = 0
	return true, n
}

// logDisconnect writes the line for a connection the server closes with
// code: at warn when the server protects itself (a slow consumer, a frame
// never finished, too many connections, memory for partial frames used
// up), at debug for a client's own mistakes and routine ends.
func (cn *conn) logDisconnect(code wire.Code, text string) {
	level := slog.LevelDebug
	switch code {
	case wire.CodeSlowConsumer, wire.CodeFrameTimeout, wire.CodeConnectionLimit, wire.CodeOverloaded:
		level = slog.LevelWarn
	case wire.CodeShuttingDown:
		return
	}
	log := cn.srv.cfg.Logger
	if !log.Enabled(context.Background(), level) {
		return
	}
	ok, suppressed := cn.srv.disconnectLog.allow(time.Now())
	if !ok {
		return
	}
	role := "client"
	if cn.role == rolePublisher {
		role = "publisher"
	}
	attrs := []any{"code", code.String(), "reason", text, "listener", role, "remote", cn.remoteAddr().String()}
	if cn.state == stateReady {
		attrs = append(attrs, role+"_id", cn.id())
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed_before", suppressed)
	}
	log.Log(context.Background(), level, "connection closed", attrs...)
}

// NewLogger returns a logger writing to w as format ("text": key=value
// lines, readable on a terminal; "json": one JSON object a line) at level
// ("debug", "info", "warn" or "error") and above.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: log level %q is not debug, info, warn or error", ErrConfig, level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: log format %q is not text or json", ErrConfig, format)
}
