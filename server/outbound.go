package server

import (
	"math/bits"
	"runtime"
	"runtime/debug"
	"sync/atomic"
)

// # Outbound memory
//
// What the socket does not take at once gnet copies into the connection's
// outbound buffer: a ring of up to 64 KiB, then a list of nodes, one per
// slice written, each allocated from a pool of power-of-two sizes. A
// 64 KiB PUSH frame (65,566 bytes with its header) so costs a 128 KiB node,
// and a 300-byte one 512 bytes plus the node: counting queued bytes alone,
// slow consumers held about twice their cap. So the cap (MaxOutbound) is
// applied to the memory the queue costs:
//
//   - frames longer than splitMin are written as power-of-two pieces plus a
//     short tail, so the nodes that copy them are exact;
//   - each write that lands in the buffer is charged what its nodes cost
//     (cost), and the memory held is estimated as the bytes still buffered
//     times the charge per byte of what was queued since the buffer was
//     last empty.

// splitMin: frames longer than this are cut into power-of-two pieces.
const splitMin = 4096

// nodeOverhead is a list node's own allocation (slice header and link).
const nodeOverhead = 32

// outbound is one connection's account of its queued bytes.
type outbound struct {
	// bytes and charged are the bytes handed to gnet's buffer since it was
	// last seen empty, and what their copies cost.
	bytes, charged int
}

// held estimates the memory the connection's outbound buffer holds now,
// buffered bytes being in it.
func (o *outbound) held(buffered int) int {
	if buffered == 0 {
		o.bytes, o.charged = 0, 0
		return 0
	}
	if o.bytes == 0 {
		return buffered
	}
	return int(int64(buffered) * int64(o.charged) / int64(o.bytes))
}

// queued records that added bytes of a write of size bytes costing charge
// went into the buffer.
func (o *outbound) queued(added, size, charge int) {
	if added <= 0 || size == 0 {
		return
	}
	o.bytes += added
	o.charged += int(int64(charge) * int64(added) / int64(size))
}

// split appends frames to dst with each frame longer than splitMin cut into
// power-of-two pieces and a tail, and returns dst and what copying them all
// into list nodes costs.
func split(dst, frames [][]byte) ([][]byte, int) {
	charge := 0
	for _, f := range frames {
		for len(f) > splitMin {
			piece := 1 << (bits.Len(uint(len(f))) - 1) // the largest power of two in f
			dst = append(dst, f[:piece])
			charge += piece + nodeOverhead
			f = f[piece:]
		}
		if len(f) > 0 {
			dst = append(dst, f)
			charge += cost(len(f))
		}
	}
	return dst, charge
}

// cost is what a list node copying n bytes allocates.
func cost(n int) int {
	return 1<<bits.Len(uint(n-1)) + nodeOverhead
}

// reclaimAfter is how much memory closed slow consumers must have released
// before the server collects it and returns it to the operating system.
const reclaimAfter = 32 << 20

// reclaimer returns the memory of cut-off slow consumers promptly. When
// they close, their outbound buffers go back to gnet's pools, where they
// stay until two collections have passed (the first moves them to the
// pool's victim cache), and the Go collector's headroom (GOGC, 100%) comes
// on top: after a wave of cut-offs the server would hold about twice the
// sum of their caps. Collecting as soon as a wave has released
// reclaimAfter keeps it near the caps; the buffers hold no pointers, so a
// collection costs little.
type reclaimer struct {
	released atomic.Int64 // bytes released since the last collection
	running  atomic.Bool
}

// release records that a slow consumer holding n bytes has closed.
func (r *reclaimer) release(n int) {
	if r.released.Add(int64(n)) >= reclaimAfter && r.running.CompareAndSwap(false, true) {
		go r.collect()
	}
}

func (r *reclaimer) collect() {
	for {
		r.released.Store(0)
		// The connection's buffers are released just after its OnClose:
		// three collections free them even if the first began before
		// (the third is FreeOSMemory's, which also returns them).
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
		r.running.Store(false)
		if r.released.Load() < reclaimAfter || !r.running.CompareAndSwap(false, true) {
			return
		}
	}
}
