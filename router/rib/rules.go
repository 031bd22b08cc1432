package rib

import (
	"fmt"
	"net/netip"
	"slices"
)

// Kernel routing tables with a meaning of their own.
const (
	LocalTable   = 255
	DefaultTable = 253
)

// RuleAction is what an ip rule does when it matches.
type RuleAction uint8

const (
	RuleLookup RuleAction = iota + 1
	RuleBlackhole
	RuleUnreachable
	RuleProhibit
)

// Rule is one ip rule of the router netns.
type Rule struct {
	Family   int // 4 or 6
	Prio     int
	Table    uint32 // RuleLookup
	Action   RuleAction
	IIF      string       // "" = any
	Src, Dst netip.Prefix // invalid = any
	// Unsupported says why the fast path cannot evaluate the rule (a
	// selector it does not know); such rules are reported and skipped.
	Unsupported string
	// LocalOnly: the rule matches only packets the router itself sends
	// (oif, iif lo): never one it forwards.
	LocalOnly bool
	// Implicit: not a rule of the netns, but the lookup of
	// router_kernel_table fibd adds where the kernel's rules name it
	// nowhere (see PlanRules).
	Implicit bool
}

func (r Rule) String() string {
	s := fmt.Sprintf("%d: ipv%d", r.Prio, r.Family)
	if r.Src.IsValid() {
		s += " from " + r.Src.String()
	}
	if r.Dst.IsValid() {
		s += " to " + r.Dst.String()
	}
	if r.IIF != "" {
		s += " iif " + r.IIF
	}
	switch r.Action {
	case RuleLookup:
		s += fmt.Sprintf(" lookup %d", r.Table)
	case RuleBlackhole:
		s += " blackhole"
	case RuleUnreachable:
		s += " unreachable"
	case RuleProhibit:
		s += " prohibit"
	}
	if r.Implicit {
		s += " (router_kernel_table, added by fibd: no rule of the netns names it)"
	}
	return s
}

// RulePlan is what the fast path makes of the netns's rules.
type RulePlan struct {
	// Active: the rules do more than the usual local, kernel table, main
	// and default chain, so the fast path evaluates them per packet. When
	// not, every packet is looked up in the kernel table alone.
	Active   bool
	Tables   []uint32 // tables the rules look up, local excepted, sorted
	Rules    []Rule   // the rules it evaluates, in order
	Problems []string // rules it cannot evaluate (reported, skipped)
	// Warnings: where fibd departs from the kernel's rules on purpose.
	Warnings []string
}

// PlanRules decides how the fast path follows rules, given the table
// fibd mirrors in any case (router_kernel_table).
//
// The SSG gateway routes by router_kernel_table: the routing daemon
// exports there, and with the usual rules (local, main, default) the
// fast path looks up that table alone, although no rule of the netns
// names it. Once further rules exist they are evaluated as the kernel
// does; if none of them names router_kernel_table, the kernel would
// never consult it and a single extra rule would stop all routing. So
// fibd looks it up where the kernel would reach main (just before the
// first rule that looks up main, or after the last rule), as if the netns
// had `ip rule add lookup <router_kernel_table>` there, and warns that the
// kernel's own rules disagree.
func PlanRules(rules []Rule, kernelTable uint32) RulePlan {
	var p RulePlan
	rules = slices.Clone(rules)
	slices.SortStableFunc(rules, func(a, b Rule) int {
		if a.Family != b.Family {
			return a.Family - b.Family
		}
		return a.Prio - b.Prio
	})
	usual := map[uint32]bool{LocalTable: true, MainTable: true, DefaultTable: true, kernelTable: true}
	tables := map[uint32]bool{}
	for _, r := range rules {
		switch {
		case r.Unsupported != "":
			p.Problems = append(p.Problems, fmt.Sprintf("ip rule %s: %s (skipped)", r, r.Unsupported))
			continue
		case r.LocalOnly:
			continue // never a forwarded packet's
		}
		p.Rules = append(p.Rules, r)
		if r.Action != RuleLookup || r.IIF != "" || r.Src.IsValid() || r.Dst.IsValid() || !usual[r.Table] {
			p.Active = true
		}
		if r.Action == RuleLookup && r.Table != LocalTable {
			tables[r.Table] = true
		}
	}
	if !p.Active {
		p.Rules = nil
		return p
	}
	p.Rules = implicitKernelTable(p.Rules, kernelTable, &p.Warnings)
	tables[kernelTable] = true
	for t := range tables {
		p.Tables = append(p.Tables, t)
	}
	slices.Sort(p.Tables)
	return p
}

// implicitKernelTable adds, per family whose rules never look up
// kernelTable, that lookup before the family's first lookup of main (or
// after its last rule). rules are sorted by family, then priority.
func implicitKernelTable(rules []Rule, kernelTable uint32, warnings *[]string) []Rule {
	var out []Rule
	for _, fam := range []int{4, 6} {
		var these []Rule
		named := false
		for _, r := range rules {
			if r.Family == fam {
				these = append(these, r)
				named = named || r.Action == RuleLookup && r.Table == kernelTable
			}
		}
		if len(these) == 0 || named {
			out = append(out, these...)
			continue
		}
		at := slices.IndexFunc(these, func(r Rule) bool { return r.Action == RuleLookup && r.Table == MainTable })
		x := Rule{Family: fam, Action: RuleLookup, Table: kernelTable, Implicit: true}
		if at < 0 {
			at = len(these)
			x.Prio = these[at-1].Prio
		} else {
			x.Prio = these[at].Prio
		}
		these = slices.Insert(these, at, x)
		out = append(out, these...)
		*warnings = append(*warnings, fmt.Sprintf("IPv%d: no ip rule looks up router_kernel_table %d; fibd looks it up "+
			"before main (as `ip rule add lookup %d pref %d` would), the kernel does not", fam, kernelTable, kernelTable, x.Prio))
	}
	return out
}
