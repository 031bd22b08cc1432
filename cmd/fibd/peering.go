package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"fibd/router/peering"
)

// runPeering is `fibd peering addr`: the PEERING address plan of a mux.
//
//	fibd peering addr -mux 3 [-upstream 42] [-client 7] [-al2s 5] [-container 2] [-v6-decimal]
func runPeering(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "addr" {
		fmt.Fprintln(stderr, "usage: fibd peering addr -mux M [-upstream U] [-remote U] [-client K] [-al2s ID] [-container E] [-v6-decimal]")
		return 2
	}
	fs := flag.NewFlagSet("fibd peering addr", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mux := fs.Int("mux", -1, "mux id")
	upstream := fs.Int("upstream", 0, "upstream id: its macvlan's addresses")
	remote := fs.Int("remote", 0, "remote upstream id")
	client := fs.Int("client", 0, "client number (1 follows the mux)")
	al2s := fs.Int("al2s", 0, "AL2S id")
	container := fs.Int("container", -1, "experiment id: its container veth on the mux")
	decimal := fs.Bool("v6-decimal", false, "write identifiers in IPv6 groups as their decimal digits (mux 12 -> :12:) instead of their value (mux 12 -> :c:)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	plan := peering.Plan{}
	if *decimal {
		plan.Reading = peering.DecimalDigits
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	var errs []error
	row := func(what string, v4, v6 any, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			return
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\n", what, v4, v6)
	}
	if *mux >= 0 {
		t4, t6, err := plan.Tunnel(*mux)
		row("tunnel (routed to clients)", t4, t6, err)
		m4, m6, p4, p6, err := plan.Mux(*mux)
		row("mux", m4, m6, err)
		row("mux and clients", p4, p6, err)
		if *upstream != 0 {
			a4, a6, err := plan.Upstream(*mux, *upstream)
			row(fmt.Sprintf("upstream %d macvlan", *upstream), a4, a6, err)
		}
		if *client != 0 {
			a4, a6, err := plan.Client(*mux, *client)
			row(fmt.Sprintf("client %d", *client), a4, a6, err)
		}
		if *container >= 0 {
			c, err := plan.ContainerVeth(*mux, *container)
			row(fmt.Sprintf("container %d veth", *container), c.Net4, c.Net6, err)
			if err == nil {
				row("  mux end", c.Mux4, c.Mux6, nil)
				row("  container end", c.Container4, c.Container6, nil)
			}
		}
	} else if *upstream != 0 || *client != 0 || *container >= 0 {
		errs = append(errs, fmt.Errorf("-upstream, -client and -container need -mux"))
	}
	if *remote != 0 {
		a4, a6, err := plan.RemoteUpstream(*remote)
		row(fmt.Sprintf("remote upstream %d", *remote), a4, a6, err)
	}
	if *al2s != 0 {
		a4, a6, err := plan.AL2S(*al2s)
		row(fmt.Sprintf("AL2S %d", *al2s), a4, a6, err)
	}
	tw.Flush()
	for _, e := range errs {
		fmt.Fprintln(stderr, "fibd peering addr:", e)
	}
	if len(errs) > 0 {
		return 2
	}
	return 0
}
