package main

import (
	"fmt"
	"strings"

	"fibd/cmd/internal/ctl"
)

// cmdNexthopShow answers "router nexthop show": the kernel nexthop objects
// of the router netns (FRR installs its routes through them), with the
// FIB nexthop that carries each and how many routes name it.
func cmdNexthopShow(q *query, c *ctl.Command, o *output) error {
	type memberJSON struct {
		ID     uint32 `json:"id"`
		Weight int    `json:"weight"`
	}
	type nhJSON struct {
		ID        uint32       `json:"id"`
		Gateway   string       `json:"gateway,omitempty"`
		Dev       string       `json:"dev,omitempty"`
		Blackhole bool         `json:"blackhole,omitempty"`
		Dead      bool         `json:"dead,omitempty"`
		Members   []memberJSON `json:"members,omitempty"`
		Index     *uint32      `json:"fib_index,omitempty"`
		Routes    int          `json:"routes"`
	}
	list, err := q.Nexthops()
	if err != nil {
		return err
	}
	tw := o.table()
	if !o.json {
		fmt.Fprintln(tw, "ID\tNEXTHOP\tFIB INDEX\tROUTES")
	}
	for _, v := range list {
		x := nhJSON{ID: v.ID, Dev: v.Dev, Blackhole: v.Blackhole, Dead: v.Dead, Routes: v.Routes}
		if v.Gateway.IsValid() {
			x.Gateway = v.Gateway.String()
		}
		for _, m := range v.Members {
			x.Members = append(x.Members, memberJSON{m.ID, m.Weight})
		}
		if v.Indexed {
			idx := v.Index
			x.Index = &idx
		}
		if o.json {
			if err := o.record(x); err != nil {
				return err
			}
			continue
		}
		var what string
		switch {
		case x.Blackhole:
			what = "blackhole"
		case len(x.Members) > 0:
			var ms []string
			for _, m := range x.Members {
				ms = append(ms, fmt.Sprintf("%d,%d", m.ID, m.Weight))
			}
			what = "group " + strings.Join(ms, "/") + " (id,weight)"
		case x.Gateway != "":
			what = "via " + x.Gateway + " dev " + x.Dev
		default:
			what = "dev " + x.Dev
		}
		if x.Dead {
			what += " dead"
		}
		idx := "-"
		if x.Index != nil {
			idx = fmt.Sprint(*x.Index)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\n", x.ID, what, idx, x.Routes)
	}
	if !o.json {
		m, _ := q.Mirror()
		rw, w := m.NexthopRewrites, m.RouteWrites
		fmt.Fprintf(tw, "%d objects; FIB nexthops rewritten in place: %d; routes written: %d\n", len(list), rw, w)
	}
	return tw.Flush()
}
