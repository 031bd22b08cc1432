package fastpath

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	dpdk "fibd/cgo"
	"fibd/ports/pcap"
)

var (
	src4  = netip.MustParseAddr("192.0.2.99")
	src6  = netip.MustParseAddr("2001:db8::99")
	inMAC = mac("02:00:00:00:99:99")
)

func udp4(dst string, ttl uint8) []byte {
	return pcap.EthIPv4UDP(env.macs[0], inMAC, src4, netip.MustParseAddr(dst), ttl, 1234, 53, []byte("payload!"))
}

func udp6(dst string, hl uint8) []byte {
	return pcap.EthIPv6UDP(env.macs[0], inMAC, src6, netip.MustParseAddr(dst), hl, 1234, 53, []byte("payload!"))
}

// fix4 recomputes the IPv4 header checksum after a test edited the header.
func fix4(f []byte) []byte {
	ihl := int(f[14]&0xf) * 4
	f[24], f[25] = 0, 0
	binary.BigEndian.PutUint16(f[24:], pcap.IPv4Checksum(f[14:14+ihl]))
	return f
}

func edit(f []byte, fn func([]byte)) []byte { fn(f); return f }

// otherHost readdresses a frame to another host's MAC.
func otherHost(f []byte) { copy(f, []byte{0x02, 0xbb, 0, 0, 0, 1}) }

// TestMalformedFrames: every kind of bad input lands in its own counter and
// nothing crashes. The reasons are the fast path's names (DropReasons).
func TestMalformedFrames(t *testing.T) {
	need(t)
	program(t, baseState())
	cases := []struct {
		name   string
		frame  []byte
		reason string // "" = forwarded
	}{
		{"valid ipv4", udp4("10.1.2.3", 64), ""},
		{"valid ipv6", udp6("2001:db8:99::1", 64), ""},
		{"empty frame", []byte{}, "eth_runt"},
		{"runt ethernet", make([]byte, 13), "eth_runt"},
		{"arp", edit(udp4("10.1.2.3", 64), func(f []byte) { f[12], f[13] = 0x08, 0x06 }), "non_ip"},
		{"lldp", edit(udp4("10.1.2.3", 64), func(f []byte) { f[12], f[13] = 0x88, 0xcc }), "non_ip"},
		{"unknown ethertype", edit(udp4("10.1.2.3", 64), func(f []byte) { f[12], f[13] = 0x12, 0x34 }), "non_ip"},
		{"802.1Q", edit(udp4("10.1.2.3", 64), func(f []byte) { f[12], f[13] = 0x81, 0x00 }), "vlan"},
		{"QinQ", edit(udp4("10.1.2.3", 64), func(f []byte) { f[12], f[13] = 0x88, 0xa8 }), "vlan"},
		{"ipv4 truncated header", udp4("10.1.2.3", 64)[:14+19], "ip4_runt"},
		{"ipv4 version 5", fix4(edit(udp4("10.1.2.3", 64), func(f []byte) { f[14] = 0x55 })), "ip4_version"},
		{"ipv4 ihl 4", fix4(edit(udp4("10.1.2.3", 64), func(f []byte) { f[14] = 0x44 })), "ip4_ihl"},
		{"ipv4 ihl 0", edit(udp4("10.1.2.3", 64), func(f []byte) { f[14] = 0x40 }), "ip4_ihl"},
		{"ipv4 ihl beyond frame", edit(udp4("10.1.2.3", 64)[:14+24], func(f []byte) { f[14] = 0x4f }), "ip4_runt"},
		{"ipv4 total length > frame", fix4(edit(udp4("10.1.2.3", 64), func(f []byte) {
			binary.BigEndian.PutUint16(f[16:], 1000)
		})), "ip4_truncated"},
		{"ipv4 total length < header", fix4(edit(udp4("10.1.2.3", 64), func(f []byte) {
			binary.BigEndian.PutUint16(f[16:], 19)
		})), "ip4_total_len"},
		{"ipv4 bad checksum", edit(udp4("10.1.2.3", 64), func(f []byte) { f[24] ^= 0xff }), "ip4_checksum"},
		{"ipv4 ttl 0", udp4("10.1.2.3", 0), "ip4_ttl_exceeded"},
		{"ipv4 ttl 1", udp4("10.1.2.3", 1), "ip4_ttl_exceeded"},
		{"ipv4 source loopback", fix4(edit(udp4("10.1.2.3", 64), func(f []byte) { copy(f[26:], []byte{127, 0, 0, 1}) })), "ip4_martian_src"},
		{"ipv4 source multicast", fix4(edit(udp4("10.1.2.3", 64), func(f []byte) { copy(f[26:], []byte{224, 0, 0, 1}) })), "ip4_martian_src"},
		{"ipv4 destination 0/8", udp4("0.1.2.3", 64), "ip4_martian_dst"},
		{"ipv4 destination class E", udp4("240.1.2.3", 64), "ip4_martian_dst"},
		{"ipv4 multicast", udp4("224.0.0.5", 64), "ip4_multicast"},
		{"ipv4 broadcast", udp4("255.255.255.255", 64), "ip4_broadcast"},
		{"ipv4 to router itself", udp4("192.0.2.1", 1), "local"},
		// RFC 1812 5.3.4: another host's frame gets no route verdict at all
		{"another host's frame", edit(udp4("10.1.2.3", 64), otherHost), "l2_other_host"},
		{"another host's frame to the router", edit(udp4("192.0.2.1", 1), otherHost), "l2_other_host"},
		{"another host's frame without a route", edit(udp6("3fff::1", 64), otherHost), "l2_other_host"},
		{"another host's frame, TTL 1", edit(udp4("10.1.2.3", 1), otherHost), "l2_other_host"},
		{"ipv4 larger than mtu", pcap.EthIPv4UDP(env.macs[0], inMAC, src4, netip.MustParseAddr("10.1.2.3"), 64, 1, 2, make([]byte, 1600)), "mtu_exceeded"},
		{"ipv6 truncated header", udp6("2001:db8:99::1", 64)[:14+39], "ip6_runt"},
		{"ipv6 version 4", edit(udp6("2001:db8:99::1", 64), func(f []byte) { f[14] = 0x40 }), "ip6_version"},
		{"ipv6 payload length > frame", edit(udp6("2001:db8:99::1", 64), func(f []byte) {
			binary.BigEndian.PutUint16(f[18:], 400)
		}), "ip6_truncated"},
		{"ipv6 hop limit 0", udp6("2001:db8:99::1", 0), "ip6_hop_limit_exceeded"},
		{"ipv6 hop limit 1", udp6("2001:db8:99::1", 1), "ip6_hop_limit_exceeded"},
		{"ipv6 link-local destination", udp6("fe80::1", 64), "ip6_link_local"},
		{"ipv6 multicast destination", udp6("ff02::5", 64), "ip6_multicast"},
		{"ipv6 loopback destination", udp6("::1", 64), "ip6_martian_dst"},
		{"ipv6 multicast source", edit(udp6("2001:db8:99::1", 64), func(f []byte) { f[22] = 0xff }), "ip6_martian_src"},
		{"ipv6 larger than mtu", pcap.EthIPv6UDP(env.macs[0], inMAC, src6, netip.MustParseAddr("2001:db8:99::1"), 64, 1, 2, make([]byte, 1500)), "mtu_exceeded"},
	}
	frames := make([][]byte, len(cases))
	orig := make([][]byte, len(cases))
	for i, c := range cases {
		frames[i] = bytes.Clone(c.frame)
		orig[i] = c.frame
	}
	verdicts, err := dpdk.ProcessFrames(env.table.Slot, env.ports[0], frames)
	if err != nil {
		t.Fatal(err)
	}
	names := dpdk.DropReasons()
	for i, c := range cases {
		v := verdicts[i]
		got := ""
		if !v.Forward {
			got = names[v.Drop]
		}
		if got != c.reason {
			t.Errorf("%s: verdict %q, want %q", c.name, got, c.reason)
		}
		if !v.Forward && !bytes.Equal(frames[i], orig[i]) {
			t.Errorf("%s: dropped frame was modified", c.name)
		}
	}
}

// TestIPv4OptionsForwarded: a header with options (IHL 6) is valid and
// keeps its options; TTL and checksum are updated.
func TestIPv4OptionsForwarded(t *testing.T) {
	need(t)
	program(t, baseState())
	f := udp4("10.9.9.9", 9)
	// Insert 4 bytes of options (NOP NOP NOP EOL) after the 20-byte header.
	withOpt := append(append(bytes.Clone(f[:34]), 1, 1, 1, 0), f[34:]...)
	withOpt[14] = 0x46
	binary.BigEndian.PutUint16(withOpt[16:], binary.BigEndian.Uint16(withOpt[16:])+4)
	fix4(withOpt)
	frames := [][]byte{bytes.Clone(withOpt)}
	v, err := dpdk.ProcessFrames(env.table.Slot, env.ports[0], frames)
	if err != nil {
		t.Fatal(err)
	}
	if !v[0].Forward {
		t.Fatalf("dropped: %s", dpdk.DropReasons()[v[0].Drop])
	}
	out := frames[0]
	if out[22] != 8 {
		t.Errorf("ttl %d, want 8", out[22])
	}
	if pcap.IPv4Checksum(out[14:38]) != 0 {
		t.Errorf("checksum invalid after forwarding: %x", out[24:26])
	}
	if !bytes.Equal(out[34:], withOpt[34:]) {
		t.Errorf("options or payload changed")
	}
}

// TestECMPFlowsStick: the same 5-tuple always takes the same member, and
// many flows use every member.
func TestECMPFlowsStick(t *testing.T) {
	need(t)
	program(t, baseState())
	seen := map[string]int{}
	for sport := uint16(1); sport <= 400; sport++ {
		var first string
		for rep := range 4 {
			f := [][]byte{pcap.EthIPv4UDP(env.macs[0], inMAC, src4, netip.MustParseAddr("10.20.30.40"), 64, sport, 80, []byte("x"))}
			v, err := dpdk.ProcessFrames(env.table.Slot, env.ports[0], f)
			if err != nil || !v[0].Forward {
				t.Fatalf("flow %d not forwarded: %v %+v", sport, err, v)
			}
			m := string(f[0][0:6]) // destination MAC: the member
			if rep == 0 {
				first = m
			} else if m != first {
				t.Fatalf("flow %d moved between members", sport)
			}
		}
		seen[first]++
	}
	if len(seen) != 2 {
		t.Fatalf("flows used %d members, want 2", len(seen))
	}
	for m, n := range seen {
		if n < 120 {
			t.Errorf("member %x got only %d of 400 flows", m, n)
		}
	}
}

// TestECMPSkipsDeadPort: once a port's link is down, the fast path stops
// picking ECMP members on it, before any route changes; flows on the live
// member stay where they were; link up brings the member back.
func TestECMPSkipsDeadPort(t *testing.T) {
	need(t)
	program(t, baseState())
	pick := func(sport uint16) string {
		f := [][]byte{pcap.EthIPv4UDP(env.macs[0], inMAC, src4, netip.MustParseAddr("10.20.30.40"), 64, sport, 80, []byte("x"))}
		v, err := dpdk.ProcessFrames(env.table.Slot, env.ports[0], f)
		if err != nil || !v[0].Forward {
			t.Fatalf("flow %d not forwarded: %v %+v", sport, err, v)
		}
		return string(f[0][0:6])
	}
	before := map[uint16]string{}
	for sport := uint16(1); sport <= 200; sport++ {
		before[sport] = pick(sport)
	}
	if err := env.ports[1].SetLinkDown(true); err != nil {
		t.Fatal(err)
	}
	defer env.ports[1].SetLinkDown(false)
	for sport := uint16(1); sport <= 200; sport++ {
		got := pick(sport)
		if got != string(nbrC) {
			t.Fatalf("flow %d took %x with port 1's link down, want the member on port 2 (%s)", sport, got, nbrC)
		}
		if before[sport] == string(nbrC) && got != before[sport] {
			t.Fatalf("flow %d on the live member moved", sport)
		}
	}
	if err := env.ports[1].SetLinkDown(false); err != nil {
		t.Fatal(err)
	}
	for sport := uint16(1); sport <= 200; sport++ {
		if got := pick(sport); got != before[sport] {
			t.Fatalf("flow %d did not return to its member after link up", sport)
		}
	}
}
