package router

import (
	"reflect"
	"slices"

	dpdk "fibd/cgo"
)

// Rules is the netns's ip rules as the fast path follows them.
func (r *Router) Rules() RulePlan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rules
}

// InterfaceID is the id the ip rules know interface name by (a port, or a
// VLAN or macvlan interface on an exception interface).
func (r *Router) InterfaceID(name string) (dpdk.PortID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ports.PortOf(name)
}

// syncRules reads the netns's ip rules and, when they changed, mirrors
// the tables they look up and publishes them to the fast path. It
// reports whether the set of mirrored tables changed (a resync follows).
func (r *Router) syncRules() (bool, error) {
	rules, err := r.k.Rules()
	if err != nil {
		return false, err
	}
	plan := PlanRules(rules, r.cfg.KernelTable)
	if reflect.DeepEqual(plan, r.rules) {
		return false, nil
	}
	for _, p := range plan.Problems {
		r.log.Error().Str("rule", p).Msg("ip rule the fast path cannot evaluate")
	}
	for _, w := range plan.Warnings {
		r.log.Warn().Str("rules", w).Msg("the ip rules and router_kernel_table disagree")
	}
	r.log.Info().Bool("evaluated", plan.Active).Int("rules", len(plan.Rules)).
		Interface("tables", plan.Tables).Msg("ip rules changed")
	r.mu.Lock()
	r.rules = plan
	r.pushRules()
	r.mu.Unlock()

	want := append([]uint32{r.cfg.KernelTable}, r.cfg.Tables...)
	for _, t := range plan.Tables {
		if !slices.Contains(want, t) {
			want = append(want, t)
		}
	}
	if slices.Equal(want, r.k.Tables) {
		return false, nil
	}
	r.k.Tables = want
	return true, nil
}

// pushRules publishes the rules to the fast path, naming tables by FIB
// slot and interfaces by id. A table without routes has no slot yet: its
// rules wait (as the kernel, which finds no route there) until it has.
// r.mu is held.
func (r *Router) pushRules() {
	tables := r.prog.FIB().Tables()
	r.rulesWait = r.rulesWait[:0]
	for _, fam := range []int{4, 6} {
		var out []dpdk.Rule
		for _, x := range r.rules.Rules {
			if x.Family != fam {
				continue
			}
			d := dpdk.Rule{Prio: uint32(x.Prio), IIF: dpdk.IIFAny, Src: x.Src, Dst: x.Dst}
			if x.IIF != "" {
				id, ok := r.ports.PortOf(x.IIF)
				if !ok {
					continue // not an interface of fibd: none of its packets come in there
				}
				d.IIF = id
			}
			switch x.Action {
			case RuleBlackhole:
				d.Action = dpdk.RuleBlackhole
			case RuleUnreachable:
				d.Action = dpdk.RuleUnreachable
			case RuleProhibit:
				d.Action = dpdk.RuleProhibit
			default:
				d.Action = dpdk.RuleLookup
				table := x.Table
				if table == LocalTable { // the kernel's own addresses live in the kernel table's FIB
					d.Action, table = dpdk.RuleLocal, r.cfg.KernelTable
				}
				t := tables[table]
				if t == nil {
					r.rulesWait = append(r.rulesWait, table)
					continue
				}
				d.Table = uint16(t.Slot)
			}
			out = append(out, d)
		}
		if !r.rules.Active {
			out = nil
		}
		if err := dpdk.SetRules(fam, out); err != nil {
			r.log.Error().Err(err).Msg("publishing ip rules")
		}
	}
}
