package ctl

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var testVerbs = map[string][]string{"router": {"status", "fib lookup", "fib refresh", "rib show", "announce add"}}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args []string
		name string
		tgt  Target
		opts map[string]string
		err  string
	}{
		{[]string{"router", "status"}, "router status", Target{}, nil, ""},
		{[]string{"router", "fib", "lookup", "192.0.2.1", "table=100"}, "router fib lookup",
			Target{Addr: netip.MustParseAddr("192.0.2.1")}, map[string]string{"table": "100"}, ""},
		{[]string{"router", "rib", "show", "10.1.2.3/8"}, "router rib show", Target{Prefix: netip.MustParsePrefix("10.0.0.0/8")}, nil, ""},
		{[]string{"router", "rib", "show", "all"}, "router rib show", Target{All: true}, nil, ""},
		{[]string{"router", "announce", "add", "10.0.0.1", "-", "10.0.0.9", "dir=inet"}, "router announce add",
			Target{From: netip.MustParseAddr("10.0.0.1"), To: netip.MustParseAddr("10.0.0.9")}, map[string]string{"dir": "inet"}, ""},
		{[]string{"router", "announce", "add", "10.0.0.9-10.0.0.1"}, "", Target{}, nil, "bad range"},
		{[]string{"router", "fib", "lookup", "1.2.3.4", "5.6.7.8"}, "", Target{}, nil, "second target"},
		{[]string{"router", "fib", "lookup", "nonsense"}, "", Target{}, nil, "bad target"},
		{[]string{"router", "fib"}, "", Target{}, nil, "unknown command"},
		{[]string{"bgp", "show"}, "", Target{}, nil, "unknown object"},
		{[]string{"router", "status", "=x"}, "", Target{}, nil, "without a name"},
		{nil, "", Target{}, nil, "no command"},
	} {
		cmd, err := Parse(c.args, testVerbs)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if cmd.Name() != c.name || cmd.Target != c.tgt {
			t.Errorf("%q: %s %+v, want %s %+v", c.args, cmd.Name(), cmd.Target, c.name, c.tgt)
		}
		for k, v := range c.opts {
			if cmd.Opts[k] != v {
				t.Errorf("%q: option %s=%q, want %q", c.args, k, cmd.Opts[k], v)
			}
		}
	}
}

func TestReadRequestLimits(t *testing.T) {
	read := func(s string) error {
		_, err := ReadRequest(bufio.NewReaderSize(strings.NewReader(s), MaxRequest))
		return err
	}
	if err := read(`{"args":["router","status"],"json":true}` + "\n"); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"oversized":     `{"args":["` + strings.Repeat("x", MaxRequest) + `"]}` + "\n",
		"long argument": `{"args":["` + strings.Repeat("x", MaxArg+1) + `"]}` + "\n",
		"many":          `{"args":[` + strings.Repeat(`"a",`, MaxArgs) + `"a"]}` + "\n",
		"not json":      "router status\n",
		"no newline":    `{"args":[]}`,
	} {
		if read(s) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzCommand: no request line crashes the reader, the parser or the
// verifier, and none passes for signed without the secret.
func FuzzCommand(f *testing.F) {
	f.Add(`{"args":["router","fib","lookup","10.0.0.1","table=1"]}` + "\n")
	f.Add(`{"args":["router","announce","add","1.1.1.1","-","1.1.1.9"]}` + "\n")
	f.Add(`{"args":["router","reload"],"time":1800000000000000000,"auth":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}` + "\n")
	f.Add("garbage\n")
	v := NewVerifier([]byte("fuzz secret, never guessed"))
	f.Fuzz(func(t *testing.T, s string) {
		req, err := ReadRequest(bufio.NewReaderSize(strings.NewReader(s), MaxRequest))
		if err != nil {
			return
		}
		Parse(req.Args, testVerbs)
		if v.Verify(&req, time.Unix(0, req.Time)) == nil {
			t.Fatalf("forged request accepted: %q", s)
		}
	})
}
