// Command fdpi_cli talks to a running fibd, with the conventions of the
// gateway's own fdpi_cli:
//
//	fdpi_cli [-r ip%dev[:port]] [-k secret-file] [-t seconds] [-v] [--json [--strict]] <command>
//	fdpi_cli help
//	fdpi_cli help router
//	fdpi_cli router fib lookup 192.0.2.7 table=100
//	fdpi_cli router announce batch < events   # one authorisation event a line
//
// Requests are signed with fibd's control secret when fdpi_cli can read it
// (-k, by default /run/fibd/cli.secret, root only): fibd runs commands that
// change its state only when they are, and every command on a
// non-loopback address.
//
// Exit status: 0 done, 1 the command failed, 2 usage, 3 no answer. With
// --json a failure is also one JSON object on stdout,
// {"ok":false,"error":"..."} (the message is on stderr as well), so a
// script reads every answer, success or not, as JSON.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"fibd/cmd/internal/ctl"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// stdin feeds "router announce batch".
var stdin io.Reader = os.Stdin

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fdpi_cli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	remote := fs.String("r", ctl.DefaultAddr, "fibd's control address: ip[%dev][:port]")
	timeout := fs.Int("t", 5, "seconds to wait for the answer")
	secretFile := fs.String("k", ctl.DefaultSecretFile, "fibd's control secret (fibd_cli_secret), needed by commands that change state; '' sends unsigned requests")
	var verbose int
	fs.Func("v", "verbose (repeatable)", func(string) error { verbose++; return nil })
	asJSON := fs.Bool("json", false, "JSON output (list commands: one object per line)")
	strict := fs.Bool("strict", false, "with --json: fail unless every output line is valid JSON")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fdpi_cli [-r ip%%dev[:port]] [-k SECRET_FILE] [-t N] [-v] [--json [--strict]] <command>\n")
		fmt.Fprintln(stderr, "       fdpi_cli help | fdpi_cli help router")
		fs.PrintDefaults()
	}
	// -v may be given as -v, -vv, -vvv.
	var norm []string
	for _, a := range args {
		if len(a) > 2 && strings.Trim(a, "v") == "-" {
			for range len(a) - 1 {
				norm = append(norm, "-v=")
			}
			continue
		}
		if a == "-v" {
			a = "-v="
		}
		norm = append(norm, a)
	}
	if err := fs.Parse(norm); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	// fail reports a failure and returns its exit status.
	fail := func(code int, format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintln(stderr, "fdpi_cli:", msg)
		if *asJSON {
			b, _ := json.Marshal(struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}{false, msg})
			stdout.Write(append(b, '\n'))
		}
		return code
	}
	addr, err := parseRemote(*remote)
	if err != nil {
		return fail(2, "%v", err)
	}
	req := ctl.Request{Args: fs.Args(), JSON: *asJSON}
	// The default secret file is read when it can be (root): read-only
	// commands on loopback need none. A file named with -k must work.
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "k" })
	secret, err := ctl.ReadSecret(*secretFile)
	switch {
	case *secretFile == "": // -k '': unsigned on purpose
	case err == nil:
		req.Sign(secret, time.Now())
	case explicit:
		return fail(2, "%v", err)
	case verbose > 0:
		fmt.Fprintf(stderr, "fdpi_cli: unsigned request (%v)\n", err)
	}
	if isBatch(req.Args) { // one request per line of stdin
		if err != nil {
			secret = nil
		}
		return runBatch(stdin, stdout, stderr, addr, secret, time.Duration(*timeout)*time.Second, *asJSON)
	}
	if verbose > 0 {
		fmt.Fprintf(stderr, "fdpi_cli: %s <- %q\n", addr, req.Args)
	}
	deadline := time.Now().Add(time.Duration(*timeout) * time.Second)
	conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return fail(3, "cannot reach fibd at %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if err := ctl.WriteRequest(conn, req); err != nil {
		return fail(3, "%v", err)
	}
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil {
		return fail(3, "no answer: %v", err)
	}
	status = strings.TrimSuffix(status, "\n")
	if msg, ok := strings.CutPrefix(status, "error "); ok {
		io.Copy(stderr, br)
		return fail(1, "%s", msg)
	}
	if status != "ok" {
		return fail(3, "unexpected answer %q", status)
	}
	if !*strict {
		if _, err := io.Copy(stdout, br); err != nil {
			return fail(3, "%v", err)
		}
		return 0
	}
	// --strict: every line must be JSON.
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) > 0 && !json.Valid(line) {
			return fail(1, "--strict: not JSON: %.80q", line)
		}
		stdout.Write(append(line, '\n'))
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return fail(3, "%v", err)
	}
	return 0
}

// parseRemote accepts ip, ip:port, ip%dev, ip%dev:port and [v6%dev]:port.
func parseRemote(s string) (string, error) {
	host, port := s, "29000"
	if strings.HasPrefix(s, "[") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return "", fmt.Errorf("-r %q: %w", s, err)
		}
		host, port = h, p
	} else if i := strings.LastIndex(s, ":"); i >= 0 && strings.Count(s, ":") == 1 {
		host, port = s[:i], s[i+1:]
	}
	ip, _, _ := strings.Cut(host, "%")
	if net.ParseIP(ip) == nil {
		return "", fmt.Errorf("-r %q: want ip%%dev[:port]", s)
	}
	return net.JoinHostPort(host, port), nil
}
