package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// rec builds components that record their starts, stops and applies.
type rec struct{ log []string }

func (r *rec) comp(name string, failStart bool, hot ...string) Component[int] {
	return Component[int]{
		Name: name,
		Start: func(context.Context) error {
			if failStart {
				return errors.New("boom")
			}
			r.log = append(r.log, "start "+name)
			return nil
		},
		Stop: func() error { r.log = append(r.log, "stop "+name); return nil },
		Hot:  hot,
		Apply: func(changed []string, old, now int) error {
			r.log = append(r.log, "apply "+name+" "+strings.Join(changed, ","))
			return nil
		},
	}
}

func TestStartStopOrder(t *testing.T) {
	r := &rec{}
	l, err := New(r.comp("a", false), r.comp("b", false), r.comp("c", false))
	if err != nil {
		t.Fatal(err)
	}
	var traced []string
	l.Trace = func(step, name string, _ time.Duration, _ error) { traced = append(traced, step+" "+name) }
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := l.Stop(); err != nil { // a second Stop stops nothing
		t.Fatal(err)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if !slices.Equal(r.log, want) {
		t.Errorf("got %q, want %q", r.log, want)
	}
	if !slices.Equal(traced, want) {
		t.Errorf("traced %q, want %q", traced, want)
	}
}

func TestStartFailureStopsStartedInReverse(t *testing.T) {
	r := &rec{}
	l, err := New(r.comp("a", false), r.comp("b", false), r.comp("c", true), r.comp("d", false))
	if err != nil {
		t.Fatal(err)
	}
	err = l.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "c: boom") {
		t.Fatalf("Start: %v, want c's failure", err)
	}
	want := []string{"start a", "start b", "stop b", "stop a"}
	if !slices.Equal(r.log, want) {
		t.Errorf("got %q, want %q", r.log, want)
	}
	if err := l.Stop(); err != nil || len(r.log) != len(want) {
		t.Errorf("Stop after a failed Start stopped again: %v %q", err, r.log)
	}
}

func TestStopErrorsJoinedAndAllStopped(t *testing.T) {
	var stopped []string
	mk := func(name string, fail bool) Component[int] {
		return Component[int]{Name: name, Stop: func() error {
			stopped = append(stopped, name)
			if fail {
				return errors.New(name + " failed")
			}
			return nil
		}}
	}
	l, err := New(mk("a", true), mk("b", false), mk("c", true))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	err = l.Stop()
	if err == nil || !strings.Contains(err.Error(), "a failed") || !strings.Contains(err.Error(), "c failed") {
		t.Errorf("Stop: %v, want both failures", err)
	}
	if !slices.Equal(stopped, []string{"c", "b", "a"}) {
		t.Errorf("stopped %q", stopped)
	}
}

func TestApplyGivesEachParameterToItsOwner(t *testing.T) {
	r := &rec{}
	l, err := New(r.comp("a", false, "p1", "p2"), r.comp("b", false), r.comp("c", false, "p3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Apply([]string{"p3", "p2", "p1"}, 1, 2); err != nil {
		t.Fatal(err)
	}
	want := []string{"apply a p1,p2", "apply c p3"}
	if !slices.Equal(r.log, want) {
		t.Errorf("got %q, want %q", r.log, want)
	}
	r.log = nil
	if err := l.Apply([]string{"p1", "nobody"}, 1, 2); err == nil || len(r.log) != 0 {
		t.Errorf("a parameter without an owner: %v, applied %q", err, r.log)
	}
	if l.Owner("p3") != "c" || l.Owner("nobody") != "" {
		t.Errorf("Owner: %q %q", l.Owner("p3"), l.Owner("nobody"))
	}
}

func TestNewRefusesBadLists(t *testing.T) {
	r := &rec{}
	for name, comps := range map[string][]Component[int]{
		"two appliers": {r.comp("a", false, "p"), r.comp("b", false, "p")},
		"need later":   {{Name: "a", Needs: []string{"b"}}, {Name: "b"}},
		"need unknown": {{Name: "a", Needs: []string{"x"}}},
		"same name":    {{Name: "a"}, {Name: "a"}},
		"no apply":     {{Name: "a", Hot: []string{"p"}}},
	} {
		if _, err := New(comps...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Component[int]{Name: "a"}, Component[int]{Name: "b", Needs: []string{"a"}}); err != nil {
		t.Errorf("a good list: %v", err)
	}
}

func TestUncovered(t *testing.T) {
	r := &rec{}
	l, err := New(r.comp("a", false, "p1", "p2"))
	if err != nil {
		t.Fatal(err)
	}
	missing, extra := l.Uncovered([]string{"p1", "p3"})
	if !slices.Equal(missing, []string{"p3"}) || !slices.Equal(extra, []string{"p2"}) {
		t.Errorf("missing %q extra %q", missing, extra)
	}
}
