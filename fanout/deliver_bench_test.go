package fanout

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage"
)

// benchmarkDeliver measures one loop delivering one broadcast: online users
// are every third id up to 3×online; the audience is followers dense ids
// 0..followers. Sinks only count, so this is the planning cost per delivery
// without socket writes.
func benchmarkDeliver(b *testing.B, online, followers int) {
	var hub Hub
	index := hub.Register(&syncLoop{})
	sinks := make([]countingSink, online)
	for i := range sinks {
		index.add(uint32(i*3), &sinks[i], false)
	}
	audience := roaring.New()
	audience.AddRange(0, uint64(followers))
	d := newDelivery(storage.Broadcast{ID: 1, Payload: make([]byte, 256)}, audience, nil)
	perBroadcast := min(online, (followers+2)/3)
	one := []*delivery{d}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		index.deliver(one)
	}
	b.ReportMetric(float64(perBroadcast)*float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

func BenchmarkDeliver_online1k_followers10M(b *testing.B)  { benchmarkDeliver(b, 1_000, 10_000_000) }
func BenchmarkDeliver_online10k_followers10M(b *testing.B) { benchmarkDeliver(b, 10_000, 10_000_000) }
func BenchmarkDeliver_online18k_followers10M(b *testing.B) { benchmarkDeliver(b, 18_000, 10_000_000) }
func BenchmarkDeliver_online18k_followers1k(b *testing.B)  { benchmarkDeliver(b, 18_000, 1_000) }
