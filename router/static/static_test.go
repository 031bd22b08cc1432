package static

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"fibd/test/fullview"

	"fibd/router/rib"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// normState makes empty and nil slices compare equal.
func normState(s *rib.State) rib.State {
	out := rib.State{}
	if len(s.Addrs) > 0 {
		out.Addrs = s.Addrs
	}
	if len(s.Neighs) > 0 {
		out.Neighs = s.Neighs
	}
	for _, r := range s.Routes {
		if len(r.Nexthops) == 0 {
			r.Nexthops = nil
		}
		out.Routes = append(out.Routes, r)
	}
	return out
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want rib.State
	}{
		{"empty", "", rib.State{}},
		{"comments and blanks", "# a comment\n\n   \t\n  # indented comment\n", rib.State{}},
		{
			"address add", "address add 10.0.0.1/24 dev eth0",
			rib.State{Addrs: []rib.Addr{{Prefix: pfx("10.0.0.1/24"), Dev: "eth0"}}},
		},
		{
			"address forms",
			"ip addr add 10.0.0.1/24 dev a\na add 2001:db8::1/64 dev b\nip -6 address replace 2001:db8:1::1/64 dev c\n" +
				"addr add dev d 192.0.2.1\naddress add local 192.0.2.9/30 dev e # trailing comment\n",
			rib.State{Addrs: []rib.Addr{
				{Prefix: pfx("10.0.0.1/24"), Dev: "a"},
				{Prefix: pfx("2001:db8::1/64"), Dev: "b"},
				{Prefix: pfx("2001:db8:1::1/64"), Dev: "c"},
				{Prefix: pfx("192.0.2.1/32"), Dev: "d"},
				{Prefix: pfx("192.0.2.9/30"), Dev: "e"},
			}},
		},
		{
			"route via dev", "route add 10.1.0.0/16 via 10.0.0.2 dev eth0",
			rib.State{Routes: []rib.Route{{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Gateway: addr("10.0.0.2"), Dev: "eth0"}}}}},
		},
		{
			"route via only", "ip route add 10.1.0.0/16 via 10.0.0.2",
			rib.State{Routes: []rib.Route{{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Gateway: addr("10.0.0.2")}}}}},
		},
		{
			"route on-link", "route add 10.1.0.0/16 dev eth0",
			rib.State{Routes: []rib.Route{{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "eth0"}}}}},
		},
		{
			"abbreviations", "ip r a 10.1.0.0/16 dev eth0\nip ro repl 10.2.0.0/16 dev eth0",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "eth0"}}},
				{Table: rib.MainTable, Prefix: pfx("10.2.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "eth0"}}},
			}},
		},
		{
			"host route, keywords first, to",
			"route add via 10.0.0.2 192.0.2.7\nroute add dev x to 192.0.2.8/32 onlink",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("192.0.2.7/32"), Nexthops: []rib.Nexthop{{Gateway: addr("10.0.0.2")}}},
				{Table: rib.MainTable, Prefix: pfx("192.0.2.8/32"), Nexthops: []rib.Nexthop{{Dev: "x"}}},
			}},
		},
		{
			"table metric proto scope",
			"route add 10.1.0.0/16 via 10.0.0.2 table 100 metric 20 proto bird\n" +
				"route add 10.1.0.0/16 dev x table main priority 5 scope link\n" +
				"route add 10.3.0.0/16 dev x table 0 preference 7 proto static",
			rib.State{Routes: []rib.Route{
				{Table: 100, Prefix: pfx("10.1.0.0/16"), Metric: 20, Nexthops: []rib.Nexthop{{Gateway: addr("10.0.0.2")}}},
				{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Metric: 5, Nexthops: []rib.Nexthop{{Dev: "x"}}},
				{Table: rib.MainTable, Prefix: pfx("10.3.0.0/16"), Metric: 7, Nexthops: []rib.Nexthop{{Dev: "x"}}},
			}},
		},
		{
			"types",
			"route add blackhole 10.0.0.0/8\nroute add unreachable 172.16.0.0/12 table 7\n" +
				"route add prohibit 2001:db8::/32\nroute add unicast 192.0.2.0/24 dev x\n" +
				"route add throw 10.9.0.0/16 table 7",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("10.0.0.0/8"), Type: rib.Blackhole},
				{Table: 7, Prefix: pfx("172.16.0.0/12"), Type: rib.Unreachable},
				{Table: rib.MainTable, Prefix: pfx("2001:db8::/32"), Type: rib.Prohibit, Metric: 1024},
				{Table: rib.MainTable, Prefix: pfx("192.0.2.0/24"), Nexthops: []rib.Nexthop{{Dev: "x"}}},
				{Table: 7, Prefix: pfx("10.9.0.0/16"), Type: rib.Throw},
			}},
		},
		{
			"default v4",
			"route add default via 192.0.2.1\nip -4 route add default dev x table 9",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("0.0.0.0/0"), Nexthops: []rib.Nexthop{{Gateway: addr("192.0.2.1")}}},
				{Table: 9, Prefix: pfx("0.0.0.0/0"), Nexthops: []rib.Nexthop{{Dev: "x"}}},
			}},
		},
		{
			"default v6 by via, by -6, by nexthop",
			"route add default via 2001:db8::1\nip -6 route add default dev x table 9\n" +
				"route add default table 10 nexthop via fe80::1 dev a nexthop via fe80::2 dev b",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("::/0"), Metric: 1024, Nexthops: []rib.Nexthop{{Gateway: addr("2001:db8::1")}}},
				{Table: 9, Prefix: pfx("::/0"), Metric: 1024, Nexthops: []rib.Nexthop{{Dev: "x"}}},
				{Table: 10, Prefix: pfx("::/0"), Metric: 1024, Nexthops: []rib.Nexthop{
					{Gateway: addr("fe80::1"), Dev: "a"}, {Gateway: addr("fe80::2"), Dev: "b"}}},
			}},
		},
		{
			"v6 metric",
			"route add 2001:db8::/32 dev x metric 0\nroute add 2001:db8::/32 dev x metric 5",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("2001:db8::/32"), Metric: 1024, Nexthops: []rib.Nexthop{{Dev: "x"}}},
				{Table: rib.MainTable, Prefix: pfx("2001:db8::/32"), Metric: 5, Nexthops: []rib.Nexthop{{Dev: "x"}}},
			}},
		},
		{
			"multipath with weights",
			"route add 10.0.0.0/8 table 5 metric 3 nexthop via 192.0.2.1 dev a weight 3 nexthop via 192.0.2.2 dev b nexthop dev c weight 256 onlink",
			rib.State{Routes: []rib.Route{{Table: 5, Prefix: pfx("10.0.0.0/8"), Metric: 3, Nexthops: []rib.Nexthop{
				{Gateway: addr("192.0.2.1"), Dev: "a", Weight: 3},
				{Gateway: addr("192.0.2.2"), Dev: "b"},
				{Dev: "c", Weight: 256},
			}}}},
		},
		{
			"neigh",
			"neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev eth0\n" +
				"ip -6 neighbour add 2001:db8::2 lladdr 02:00:00:00:00:03 dev eth0 nud permanent\n" +
				"n add to fe80::1 dev x lladdr 02-00-00-00-00-04 nud noarp\n" +
				"neighbor replace 192.0.2.2 lladdr 02:00:00:00:00:05 dev eth0 nud stale",
			rib.State{Neighs: []rib.Neigh{
				{Addr: addr("192.0.2.2"), MAC: mac("02:00:00:00:00:05"), Dev: "eth0"},
				{Addr: addr("2001:db8::2"), MAC: mac("02:00:00:00:00:03"), Dev: "eth0"},
				{Addr: addr("fe80::1"), MAC: mac("02:00:00:00:00:04"), Dev: "x"},
			}},
		},
		{
			"route replace overwrites in place",
			"route add 10.1.0.0/16 dev a\nroute add 10.2.0.0/16 dev a\nroute replace 10.1.0.0/16 via 10.0.0.9\nroute replace 10.3.0.0/16 dev c",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Gateway: addr("10.0.0.9")}}},
				{Table: rib.MainTable, Prefix: pfx("10.2.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "a"}}},
				{Table: rib.MainTable, Prefix: pfx("10.3.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "c"}}},
			}},
		},
		{
			"same prefix, other table or metric, is no duplicate",
			"route add 10.1.0.0/16 dev a\nroute add 10.1.0.0/16 dev a table 2\nroute add 10.1.0.0/16 dev a metric 1",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "a"}}},
				{Table: 2, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "a"}}},
				{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Metric: 1, Nexthops: []rib.Nexthop{{Dev: "a"}}},
			}},
		},
		{
			"route del",
			"route add 10.1.0.0/16 dev a\nroute add 10.2.0.0/16 dev a\nroute add 10.3.0.0/16 dev a\n" +
				"route del 10.2.0.0/16\nroute add 10.2.0.0/16 via 10.0.0.1\n" +
				"route add 10.4.0.0/16 dev a table 4\nroute del 10.4.0.0/16 table 4\n" +
				"route add blackhole 10.5.0.0/16\nroute delete blackhole 10.5.0.0/16\n" +
				"route add 10.6.0.0/16 via 10.0.0.1 dev a\nroute del 10.6.0.0/16 via 10.0.0.1\n" +
				"route add 10.7.0.0/16 nexthop via 10.0.0.1 nexthop via 10.0.0.2\nroute d 10.7.0.0/16 nexthop via 10.0.0.1 nexthop via 10.0.0.2\n" +
				"route add default via 2001:db8::1\nroute del default via 2001:db8::1\n" +
				"route add default via 10.0.0.1\nip -4 route del default\n",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "a"}}},
				{Table: rib.MainTable, Prefix: pfx("10.3.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "a"}}},
				{Table: rib.MainTable, Prefix: pfx("10.2.0.0/16"), Nexthops: []rib.Nexthop{{Gateway: addr("10.0.0.1")}}},
			}},
		},
		{
			"route del lowest metric first, or the one named",
			"route add 10.1.0.0/16 dev a metric 20\nroute add 10.1.0.0/16 dev a metric 10\nroute add 10.1.0.0/16 dev a metric 30\n" +
				"route del 10.1.0.0/16\nroute del 10.1.0.0/16 metric 30\n",
			rib.State{Routes: []rib.Route{
				{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Metric: 20, Nexthops: []rib.Nexthop{{Dev: "a"}}},
			}},
		},
		{
			"neigh and address del",
			"neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev a\nneigh add 192.0.2.3 lladdr 02:00:00:00:00:03 dev a\n" +
				"neigh del 192.0.2.2 dev a\n" +
				"address add 10.0.0.1/24 dev a\naddress add 10.0.1.1/24 dev a\naddress add 10.0.2.1/24 dev a\n" +
				"address del 10.0.0.1/24 dev a\naddr del 10.0.1.1 dev a\n" +
				"address add 10.0.0.1/24 dev a\n",
			rib.State{
				Addrs:  []rib.Addr{{Prefix: pfx("10.0.2.1/24"), Dev: "a"}, {Prefix: pfx("10.0.0.1/24"), Dev: "a"}},
				Neighs: []rib.Neigh{{Addr: addr("192.0.2.3"), MAC: mac("02:00:00:00:00:03"), Dev: "a"}},
			},
		},
		{
			"CRLF and tabs", "route\tadd 10.1.0.0/16\tdev a\r\n",
			rib.State{Routes: []rib.Route{{Table: rib.MainTable, Prefix: pfx("10.1.0.0/16"), Nexthops: []rib.Nexthop{{Dev: "a"}}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("t.conf", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if g, w := normState(got), normState(&tt.want); !reflect.DeepEqual(g, w) {
				t.Errorf("got\n%+v\nwant\n%+v", g, w)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src  string
		line int
		msg  string // substring of the message
	}{
		{"route add 10.0.0.1/8 via 192.0.2.1", 1, "Invalid prefix for given prefix length (did you mean 10.0.0.0/8?)"},
		{"\n\nroute add 2001:db8::1/32 dev x", 3, "Invalid prefix for given prefix length"},
		{"route add 10.0.0.0/8 via 2001:db8::1", 1, "IPv4 prefix 10.0.0.0/8 with IPv6 gateway 2001:db8::1"},
		{"route add 2001:db8::/32 via 192.0.2.1", 1, "IPv6 prefix 2001:db8::/32 with IPv4 gateway"},
		{"route add 10.0.0.0/8 nexthop via 10.0.0.1 nexthop via fe80::1 dev x", 1, "with IPv6 gateway"},
		{"ip -6 route add 10.0.0.0/8 dev x", 1, "IPv4 prefix 10.0.0.0/8 with -6"},
		{"ip -4 route add default via 2001:db8::1", 1, "with IPv6 gateway"},
		{"ip -6 route add default via 192.0.2.1", 1, "IPv6 prefix ::/0 with IPv4 gateway"},
		{"route add 10.0.0.0/8 dev x\n# c\nroute add 10.0.0.0/8 via 10.1.1.1", 3, "File exists"},
		{"route add 10.0.0.0/8 dev x table 5\nroute add 10.0.0.0/8 via 10.1.1.1 table 5", 2, "table 5 metric 0 already has this prefix (File exists)"},
		{"route add 2001:db8::/32 dev x\nroute add 2001:db8::/32 dev y metric 1024", 2, "File exists"},
		{"route add 10.0.0.0/8 dev x\nroute del 10.0.0.0/8\nroute del 10.0.0.0/8", 3, "no such route (No such process)"},
		{"route add 10.0.0.0/8 dev x\nroute del 10.0.0.0/8 dev y", 2, "No such process"},
		{"route add 10.0.0.0/8 dev x\nroute del 10.0.0.0/8 table 3", 2, "No such process"},
		{"route add 10.0.0.0/8 dev x\nroute del blackhole 10.0.0.0/8", 2, "No such process"},
		{"route add 10.0.0.0/8 dev x metric 4\nroute del 10.0.0.0/8 metric 5", 2, "No such process"},
		{"route add 10.0.0.0/8", 1, "unicast route needs via, dev or nexthop"},
		{"route add blackhole 10.0.0.0/8 via 10.0.0.1", 1, "Gateway, device and multipath can not be specified"},
		{"route add 10.0.0.0/8 via 10.0.0.1 mtu 1400", 1, `unknown keyword "mtu"`},
		{"route add local 10.0.0.0/8 dev x", 1, `unsupported route type "local"`},
		{"route add throw 10.0.0.0/8 dev x", 1, `throw route: Gateway, device and multipath can not be specified`},
		{"route add 10.0.0.0/8 10.1.0.0/16 dev x", 1, "duplicate destination"},
		{"route add via 10.0.0.1", 1, "missing destination"},
		{"route add 10.0.0.0/8 via", 1, `"via" needs an argument`},
		{"route add 10.0.0.0/8 via 10.0.0.1 via 10.0.0.2", 1, "duplicate via"},
		{"route add 10.0.0.0/8 via 10.0.0.999", 1, `invalid address "10.0.0.999"`},
		{"route add 10.0.0.0/33 dev x", 1, `invalid prefix "10.0.0.0/33"`},
		{"route add 10.0.0.0/8 via 224.0.0.1", 1, "invalid gateway 224.0.0.1"},
		{"route add 2001:db8::/32 via fe80::1", 1, "link-local gateway fe80::1 needs dev"},
		{"route add 2001:db8::/32 via fe80::1%eth0", 1, "zones are not accepted"},
		{"route add 10.0.0.0/8 dev x table foo", 1, `invalid table "foo"`},
		{"route add 10.0.0.0/8 dev x metric -1", 1, `invalid metric "-1"`},
		{"route add 10.0.0.0/8 via 10.0.0.1 nexthop via 10.0.0.2", 1, "via and dev go inside nexthop clauses"},
		{"route add 10.0.0.0/8 nexthop via 10.0.0.1 weight 0", 1, `invalid weight "0"`},
		{"route add 10.0.0.0/8 nexthop via 10.0.0.1 weight 257", 1, `invalid weight "257"`},
		{"route add 10.0.0.0/8 nexthop weight 2", 1, "nexthop needs via or dev"},
		{"route add 10.0.0.0/8 nexthop via 10.0.0.1 metric 5", 1, `unknown nexthop keyword "metric"`},
		{"route add 10.0.0.0/8 nexthop via 10.0.0.1 dev", 1, `"dev" needs an argument`},
		{"route show", 1, `unsupported command "route" "show"`},
		{"route flush table 5", 1, "unsupported command"},
		{"link set dev x up", 1, `unknown object "link"`},
		{"ip rule add from all table 5", 1, `unknown object "rule"`},
		{"ip -s route add 10.0.0.0/8 dev x", 1, `unknown option "-s"`},
		{"ip", 1, "incomplete command"},
		{"route", 1, "incomplete command"},
		{"address add 10.0.0.1/24", 1, `"dev" argument is required`},
		{"address add dev x", 1, "missing address"},
		{"address add 10.0.0.1/24 dev x label x:1", 1, `unknown keyword "label"`},
		{"address add 10.0.0.1/24 10.0.0.2/24 dev x", 1, "duplicate address"},
		{"ip -6 address add 10.0.0.1/24 dev x", 1, "IPv4 address 10.0.0.1/24 with -6"},
		{"address add 10.0.0.1/24 dev x\naddress add 10.0.0.1/24 dev x", 2, "File exists"},
		{"address del 10.0.0.1/24 dev x", 1, "no such address"},
		{"address add 10.0.0.1/24 dev x\naddress del 10.0.0.1/25 dev x", 2, "no such address"},
		{"neigh add 192.0.2.1 dev x", 1, "lladdr is required"},
		{"neigh add 192.0.2.1 lladdr 02:00:00:00:00:01", 1, "Device and destination are required"},
		{"neigh add 192.0.2.1 lladdr 02:00:00:00:00:0g dev x", 1, `invalid lladdr "02:00:00:00:00:0g"`},
		{"neigh add 192.0.2.1 lladdr 02:00:00:00:00:00:00:01 dev x", 1, "invalid lladdr"},
		{"neigh add 192.0.2.1 lladdr 02:00:00:00:00:01 dev x nud failed", 1, `unsupported nud state "failed"`},
		{"neigh add 192.0.2.1 lladdr 02:00:00:00:00:01 dev x router", 1, `unknown keyword "router"`},
		{"ip -4 neigh add 2001:db8::1 lladdr 02:00:00:00:00:01 dev x", 1, "IPv6 address 2001:db8::1 with -4"},
		{"neigh add 192.0.2.1 lladdr 02:00:00:00:00:01 dev x\nneigh add 192.0.2.1 lladdr 02:00:00:00:00:02 dev x", 2, "File exists"},
		{"neigh del 192.0.2.1 dev x", 1, "no such entry"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			st, err := Parse("lab.conf", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; state %+v", st)
			}
			if st != nil {
				t.Errorf("state %+v returned with an error", st)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a *Error", err)
			}
			if se.File != "lab.conf" || se.Line != tt.line || !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("got %q (line %d), want line %d containing %q", err, se.Line, tt.line, tt.msg)
			}
			if want := fmt.Sprintf("lab.conf:%d: ", tt.line); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

// Every bad line is reported, each with its own line number, and good
// lines around them still apply (so a later duplicate is still found).
func TestParseAllErrors(t *testing.T) {
	src := `route add 10.0.0.0/8 dev x
route add 10.0.0.1/8 dev x
bogus line
route add 10.0.0.0/8 dev y
neigh add 192.0.2.1 dev x
route add 10.1.0.0/16 dev x
`
	_, err := Parse("f", []byte(src))
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v is not joined", err)
	}
	var lines []int
	for _, e := range joined.Unwrap() {
		var se *Error
		if !errors.As(e, &se) {
			t.Fatalf("%v is not a *Error", e)
		}
		lines = append(lines, se.Line)
	}
	if want := []int{2, 3, 4, 5}; !reflect.DeepEqual(lines, want) {
		t.Errorf("error lines %v, want %v; errors:\n%v", lines, want, err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "static.conf")
	if err := os.WriteFile(path, []byte("route add 10.0.0.0/8 dev x\nroute add 10.0.0.0/8 dev x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || err.Error() != path+":2: route add 10.0.0.0/8: table 254 metric 0 already has this prefix (File exists); use route replace" {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// The state does not keep the file's text alive: device names are copies,
// and equal names share one string.
func TestParseInternsDevices(t *testing.T) {
	st, err := Parse("f", []byte("route add 10.0.0.0/8 dev eth0\nroute add 10.1.0.0/16 dev eth0\naddress add 10.2.0.1/24 dev eth0\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := st.Routes[0].Nexthops[0].Dev, st.Routes[1].Nexthops[0].Dev, st.Addrs[0].Dev
	if a != "eth0" || !sameString(a, b) || !sameString(a, c) {
		t.Errorf("device names not interned")
	}
	// Nexthop slices are carved from a shared chunk: appending to one
	// must not write into another's.
	_ = append(st.Routes[0].Nexthops, rib.Nexthop{Dev: "z"})
	if st.Routes[1].Nexthops[0].Dev != "eth0" {
		t.Errorf("nexthop slices share capacity")
	}
}

func sameString(a, b string) bool {
	return a == b && unsafe.StringData(a) == unsafe.StringData(b)
}

func TestFormatExample(t *testing.T) {
	st := &rib.State{
		Addrs:  []rib.Addr{{Prefix: pfx("192.0.2.1/24"), Dev: "p0"}},
		Neighs: []rib.Neigh{{Addr: addr("192.0.2.2"), MAC: mac("02:00:00:00:00:02"), Dev: "p0"}},
		Routes: []rib.Route{
			{Table: rib.MainTable, Prefix: pfx("0.0.0.0/0"), Nexthops: []rib.Nexthop{{Gateway: addr("192.0.2.2"), Dev: "p0"}}},
			{Table: rib.MainTable, Prefix: pfx("::/0"), Metric: 1024, Nexthops: []rib.Nexthop{{Gateway: addr("fe80::1"), Dev: "p0"}}},
			{Table: 100, Prefix: pfx("10.0.0.0/8"), Metric: 7, Nexthops: []rib.Nexthop{{Gateway: addr("192.0.2.2"), Weight: 2}, {Dev: "p1"}}},
			{Table: rib.MainTable, Prefix: pfx("198.51.100.0/24"), Type: rib.Blackhole},
			{Table: rib.MainTable, Prefix: pfx("2001:db8::/32"), Metric: 5, Nexthops: []rib.Nexthop{{Dev: "p1", Weight: 3}}},
		},
	}
	var buf bytes.Buffer
	if err := Format(&buf, st); err != nil {
		t.Fatal(err)
	}
	want := `address add 192.0.2.1/24 dev p0
neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev p0 nud permanent
route add default via 192.0.2.2 dev p0
route add ::/0 via fe80::1 dev p0
route add 10.0.0.0/8 table 100 metric 7 nexthop via 192.0.2.2 weight 2 nexthop dev p1
route add blackhole 198.51.100.0/24
route add 2001:db8::/32 metric 5 nexthop dev p1 weight 3
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	st.Routes = append(st.Routes, rib.Route{Table: 255, Prefix: pfx("192.0.2.1/32"), Type: rib.Local})
	if err := Format(&bytes.Buffer{}, st); err == nil {
		t.Errorf("Format wrote a local route")
	}
}

// Random states survive Format then Parse unchanged.
func TestStaticRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		want := randomState(rng, 300)
		var buf bytes.Buffer
		if err := Format(&buf, want); err != nil {
			t.Fatal(err)
		}
		got, err := Parse("roundtrip", buf.Bytes())
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, buf.String())
		}
		if g, w := normState(got), normState(want); !reflect.DeepEqual(g, w) {
			for i := range min(len(g.Routes), len(w.Routes)) {
				if !reflect.DeepEqual(g.Routes[i], w.Routes[i]) {
					t.Fatalf("seed %d: route %d: got %+v want %+v", seed, i, g.Routes[i], w.Routes[i])
				}
			}
			t.Fatalf("seed %d: states differ:\ngot  %+v\nwant %+v", seed, g, w)
		}
	}
}

func randomState(rng *rand.Rand, n int) *rib.State {
	devs := []string{"41-00.0", "41-00.1", "net_pcap0", "rib0", "eth0"}
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			b[0] = 0x20 | b[0]&0x1f // global unicast
			return netip.AddrFrom16(b)
		}
		var b [4]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[0] = byte(1 + rng.IntN(223))
		return netip.AddrFrom4(b)
	}
	gateway := func(v6 bool) netip.Addr {
		if v6 && rng.IntN(2) == 0 {
			var b [16]byte
			b[0], b[1], b[15] = 0xfe, 0x80, byte(1+rng.IntN(254))
			return netip.AddrFrom16(b) // link-local: needs a dev
		}
		for {
			if a := randAddr(v6); !a.IsMulticast() && !a.IsUnspecified() {
				return a
			}
		}
	}
	st := &rib.State{}
	seenA := map[rib.Addr]bool{}
	for range n / 10 {
		v6 := rng.IntN(2) == 0
		a := randAddr(v6)
		bits := 8 + rng.IntN(a.BitLen()-7)
		ad := rib.Addr{Prefix: netip.PrefixFrom(a, bits), Dev: devs[rng.IntN(len(devs))]}
		if !seenA[ad] {
			seenA[ad] = true
			st.Addrs = append(st.Addrs, ad)
		}
	}
	seenN := map[neighKey]bool{}
	for range n / 10 {
		nb := rib.Neigh{Addr: gateway(rng.IntN(2) == 0), Dev: devs[rng.IntN(len(devs))]}
		nb.MAC = net.HardwareAddr{2, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
		if !seenN[neighKey{nb.Addr, nb.Dev}] {
			seenN[neighKey{nb.Addr, nb.Dev}] = true
			st.Neighs = append(st.Neighs, nb)
		}
	}
	type rkey struct {
		table  uint32
		prefix netip.Prefix
		metric uint32
	}
	seenR := map[rkey]bool{}
	for range n {
		v6 := rng.IntN(2) == 0
		a := randAddr(v6)
		r := rib.Route{Table: rib.MainTable, Prefix: netip.PrefixFrom(a, rng.IntN(a.BitLen()+1)).Masked()}
		if rng.IntN(4) == 0 {
			r.Table = uint32(1 + rng.IntN(1000))
		}
		switch rng.IntN(3) {
		case 0:
		case 1:
			r.Metric = uint32(rng.IntN(100))
		default:
			r.Metric = rng.Uint32()
		}
		if v6 && r.Metric == 0 {
			r.Metric = ip6DefaultMetric
		}
		if rng.IntN(8) == 0 {
			r.Type = []rib.RouteType{rib.Blackhole, rib.Unreachable, rib.Prohibit, rib.Throw}[rng.IntN(4)]
		} else {
			hops := 1
			if rng.IntN(3) == 0 {
				hops = 2 + rng.IntN(4)
			}
			for range hops {
				var nh rib.Nexthop
				switch rng.IntN(3) {
				case 0:
					nh.Gateway = gateway(v6)
				case 1:
					nh.Dev = devs[rng.IntN(len(devs))]
				default:
					nh.Gateway, nh.Dev = gateway(v6), devs[rng.IntN(len(devs))]
				}
				if nh.Gateway.IsLinkLocalUnicast() && nh.Dev == "" {
					nh.Dev = devs[0]
				}
				if rng.IntN(2) == 0 {
					nh.Weight = 1 + rng.IntN(256)
				}
				r.Nexthops = append(r.Nexthops, nh)
			}
		}
		k := rkey{r.Table, r.Prefix, r.Metric}
		if !seenR[k] {
			seenR[k] = true
			st.Routes = append(st.Routes, r)
		}
	}
	return st
}

// fullViewScript is a realistic large input: a full view of both
// families, ECMP on a tenth of the routes.
func fullViewScript(n4, n6 int) []byte {
	var b bytes.Buffer
	b.Grow((n4 + n6) * 60)
	b.WriteString("address add 192.0.2.1/24 dev 41-00.0\naddress add 2001:db8::1/64 dev 41-00.0\n")
	for i, p := range fullview.IPv4(1, n4) {
		if i%10 == 0 {
			fmt.Fprintf(&b, "route add %s nexthop via 192.0.2.2 dev 41-00.0 nexthop via 192.0.2.3 dev 41-00.1\n", p)
		} else {
			fmt.Fprintf(&b, "route add %s via 192.0.2.%d dev 41-00.0 proto bird metric 32\n", p, 2+i%4)
		}
	}
	for i, p := range fullview.IPv6(1, n6) {
		fmt.Fprintf(&b, "route add %s via 2001:db8::%x dev 41-00.0\n", p, 2+i%4)
	}
	return b.Bytes()
}

func TestParseFullView(t *testing.T) {
	n4, n6 := 100_000, 25_000
	if testing.Short() {
		n4, n6 = 10_000, 2_500
	}
	src := fullViewScript(n4, n6)
	st, err := Parse("fullview", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Routes) != n4+n6 {
		t.Fatalf("%d routes, want %d", len(st.Routes), n4+n6)
	}
	// A second add of any of them is a duplicate.
	src = append(src, fmt.Sprintf("route add %s dev x\n", st.Routes[n4/2].Prefix)...)
	if _, err := Parse("fullview", src); err == nil || !strings.Contains(err.Error(), "File exists") {
		t.Fatalf("duplicate not found: %v", err)
	}
}

// BenchmarkParse parses a full view: 1M IPv4 + 200k IPv6 routes.
func BenchmarkParse(b *testing.B) {
	src := fullViewScript(1_000_000, 200_000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Parse("fullview", src); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1.2e6, "ns/line")
}
