package router

import (
	"net/netip"
	"slices"
	"testing"
)

func defaultRules(fam int) []Rule {
	return []Rule{
		{Family: fam, Prio: 0, Action: RuleLookup, Table: LocalTable},
		{Family: fam, Prio: 32766, Action: RuleLookup, Table: MainTable},
		{Family: fam, Prio: 32767, Action: RuleLookup, Table: DefaultTable},
	}
}

// TestPlanRules: the usual chain needs no evaluation; the PEERING mux's
// rules (iif per upstream, the downstream table) do, and name their
// tables; what the fast path cannot evaluate is reported and skipped;
// rules for the router's own packets are left out.
func TestPlanRules(t *testing.T) {
	if p := PlanRules(append(defaultRules(4), defaultRules(6)...), 100); p.Active || len(p.Problems) != 0 {
		t.Errorf("default rules: %+v", p)
	}
	lab := append(defaultRules(4), Rule{Family: 4, Prio: 100, Action: RuleLookup, Table: 100})
	if p := PlanRules(lab, 100); p.Active {
		t.Errorf("a rule for the kernel table alone needs no evaluation: %+v", p)
	}
	mux := append(defaultRules(4),
		Rule{Family: 4, Prio: 10001, IIF: "upstream1", Action: RuleLookup, Table: 10001},
		Rule{Family: 4, Prio: 10002, IIF: "upstream2", Action: RuleLookup, Table: 10002},
		Rule{Family: 4, Prio: 20000, IIF: "ribb", Action: RuleLookup, Table: 20000},
		Rule{Family: 4, Prio: 30000, Action: RuleLookup, Table: 77, Unsupported: "fwmark"},
		Rule{Family: 4, Prio: 30001, Action: RuleLookup, Table: 78, LocalOnly: true},
		Rule{Family: 4, Prio: 5, Dst: netip.MustParsePrefix("10.9.0.0/16"), Action: RuleBlackhole},
	)
	p := PlanRules(mux, MainTable)
	if !p.Active || !slices.Equal(p.Tables, []uint32{DefaultTable, MainTable, 10001, 10002, 20000}) {
		t.Errorf("mux: active %v tables %v", p.Active, p.Tables)
	}
	var prios []int
	for _, r := range p.Rules {
		prios = append(prios, r.Prio)
	}
	if !slices.Equal(prios, []int{0, 5, 10001, 10002, 20000, 32766, 32767}) {
		t.Errorf("evaluated rules, in order: %v", prios)
	}
	if len(p.Problems) != 1 {
		t.Errorf("problems %v: the fwmark rule is reported", p.Problems)
	}
}
