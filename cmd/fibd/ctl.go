package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"fibd/cmd/internal/ctl"
)

// A command of the control server, fdpi_cli style.
type command struct {
	name     string // "router fib lookup"
	synopsis string // target and options
	doc      string
	run      func(d *daemon, c *ctl.Command, o *output) error
}

// output writes a command's answer: text for people, JSON for scripts.
type output struct {
	json bool
	w    *bufio.Writer
	enc  *json.Encoder
}

// record writes one JSON object (a line) in JSON mode.
func (o *output) record(v any) error { return o.enc.Encode(v) }

func (o *output) table() *tabwriter.Writer { return tabwriter.NewWriter(o.w, 0, 8, 2, ' ', 0) }

var commands []command

func init() {
	commands = []command{
		{"router status", "", "mode, FIB size, mirror state, uptime", cmdStatus},
		{"router rib show", "[IP | CIDR | all] [table=N]", "resolved routes (streamed)", cmdRIBShow},
		{"router fib lookup", "IP [table=N | iif=IFACE [from=IP]]", "what the fast path does with a destination (through the ip rules with iif=)", cmdFIBLookup},
		{"router arp show", "", "IPv4 neighbour cache", cmdNeighShow(false)},
		{"router ndp show", "", "IPv6 neighbour cache", cmdNeighShow(true)},
		{"router device show", "", "ports, links, exception interfaces and their subnets", cmdDeviceShow},
		{"router lag show", "", "lag sections", cmdLagShow},
		{"router rule show", "", "the router netns's ip rules as the fast path follows them, and those it cannot", cmdRuleShow},
		{"router stats show", "", "counters per port, per worker and per drop reason", cmdStatsShow},
		{"router stats reset", "", "zero the counters", cmdStatsReset},
		{"router fib refresh", "", "resynchronise the FIB with the kernel (or the static file)", cmdFIBRefresh},
		{"router reload", "", "re-read the configuration: hot parameters apply, cold ones are refused", cmdReload},
		{"router announce show", "", "announced subscriber addresses and NAT pools", cmdAnnounceShow},
		{"router announce add", "IP | CIDR [dir=inet|subs] [announce=0|1] [reject=1] [nat=1]", "announce a subscriber address (router_subs_announce decides where)", cmdAnnounceAdd},
		{"router announce del", "IP | CIDR", "withdraw an announcement", cmdAnnounceDel},
	}
}

func verbs() map[string][]string {
	v := map[string][]string{}
	for _, c := range commands {
		obj, verb, _ := strings.Cut(c.name, " ")
		v[obj] = append(v[obj], verb)
	}
	return v
}

// serveCtl runs the control server until ctx ends. It returns once every
// answer in progress has ended: nothing may touch DPDK after shutdown.
func (d *daemon) serveCtl(ctx context.Context, ln net.Listener) {
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	var wg sync.WaitGroup
	defer func() {
		mu.Lock()
		for c := range conns { // unblock answers still writing
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	go func() { <-ctx.Done(); ln.Close() }()
	listenLoopback := true
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		listenLoopback = ap.Addr().IsLoopback()
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				d.log.Error().Err(err).Msg("control server")
			}
			return
		}
		// Only a configured non-loopback address lets other hosts in.
		if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); listenLoopback && (err != nil || !ap.Addr().Unmap().IsLoopback()) {
			d.log.Warn().Str("from", conn.RemoteAddr().String()).Msg("control connection refused: not loopback")
			conn.Close()
			continue
		}
		mu.Lock()
		conns[conn] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.handleCtl(conn)
			mu.Lock()
			delete(conns, conn)
			mu.Unlock()
		}()
	}
}

func (d *daemon) handleCtl(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	req, err := ctl.ReadRequest(bufio.NewReaderSize(conn, ctl.MaxRequest))
	w := bufio.NewWriterSize(conn, 64<<10)
	defer w.Flush()
	if err != nil {
		fmt.Fprintf(w, "error %s\n", err)
		return
	}
	o := &output{json: req.JSON, w: w, enc: json.NewEncoder(w)}
	// The body is buffered until the status is known, except for the
	// streamed dumps, which write their status first.
	if len(req.Args) > 0 && req.Args[0] == "help" {
		fmt.Fprintln(w, "ok")
		help(w, req.Args[1:])
		return
	}
	c, err := ctl.Parse(req.Args, verbs())
	if err != nil {
		fmt.Fprintf(w, "error %s\n", err)
		return
	}
	for _, cmd := range commands {
		if cmd.name == c.Name() {
			body := &strings.Builder{}
			bw := bufio.NewWriter(body)
			bo := &output{json: o.json, w: bw, enc: json.NewEncoder(bw)}
			if cmd.name == "router rib show" || cmd.name == "router fib dump" { // big: stream
				if _, err := d.tableOpt(c); err != nil {
					fmt.Fprintf(w, "error %s\n", err)
					return
				}
				fmt.Fprintln(w, "ok")
				if err := cmd.run(d, c, o); err != nil {
					d.log.Warn().Err(err).Str("command", cmd.name).Msg("control: streamed answer")
				}
				return
			}
			if err := cmd.run(d, c, bo); err != nil {
				fmt.Fprintf(w, "error %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
				return
			}
			bw.Flush()
			fmt.Fprintln(w, "ok")
			io.WriteString(w, body.String())
			return
		}
	}
	fmt.Fprintf(w, "error unknown command %q\n", c.Name())
}

func help(w io.Writer, args []string) {
	objs := map[string]bool{}
	for _, c := range commands {
		obj, _, _ := strings.Cut(c.name, " ")
		objs[obj] = true
	}
	if len(args) == 0 {
		io.WriteString(w, "fdpi_cli [-r ip%dev[:port]] [-t N] [-v] [--json [--strict]] <object> <verb> [IP | CIDR | \"IP - IP\" | all] [key=value]\n")
		fmt.Fprintln(w, "objects (fdpi_cli help <object>):")
		var names []string
		for o := range objs {
			names = append(names, o)
		}
		sort.Strings(names)
		for _, o := range names {
			fmt.Fprintf(w, "  %s\n", o)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range commands {
		if strings.HasPrefix(c.name, args[0]+" ") {
			fmt.Fprintf(tw, "%s %s\t%s\n", c.name, c.synopsis, c.doc)
		}
	}
	tw.Flush()
}

// listenCtl opens the control server's socket.
func listenCtl(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control server on %s: %w", addr, err)
	}
	return ln, nil
}

var errNoTable = errors.New("no such table")
