package pcap

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The IPv4 packet below, checked by hand.
//
// IPv4 header checksum (RFC 1071), 16-bit words with the checksum as 0:
//
//	4500 + 0020 + 0000 + 0000 + 4011 + c000 + 0201 + c633 + 6402 = 0x27167
//	fold: 0x7167 + 0x2 = 0x7169; complement: 0x8e96
//
// UDP checksum over the pseudo-header (src, dst, 0 + protocol 17, UDP
// length 12), the UDP header with checksum 0, and "ping":
//
//	c000 + 0201 + c633 + 6402 + 0011 + 000c       (pseudo-header)
//	+ 04d2 + 162e + 000c + 0000                   (1234, 5678, length 12)
//	+ 7069 + 6e67                                 ("ping")
//	= 0x2e62f; fold: 0xe62f + 0x2 = 0xe631; complement: 0x19ce
func TestEthIPv4UDPKnown(t *testing.T) {
	got := EthIPv4UDP(macB, macA, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"), 64, 1234, 5678, []byte("ping"))
	want := unhex(t, `
		02000000000b 02000000000a 0800
		4500 0020 0000 0000 4011 8e96 c0000201 c6336402
		04d2 162e 000c 19ce 70696e67`)
	if !bytes.Equal(got, want) {
		t.Errorf("frame\n% x\nwant\n% x", got, want)
	}
	if c := IPv4Checksum(got[14:34]); c != 0 {
		t.Errorf("IPv4Checksum of the intact header = %#04x, want 0", c)
	}
	hdr := bytes.Clone(got[14:34])
	hdr[10], hdr[11] = 0, 0
	if c := IPv4Checksum(hdr); c != 0x8e96 {
		t.Errorf("IPv4Checksum with the field zeroed = %#04x, want 0x8e96", c)
	}
}

// The IPv6 packet below, checked by hand. UDP checksum over the
// pseudo-header (src, dst, 32-bit length 12, 24 zero bits, next header
// 17), the UDP header with checksum 0, and "ping":
//
//	2001 + 0db8 + 0001                            (2001:db8::1)
//	+ 2001 + 0db8 + 0002                          (2001:db8::2)
//	+ 0000 + 000c + 0000 + 0011                   (length, next header)
//	+ 04d2 + 162e + 000c + 0000 + 7069 + 6e67     (UDP header, "ping")
//	= 0x1556e; fold: 0x556e + 0x1 = 0x556f; complement: 0xaa90
func TestEthIPv6UDPKnown(t *testing.T) {
	got := EthIPv6UDP(macB, macA, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 255, 1234, 5678, []byte("ping"))
	want := unhex(t, `
		02000000000b 02000000000a 86dd
		60000000 000c 11 ff
		20010db8000000000000000000000001
		20010db8000000000000000000000002
		04d2 162e 000c aa90 70696e67`)
	if !bytes.Equal(got, want) {
		t.Errorf("frame\n% x\nwant\n% x", got, want)
	}
}

func TestIPv4ChecksumWithOptions(t *testing.T) {
	// A 24-byte header (IHL 6: one word of options, router alert):
	// 4600 + 0020 + 0001 + 0000 + 4011 + c0a8 + 0001 + c0a8 + 00c7
	// + 9404 + 0000 = 0x29c4e; fold: 0x9c4e + 0x2 = 0x9c50;
	// complement: 0x63af.
	hdr := unhex(t, "4600 0020 0001 0000 4011 0000 c0a80001 c0a800c7 94040000")
	if c := IPv4Checksum(hdr); c != 0x63af {
		t.Errorf("IPv4Checksum = %#04x, want 0x63af", c)
	}
	hdr[10], hdr[11] = 0x63, 0xaf
	if c := IPv4Checksum(hdr); c != 0 {
		t.Errorf("IPv4Checksum of the filled-in header = %#04x, want 0", c)
	}
}

func TestParseEth(t *testing.T) {
	src4, dst4 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")
	frame := EthIPv4UDP(macB, macA, src4, dst4, 64, 1234, 5678, []byte("ping"))
	info, err := ParseEth(frame)
	if err != nil {
		t.Fatal(err)
	}
	want := EthInfo{
		DstMAC: macB, SrcMAC: macA, EtherType: EtherTypeIPv4,
		IPVersion: 4, SrcIP: src4, DstIP: dst4, TTL: 64, Proto: ProtoUDP,
		TotalLen: 32, HeaderLen: 20, IPChecksum: 0x8e96, IPChecksumOK: true,
		UDP: true, SrcPort: 1234, DstPort: 5678, UDPChecksum: 0x19ce, UDPChecksumOK: true,
		Payload: []byte("ping"),
	}
	if !equalInfo(info, want) {
		t.Errorf("got  %+v\nwant %+v", info, want)
	}

	// Ethernet padding after the IP packet is ignored.
	padded := append(bytes.Clone(frame), make([]byte, 60-len(frame))...)
	if info, err := ParseEth(padded); err != nil || !equalInfo(info, want) {
		t.Errorf("padded: %+v, %v", info, err)
	}

	// A forwarded packet: TTL decremented without fixing the checksum.
	hop := bytes.Clone(frame)
	hop[14+8]--
	if info, _ := ParseEth(hop); info.IPChecksumOK || info.TTL != 63 || !info.UDPChecksumOK {
		t.Errorf("stale checksum: %+v", info)
	}
	// A damaged payload.
	bad := bytes.Clone(frame)
	bad[len(bad)-1] ^= 1
	if info, _ := ParseEth(bad); !info.IPChecksumOK || info.UDPChecksumOK {
		t.Errorf("damaged payload: %+v", info)
	}
	// No UDP checksum (allowed in IPv4).
	none := bytes.Clone(frame)
	none[14+20+6], none[14+20+7] = 0, 0
	if info, _ := ParseEth(none); !info.UDPChecksumOK {
		t.Errorf("IPv4 UDP without checksum: %+v", info)
	}

	src6, dst6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	frame6 := EthIPv6UDP(macB, macA, src6, dst6, 255, 1234, 5678, []byte("ping"))
	info6, err := ParseEth(frame6)
	if err != nil {
		t.Fatal(err)
	}
	want6 := EthInfo{
		DstMAC: macB, SrcMAC: macA, EtherType: EtherTypeIPv6,
		IPVersion: 6, SrcIP: src6, DstIP: dst6, TTL: 255, Proto: ProtoUDP,
		TotalLen: 52, HeaderLen: 40, IPChecksumOK: true,
		UDP: true, SrcPort: 1234, DstPort: 5678, UDPChecksum: 0xaa90, UDPChecksumOK: true,
		Payload: []byte("ping"),
	}
	if !equalInfo(info6, want6) {
		t.Errorf("got  %+v\nwant %+v", info6, want6)
	}
	// In IPv6 a zero UDP checksum is invalid.
	none6 := bytes.Clone(frame6)
	none6[14+40+6], none6[14+40+7] = 0, 0
	if info, _ := ParseEth(none6); info.UDPChecksumOK {
		t.Errorf("IPv6 UDP without checksum accepted: %+v", info)
	}

	// ARP: Ethernet fields only.
	arp := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x06}, make([]byte, 28)...)
	if info, err := ParseEth(arp); err != nil || info.EtherType != EtherTypeARP || info.IPVersion != 0 || info.UDP {
		t.Errorf("ARP: %+v, %v", info, err)
	}

	// A first fragment: UDP ports known, checksum not checkable.
	frag := bytes.Clone(frame)
	frag[14+6] = 0x20 // MF
	frag[14+10], frag[14+11] = 0, 0
	c := IPv4Checksum(frag[14:34])
	frag[14+10], frag[14+11] = byte(c>>8), byte(c)
	if info, err := ParseEth(frag); err != nil || !info.Fragment || !info.UDP || info.SrcPort != 1234 || info.UDPChecksumOK || !info.IPChecksumOK {
		t.Errorf("first fragment: %+v, %v", info, err)
	}
}

func equalInfo(a, b EthInfo) bool {
	return bytes.Equal(a.DstMAC, b.DstMAC) && bytes.Equal(a.SrcMAC, b.SrcMAC) && bytes.Equal(a.Payload, b.Payload) &&
		a.EtherType == b.EtherType && a.IPVersion == b.IPVersion && a.SrcIP == b.SrcIP && a.DstIP == b.DstIP &&
		a.TTL == b.TTL && a.Proto == b.Proto && a.TotalLen == b.TotalLen && a.HeaderLen == b.HeaderLen &&
		a.IPChecksum == b.IPChecksum && a.IPChecksumOK == b.IPChecksumOK && a.Fragment == b.Fragment &&
		a.UDP == b.UDP && a.SrcPort == b.SrcPort && a.DstPort == b.DstPort &&
		a.UDPChecksum == b.UDPChecksum && a.UDPChecksumOK == b.UDPChecksumOK
}

func TestParseEthErrors(t *testing.T) {
	v4 := EthIPv4UDP(macB, macA, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"), 64, 1, 2, []byte("ping"))
	v6 := EthIPv6UDP(macB, macA, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 64, 1, 2, []byte("ping"))
	mod := func(b []byte, f func([]byte)) []byte { b = bytes.Clone(b); f(b); return b }
	tests := []struct {
		name  string
		frame []byte
		msg   string
	}{
		{"short", v4[:13], "shorter than an Ethernet header"},
		{"v4 header cut", v4[:14+19], "IPv4 header truncated"},
		{"v4 packet cut", v4[:len(v4)-1], "bad IPv4 lengths"},
		{"v4 version", mod(v4, func(b []byte) { b[14] = 0x65 }), "IP version 6"},
		{"v4 ihl", mod(v4, func(b []byte) { b[14] = 0x44 }), "bad IPv4 lengths"},
		{"udp length", mod(v4, func(b []byte) { b[14+20+5] = 99 }), "bad UDP length 99"},
		{"udp cut", mod(v4, func(b []byte) { b[14+3] = 24 }), "UDP header truncated"},
		{"v6 header cut", v6[:14+39], "IPv6 header truncated"},
		{"v6 packet cut", v6[:len(v6)-1], "IPv6 payload length 12"},
		{"v6 version", mod(v6, func(b []byte) { b[14] = 0x40 }), "IP version 4"},
	}
	for _, tt := range tests {
		if _, err := ParseEth(tt.frame); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.msg)
		}
	}
}

func TestBuildersPanic(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for name, f := range map[string]func(){
		"v4 with v6":  func() { EthIPv4UDP(macA, macB, v6, v4, 1, 1, 1, nil) },
		"v6 with v4":  func() { EthIPv6UDP(macA, macB, v6, v4, 1, 1, 1, nil) },
		"v6 mapped":   func() { EthIPv6UDP(macA, macB, v6, netip.MustParseAddr("::ffff:192.0.2.1"), 1, 1, 1, nil) },
		"short MAC":   func() { EthIPv4UDP(macA[:5], macB, v4, v4, 1, 1, 1, nil) },
		"huge v4":     func() { EthIPv4UDP(macA, macB, v4, v4, 1, 1, 1, make([]byte, 65535-27)) },
		"huge v6":     func() { EthIPv6UDP(macA, macB, v6, v6, 1, 1, 1, make([]byte, 65535-7)) },
		"invalid src": func() { EthIPv4UDP(macA, macB, netip.Addr{}, v4, 1, 1, 1, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func randomFrames(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var frames [][]byte
	for i := range n {
		payload := make([]byte, rng.IntN(1400))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		sport, dport := uint16(rng.Uint32()), uint16(rng.Uint32())
		ttl := uint8(rng.Uint32())
		if i%2 == 0 {
			var s, d [4]byte
			for j := range 4 {
				s[j], d[j] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			frames = append(frames, EthIPv4UDP(macB, macA, netip.AddrFrom4(s), netip.AddrFrom4(d), ttl, sport, dport, payload))
		} else {
			var s, d [16]byte
			for j := range 16 {
				s[j], d[j] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			s[0], d[0] = 0x20, 0x20 // not v4-mapped
			frames = append(frames, EthIPv6UDP(macB, macA, netip.AddrFrom16(s), netip.AddrFrom16(d), ttl, sport, dport, payload))
		}
	}
	return frames
}

// Random packets of both families parse back with valid checksums (odd
// payload lengths included).
func TestBuildParseRandom(t *testing.T) {
	for i, f := range randomFrames(500) {
		info, err := ParseEth(f)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !info.IPChecksumOK || !info.UDPChecksumOK || !info.UDP || len(info.Payload) != info.TotalLen-info.HeaderLen-8 {
			t.Fatalf("frame %d: %+v", i, info)
		}
	}
}

// scapyPython returns a Python interpreter that can import scapy, or "".
// The python3 first on PATH may be a pyenv or venv one without Debian's
// python3-scapy, so the system interpreter is tried too.
func scapyPython() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import scapy.all").Run() == nil {
			return py
		}
	}
	return ""
}

// scapy, an independent implementation, agrees with our checksums. It is
// optional (python3-scapy); the test skips without it.
func TestScapyVerifiesChecksums(t *testing.T) {
	python := scapyPython()
	if python == "" {
		t.Skip("python3-scapy not installed")
	}
	path := filepath.Join(t.TempDir(), "built.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	w, err := NewWriter(bw, LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	frames := randomFrames(200)
	for i, fr := range frames {
		if err := w.WritePacket(time.Unix(int64(i), 0), fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// For each packet, let scapy recompute the checksums from scratch
	// and compare them with ours.
	const script = `
import sys
from scapy.all import rdpcap, Ether, IP, IPv6, UDP
bad = 0
pkts = rdpcap(sys.argv[1])
for i, p in enumerate(pkts):
    q = Ether(bytes(p))
    l3 = IP if IP in q else IPv6
    ours = (q[IP].chksum if l3 is IP else None, q[UDP].chksum)
    if l3 is IP:
        del q[IP].chksum
    del q[UDP].chksum
    r = Ether(bytes(q))
    theirs = (r[IP].chksum if l3 is IP else None, r[UDP].chksum)
    if ours != theirs:
        print("packet %d: ours %r, scapy %r" % (i, ours, theirs))
        bad += 1
print("%d packets checked" % len(pkts))
sys.exit(1 if bad else 0)
`
	out, err := exec.Command(python, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("scapy: %v\n%s", err, out)
	}
	if want := "200 packets checked"; !strings.Contains(string(out), want) {
		t.Errorf("scapy said %q", out)
	}
}
