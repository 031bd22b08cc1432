package fastpath

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	dpdk "fibd/cgo"
	"fibd/ports/pcap"
)

// FuzzPacketPath feeds arbitrary frames through the worker pipeline. It
// must never crash; a dropped frame is left as it was; a forwarded one is
// trimmed to its IP length, has its TTL (hop limit) lowered by one and,
// for IPv4, a valid header checksum.
func FuzzPacketPath(f *testing.F) {
	if env.skip != "" {
		f.Skip(env.skip)
	}
	program(f, baseState())
	// An address on the ingress port: drops then build ICMP errors too.
	env.ports[0].SetAddrs(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"))
	defer env.ports[0].SetAddrs(netip.Addr{}, netip.Addr{})
	smac := mac("02:00:00:00:99:99")
	f.Add(pcap.EthIPv4UDP(env.macs[0], smac, src4, netip.MustParseAddr("10.1.2.3"), 64, 1, 2, []byte("x")))
	f.Add(pcap.EthIPv4UDP(env.macs[0], smac, src4, netip.MustParseAddr("192.0.2.2"), 2, 1, 2, nil))
	f.Add(pcap.EthIPv6UDP(env.macs[0], smac, src6, netip.MustParseAddr("2001:db8:1::2"), 2, 1, 2, []byte("y")))
	f.Add([]byte{})
	f.Add(make([]byte, 60))
	f.Add(pcap.EthIPv4UDP(env.macs[0], smac, src4, netip.MustParseAddr("10.1.2.3"), 1, 1, 2, []byte("ttl")))
	f.Add(pcap.EthIPv6UDP(env.macs[0], smac, src6, netip.MustParseAddr("2001:db8:99::1"), 1, 1, 2, []byte("hl")))
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > 1900 { // one mbuf's room; jumbo frames are tested through pcap
			frame = frame[:1900]
		}
		// frames to another host's MAC stop at the L2 check: most inputs
		// (globally administered unicast) go to the port's MAC, so the
		// fuzzer reaches the rest of the path; the others test that check
		if len(frame) >= 6 && frame[0]&3 == 0 {
			frame = append(bytes.Clone(env.macs[0]), frame[6:]...)
		}
		in := bytes.Clone(frame)
		frames := [][]byte{bytes.Clone(frame)}
		v, err := dpdk.ProcessFrames(env.table.Slot, env.ports[0], frames)
		if err != nil {
			t.Fatal(err)
		}
		out := frames[0]
		if !v[0].Forward {
			if !bytes.Equal(out, in) {
				t.Fatalf("dropped (%s) frame modified", dpdk.DropReasons()[v[0].Drop])
			}
			return
		}
		switch binary.BigEndian.Uint16(in[12:]) {
		case 0x0800:
			ihl := int(in[14]&0xf) * 4
			if want := 14 + int(binary.BigEndian.Uint16(in[16:])); len(out) != want {
				t.Fatalf("length %d, IP says %d", len(out), want)
			}
			if out[22] != in[22]-1 {
				t.Fatalf("ttl %d -> %d", in[22], out[22])
			}
			if pcap.IPv4Checksum(out[14:14+ihl]) != 0 {
				t.Fatalf("forwarded with a bad checksum")
			}
			if !bytes.Equal(out[14+ihl:], in[14+ihl:len(out)]) {
				t.Fatalf("payload changed")
			}
		case 0x86dd:
			if want := 54 + int(binary.BigEndian.Uint16(in[18:])); len(out) != want {
				t.Fatalf("length %d, IP says %d", len(out), want)
			}
			if out[21] != in[21]-1 {
				t.Fatalf("hop limit %d -> %d", in[21], out[21])
			}
			if !bytes.Equal(out[22:], in[22:len(out)]) {
				t.Fatalf("addresses or payload changed")
			}
		default:
			t.Fatalf("forwarded a non-IP frame")
		}
	})
}
