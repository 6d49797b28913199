package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// coreTimes is each CPU's busy and total jiffies from /proc/stat.
type coreTimes struct{ busy, total []uint64 }

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
		var total, idle uint64
		for i, v := range f[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			total += n
			if i == 3 || i == 4 { // idle, iowait
				idle += n
			}
		}
		ct.busy = append(ct.busy, total-idle)
		ct.total = append(ct.total, total)
	}
	return ct
}

// busyFractions returns each CPU's busy share between two readings.
func busyFractions(a, b coreTimes) []float64 {
	out := make([]float64, 0, len(b.busy))
	for i := range b.busy {
		if i >= len(a.busy) || b.total[i] == a.total[i] {
			out = append(out, 0)
			continue
		}
		out = append(out, float64(b.busy[i]-a.busy[i])/float64(b.total[i]-a.total[i]))
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
