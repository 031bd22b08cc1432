// Package ctl is the wire protocol between fibd's control server and
// fdpi_cli, and the parser of fdpi_cli-style commands:
//
//	<object> <verb> [IP | CIDR | "IP - IP" | all] [key=value ...]
//
// A connection carries one request: a JSON line {"args": [...], "json":
// bool}, with "time" and "auth" when it is signed with the control secret
// (see Sign). The answer is a status line, "ok" or "error <message>", then the
// body until the server closes the connection. Bodies of list commands in
// JSON mode are one JSON object per line, so big dumps stream.
package ctl

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Limits of a request; larger ones are refused, never parsed.
const (
	MaxRequest = 16 << 10 // bytes of the request line
	MaxArgs    = 32
	MaxArg     = 256 // bytes of one argument
)

// DefaultAddr is fdpi_cli's default server.
const DefaultAddr = "127.0.0.1:29000"

// Request is what fdpi_cli sends.
type Request struct {
	Args []string `json:"args"`
	JSON bool     `json:"json"`
	// Signed requests: the client's clock (Unix ns) and the HMAC-SHA256
	// of the request under the control secret, hex (Sign, Verifier).
	Time int64  `json:"time,omitempty"`
	Auth string `json:"auth,omitempty"`
}

// ReadRequest reads and validates one request.
func ReadRequest(r *bufio.Reader) (Request, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return Request{}, fmt.Errorf("request longer than %d bytes", MaxRequest)
	}
	if err != nil {
		return Request{}, fmt.Errorf("reading request: %w", err)
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return Request{}, fmt.Errorf("malformed request: %w", err)
	}
	if len(req.Args) > MaxArgs {
		return Request{}, fmt.Errorf("%d arguments, at most %d", len(req.Args), MaxArgs)
	}
	for _, a := range req.Args {
		if len(a) > MaxArg {
			return Request{}, fmt.Errorf("argument longer than %d bytes", MaxArg)
		}
	}
	return req, nil
}

// WriteRequest sends one request.
func WriteRequest(w io.Writer, req Request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Target is the object a command acts on: nothing, all, an address, a
// prefix or an address range.
type Target struct {
	All    bool
	Addr   netip.Addr
	Prefix netip.Prefix
	From   netip.Addr // range
	To     netip.Addr
}

// IsZero reports whether no target was given.
func (t Target) IsZero() bool {
	return !t.All && !t.Addr.IsValid() && !t.Prefix.IsValid() && !t.From.IsValid()
}

// Command is a parsed command line.
type Command struct {
	Object, Verb string // "router", "fib lookup" (verbs may be two words)
	Target       Target
	Opts         map[string]string // key=value
}

// Name is "object verb".
func (c *Command) Name() string { return c.Object + " " + c.Verb }

// Parse splits args into a command. verbs says, per object, which verbs
// exist (one or two words), so that the rest can be read as the target and
// options.
func Parse(args []string, verbs map[string][]string) (*Command, error) {
	if len(args) == 0 {
		return nil, errors.New("no command (try: help)")
	}
	c := &Command{Object: args[0], Opts: map[string]string{}}
	known, ok := verbs[c.Object]
	if !ok {
		return nil, fmt.Errorf("unknown object %q (try: help)", c.Object)
	}
	rest := args[1:]
	for _, v := range known { // longest match: "fib lookup" before "fib"
		w := strings.Fields(v)
		if len(rest) >= len(w) && strings.Join(rest[:len(w)], " ") == v && len(w) > len(strings.Fields(c.Verb)) {
			c.Verb = v
		}
	}
	if c.Verb == "" {
		return nil, fmt.Errorf("unknown command %q (try: help %s)", strings.Join(args, " "), c.Object)
	}
	rest = rest[len(strings.Fields(c.Verb)):]
	// "IP - IP" arrives as three words.
	if len(rest) >= 3 && rest[1] == "-" {
		rest = append([]string{rest[0] + "-" + rest[2]}, rest[3:]...)
	}
	for _, a := range rest {
		if k, v, ok := strings.Cut(a, "="); ok {
			if k == "" {
				return nil, fmt.Errorf("option %q without a name", a)
			}
			c.Opts[k] = v
			continue
		}
		if !c.Target.IsZero() {
			return nil, fmt.Errorf("second target %q", a)
		}
		t, err := parseTarget(a)
		if err != nil {
			return nil, err
		}
		c.Target = t
	}
	return c, nil
}

func parseTarget(s string) (Target, error) {
	if s == "all" {
		return Target{All: true}, nil
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(strings.TrimSpace(from))
		b, err2 := netip.ParseAddr(strings.TrimSpace(to))
		if err1 == nil && err2 == nil {
			if a.Is4() != b.Is4() || b.Less(a) {
				return Target{}, fmt.Errorf("bad range %q: want \"IP - IP\", same family, ascending", s)
			}
			return Target{From: a, To: b}, nil
		}
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Target{}, fmt.Errorf("bad CIDR %q: %w", s, err)
		}
		return Target{Prefix: p.Masked()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Target{}, fmt.Errorf("bad target %q: want IP, CIDR, \"IP - IP\" or all", s)
	}
	return Target{Addr: a}, nil
}
