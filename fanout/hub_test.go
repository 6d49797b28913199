package fanout

import (
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"herald/storage"
)

// TestOnlineIndexKeepsItsSinks: going online and offline in any order
// (users with several sinks, the last user moved into a removed one's
// place) leaves the index delivering to exactly the sinks online, on both
// walks: over the online users and over a smaller audience.
func TestOnlineIndexKeepsItsSinks(t *testing.T) {
	var hub Hub
	x := hub.Register(&syncLoop{})
	sinks := map[uint32][]*countingSink{}
	add := func(user uint32) {
		s := &countingSink{}
		sinks[user] = append(sinks[user], s)
		x.add(user, s, false)
	}
	remove := func(user uint32, i int) {
		x.Remove(user, sinks[user][i])
		sinks[user] = append(sinks[user][:i], sinks[user][i+1:]...)
	}
	for u := uint32(1); u <= 10; u++ {
		add(u)
	}
	add(3) // a second device
	add(7)
	remove(1, 0)  // the first user: the last takes its slot
	remove(3, 0)  // one of two devices
	remove(10, 0) // the user now in slot 0
	remove(5, 0)
	x.Remove(5, &countingSink{}) // not online: a no-op
	add(5)                       // back
	if x.Online() != 8 {
		t.Fatalf("%d online, want 8", x.Online())
	}
	check := func(audience *roaring.Bitmap, want func(uint32) bool) {
		t.Helper()
		for _, list := range sinks {
			for _, s := range list {
				*s = countingSink{}
			}
		}
		x.deliver([]*delivery{newDelivery(storage.Broadcast{ID: 1, Payload: []byte("x")}, audience, nil)})
		for u := uint32(0); u <= 11; u++ {
			for i, s := range sinks[u] {
				if got := s.n == 1; got != want(u) {
					t.Fatalf("user %d sink %d got %d frames", u, i, s.n)
				}
			}
		}
	}
	all := roaring.New()
	all.AddRange(0, 100)
	check(all, func(u uint32) bool { return u != 1 && u != 10 }) // walks the online users
	check(roaring.BitmapOf(3, 7, 1), func(u uint32) bool { return u == 3 || u == 7 })
}
