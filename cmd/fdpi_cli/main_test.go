package main

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
)

// serveOnce answers one request with answer and returns the address.
func serveOnce(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		c.Write([]byte(answer))
	}()
	return ln.Addr().String()
}

// TestJSONFailures: under --json a failure is one JSON object on stdout,
// ok false and the error, with the failure's exit status; without --json,
// stdout stays empty.
func TestJSONFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		addr   string
		json   bool
		code   int
		errors string
	}{
		{"refused", serveOnce(t, "error no such table: 77\n"), true, 1, "no such table: 77"},
		{"refused, text", serveOnce(t, "error no such table: 77\n"), false, 1, ""},
		{"no answer", serveOnce(t, ""), true, 3, "no answer"},
		{"bad status", serveOnce(t, "what\n"), true, 3, "unexpected answer"},
		{"ok", serveOnce(t, "ok\n{\"ok\":true,\"message\":\"counters reset\"}\n"), true, 0, ""},
		{"strict", serveOnce(t, "ok\ncounters reset\n"), true, 1, "not JSON"},
	} {
		var so, se strings.Builder
		args := []string{"-k", "", "-r", c.addr, "router", "stats", "reset"}
		if c.json {
			args = append([]string{"--json"}, args...)
		}
		if c.name == "strict" {
			args = append([]string{"--strict"}, args...)
		}
		code := run(args, &so, &se)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d (%q)", c.name, code, c.code, se.String())
		}
		if c.errors == "" {
			if c.code != 0 && so.Len() != 0 {
				t.Errorf("%s: stdout %q, want nothing", c.name, so.String())
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(so.String()), &m); err != nil || m["ok"] != false || len(m) != 2 ||
			!strings.Contains(m["error"].(string), c.errors) {
			t.Errorf("%s: stdout %q (%v), want {\"ok\":false,\"error\":\"...%s...\"}", c.name, so.String(), err, c.errors)
		}
		if !strings.Contains(se.String(), c.errors) {
			t.Errorf("%s: stderr %q lacks the error", c.name, se.String())
		}
	}
}
