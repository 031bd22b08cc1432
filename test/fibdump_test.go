package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestFIBDump: "router fib dump" lists every prefix of a table with the
// nexthop fibd programmed and the fast path's own answer for the prefix's
// first and last address; /metrics has the memory gauges the soak reads.
func TestFIBDump(t *testing.T) {
	r := startFibd(t, "", cliStatic)
	out, _, code := r.fdpi(t, "--json", "--strict", "router", "fib", "dump")
	if code != 0 {
		t.Fatalf("fib dump: exit %d\n%s", code, out)
	}
	type hop struct {
		Type    string `json:"type"`
		Device  string `json:"device"`
		MAC     string `json:"mac"`
		Members []hop  `json:"members"`
	}
	type rec struct {
		Table   uint32 `json:"table"`
		Prefix  string `json:"prefix"`
		Index   uint32 `json:"nexthop_index"`
		First   uint32 `json:"first"`
		Last    uint32 `json:"last"`
		Nexthop *hop   `json:"nexthop"`
	}
	nhs := map[uint32]hop{}
	pfx := map[string]rec{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var x rec
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if x.Nexthop != nil {
			nhs[x.Index] = *x.Nexthop
			continue
		}
		pfx[x.Prefix] = x
	}
	noRoute := false
	for _, n := range nhs {
		noRoute = noRoute || n.Type == "no_route"
	}
	if !noRoute {
		t.Errorf("no no_route nexthop line:\n%s", out)
	}
	for _, c := range []struct {
		prefix, typ, dev, mac string
		members               int
	}{
		{"0.0.0.0/0", "forward", "net_pcap1", "02:00:00:00:01:02", 0},
		{"8.8.8.0/24", "forward", "net_pcap2", "02:00:00:00:02:02", 0},
		{"1.1.1.0/24", "ecmp", "", "", 2},
		{"9.9.9.0/24", "blackhole", "", "", 0},
		{"2001:db8:100::/48", "forward", "net_pcap1", "02:00:00:00:01:02", 0},
	} {
		x, ok := pfx[c.prefix]
		if !ok {
			t.Errorf("%s missing from the dump:\n%s", c.prefix, out)
			continue
		}
		n := nhs[x.Index]
		if n.Type != c.typ || n.Device != c.dev || n.MAC != c.mac || len(n.Members) != c.members {
			t.Errorf("%s: nexthop %d %+v, want %s dev %q mac %q, %d members", c.prefix, x.Index, n, c.typ, c.dev, c.mac, c.members)
		}
		// nothing more specific starts or ends where these do
		if x.First != x.Index || x.Last != x.Index {
			t.Errorf("%s: the FIB answers %d for its first address and %d for its last, want %d", c.prefix, x.First, x.Last, x.Index)
		}
	}
	// 198.51.100.0/24 is connected; its last address is not the /24's own
	// answer when a host route ends there, but its first one is
	if x, ok := pfx["198.51.100.0/24"]; !ok || x.First != x.Index {
		t.Errorf("198.51.100.0/24: %+v", x)
	}
	if out, _, code := r.fdpi(t, "router", "fib", "dump"); code != 0 || !strings.Contains(out, "8.8.8.0/24 nexthop ") {
		t.Errorf("fib dump (text): %d\n%s", code, out)
	}
	if _, errOut, code := r.fdpi(t, "router", "fib", "dump", "table=999"); code != 1 || !strings.Contains(errOut, "no such table") {
		t.Errorf("fib dump table=999: exit %d, %q", code, errOut)
	}

	// the memory gauges
	p, _ := strconv.Atoi(strings.TrimPrefix(r.addr, "127.0.0.1:"))
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p+1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"fibd_dpdk_heap_bytes", "process_resident_memory_bytes", "go_memstats_heap_alloc_bytes", "go_gc_heap_live_bytes"} {
		v := -1.0
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == name {
				v, _ = strconv.ParseFloat(f[1], 64)
			}
		}
		if v <= 0 {
			t.Errorf("/metrics: %s = %v, want a positive value", name, v)
		}
	}
}
