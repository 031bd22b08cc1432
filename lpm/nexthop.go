package lpm

import (
	"fmt"
	"sync/atomic"

	dpdk "fibd/cgo"
)

// Nexthops allocates nexthop indices. Index 0 is the FIB's miss value and
// never handed out. A released index waits in pending until a grace period
// has passed (FIB.Commit) before it can be allocated again.
//
// Concurrency: the FIB's writer alone allocates and releases; Live may be
// read from any goroutine.
type Nexthops struct {
	next    uint32   // first never-used index
	free    []uint32 // reusable now
	pending []uint32 // released, waiting for a grace period
	live    atomic.Int64
}

func newNexthops() *Nexthops { return &Nexthops{next: 1} }

// Alloc returns an unused index.
func (n *Nexthops) Alloc() (uint32, error) {
	if k := len(n.free); k > 0 {
		idx := n.free[k-1]
		n.free = n.free[:k-1]
		n.live.Add(1)
		return idx, nil
	}
	if n.next >= uint32(dpdk.MaxNexthops) {
		return 0, fmt.Errorf("nexthop table full (%d, meson option max_nexthops)", dpdk.MaxNexthops-1)
	}
	n.live.Add(1)
	n.next++
	return n.next - 1, nil
}

// Set publishes idx.
func (n *Nexthops) Set(idx uint32, nh dpdk.Nexthop) error { return dpdk.SetNexthop(idx, nh) }

// Release unpublishes idx; it becomes reusable after the next Commit. The
// caller must have removed every route that uses it first.
func (n *Nexthops) Release(idx uint32) error {
	if err := dpdk.SetNexthop(idx, dpdk.Nexthop{Type: dpdk.NexthopNone}); err != nil {
		return err
	}
	n.pending = append(n.pending, idx)
	n.live.Add(-1)
	return nil
}

// Unalloc returns an index that was allocated but never published.
func (n *Nexthops) Unalloc(idx uint32) {
	n.free = append(n.free, idx)
	n.live.Add(-1)
}

// Live is the number of allocated indices.
func (n *Nexthops) Live() int { return int(n.live.Load()) }

func (n *Nexthops) reclaim() {
	n.free = append(n.free, n.pending...)
	n.pending = n.pending[:0]
}
