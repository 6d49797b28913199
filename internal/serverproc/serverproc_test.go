package serverproc

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain lets this test binary serve as the server process.
func TestMain(m *testing.M) {
	MaybeServe()
	os.Exit(m.Run())
}

// TestProcessUsage reads a server process's CPU and RSS from /proc.
func TestProcessUsage(t *testing.T) {
	proc, err := Start(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Stop()
	cpu, rss := proc.Usage()
	if rss < 1<<20 || cpu < 0 {
		t.Fatalf("cpu %v, rss %d bytes", cpu, rss)
	}
}
