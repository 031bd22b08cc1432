package main

import (
	"slices"
	"testing"

	"fibd/conf"
)

// TestHotParamsHaveOneApplier walks conf's parameter table: every
// parameter marked Hot is applied on reload by exactly one component
// (lifecycle.New refuses a parameter declared twice), and no component
// declares a parameter conf treats as cold (it would never be handed one).
func TestHotParamsHaveOneApplier(t *testing.T) {
	d := &daemon{cfg: conf.Default(), opt: &options{}}
	lc, err := d.components()
	if err != nil {
		t.Fatal(err)
	}
	var hot []string
	for _, p := range conf.Params() {
		if p.Hot {
			if p.Section != "" {
				t.Errorf("%s (section %s) is hot: reload treats a changed section as cold", p.Name, p.Section)
			}
			hot = append(hot, p.Name)
		}
	}
	if len(hot) == 0 {
		t.Fatal("conf.Params has no hot parameter")
	}
	missing, extra := lc.Uncovered(hot)
	for _, p := range missing {
		t.Errorf("hot parameter %s: no component applies it (add it to one component's Hot in components.go)", p)
	}
	for _, p := range extra {
		t.Errorf("%s is applied by %s but conf does not mark it Hot", p, lc.Owner(p))
	}
}

// TestComponentOrder pins the order that keeps shutdown safe (see
// components): the router stops before the workers, the exception thread
// before the workers, the workers before the exception interfaces close and
// before the report, and the servers first of all.
func TestComponentOrder(t *testing.T) {
	d := &daemon{cfg: conf.Default(), opt: &options{}}
	lc, err := d.components()
	if err != nil {
		t.Fatal(err)
	}
	names := lc.Names()
	pos := func(n string) int {
		i := slices.Index(names, n)
		if i < 0 {
			t.Fatalf("no component %s in %v", n, names)
		}
		return i
	}
	// a before b in start order: b stops before a
	for _, c := range [][2]string{
		{"eal", "ports"}, {"ports", "report"}, {"report", "dataplane"}, {"exceptions", "dataplane"},
		{"dataplane", "router"}, {"dataplane", "exception thread"}, {"router", "forwarding"},
		{"forwarding", "exception thread"}, {"exception thread", "captures"},
		{"router", "control"}, {"announcer", "control"}, {"forwarding", "metrics"}, {"control", "signals"},
	} {
		if pos(c[0]) > pos(c[1]) {
			t.Errorf("%s starts after %s (so stops before it): %v", c[0], c[1], names)
		}
	}
}
