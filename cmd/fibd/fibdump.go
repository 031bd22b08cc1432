package main

import (
	"fmt"
	"net/netip"

	dpdk "fibd/cgo"
	"fibd/cmd/internal/ctl"
	"fibd/router"
)

// "router fib dump" lets a checker compare the whole FIB with the kernel
// (the soak, test/soak) in one connection: fdpi_cli router fib lookup per
// route is far too slow for a full view.
//
// This file sorts after commands.go, whose init sets the command list
// (Go runs a package's init functions in file name order).
func init() {
	commands = append(commands, command{"router fib dump", "[table=N]",
		"every prefix the FIB holds, its nexthop, and the FIB's own lookup of the prefix's first and last address (streamed)", cmdFIBDump, false})
}

// fibDumpPrefix is one prefix of "router fib dump --json". Field names are
// stable. First and Last are what the fast path's table answers for the
// prefix's first and last address at the time of the dump (a more
// specific prefix may answer for them).
type fibDumpPrefix struct {
	Table  uint32 `json:"table"`
	Prefix string `json:"prefix"`
	Index  uint32 `json:"nexthop_index"`
	First  uint32 `json:"first"`
	Last   uint32 `json:"last"`
}

// fibDumpNexthop describes one nexthop index; these lines come first.
type fibDumpNexthop struct {
	Index   uint32      `json:"nexthop_index"`
	Nexthop nexthopJSON `json:"nexthop"`
}

func cmdFIBDump(q *query, c *ctl.Command, o *output) error {
	table, err := q.tableOpt(c)
	if err != nil {
		return err
	}
	// A snapshot under the writer's lock, then the lookups and the
	// writing without it: a slow reader must not hold the router up.
	var (
		slot  uint16
		found bool
		pfxs  []fibDumpPrefix
		nhs   []fibDumpNexthop
	)
	q.WithState(func(prog *router.Programmer, _ *router.RIB) {
		if slot, found = q.tableSlot(table); !found {
			return
		}
		prog.EachNexthop(func(idx uint32, tg *router.Target) {
			nhs = append(nhs, fibDumpNexthop{idx, q.nexthop(prog, tg)})
		})
		prog.EachProgrammed(table, func(p netip.Prefix, idx uint32) {
			pfxs = append(pfxs, fibDumpPrefix{Table: table, Prefix: p.String(), Index: idx})
		})
	})
	if !found {
		return fmt.Errorf("%w: %d", errNoTable, table)
	}
	if err := fibDumpLookups(slot, pfxs); err != nil {
		return err
	}
	// the answer for an address without a route
	nhs = append(nhs, fibDumpNexthop{dpdk.NexthopMiss, nexthopJSON{Type: "no_route"}})
	o.begin()
	for _, n := range nhs {
		if o.json {
			o.record(n)
		} else {
			fmt.Fprintf(o.w, "nexthop %d %s\n", n.Index, n.Nexthop)
		}
	}
	for _, p := range pfxs {
		if o.json {
			if err := o.record(p); err != nil {
				return err
			}
		} else if _, err := fmt.Fprintf(o.w, "%s nexthop %d (first address %d, last %d)\n", p.Prefix, p.Index, p.First, p.Last); err != nil {
			return err
		}
	}
	return nil
}

// fibDumpLookups fills First and Last with the fast path's answers, in
// bulk per family.
func fibDumpLookups(slot uint16, pfxs []fibDumpPrefix) error {
	var (
		a4     []uint32
		i4     []int
		a6     [][16]byte
		i6     []int
		last32 = func(p netip.Prefix) uint32 {
			b := p.Addr().As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			return v | (1<<(32-p.Bits()) - 1)
		}
	)
	for i := range pfxs {
		p, err := netip.ParsePrefix(pfxs[i].Prefix)
		if err != nil {
			return err
		}
		if p.Addr().Is4() {
			l := last32(p)
			a4 = append(a4, l&^(1<<(32-p.Bits())-1), l)
			i4 = append(i4, i)
			continue
		}
		first := p.Addr().As16()
		last := first
		for b := p.Bits(); b < 128; b++ {
			last[b/8] |= 0x80 >> (b % 8)
		}
		a6 = append(a6, first, last)
		i6 = append(i6, i)
	}
	nh := make([]uint32, max(len(a4), len(a6)))
	if err := dpdk.LookupBulk4(slot, a4, nh); err != nil {
		return err
	}
	for k, i := range i4 {
		pfxs[i].First, pfxs[i].Last = nh[2*k], nh[2*k+1]
	}
	if err := dpdk.LookupBulk6(slot, a6, nh); err != nil {
		return err
	}
	for k, i := range i6 {
		pfxs[i].First, pfxs[i].Last = nh[2*k], nh[2*k+1]
	}
	return nil
}
