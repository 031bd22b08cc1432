package dpdk

/*
#include <stdlib.h>
#include "fp.h"
*/
import "C"

import (
	"net/netip"
	"unsafe"
)

// RuleAction is what a matching ip rule does.
type RuleAction uint8

const (
	RuleLookup      RuleAction = C.FP_RULE_LOOKUP      // look up Table; no route: next rule
	RuleLocal       RuleAction = C.FP_RULE_LOCAL       // the kernel's local table (local and punt routes of Table)
	RuleBlackhole   RuleAction = C.FP_RULE_BLACKHOLE   // drop
	RuleUnreachable RuleAction = C.FP_RULE_UNREACHABLE // drop, ICMP unreachable
	RuleProhibit    RuleAction = C.FP_RULE_PROHIBIT    // drop, ICMP prohibited
)

// IIFAny matches every ingress interface.
const IIFAny = PortID(C.FP_IIF_ANY)

// Rule is one ip rule as the fast path evaluates it.
type Rule struct {
	Prio     uint32
	IIF      PortID // IIFAny, a port or an interface id
	Src, Dst netip.Prefix
	Action   RuleAction
	Table    uint16 // FIB slot (RuleLookup, RuleLocal)
}

// SetRules publishes the rules of family 4 or 6, in order; none: every
// packet is looked up in its worker's table.
func SetRules(family int, rules []Rule) error {
	cr := make([]C.struct_fp_rule, len(rules))
	for i, r := range rules {
		c := &cr[i]
		c.prio = C.uint32_t(r.Prio)
		c.iif = C.uint16_t(r.IIF)
		c.tidx = C.uint16_t(r.Table)
		c.action = C.uint8_t(r.Action)
		if r.Src.IsValid() {
			c.src_len = C.uint8_t(r.Src.Bits())
			putAddr(c.src[:], r.Src.Addr())
		}
		if r.Dst.IsValid() {
			c.dst_len = C.uint8_t(r.Dst.Bits())
			putAddr(c.dst[:], r.Dst.Addr())
		}
	}
	var p *C.struct_fp_rule
	if len(cr) > 0 {
		p = &cr[0]
	}
	return errno(C.fp_rules_set(C.uint8_t(family), p, C.uint32_t(len(cr))), "ip rules (IPv%d)", family)
}

func putAddr(dst []C.uint8_t, a netip.Addr) {
	if a.Is4() {
		b := a.As4()
		for i := range b {
			dst[i] = C.uint8_t(b[i])
		}
		return
	}
	b := a.As16()
	for i := range b {
		dst[i] = C.uint8_t(b[i])
	}
}

// IIF maps frames of a port to an ingress interface: those sent to MAC
// (a macvlan's), or tagged with VID (a VLAN sub-interface's).
type IIF struct {
	MAC [6]byte
	VID uint16 // 0: by MAC
	ID  PortID
}

// SetIIFs replaces port p's ingress interface identities.
func (p PortID) SetIIFs(iifs []IIF) error {
	c := make([]C.struct_fp_iif, len(iifs))
	for i, x := range iifs {
		c[i].iif = C.uint16_t(x.ID)
		if x.VID != 0 {
			c[i].kind = C.FP_IIF_VLAN
			c[i].vid = C.uint16_t(x.VID)
		} else {
			c[i].kind = C.FP_IIF_MAC
			for j := range 6 {
				c[i].mac[j] = C.uint8_t(x.MAC[j])
			}
		}
	}
	var ptr *C.struct_fp_iif
	if len(c) > 0 {
		ptr = &c[0]
	}
	return errno(C.fp_port_set_iifs(C.uint16_t(p), ptr, C.uint32_t(len(c))), "ingress interfaces of port %d", p)
}

// RuleQuery is one packet for LookupRules.
type RuleQuery struct {
	IIF      PortID
	Src, Dst netip.Addr
}

// RuleBatch is a set of queries ready for the fast path's rule lookup.
type RuleBatch struct {
	family   int
	iif      []C.uint16_t
	src, dst [][16]C.uint8_t
	nh       []C.uint32_t
}

// NewRuleBatch prepares queries of one family.
func NewRuleBatch(family int, q []RuleQuery) *RuleBatch {
	b := &RuleBatch{family: family, iif: make([]C.uint16_t, len(q)), src: make([][16]C.uint8_t, len(q)),
		dst: make([][16]C.uint8_t, len(q)), nh: make([]C.uint32_t, len(q))}
	for i, x := range q {
		b.iif[i] = C.uint16_t(x.IIF)
		putAddr(b.src[i][:], x.Src)
		putAddr(b.dst[i][:], x.Dst)
	}
	return b
}

// Run decides every query through the published rules: out gets the
// nexthop index of each, NexthopMiss for none, or VerdictDropBase + a
// drop reason for a rule that drops.
func (b *RuleBatch) Run(out []uint32) error {
	n := len(b.iif)
	if n == 0 {
		return nil
	}
	rc := C.fp_rules_lookup(C.uint8_t(b.family), &b.iif[0], (*[16]C.uint8_t)(unsafe.Pointer(&b.src[0])),
		(*[16]C.uint8_t)(unsafe.Pointer(&b.dst[0])), &b.nh[0], C.uint32_t(n))
	if rc < 0 {
		return errno(rc, "rules lookup (IPv%d)", b.family)
	}
	for i := range min(n, len(out)) {
		out[i] = uint32(b.nh[i])
	}
	return nil
}

// LookupRules is NewRuleBatch and Run in one.
func LookupRules(family int, q []RuleQuery) ([]uint32, error) {
	out := make([]uint32, len(q))
	return out, NewRuleBatch(family, q).Run(out)
}

// VerdictDropBase is added to a drop reason in LookupRules' answers.
const VerdictDropBase = uint32(C.FP_VERDICT_DROP_BASE)
