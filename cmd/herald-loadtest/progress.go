package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// bar shows a run's phases as progress bars on a terminal.
type bar struct {
	w   io.Writer
	mu  sync.Mutex
	cur *progressbar.ProgressBar
}

func (b *bar) Phase(name string, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil {
		_ = b.cur.Finish()
	}
	b.cur = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(b.w, "\n") }))
}

func (b *bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil {
		_ = b.cur.Add(n)
	}
}

// newBar returns a Progress for w when it is a terminal, else nil (the
// run then prints plain lines).
func newBar(w io.Writer) *bar {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &bar{w: w}
	}
	return nil
}
