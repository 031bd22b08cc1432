package kernel

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"fibd/router/rib"
	"fibd/router/rtnl"
)

// Rules lists the ip rules of the netns, both families.
func (k *Kernel) Rules() ([]rib.Rule, error) {
	var out []rib.Rule
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := k.h.RuleList(fam)
		if err != nil {
			return nil, fmt.Errorf("rule dump: %w", err)
		}
		for i := range rs {
			out = append(out, ConvertRule(&rs[i], fam))
		}
	}
	return out, nil
}

// ConvertRule turns a netlink rule into fibd's, noting the selectors the
// fast path cannot evaluate.
func ConvertRule(nr *netlink.Rule, family int) rib.Rule {
	r := rib.Rule{Family: 4, Prio: nr.Priority, Table: uint32(nr.Table), IIF: nr.IifName}
	if family == netlink.FAMILY_V6 {
		r.Family = 6
	}
	r.Src, r.Dst = selector(nr.Src, r.Family == 6), selector(nr.Dst, r.Family == 6)
	switch nr.Type {
	case unix.FR_ACT_TO_TBL, 0:
		r.Action = rib.RuleLookup
	case unix.FR_ACT_BLACKHOLE:
		r.Action = rib.RuleBlackhole
	case unix.FR_ACT_UNREACHABLE:
		r.Action = rib.RuleUnreachable
	case unix.FR_ACT_PROHIBIT:
		r.Action = rib.RuleProhibit
	}
	var why []string
	add := func(cond bool, s string) {
		if cond {
			why = append(why, s)
		}
	}
	add(nr.Type == unix.FR_ACT_GOTO || nr.Goto > 0, "goto")
	add(nr.Type == unix.FR_ACT_NOP, "nop")
	add(r.Action == 0 && nr.Type != unix.FR_ACT_GOTO && nr.Type != unix.FR_ACT_NOP, fmt.Sprintf("action %d", nr.Type))
	add(nr.Mark != 0 || (nr.Mask != nil && *nr.Mask != 0), "fwmark")
	add(nr.Tos != 0, "tos")
	add(nr.TunID != 0, "tun_id")
	add(nr.Flow > 0, "realms")
	add(nr.SuppressIfgroup > 0, "suppress_ifgroup")
	add(nr.SuppressPrefixlen > 0, "suppress_prefixlength")
	add(nr.Invert, "not")
	add(nr.Dport != nil, "dport")
	add(nr.Sport != nil, "sport")
	add(nr.IPProto > 0, "ipproto")
	add(nr.UIDRange != nil && (nr.UIDRange.Start != 0 || nr.UIDRange.End != 0xffffffff), "uidrange")
	r.Unsupported = strings.Join(why, ", ")
	r.LocalOnly = nr.OifName != "" || nr.IifName == "lo"
	return r
}

// selector is a rule's from/to: invalid when it matches everything.
func selector(n *net.IPNet, v6 bool) netip.Prefix {
	p, ok := rtnl.Prefix(n, v6)
	if !ok || p.Bits() <= 0 {
		return netip.Prefix{}
	}
	return p
}

// RulesChanged fires when the ip rules changed (subscribe).
func (k *Kernel) RulesChanged() <-chan struct{} { return k.rulesChanged }
