package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"fibd/cmd/internal/lifecycle"
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

// TestReloadValidatesThenDispatches drives reload over a list of recording
// components: a changed cold parameter refuses the reload before any
// component sees it; changed hot parameters go to their owners, and the
// running configuration becomes the new one.
func TestReloadValidatesThenDispatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fastdpi.conf")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := "router_fib_refresh=15\nfibd_punt_rate_nd=10000\nrouter_max_ip4_route_count=65536\n"
	write(base)
	cfg, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	rec := func(name string, hot ...string) component {
		return component{Name: name, Hot: hot, Apply: func(changed []string, old, now *conf.Config) error {
			got = append(got, name+":"+strings.Join(changed, ","))
			return nil
		}}
	}
	d := &daemon{log: zerolog.Nop(), cfg: cfg, opt: &options{config: path, idleSleep: -1}}
	if d.lc, err = lifecycle.New(rec("a", "router_fib_refresh"), rec("b", "fibd_punt_rate_nd", "fibd_log_level")); err != nil {
		t.Fatal(err)
	}

	write(strings.Replace(base, "65536", "70000", 1) + "router_fib_refresh=20\n")
	if _, err := d.reload(); err == nil || !strings.Contains(err.Error(), "cold parameter(s) [router_max_ip4_route_count]") {
		t.Errorf("cold change: %v", err)
	}
	if len(got) != 0 || d.config() != cfg {
		t.Errorf("a refused reload applied %q or replaced the configuration", got)
	}

	write("router_fib_refresh=20\nfibd_punt_rate_nd=500\nrouter_max_ip4_route_count=65536\n")
	hot, err := d.reload()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hot, []string{"router_fib_refresh", "fibd_punt_rate_nd"}) {
		t.Errorf("applied %q", hot)
	}
	if !slices.Equal(got, []string{"a:router_fib_refresh", "b:fibd_punt_rate_nd"}) {
		t.Errorf("components got %q", got)
	}
	if d.config().PuntRateND != 500 {
		t.Errorf("running configuration not replaced: punt rate nd %d", d.config().PuntRateND)
	}
}
