// Package test holds fibd's end-to-end tests: they run the real fibd
// binary (built by `make`) over pcap vdevs and judge every output packet
// against an independent reference computed here.
package test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fibd/ports/pcap"
	"fibd/test/fullview"
)

// fibdBin finds the binary `make` built, or skips.
func fibdBin(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (DPDK EAL)")
	}
	p, err := filepath.Abs("../bin/fibd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("fibd binary not built (%v): run make", err)
	}
	return p
}

// lab is a scratch directory with a three-port pcap configuration.
type lab struct {
	dir    string
	prefix string
	port   int // control server
}

func newLab(t *testing.T, extra string) *lab {
	return newLabWith(t, func(dir string) string {
		return fmt.Sprintf(`in_dev=net_pcap0
out_dev=net_pcap1:net_pcap2
fibd_vdev=net_pcap0,rx_pcap=%[1]s/in.pcap,tx_pcap=%[1]s/out0.pcap
fibd_vdev=net_pcap1,tx_pcap=%[1]s/out1.pcap
fibd_vdev=net_pcap2,tx_pcap=%[1]s/out2.pcap
%[2]s`, dir, extra)
	})
}

// newLabAt is a lab whose devices and the rest are in extra.
func newLabAt(t *testing.T, extra string) *lab {
	return newLabWith(t, func(string) string { return extra })
}

// newLabWith writes a fastdpi.conf of conf(the lab's directory) and fibd's
// own settings (EAL on no hugepages, per-process control ports, kept below
// Linux's ephemeral range of 32768 on, where an outgoing connection may
// hold one when fibd binds it); it starts nothing.
func newLabWith(t *testing.T, conf func(dir string) string) *lab {
	l := &lab{dir: t.TempDir(), prefix: fmt.Sprintf("fibdlab%d", os.Getpid()), port: 20000 + os.Getpid()%6000*2}
	t.Cleanup(func() { os.RemoveAll(filepath.Join("/var/run/dpdk", l.prefix)) })
	// the lab's settings first: conf may override them. FIBD_TEST_FIB
	// (dpdk or own) runs every lab on that FIB structure.
	fib := ""
	if v := os.Getenv("FIBD_TEST_FIB"); v != "" {
		fib = "fibd_fib=" + v
	}
	cfg := fmt.Sprintf(`fibd_eal_args=-l 0-1 --no-huge -m 1024 --file-prefix %[2]s --log-level lib.eal:warning
%[6]s
fibd_idle_sleep_us=50
router_max_ip4_route_count=65536
router_max_ip6_route_count=16384
fibd_cli_listen=127.0.0.1:%[3]d
fibd_cli_secret=%[5]s
fibd_metrics_listen=127.0.0.1:%[4]d
%[1]s
`, conf(l.dir), l.prefix, l.port, l.port+1, l.path("cli.secret"), fib)
	if err := os.WriteFile(l.path("fastdpi.conf"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *lab) path(name string) string { return filepath.Join(l.dir, name) }

// stats mirrors the fields of fibd's --stats-json the tests read.
type stats struct {
	Ports []struct {
		Device string `json:"device"`
		MAC    string `json:"mac"`
		Rx     uint64 `json:"rx_packets"`
		Tx     uint64 `json:"tx_packets"`
	} `json:"ports"`
	Drops     map[string]uint64 `json:"drops"`
	Forwarded uint64            `json:"forwarded"`
	Routes4   uint64            `json:"routes4"`
	Routes6   uint64            `json:"routes6"`
	Workers   []struct {
		ICMPSent    uint64 `json:"icmp_sent"`
		ICMPLimited uint64 `json:"icmp_ratelimited"`
	} `json:"workers"`
}

// run runs fibd over the lab's in.pcap until it is drained.
func (l *lab) run(t *testing.T, bin string, static string) *stats {
	t.Helper()
	args := []string{"-c", l.path("fastdpi.conf"), "--lab", "-q", "--stats-json", l.path("stats.json"), "--log-level", "warn"}
	if static != "" { // else the configuration decides (router=1: the netns)
		if err := os.WriteFile(l.path("static.routes"), []byte(static), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--static", l.path("static.routes"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("fibd: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("fibd's output:\n%s", out.String())
		}
	})
	return l.stats(t)
}

// stats reads the counters fibd wrote to the lab's stats.json.
func (l *lab) stats(t *testing.T) *stats {
	t.Helper()
	b, err := os.ReadFile(l.path("stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s stats
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func writePcap(t *testing.T, path string, frames [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pcap.NewWriter(f, 1)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0)
	for _, fr := range frames {
		if err := w.WritePacket(ts, fr); err != nil {
			t.Fatal(err)
		}
	}
}

func readPcap(t *testing.T, path string) [][]byte {
	t.Helper()
	out, err := pcap.ReadFrames(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// hop is a neighbour: the port it is on and its MAC.
type hop struct {
	port int
	mac  string
}

// The lab's neighbours, as the reference knows them.
var (
	nbr4 = []struct {
		gw  string
		hop hop
	}{
		{"192.0.2.2", hop{0, "02:00:00:00:00:02"}},
		{"198.51.100.2", hop{1, "02:00:00:00:01:02"}},
		{"198.51.100.3", hop{1, "02:00:00:00:01:03"}},
		{"203.0.113.2", hop{2, "02:00:00:00:02:02"}},
		{"203.0.113.3", hop{2, "02:00:00:00:02:03"}},
	}
	nbr6 = []struct {
		gw  string
		hop hop
	}{
		{"2001:db8:0:0::2", hop{0, "02:00:00:00:00:02"}},
		{"2001:db8:0:1::2", hop{1, "02:00:00:00:01:02"}},
		{"2001:db8:0:2::2", hop{2, "02:00:00:00:02:02"}},
		{"2001:db8:0:2::3", hop{2, "02:00:00:00:02:03"}},
	}
	portAddrs = []string{"192.0.2.1/24 dev net_pcap0", "198.51.100.1/24 dev net_pcap1", "203.0.113.1/24 dev net_pcap2",
		"2001:db8:0:0::1/64 dev net_pcap0", "2001:db8:0:1::1/64 dev net_pcap1", "2001:db8:0:2::1/64 dev net_pcap2"}
)

// refRoute is the reference's view of a route: the hops a packet may take,
// or the drop reason.
type refRoute struct {
	prefix netip.Prefix
	hops   []hop
	drop   string
}

type reference struct {
	byLen [129]map[netip.Prefix]*refRoute
}

func (r *reference) add(rt *refRoute) {
	l := rt.prefix.Bits()
	if r.byLen[l] == nil {
		r.byLen[l] = map[netip.Prefix]*refRoute{}
	}
	r.byLen[l][rt.prefix] = rt
}

func (r *reference) lookup(a netip.Addr) *refRoute {
	for l := a.BitLen(); l >= 0; l-- {
		if m := r.byLen[l]; m != nil {
			p, _ := a.Prefix(l)
			if rt, ok := m[p]; ok {
				return rt
			}
		}
	}
	return nil
}

// buildTable writes ≥10k static routes (realistic prefixes, overlaps, ECMP,
// host routes, defaults, blackholes) and the reference that judges them.
func buildTable(rng *rand.Rand) (string, *reference, []*refRoute) {
	var sb strings.Builder
	ref := &reference{}
	var all []*refRoute
	for _, a := range portAddrs {
		fmt.Fprintf(&sb, "address add %s\n", a)
	}
	for _, n := range nbr4 {
		fmt.Fprintf(&sb, "neigh add %s lladdr %s dev net_pcap%d\n", n.gw, n.hop.mac, n.hop.port)
	}
	for _, n := range nbr6 {
		fmt.Fprintf(&sb, "neigh add %s lladdr %s dev net_pcap%d\n", n.gw, n.hop.mac, n.hop.port)
	}
	// Neighbours are reachable through their connected subnets.
	for _, n := range nbr4 {
		rt := &refRoute{prefix: netip.PrefixFrom(netip.MustParseAddr(n.gw), 32), hops: []hop{n.hop}}
		ref.add(rt)
	}
	for _, n := range nbr6 {
		rt := &refRoute{prefix: netip.PrefixFrom(netip.MustParseAddr(n.gw), 128), hops: []hop{n.hop}}
		ref.add(rt)
	}
	seen := map[netip.Prefix]bool{}
	route := func(p netip.Prefix) {
		if seen[p] || p.Overlaps(netip.MustParsePrefix("192.0.2.0/24")) ||
			p.Overlaps(netip.MustParsePrefix("198.51.100.0/24")) || p.Overlaps(netip.MustParsePrefix("203.0.113.0/24")) ||
			p.Overlaps(netip.MustParsePrefix("2001:db8::/32")) {
			return
		}
		seen[p] = true
		rt := &refRoute{prefix: p}
		v6 := p.Addr().Is6()
		switch x := rng.IntN(40); {
		case x == 0:
			rt.drop = "blackhole"
			fmt.Fprintf(&sb, "route add blackhole %s\n", p)
		case x == 1:
			rt.drop = "unreachable"
			fmt.Fprintf(&sb, "route add unreachable %s\n", p)
		case x < 6: // ECMP over two neighbours on different ports
			fmt.Fprintf(&sb, "route add %s", p)
			for _, i := range rng.Perm(4)[:2] {
				gw, h := pickNbr(v6, i)
				fmt.Fprintf(&sb, " nexthop via %s dev net_pcap%d", gw, h.port)
				rt.hops = append(rt.hops, h)
			}
			sb.WriteString("\n")
		default:
			gw, h := pickNbr(v6, rng.IntN(4))
			fmt.Fprintf(&sb, "route add %s via %s dev net_pcap%d\n", p, gw, h.port)
			rt.hops = []hop{h}
		}
		ref.add(rt)
		all = append(all, rt)
	}
	route(netip.MustParsePrefix("0.0.0.0/0"))
	route(netip.MustParsePrefix("::/0"))
	v4 := fullview.IPv4(rng.Int64(), 8000)
	v6 := fullview.IPv6(rng.Int64(), 2500)
	for _, p := range v4 {
		route(p)
	}
	for _, p := range v6 {
		route(p)
	}
	for range 300 { // host routes inside other routes
		route(netip.PrefixFrom(fullview.AddrIn(rng, v4[rng.IntN(len(v4))]), 32))
	}
	for range 100 {
		route(netip.PrefixFrom(fullview.AddrIn(rng, v6[rng.IntN(len(v6))]), 128))
	}
	return sb.String(), ref, all
}

func pickNbr(v6 bool, i int) (string, hop) {
	if v6 {
		n := nbr6[i%len(nbr6)]
		return n.gw, n.hop
	}
	n := nbr4[i%len(nbr4)]
	return n.gw, n.hop
}

// sent is one input packet and what the reference expects of it.
type sent struct {
	frame []byte
	dst   netip.Addr
	route *refRoute
	drop  string // expected drop reason, "" = forwarded
	flow  int    // ECMP flow id (same id = same 5-tuple), -1 otherwise
}

const srcMAC = "02:00:00:00:ee:01"

func mkPacket(rng *rand.Rand, seq int, dst netip.Addr, ttl uint8, sport uint16) []byte {
	payload := make([]byte, 24)
	binary.BigEndian.PutUint64(payload, uint64(seq))
	for i := 8; i < len(payload); i++ {
		payload[i] = byte(rng.IntN(256))
	}
	smac, _ := net.ParseMAC(srcMAC)
	dmac, _ := net.ParseMAC("02:70:63:61:70:00") // fibd's port 0; promiscuous anyway
	if dst.Is4() {
		return pcap.EthIPv4UDP(dmac, smac, netip.MustParseAddr("192.0.2.2"), dst, ttl, sport, 4000, payload)
	}
	return pcap.EthIPv6UDP(dmac, smac, netip.MustParseAddr("2001:db8::2"), dst, ttl, sport, 4000, payload)
}

// TestGoldenPcap forwards IPv4 and IPv6 packets to destinations across
// more than 10,000 static routes and checks every packet fibd writes.
func TestGoldenPcap(t *testing.T) {
	bin := fibdBin(t)
	rng := rand.New(rand.NewPCG(2026, 11))
	static, ref, routes := buildTable(rng)
	if len(routes) < 10000 {
		t.Fatalf("only %d routes generated", len(routes))
	}

	var pkts []sent
	add := func(dst netip.Addr, ttl uint8, sport uint16, flow int) {
		rt := ref.lookup(dst)
		s := sent{dst: dst, route: rt, flow: flow}
		switch {
		case dst.Is4() && (dst.As4()[0] == 0 || dst.As4()[0] == 127):
			s.drop = "ip4_martian_dst" // RFC 1812 5.3.7: never forwarded
		case rt == nil:
			s.drop = "no_route"
		case rt.drop != "":
			s.drop = rt.drop
		case ttl <= 1 && dst.Is4():
			s.drop = "ip4_ttl_exceeded"
		case ttl <= 1:
			s.drop = "ip6_hop_limit_exceeded"
		}
		s.frame = mkPacket(rng, len(pkts), dst, ttl, sport)
		pkts = append(pkts, s)
	}
	flows := 0
	for _, rt := range routes {
		add(fullview.AddrIn(rng, rt.prefix), uint8(2+rng.IntN(254)), uint16(1024+rng.IntN(60000)), -1)
		if len(rt.hops) > 1 { // ECMP: 8 flows, each sent twice
			for range 8 {
				dst := fullview.AddrIn(rng, rt.prefix)
				sport := uint16(1024 + rng.IntN(60000))
				for range 2 {
					if ref.lookup(dst) == rt {
						add(dst, 64, sport, flows)
					}
				}
				flows++
			}
		}
	}
	for range 500 { // random destinations: default routes, mostly
		add(fullview.AddrIn(rng, netip.MustParsePrefix("0.0.0.0/1")), 64, 7, -1)
	}
	for range 50 { // expiring TTLs
		rt := routes[rng.IntN(len(routes))]
		add(fullview.AddrIn(rng, rt.prefix), uint8(rng.IntN(2)), 9, -1)
	}
	frames := make([][]byte, len(pkts))
	for i := range pkts {
		frames[i] = pkts[i].frame
	}

	l := newLab(t, "")
	writePcap(t, l.path("in.pcap"), frames)
	st := l.run(t, bin, static)

	if st.Routes4+st.Routes6 < 10000 {
		t.Fatalf("fibd holds %d+%d routes", st.Routes4, st.Routes6)
	}
	portMAC := map[int]string{}
	for i, p := range st.Ports {
		portMAC[i] = p.MAC
	}

	wantDrops := map[string]uint64{}
	wantFwd := 0
	for _, p := range pkts {
		if p.drop != "" {
			wantDrops[p.drop]++
		} else {
			wantFwd++
		}
	}

	got := make([]int, len(pkts))  // times each packet came out
	icmp := make([]int, len(pkts)) // ICMP errors about each packet
	member := map[int]string{}     // ECMP flow -> neighbour it took
	routeMembers := map[*refRoute]map[string]bool{}
	for port := range 3 {
		for _, f := range readPcap(t, l.path(fmt.Sprintf("out%d.pcap", port))) {
			if seq, ok := icmpError(t, f, port, portMAC[port], pkts); ok {
				icmp[seq]++
				continue
			}
			checkOutput(t, f, port, portMAC[port], pkts, got, member, routeMembers)
		}
	}
	// RFC 1812 / RFC 4443: expiring and unroutable packets get an ICMP
	// error back out of the ingress port; blackholed and martian ones not.
	for i, p := range pkts {
		want := 0
		switch p.drop {
		case "ip4_ttl_exceeded", "ip6_hop_limit_exceeded", "no_route", "unreachable":
			want = 1
		}
		if icmp[i] != want {
			t.Errorf("packet %d to %s (%s): %d ICMP errors, want %d", i, p.dst, p.drop, icmp[i], want)
		}
	}
	missing := 0
	for i, p := range pkts {
		if p.drop == "" && got[i] != 1 {
			if missing++; missing <= 10 {
				t.Errorf("packet %d to %s (route %s): came out %d times", i, p.dst, p.route.prefix, got[i])
			}
		}
		if p.drop != "" && got[i] != 0 {
			t.Errorf("packet %d to %s should be dropped (%s), came out", i, p.dst, p.drop)
		}
	}
	if st.Forwarded != uint64(wantFwd) {
		t.Errorf("fibd forwarded %d, reference %d", st.Forwarded, wantFwd)
	}
	for reason, n := range wantDrops {
		if st.Drops[reason] != n {
			t.Errorf("drop %s: fibd %d, reference %d", reason, st.Drops[reason], n)
		}
	}
	for reason, n := range st.Drops {
		if wantDrops[reason] == 0 {
			t.Errorf("unexpected drops %s: %d", reason, n)
		}
	}
	// ECMP: flows spread over the members of their group.
	spread, groups := 0, 0
	for _, m := range routeMembers {
		groups++
		if len(m) > 1 {
			spread++
		}
	}
	if groups < 100 || spread*10 < groups*9 {
		t.Errorf("ECMP: %d of %d groups used more than one member", spread, groups)
	}
	t.Logf("%d routes, %d packets: %d forwarded, drops %v; %d ECMP groups, %d spread",
		len(routes), len(pkts), st.Forwarded, st.Drops, groups, spread)
}

// icmpError recognises an ICMP or ICMPv6 error fibd sent back to the
// sender (out of the ingress port 0, from fibd's address there), checks it
// against the packet it quotes, and returns that packet's number.
func icmpError(t *testing.T, f []byte, port int, portMAC string, pkts []sent) (int, bool) {
	t.Helper()
	info, err := pcap.ParseEth(f)
	if err != nil || (info.Proto != 1 && info.Proto != 58) {
		return 0, false
	}
	if port != 0 || info.DstMAC.String() != srcMAC || info.SrcMAC.String() != portMAC {
		t.Errorf("ICMP error out of port %d to %s from %s", port, info.DstMAC, info.SrcMAC)
	}
	var typ, code byte
	var quoted []byte
	if info.IPVersion == 4 {
		ihl := int(f[14]&0xf) * 4
		msg := f[14+ihl:]
		if pcap.IPv4Checksum(msg) != 0 {
			t.Errorf("ICMP error with a bad checksum")
		}
		typ, code, quoted = msg[0], msg[1], msg[8:]
		if info.SrcIP != netip.MustParseAddr("192.0.2.1") {
			t.Errorf("ICMP error from %s, not fibd's address on the ingress port", info.SrcIP)
		}
	} else {
		msg := f[54:]
		typ, code, quoted = msg[0], msg[1], msg[8:]
		if info.SrcIP != netip.MustParseAddr("2001:db8::1") {
			t.Errorf("ICMPv6 error from %s, not fibd's address on the ingress port", info.SrcIP)
		}
	}
	// the quoted original: its IP header, then UDP, then our sequence number
	var off int
	if quoted[0]>>4 == 4 {
		off = int(quoted[0]&0xf)*4 + 8
	} else {
		off = 40 + 8
	}
	if len(quoted) < off+8 {
		t.Errorf("ICMP error quotes only %d bytes", len(quoted))
		return 0, true
	}
	seq := int(binary.BigEndian.Uint64(quoted[off:]))
	if seq < 0 || seq >= len(pkts) {
		t.Errorf("ICMP error about unknown packet %d", seq)
		return 0, true
	}
	want := map[string][2]byte{
		"ip4_ttl_exceeded": {11, 0}, "ip6_hop_limit_exceeded": {3, 0},
		"no_route/4": {3, 0}, "no_route/6": {1, 0}, "unreachable/4": {3, 1}, "unreachable/6": {1, 3},
	}
	k := pkts[seq].drop
	if k == "no_route" || k == "unreachable" {
		k += fmt.Sprintf("/%d", info.IPVersion)
	}
	if w, ok := want[k]; !ok || w != [2]byte{typ, code} {
		t.Errorf("packet %d (%s): ICMP type %d code %d", seq, pkts[seq].drop, typ, code)
	}
	return seq, true
}

func checkOutput(t *testing.T, f []byte, port int, portMAC string, pkts []sent, got []int,
	member map[int]string, routeMembers map[*refRoute]map[string]bool) {
	t.Helper()
	info, err := pcap.ParseEth(f)
	if err != nil {
		t.Errorf("port %d: unparsable output: %v", port, err)
		return
	}
	if len(info.Payload) < 8 {
		t.Errorf("port %d: output without our payload", port)
		return
	}
	seq := int(binary.BigEndian.Uint64(info.Payload))
	if seq < 0 || seq >= len(pkts) {
		t.Errorf("port %d: unknown packet %d", port, seq)
		return
	}
	p := pkts[seq]
	got[seq]++
	in, _ := pcap.ParseEth(p.frame)
	var want *hop
	for i := range p.route.hops {
		h := &p.route.hops[i]
		if h.port == port && h.mac == info.DstMAC.String() {
			want = h
		}
	}
	switch {
	case p.drop != "":
		return // reported by the caller
	case want == nil:
		t.Errorf("packet %d to %s: out of port %d to %s, route %s allows %v", seq, p.dst, port, info.DstMAC, p.route.prefix, p.route.hops)
	case info.SrcMAC.String() != portMAC:
		t.Errorf("packet %d: source MAC %s, port MAC %s", seq, info.SrcMAC, portMAC)
	case info.TTL != in.TTL-1:
		t.Errorf("packet %d: TTL %d, sent %d", seq, info.TTL, in.TTL)
	case info.IPVersion == 4 && !info.IPChecksumOK:
		t.Errorf("packet %d: bad IPv4 header checksum", seq)
	case !bytes.Equal(info.Payload, in.Payload) || info.SrcIP != in.SrcIP || info.DstIP != in.DstIP:
		t.Errorf("packet %d: addresses or payload changed", seq)
	case len(f) != len(p.frame):
		t.Errorf("packet %d: length %d, sent %d", seq, len(f), len(p.frame))
	}
	if p.flow >= 0 && want != nil {
		k := fmt.Sprintf("%d/%s", port, info.DstMAC)
		if prev, ok := member[p.flow]; ok && prev != k {
			t.Errorf("ECMP flow %d moved from %s to %s", p.flow, prev, k)
		}
		member[p.flow] = k
		if routeMembers[p.route] == nil {
			routeMembers[p.route] = map[string]bool{}
		}
		routeMembers[p.route][k] = true
	}
}

// TestMalformedPcap: malformed and unroutable input through real pcap
// ports lands in the right counters, jumbo frames included, and fibd keeps
// forwarding the good packets around them.
func TestMalformedPcap(t *testing.T) {
	bin := fibdBin(t)
	smac, _ := net.ParseMAC(srcMAC)
	dmac, _ := net.ParseMAC("02:70:63:61:70:00")
	src4, src6 := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::2")
	good4 := func() []byte {
		return pcap.EthIPv4UDP(dmac, smac, src4, netip.MustParseAddr("8.8.8.8"), 64, 1, 2, []byte("good"))
	}
	good6 := func() []byte {
		return pcap.EthIPv6UDP(dmac, smac, src6, netip.MustParseAddr("2a00::1"), 64, 1, 2, []byte("good"))
	}
	fix := func(f []byte) []byte {
		f[24], f[25] = 0, 0
		binary.BigEndian.PutUint16(f[24:], pcap.IPv4Checksum(f[14:14+int(f[14]&0xf)*4]))
		return f
	}
	cases := []struct {
		reason string
		frame  []byte
	}{
		{"eth_runt", make([]byte, 12)},
		{"non_ip", func() []byte { f := good4(); f[12], f[13] = 0x88, 0xb5; return f }()},
		{"vlan", func() []byte { f := good4(); f[12], f[13] = 0x81, 0x00; return f }()},
		{"ip4_runt", good4()[:14+12]},
		{"ip4_ihl", fix(func() []byte { f := good4(); f[14] = 0x44; return f }())},
		{"ip4_truncated", fix(func() []byte { f := good4(); binary.BigEndian.PutUint16(f[16:], 1400); return f }())},
		{"ip4_checksum", func() []byte { f := good4(); f[25]++; return f }()},
		{"ip4_ttl_exceeded", pcap.EthIPv4UDP(dmac, smac, src4, netip.MustParseAddr("8.8.8.8"), 0, 1, 2, nil)},
		{"ip4_ttl_exceeded", pcap.EthIPv4UDP(dmac, smac, src4, netip.MustParseAddr("8.8.8.8"), 1, 1, 2, nil)},
		{"ip6_hop_limit_exceeded", pcap.EthIPv6UDP(dmac, smac, src6, netip.MustParseAddr("2a00::1"), 0, 1, 2, nil)},
		{"ip6_hop_limit_exceeded", pcap.EthIPv6UDP(dmac, smac, src6, netip.MustParseAddr("2a00::1"), 1, 1, 2, nil)},
		{"ip6_runt", good6()[:14+30]},
		{"ip6_truncated", func() []byte { f := good6(); binary.BigEndian.PutUint16(f[18:], 999); return f }()},
		{"mtu_exceeded", pcap.EthIPv4UDP(dmac, smac, src4, netip.MustParseAddr("8.8.8.8"), 64, 1, 2, make([]byte, 8972))},
		{"mtu_exceeded", pcap.EthIPv6UDP(dmac, smac, src6, netip.MustParseAddr("2a00::1"), 64, 1, 2, make([]byte, 8952))},
		{"", good4()},
		{"", good6()},
	}
	var frames [][]byte
	want := map[string]uint64{}
	fwd := 0
	for range 3 {
		for _, c := range cases {
			frames = append(frames, c.frame)
			if c.reason == "" {
				fwd++
			} else {
				want[c.reason]++
			}
		}
	}
	l := newLab(t, "")
	writePcap(t, l.path("in.pcap"), frames)
	st := l.run(t, bin, `address add 198.51.100.1/24 dev net_pcap1
address add 2001:db8:0:1::1/64 dev net_pcap1
neigh add 198.51.100.2 lladdr 02:00:00:00:01:02 dev net_pcap1
neigh add 2001:db8:0:1::2 lladdr 02:00:00:00:01:02 dev net_pcap1
route add default via 198.51.100.2
route add ::/0 via 2001:db8:0:1::2 dev net_pcap1
`)
	for reason, n := range want {
		if st.Drops[reason] != n {
			t.Errorf("%s: %d, want %d", reason, st.Drops[reason], n)
		}
	}
	for reason, n := range st.Drops {
		if want[reason] == 0 {
			t.Errorf("unexpected %s: %d", reason, n)
		}
	}
	if st.Forwarded != uint64(fwd) || st.Ports[1].Tx != uint64(fwd) {
		t.Errorf("forwarded %d, sent on net_pcap1 %d, want %d", st.Forwarded, st.Ports[1].Tx, fwd)
	}
	if st.Ports[0].Rx != uint64(len(frames)) {
		t.Errorf("received %d of %d frames", st.Ports[0].Rx, len(frames))
	}
}

// TestICMPRateLimit: a flood of expiring packets gets ICMP errors only up
// to the per-worker rate (1000/s); the rest are counted, not answered.
func TestICMPRateLimit(t *testing.T) {
	bin := fibdBin(t)
	smac, _ := net.ParseMAC(srcMAC)
	dmac, _ := net.ParseMAC("02:70:63:61:70:00")
	var frames [][]byte
	for i := range 5000 {
		frames = append(frames, pcap.EthIPv4UDP(dmac, smac, netip.MustParseAddr("192.0.2.2"),
			netip.MustParseAddr("8.8.8.8"), 1, uint16(i), 9, nil))
	}
	l := newLab(t, "")
	writePcap(t, l.path("in.pcap"), frames)
	st := l.run(t, bin, "address add 192.0.2.1/24 dev net_pcap0\nroute add default via 192.0.2.2\nneigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev net_pcap0\n")
	if st.Drops["ip4_ttl_exceeded"] != 5000 {
		t.Fatalf("ttl drops %d, want 5000", st.Drops["ip4_ttl_exceeded"])
	}
	sent := uint64(len(readPcap(t, l.path("out0.pcap"))))
	// The bucket holds 1000 and refills at 1000/s: at least the first 1000
	// are answered, and unless reading 5000 packets took 4 seconds, not all.
	if sent < 1000 || sent >= 5000 {
		t.Errorf("%d ICMP errors for 5000 expiring packets, want 1000 or a few more", sent)
	}
	w := st.Workers[0]
	if w.ICMPSent != sent || w.ICMPSent+w.ICMPLimited != 5000 || st.Ports[0].Tx != sent {
		t.Errorf("counters: icmp_sent %d, icmp_ratelimited %d, port 0 tx %d; capture %d",
			w.ICMPSent, w.ICMPLimited, st.Ports[0].Tx, sent)
	}
}
