package rib

import (
	"fmt"
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

// TestPlanRulesKeepsKernelTable: the SSG gateway routes by
// router_kernel_table although no rule of the netns names it. One extra
// rule (here an upstream's iif rule) must not make the fast path stop
// consulting it: fibd looks it up where the kernel would reach main, and
// says that the kernel's rules disagree. A netns whose rules name the
// table is followed as it is.
func TestPlanRulesKeepsKernelTable(t *testing.T) {
	rules := append(append(defaultRules(4), defaultRules(6)...),
		Rule{Family: 4, Prio: 1000, IIF: "upstream1", Action: RuleLookup, Table: 10001})
	p := PlanRules(rules, 100)
	if !p.Active {
		t.Fatal("an iif rule needs evaluation")
	}
	var got []string
	for _, r := range p.Rules {
		got = append(got, fmt.Sprintf("%d:%d:%d", r.Family, r.Prio, r.Table))
	}
	want := []string{"4:0:255", "4:1000:10001", "4:32766:100", "4:32766:254", "4:32767:253",
		"6:0:255", "6:32766:100", "6:32766:254", "6:32767:253"}
	if !slices.Equal(got, want) {
		t.Errorf("rules (family:prio:table)\n got %v\nwant %v", got, want)
	}
	if !slices.Contains(p.Tables, 100) {
		t.Errorf("tables %v lack router_kernel_table", p.Tables)
	}
	if len(p.Warnings) != 2 {
		t.Errorf("warnings %q, want one per family", p.Warnings)
	}
	// Named by the netns: as the kernel does, nothing added.
	named := append(rules, Rule{Family: 4, Prio: 2000, Action: RuleLookup, Table: 100},
		Rule{Family: 6, Prio: 2000, Action: RuleLookup, Table: 100})
	p = PlanRules(named, 100)
	for _, r := range p.Rules {
		if r.Implicit {
			t.Errorf("rule %s added although the netns names table 100", r)
		}
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings %q for rules that agree", p.Warnings)
	}
}
