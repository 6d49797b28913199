package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// coreTimes is each CPU's busy, stolen and total jiffies from /proc/stat.
// Busy counts all but idle and iowait, steal included: time the
// hypervisor ran another guest while this one had work.
type coreTimes struct{ busy, steal, total []uint64 }

func readCoreTimes() coreTimes {
	var ct coreTimes
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return ct
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var total, idle, steal uint64
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			total += n
			switch i {
			case 3, 4: // idle, iowait
				idle += n
			case 7:
				steal = n
			}
		}
		ct.busy = append(ct.busy, total-idle)
		ct.steal = append(ct.steal, steal)
		ct.total = append(ct.total, total)
	}
	return ct
}

// busyFractions returns each CPU's busy share between two readings.
func busyFractions(a, b coreTimes) []float64 { return shares(a.busy, b.busy, a.total, b.total) }

// stealFractions returns each CPU's stolen share between two readings.
func stealFractions(a, b coreTimes) []float64 { return shares(a.steal, b.steal, a.total, b.total) }

// shares returns, per CPU, what part of its jiffies between two readings
// (total) the counter a → b took.
func shares(a, b, totalA, totalB []uint64) []float64 {
	out := make([]float64, 0, len(b))
	for i := range b {
		if i >= len(a) || totalB[i] == totalA[i] {
			out = append(out, 0)
			continue
		}
		out = append(out, float64(b[i]-a[i])/float64(totalB[i]-totalA[i]))
	}
	return out
}

// selfCPU is this process's user and system CPU time (the clients).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
