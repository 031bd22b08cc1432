// Command gen writes the lab's input capture (test/lab/input.pcap): a mix
// of traffic that exercises every kind of route in test/lab/static.routes
// and a few packets fibd must refuse. Deterministic: rerunning it gives
// the same file.
//
//	go run ./test/lab/gen > test/lab/input.pcap
package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"fibd/ports/pcap"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	sub, _ := net.ParseMAC("02:00:00:00:00:10")  // a subscriber host
	fibd, _ := net.ParseMAC("02:70:63:61:70:00") // net_pcap0
	src4 := netip.MustParseAddr("100.64.1.2")
	src6 := netip.MustParseAddr("2001:db8:0:1::10")
	var frames [][]byte
	v4 := func(n int, dst func(i int) string, ttl uint8) {
		for i := range n {
			d := netip.MustParseAddr(dst(i))
			frames = append(frames, pcap.EthIPv4UDP(fibd, sub, src4, d, ttl, uint16(10000+i), 9, []byte("fibd lab")))
		}
	}
	v6 := func(n int, dst func(i int) string, hl uint8) {
		for i := range n {
			d := netip.MustParseAddr(dst(i))
			frames = append(frames, pcap.EthIPv6UDP(fibd, sub, src6, d, hl, uint16(10000+i), 9, []byte("fibd lab")))
		}
	}
	v4(20, func(i int) string { return fmt.Sprintf("8.8.8.%d", i+1) }, 64)           // -> uplink B
	v4(40, func(i int) string { return fmt.Sprintf("1.1.1.%d", i+1) }, 64)           // ECMP A/B
	v4(20, func(i int) string { return fmt.Sprintf("93.184.%d.34", i) }, 64)         // default -> A
	v4(10, func(i int) string { return fmt.Sprintf("100.64.%d.9", i) }, 64)          // back to subscribers
	v4(5, func(i int) string { return fmt.Sprintf("9.9.9.%d", i) }, 64)              // blackhole
	v4(5, func(i int) string { return fmt.Sprintf("198.18.0.%d", i+1) }, 64)         // unreachable
	v4(5, func(i int) string { return fmt.Sprintf("198.51.100.%d", 200+i) }, 64)     // neighbour unknown
	v4(5, func(i int) string { return fmt.Sprintf("8.8.4.%d", i) }, 1)               // TTL expires
	v4(2, func(int) string { return "192.0.2.1" }, 64)                               // for fibd itself
	v6(20, func(i int) string { return fmt.Sprintf("2a00:1450:4001::%x", i+1) }, 64) // default -> A
	v6(10, func(i int) string { return fmt.Sprintf("2001:db8:1ff::%x", i+1) }, 64)   // -> B
	v6(20, func(i int) string { return fmt.Sprintf("2001:db8:200::%x", i+1) }, 64)   // ECMP A/B
	v6(5, func(i int) string { return fmt.Sprintf("2a00:1450:4001::%x", i+100) }, 1) // hop limit expires
	v6(2, func(int) string { return "fe80::1" }, 64)                                 // link-local

	// Malformed: a bad header checksum, a truncated header, ARP, a jumbo.
	bad := pcap.EthIPv4UDP(fibd, sub, src4, netip.MustParseAddr("8.8.8.8"), 64, 1, 53, []byte("bad"))
	bad[24] ^= 0x5a
	frames = append(frames, bad)
	frames = append(frames, pcap.EthIPv4UDP(fibd, sub, src4, netip.MustParseAddr("8.8.8.8"), 64, 1, 53, nil)[:30])
	arp := bytes.Clone(frames[0][:42])
	arp[12], arp[13] = 0x08, 0x06
	frames = append(frames, arp)
	frames = append(frames, pcap.EthIPv4UDP(fibd, sub, src4, netip.MustParseAddr("8.8.8.8"), 64, 1, 53, make([]byte, 8972)))

	w, err := pcap.NewWriter(os.Stdout, pcap.LinkTypeEthernet)
	if err != nil {
		return err
	}
	t := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for i, f := range frames {
		if err := w.WritePacket(t.Add(time.Duration(i)*time.Millisecond), f); err != nil {
			return err
		}
	}
	return nil
}
