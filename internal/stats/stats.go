// Package stats summarises latency samples for the load test and the
// benchmark runner, with one definition of a quantile.
package stats

import "time"

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of sorted: the sample at
// index ⌊q·n⌋, clamped to the last; zero for no samples.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}
