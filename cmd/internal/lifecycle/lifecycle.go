// Package lifecycle runs a daemon as an ordered list of components, the
// way grout's modules do: each component declares what it needs (the
// components before it), how it starts, how it stops, and which hot
// parameters it applies. Start is a loop over the list, Stop the same loop
// backwards, and a reload hands each changed hot parameter to the one
// component that declared it.
//
// Concurrency: a List is driven by one goroutine at a time. Start and Stop
// are called by the daemon's main goroutine; Apply may be called from
// another goroutine (a SIGHUP handler, a control command) between the end
// of Start and the beginning of Stop, and the caller serialises reloads
// (fibd holds its reload lock). Components' Apply functions therefore run
// concurrently with everything the started components do, and must follow
// the concurrency rule of what they change.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Component is one part of a daemon.
type Component[C any] struct {
	// Name names it in errors and logs, and in other components' Needs.
	Name string
	// Needs are the components that must have started before this one
	// (and stop after it). New checks that each comes earlier in the list.
	Needs []string
	// Start brings the component up. ctx ends when the daemon is asked to
	// stop (a signal); Start returns early then. nil: nothing to start.
	Start func(ctx context.Context) error
	// Stop brings it down, after every component that comes later in the
	// list has stopped. Its error fails the daemon (exit status); what is
	// only worth a warning is logged by Stop itself. nil: nothing to stop.
	Stop func() error
	// Hot are the hot parameters this component applies on reload, by
	// name (conf.Param.Name). No other component may declare them.
	Hot []string
	// Apply applies the changed parameters (a subset of Hot, in Hot's
	// order) of the configuration old to now. Required when Hot is not
	// empty.
	Apply func(changed []string, old, now C) error
}

// List is an ordered list of components and how far it has started.
type List[C any] struct {
	// Trace, when set, is told of every start and stop that ran: "start"
	// or "stop", the component, how long it took and its error (a log
	// of where start-up and shutdown spend their time).
	Trace func(step, name string, took time.Duration, err error)

	comps   []Component[C]
	owner   map[string]int // hot parameter -> index of its component
	started int            // comps[:started] have started
}

// New checks the list: unique names, every need met by an earlier
// component, every hot parameter declared once and with an Apply.
func New[C any](comps ...Component[C]) (*List[C], error) {
	l := &List[C]{comps: comps, owner: map[string]int{}}
	seen := map[string]bool{}
	var errs []error
	for i, c := range comps {
		if c.Name == "" || seen[c.Name] {
			errs = append(errs, fmt.Errorf("component %d: name %q empty or repeated", i, c.Name))
		}
		for _, n := range c.Needs {
			if !seen[n] {
				errs = append(errs, fmt.Errorf("component %s needs %s, which does not come before it", c.Name, n))
			}
		}
		seen[c.Name] = true
		if len(c.Hot) > 0 && c.Apply == nil {
			errs = append(errs, fmt.Errorf("component %s declares hot parameters but no Apply", c.Name))
		}
		for _, p := range c.Hot {
			if j, ok := l.owner[p]; ok {
				errs = append(errs, fmt.Errorf("hot parameter %s applied by both %s and %s", p, comps[j].Name, c.Name))
				continue
			}
			l.owner[p] = i
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

// Names lists the components in start order.
func (l *List[C]) Names() []string {
	var out []string
	for _, c := range l.comps {
		out = append(out, c.Name)
	}
	return out
}

// Owner names the component that applies hot parameter p ("" for none).
func (l *List[C]) Owner(p string) string {
	if i, ok := l.owner[p]; ok {
		return l.comps[i].Name
	}
	return ""
}

// Start starts the components in order. When one fails, those already
// started stop in reverse order, and the error names the one that failed
// (joined with any error of their stopping).
func (l *List[C]) Start(ctx context.Context) error {
	for _, c := range l.comps[l.started:] {
		if c.Start != nil {
			t0 := time.Now()
			err := c.Start(ctx)
			l.trace("start", c.Name, t0, err)
			if err != nil {
				err = fmt.Errorf("%s: %w", c.Name, err)
				return errors.Join(err, l.Stop())
			}
		}
		l.started++
	}
	return nil
}

// Stop stops the started components in reverse order. Every one is
// stopped whatever the others return; their errors are joined.
func (l *List[C]) Stop() error {
	var errs []error
	for ; l.started > 0; l.started-- {
		c := l.comps[l.started-1]
		if c.Stop != nil {
			t0 := time.Now()
			err := c.Stop()
			l.trace("stop", c.Name, t0, err)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (l *List[C]) trace(step, name string, t0 time.Time, err error) {
	if l.Trace != nil {
		l.Trace(step, name, time.Since(t0), err)
	}
}

// Apply hands the changed hot parameters to their components, in list
// order, each component once with its own. A parameter nobody declared is
// an error (before anything is applied): the configuration says it is hot
// but nothing would apply it. Every component is applied even when one
// fails; the errors are joined.
func (l *List[C]) Apply(changed []string, old, now C) error {
	per := map[int][]string{}
	var errs []error
	for _, p := range changed {
		i, ok := l.owner[p]
		if !ok {
			errs = append(errs, fmt.Errorf("hot parameter %s: no component applies it", p))
			continue
		}
		per[i] = append(per[i], p)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i, c := range l.comps {
		ps, ok := per[i]
		if !ok {
			continue
		}
		// in the component's own order, whatever the caller's
		slices.SortFunc(ps, func(a, b string) int { return slices.Index(c.Hot, a) - slices.Index(c.Hot, b) })
		if err := c.Apply(ps, old, now); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Uncovered returns the parameters of hot that no component declares, and
// the components' parameters that are not in hot (declared hot by a
// component, cold for the configuration). Both are empty when the list
// and the parameter table agree.
func (l *List[C]) Uncovered(hot []string) (missing, extra []string) {
	for _, p := range hot {
		if _, ok := l.owner[p]; !ok {
			missing = append(missing, p)
		}
	}
	for p := range l.owner {
		if !slices.Contains(hot, p) {
			extra = append(extra, p)
		}
	}
	slices.Sort(extra)
	return missing, extra
}
