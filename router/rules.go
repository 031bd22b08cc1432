package router

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
}

// PlanRules decides how the fast path follows rules, given the table
// fibd mirrors in any case (router_kernel_table).
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
	for t := range tables {
		p.Tables = append(p.Tables, t)
	}
	slices.Sort(p.Tables)
	return p
}
