package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"fibd/cmd/internal/ctl"
)

// batchVerbs are the announce verbs a batch line may start with.
var batchVerbs = map[string]bool{"accept": true, "reject": true, "stop": true, "add": true, "del": true}

// isBatch reports whether args is "router announce batch".
func isBatch(args []string) bool {
	return len(args) == 3 && args[0] == "router" && args[1] == "announce" && args[2] == "batch"
}

// runBatch reads announcement events from in, one a line, and sends each
// as its own request "router announce <line>", signed with secret (nil:
// unsigned), so that an AAA/RADIUS script can feed fibd its
// authorisation events:
//
//	accept 100.64.1.7 VasExperts-Route-Announce=1 VasExperts-Service-Profile=11:nat
//	reject 100.64.1.8
//	stop 100.64.1.7
//
// Blank lines and lines starting with '#' are skipped. Each answer is
// written as "<line number> ok <answer>" or "<line number> error
// <message>"; a refused line does not stop the others. The status is 0
// when every line was applied, 1 when one was refused, 3 when fibd did
// not answer.
func runBatch(in io.Reader, stdout, stderr io.Writer, addr string, secret []byte, timeout time.Duration, asJSON bool) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 4096), ctl.MaxRequest)
	status := 0
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if !batchVerbs[f[0]] {
			batchAnswer(stdout, asJSON, n, false, fmt.Sprintf("%q: want accept, reject, stop, add or del", f[0]))
			status = max(status, 1)
			continue
		}
		req := ctl.Request{Args: append([]string{"router", "announce"}, f...), JSON: asJSON}
		if secret != nil {
			req.Sign(secret, time.Now())
		}
		ok, body, err := exchange(addr, req, timeout)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "fdpi_cli: line %d: %v\n", n, err)
			return 3
		default:
			batchAnswer(stdout, asJSON, n, ok, strings.TrimSpace(body))
			if !ok {
				status = max(status, 1)
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(stderr, "fdpi_cli: reading the batch:", err)
		return 2
	}
	return status
}

// batchAnswer writes the answer to line n: "<n> ok <answer>" or "<n> error
// <message>"; under --json the answer's object with "line" added, or
// {"line":n,"ok":false,"error":...}.
func batchAnswer(w io.Writer, asJSON bool, n int, ok bool, body string) {
	if !asJSON {
		word := "ok"
		if !ok {
			word = "error"
		}
		fmt.Fprintf(w, "%d %s %s\n", n, word, body)
		return
	}
	m := map[string]any{}
	if !ok || json.Unmarshal([]byte(body), &m) != nil {
		m = map[string]any{"ok": false, "error": body}
	}
	m["line"] = n
	b, _ := json.Marshal(m)
	fmt.Fprintf(w, "%s\n", b)
}

// exchange sends one request and returns whether fibd said ok, the answer
// (or the error message), and an error when fibd did not answer.
func exchange(addr string, req ctl.Request, timeout time.Duration) (bool, string, error) {
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return false, "", fmt.Errorf("cannot reach fibd at %s: %w", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if err := ctl.WriteRequest(conn, req); err != nil {
		return false, "", err
	}
	br := bufio.NewReader(conn)
	st, err := br.ReadString('\n')
	if err != nil {
		return false, "", fmt.Errorf("no answer: %w", err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		return false, "", fmt.Errorf("reading the answer: %w", err)
	}
	st = strings.TrimSuffix(st, "\n")
	if msg, ok := strings.CutPrefix(st, "error "); ok {
		return false, msg, nil
	}
	if st != "ok" {
		return false, "", fmt.Errorf("unexpected answer %q", st)
	}
	return true, string(rest), nil
}
