package storage

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
)

// pebbleLogger passes Pebble's messages to the store's slog logger.
//
// Errors are logged once per cause: a failing flush or compaction is
// retried over and over, and with a full disk Pebble reported the same
// error some 33,000 times in two minutes. The first occurrence of a cause
// (the message with its numbers masked) is logged at once; repeats are
// counted and reported at most once a minute, and on Close.
//
// Fatalf does not return, as Pebble requires (what follows a fatal error
// in Pebble assumes it stopped the process). It panics with a fatalError,
// which the store's commit path recovers into ErrStorageFailed; a fatal
// error on one of Pebble's own goroutines (a MANIFEST that cannot be
// written) still ends the process, as it would have.
type pebbleLogger struct {
	log     *slog.Logger
	repeats *repeats
}

// fatalError is the panic value of pebbleLogger.Fatalf.
type fatalError struct{ msg string }

func (l pebbleLogger) Infof(string, ...any) {}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.repeats.report(l.log, fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("storage: fatal error", "error", msg)
	panic(fatalError{msg: msg})
}

// repeats counts occurrences of log messages by cause.
type repeats struct {
	every time.Duration
	now   func() time.Time
	mu    struct {
		sync.Mutex
		causes map[string]*repeat
	}
}

type repeat struct {
	msg      string // the latest occurrence
	count    int    // occurrences not yet reported
	reported time.Time
}

func newRepeats() *repeats {
	r := &repeats{every: time.Minute, now: time.Now}
	r.mu.causes = make(map[string]*repeat)
	return r
}

// report logs msg if its cause is new, and otherwise counts it, logging the
// count once every r.every.
func (r *repeats) report(log *slog.Logger, msg string) {
	cause := maskNumbers(msg)
	now := r.now()
	r.mu.Lock()
	c, seen := r.mu.causes[cause]
	if !seen {
		r.mu.causes[cause] = &repeat{msg: msg, reported: now}
		r.mu.Unlock()
		log.Error("storage: "+msg, "repeats", "counted, logged at most once a minute")
		return
	}
	c.msg = msg
	c.count++
	var n int
	if now.Sub(c.reported) >= r.every {
		n, c.count, c.reported = c.count, 0, now
	}
	r.mu.Unlock()
	if n > 0 {
		log.Error("storage: "+msg, "repeated", n, "since", r.every.String())
	}
}

// flush logs every count not yet reported.
func (r *repeats) flush(log *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.mu.causes {
		if c.count > 0 {
			log.Error("storage: "+c.msg, "repeated", c.count)
			c.count = 0
		}
	}
}

// maskNumbers replaces every run of digits in s by '#', so that one cause
// with different file numbers or sizes is one cause.
func maskNumbers(s string) string {
	var b strings.Builder
	digits := false
	for _, r := range s {
		if unicode.IsDigit(r) {
			if !digits {
				b.WriteByte('#')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return b.String()
}
