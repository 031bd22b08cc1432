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
	run      func(q *query, c *ctl.Command, o *output) error
	// mutates: the command changes fibd's state (routes announced, the
	// configuration, the FIB, counters), so it needs the control secret.
	mutates bool
}

// output writes a command's answer: text for people, JSON for scripts.
type output struct {
	json bool
	w    *bufio.Writer
	enc  *json.Encoder
	// begin writes the "ok" status of a streamed answer: an error before it
	// is the command's answer, an error after it only ends the stream.
	begin func()
}

// record writes one JSON object (a line) in JSON mode.
func (o *output) record(v any) error { return o.enc.Encode(v) }

func (o *output) table() *tabwriter.Writer { return tabwriter.NewWriter(o.w, 0, 8, 2, ' ', 0) }

var commands []command

func init() {
	commands = []command{
		{"router status", "", "mode, FIB size, mirror state, uptime", cmdStatus, false},
		{"router rib show", "[IP | CIDR | all] [table=N]", "resolved routes (streamed)", cmdRIBShow, false},
		{"router fib lookup", "IP [table=N | iif=IFACE [from=IP]]", "what the fast path does with a destination (through the ip rules with iif=)", cmdFIBLookup, false},
		{"router nexthop show", "", "kernel nexthop objects: members, weights, FIB nexthop, routes using each", cmdNexthopShow, false},
		{"router arp show", "", "IPv4 neighbour cache", cmdNeighShow(false), false},
		{"router ndp show", "", "IPv6 neighbour cache", cmdNeighShow(true), false},
		{"router device show", "", "ports, links, exception interfaces and their subnets", cmdDeviceShow, false},
		{"router lag show", "", "lag sections", cmdLagShow, false},
		{"router rule show", "", "the router netns's ip rules as the fast path follows them, and those it cannot", cmdRuleShow, false},
		{"router stats show", "", "counters per port, per worker and per drop reason", cmdStatsShow, false},
		{"router stats reset", "", "zero the counters", cmdStatsReset, true},
		{"router fib refresh", "", "resynchronise the FIB with the kernel (or the static file)", cmdFIBRefresh, true},
		{"router reload", "", "re-read the configuration: hot parameters apply, cold ones are refused", cmdReload, true},
		{"router announce show", "", "announced subscriber addresses and NAT pools", cmdAnnounceShow, false},
		{"router announce add", "IP | CIDR [dir=inet|subs] [announce=0|1] [reject=1] [nat=1] [pool=0|1] [force=1]", "announce a subscriber address (/32, /128) or a part of a fibd_nat_pool (router_subs_announce decides where; nat=1: service 11, kept from inet when the address is private); force=1 for anything else", cmdAnnounceAdd, true},
		{"router announce del", "IP | CIDR", "withdraw an announcement", cmdAnnounceDel, true},
		{"router announce accept", "IP [VasExperts-Route-Announce=0|1] [VasExperts-Service-Profile=N[:profile][,...]]", "authorisation accepted: announce the subscriber's address as the manual's decision table says (service 11 = NAT)", cmdAnnounceAuth("accept"), true},
		{"router announce reject", "IP [VasExperts-Route-Announce=0|1] [VasExperts-Service-Profile=N[:profile][,...]]", "authorisation rejected: announced only with auth_announce_reject=1 or VasExperts-Route-Announce=1", cmdAnnounceAuth("reject"), true},
		{"router announce stop", "IP", "the subscriber's session ended: withdraw its address", cmdAnnounceAuth("stop"), true},
		{"router announce batch", "< EVENTS", "fdpi_cli reads events from stdin, one a line (accept|reject|stop|add|del IP [key=value...]), and sends each signed", cmdAnnounceBatch, false},
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

// Limits of the control server. No client can hold the router (answers
// are built from snapshots), hold a connection without sending its
// request, stall an answer by not reading it, or exhaust the server.
const (
	ctlMaxConns       = 64               // connections at once; more are refused with a message
	ctlUserConns      = 48               // ... of users other than local root (and other hosts): root keeps the rest
	ctlRequestTimeout = 5 * time.Second  // to send the request line
	ctlWriteTimeout   = 10 * time.Second // a client that takes no byte for this long is dropped
	ctlMaxAnswer      = 10 * time.Minute // the longest an answer may take
	ctlRIBShows       = 2                // rib show snapshots at once (each up to ~40 bytes a route)
)

// serveCtl runs the control server until ctx ends. It returns once every
// answer in progress has ended: nothing may touch DPDK after shutdown.
// Accept errors (EMFILE, ENFILE, ...) never end it: it waits and retries.
func (d *daemon) serveCtl(ctx context.Context, ln net.Listener) {
	var mu sync.Mutex
	conns := map[net.Conn]bool{} // true: counts in ctlUserConns
	users := 0
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
	var backoff time.Duration
	every10s := func() func() bool { // at most one warning per 10 s, per cause
		var last time.Time
		return func() bool {
			if time.Since(last) < 10*time.Second {
				return false
			}
			last = time.Now()
			return true
		}
	}
	logAccept, logFull := every10s(), every10s()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or memory: the pending connections wait
			// in the backlog while descriptors come back.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if logAccept() {
				d.log.Error().Err(err).Dur("retry_in", backoff).Msg("control server cannot accept; retrying")
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		// Only a configured non-loopback address lets other hosts in.
		if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); listenLoopback && (err != nil || !ap.Addr().Unmap().IsLoopback()) {
			d.log.Warn().Str("from", conn.RemoteAddr().String()).Msg("control connection refused: not loopback")
			conn.Close()
			continue
		}
		// Local root keeps a share of the connections that other users
		// cannot take from it.
		uid, local := peerUID(conn)
		user := !local || uid != 0
		mu.Lock()
		full := len(conns) >= ctlMaxConns || (user && users >= ctlUserConns)
		if !full {
			conns[conn] = user
			if user {
				users++
			}
		}
		mu.Unlock()
		if full {
			limit := ctlMaxConns
			if user {
				limit = ctlUserConns
			}
			if logFull() {
				d.log.Warn().Int("max", limit).Str("from", conn.RemoteAddr().String()).Uint32("uid", uid).Bool("local", local).
					Msg("control connection refused: too many")
			}
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(conn, "error too many control connections (%d at once); try again\n", limit)
			conn.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.handleCtl(conn, listenLoopback)
			mu.Lock()
			if conns[conn] {
				users--
			}
			delete(conns, conn)
			mu.Unlock()
		}()
	}
}

// deadlineWriter gives each write to a control client its own deadline, so
// that a client that stops reading is dropped instead of holding its
// answer, and no answer outlives end.
type deadlineWriter struct {
	conn net.Conn
	end  time.Time
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	dl := time.Now().Add(ctlWriteTimeout)
	if w.end.Before(dl) {
		dl = w.end
	}
	w.conn.SetWriteDeadline(dl)
	return w.conn.Write(b)
}

// handleCtl answers one request. On a loopback listener, commands that
// only read need no secret; the others, and every command on a
// non-loopback listener, need a request signed with the control secret.
func (d *daemon) handleCtl(conn net.Conn, loopback bool) {
	defer conn.Close()
	start := time.Now()
	conn.SetReadDeadline(start.Add(ctlRequestTimeout))
	req, err := ctl.ReadRequest(bufio.NewReaderSize(conn, ctl.MaxRequest))
	w := bufio.NewWriterSize(&deadlineWriter{conn: conn, end: start.Add(ctlMaxAnswer)}, 64<<10)
	defer func() {
		if err := w.Flush(); err != nil {
			d.log.Warn().Err(err).Str("from", conn.RemoteAddr().String()).Msg("control client dropped: it did not read its answer")
			// Reset rather than close: the kernel would otherwise keep
			// the unsent answer for a client that may never take it.
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
		}
	}()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		fmt.Fprintf(w, "error no request within %s\n", ctlRequestTimeout)
		return
	}
	if err != nil {
		fmt.Fprintf(w, "error %s\n", err)
		return
	}
	if !loopback { // other hosts may reach this listener: everything needs the secret
		if err := d.authorise(&req, conn, "this control address (fibd_cli_listen is not loopback)"); err != nil {
			fmt.Fprintf(w, "error %s\n", err)
			return
		}
	}
	o := &output{json: req.JSON, w: w, enc: json.NewEncoder(w)}
	// The body is buffered until the status is known, except for the
	// streamed dumps, which write their status first.
	if len(req.Args) > 0 && req.Args[0] == "help" {
		fmt.Fprintln(w, "ok")
		help(w, req.Args[1:], req.JSON)
		return
	}
	c, err := ctl.Parse(req.Args, verbs())
	if err != nil {
		fmt.Fprintf(w, "error %s\n", err)
		return
	}
	for _, cmd := range commands {
		if cmd.name != c.Name() {
			continue
		}
		if cmd.mutates && loopback {
			if err := d.authorise(&req, conn, "\""+cmd.name+"\" changes fibd's state: it"); err != nil {
				fmt.Fprintf(w, "error %s\n", err)
				return
			}
		}
		if cmd.name == "router rib show" || cmd.name == "router fib dump" { // big: streamed, the status first
			begun := false
			o.begin = func() { begun = true; fmt.Fprintln(w, "ok") }
			// After the status, an error is the client's connection:
			// the deferred Flush reports it.
			if err := cmd.run(d.query(), c, o); err != nil && !begun {
				fmt.Fprintf(w, "error %s\n", err)
			}
			return
		}
		body := &strings.Builder{}
		bw := bufio.NewWriter(body)
		bo := &output{json: o.json, w: bw, enc: json.NewEncoder(bw)}
		if err := cmd.run(d.query(), c, bo); err != nil {
			fmt.Fprintf(w, "error %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
			return
		}
		bw.Flush()
		fmt.Fprintln(w, "ok")
		io.WriteString(w, body.String())
		return
	}
	fmt.Fprintf(w, "error unknown command %q\n", c.Name())
}

// authorise checks that req is signed with the control secret; what names
// what needs it, for the refusal.
func (d *daemon) authorise(req *ctl.Request, conn net.Conn, what string) error {
	if d.ctlAuth == nil {
		return fmt.Errorf("%s needs the control secret, and fibd has none: %w (see fibd's log)", what, d.ctlAuthErr)
	}
	err := d.ctlAuth.Verify(req, time.Now())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ctl.ErrNoAuth):
		return fmt.Errorf("%s needs the control secret: run fdpi_cli as root, which reads %s, or give it a copy with -k FILE (see README)",
			what, d.cfg.CLISecret)
	}
	d.log.Warn().Err(err).Str("from", conn.RemoteAddr().String()).Strs("command", req.Args).Msg("control request refused")
	return fmt.Errorf("authentication failed: %w", err)
}

// helpJSON is a command as "fdpi_cli --json help" lists it, one object a
// line: the command table itself, so that scripts and tests can walk every
// command. Field names are stable.
type helpJSON struct {
	Command     string `json:"command"`  // "router fib lookup"
	Synopsis    string `json:"synopsis"` // target and options
	Doc         string `json:"doc"`
	NeedsSecret bool   `json:"needs_secret"` // it changes state: the request must be signed
}

// help lists the objects, or with an object its commands; in JSON, every
// command (of the object, when one is named).
func help(w io.Writer, args []string, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, c := range commands {
			if len(args) == 0 || strings.HasPrefix(c.name, args[0]+" ") {
				enc.Encode(helpJSON{c.name, c.synopsis, c.doc, c.mutates})
			}
		}
		return
	}
	objs := map[string]bool{}
	for _, c := range commands {
		obj, _, _ := strings.Cut(c.name, " ")
		objs[obj] = true
	}
	if len(args) == 0 {
		io.WriteString(w, "fdpi_cli [-r ip%dev[:port]] [-k SECRET_FILE] [-t N] [-v] [--json [--strict]] <object> <verb> [IP | CIDR | \"IP - IP\" | all] [key=value]\n")
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
			doc := c.doc
			if c.mutates {
				doc += " (needs the control secret)"
			}
			fmt.Fprintf(tw, "%s %s\t%s\n", c.name, c.synopsis, doc)
		}
	}
	tw.Flush()
}

// listenCtl loads the control secret (creating it when missing) and
// opens the control server's socket. Without a usable secret fibd still
// forwards, and its control server only reads (on loopback).
func (d *daemon) listenCtl() (net.Listener, error) {
	d.ribShows = make(chan struct{}, ctlRIBShows)
	secret, created, err := ctl.EnsureSecret(d.cfg.CLISecret)
	if err != nil {
		d.ctlAuthErr = err
		d.log.Error().Err(err).Str("fibd_cli_secret", d.cfg.CLISecret).
			Msg("no control secret: commands that change state are refused until fibd restarts with one")
	} else {
		d.ctlAuth = ctl.NewVerifier(secret)
		d.log.Info().Str("fibd_cli_secret", d.cfg.CLISecret).Bool("created", created).Msg("control secret")
	}
	ln, err := net.Listen("tcp", d.cfg.CLIListen)
	if err != nil {
		return nil, fmt.Errorf("control server on %s: %w", d.cfg.CLIListen, err)
	}
	return ln, nil
}

var errNoTable = errors.New("no such table")
