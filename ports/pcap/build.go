package pcap

// Building and parsing the test packets of labs and golden tests:
// Ethernet + IPv4/IPv6 + UDP with correct checksums, and a parser that
// returns the fields a forwarding test asserts on (addresses, TTL, header
// checksum validity, payload).

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// EtherTypes and IP protocol numbers.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100
	EtherTypeIPv6 = 0x86dd

	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

const (
	ethHeaderLen  = 14
	ipv4HeaderLen = 20 // without options
	ipv6HeaderLen = 40
	udpHeaderLen  = 8
)

// EthIPv4UDP builds an Ethernet frame carrying an IPv4/UDP datagram from
// src:sport to dst:dport with the given TTL and payload: no IP options,
// identification 0, no fragmentation flags, both checksums valid. The
// frame is not padded to the Ethernet minimum (NICs pad on transmit; the
// IPv4 total length says where the packet ends). It panics on arguments a
// test could not mean: MACs that are not 6 bytes, non-IPv4 addresses, or
// a payload too large for one datagram.
func EthIPv4UDP(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, ttl uint8, sport, dport uint16, payload []byte) []byte {
	if !src.Is4() || !dst.Is4() {
		panic(fmt.Sprintf("pcap.EthIPv4UDP: %v -> %v: want IPv4 addresses", src, dst))
	}
	total := ipv4HeaderLen + udpHeaderLen + len(payload)
	if total > 0xffff {
		panic(fmt.Sprintf("pcap.EthIPv4UDP: payload of %d bytes does not fit a datagram", len(payload)))
	}
	b := make([]byte, ethHeaderLen+total)
	putEth(b, dstMAC, srcMAC, EtherTypeIPv4)

	ip := b[ethHeaderLen : ethHeaderLen+ipv4HeaderLen]
	ip[0] = 0x45 // version 4, header length 5 words
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	// ip[4:8]: identification and fragment offset, zero.
	ip[8] = ttl
	ip[9] = ProtoUDP
	s4, d4 := src.As4(), dst.As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], IPv4Checksum(ip)) // over a zero checksum field

	udp := b[ethHeaderLen+ipv4HeaderLen:]
	putUDP(udp, sport, dport, payload)
	// An IPv4 UDP checksum of 0 means "none"; a computed 0 is sent as
	// 0xffff (RFC 768).
	binary.BigEndian.PutUint16(udp[6:], nonZero(udpChecksum(src, dst, udp)))
	return b
}

// EthIPv6UDP builds an Ethernet frame carrying an IPv6/UDP datagram from
// src:sport to dst:dport with the given hop limit and payload: traffic
// class and flow label 0, no extension headers, and the UDP checksum
// (mandatory in IPv6, RFC 8200 8.1) computed over the pseudo-header. Like
// EthIPv4UDP it does not pad and panics on impossible arguments.
func EthIPv6UDP(dstMAC, srcMAC net.HardwareAddr, src, dst netip.Addr, hopLimit uint8, sport, dport uint16, payload []byte) []byte {
	if !src.Is6() || !dst.Is6() || src.Is4In6() || dst.Is4In6() {
		panic(fmt.Sprintf("pcap.EthIPv6UDP: %v -> %v: want IPv6 addresses", src, dst))
	}
	plen := udpHeaderLen + len(payload)
	if plen > 0xffff {
		panic(fmt.Sprintf("pcap.EthIPv6UDP: payload of %d bytes does not fit a datagram", len(payload)))
	}
	b := make([]byte, ethHeaderLen+ipv6HeaderLen+plen)
	putEth(b, dstMAC, srcMAC, EtherTypeIPv6)

	ip := b[ethHeaderLen : ethHeaderLen+ipv6HeaderLen]
	ip[0] = 0x60 // version 6; traffic class and flow label zero
	binary.BigEndian.PutUint16(ip[4:], uint16(plen))
	ip[6] = ProtoUDP
	ip[7] = hopLimit
	s16, d16 := src.As16(), dst.As16()
	copy(ip[8:], s16[:])
	copy(ip[24:], d16[:])

	udp := b[ethHeaderLen+ipv6HeaderLen:]
	putUDP(udp, sport, dport, payload)
	binary.BigEndian.PutUint16(udp[6:], nonZero(udpChecksum(src, dst, udp)))
	return b
}

func putEth(b []byte, dst, src net.HardwareAddr, etherType uint16) {
	if len(dst) != 6 || len(src) != 6 {
		panic(fmt.Sprintf("pcap: MAC addresses %v, %v: want 6 bytes each", dst, src))
	}
	copy(b[0:], dst)
	copy(b[6:], src)
	binary.BigEndian.PutUint16(b[12:], etherType)
}

// putUDP writes a UDP header with a zero checksum, and the payload.
func putUDP(b []byte, sport, dport uint16, payload []byte) {
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(udpHeaderLen+len(payload)))
	copy(b[udpHeaderLen:], payload)
}

func nonZero(c uint16) uint16 {
	if c == 0 {
		return 0xffff
	}
	return c
}

// sum adds b to a ones'-complement sum as big-endian 16-bit words (an odd
// last byte is padded with zero), without folding.
func sum(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

// fold folds a ones'-complement sum to 16 bits and complements it.
func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return ^uint16(acc)
}

// IPv4Checksum returns the Internet checksum (RFC 1071) of an IPv4
// header, options included, taken as it is. To fill in a header's
// checksum, zero bytes 10-11 and store the result there; to check a
// received header, sum it whole: an intact header gives 0.
func IPv4Checksum(hdr []byte) uint16 {
	return fold(sum(0, hdr))
}

// udpChecksum returns the UDP checksum of datagram (header and payload,
// checksum field taken as it is: pass it zeroed to compute, or as received
// to verify, where a valid datagram gives 0) over the pseudo-header of
// src and dst (RFC 768 for IPv4, RFC 8200 8.1 for IPv6).
func udpChecksum(src, dst netip.Addr, datagram []byte) uint16 {
	var acc uint32
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		acc = sum(acc, s[:])
		acc = sum(acc, d[:])
	} else {
		s, d := src.As16(), dst.As16()
		acc = sum(acc, s[:])
		acc = sum(acc, d[:])
	}
	// Upper-layer length and protocol: for IPv4 a 16-bit length, for
	// IPv6 a 32-bit one; as 16-bit words both add up the same (datagrams
	// here are under 64 KiB).
	acc += uint32(len(datagram)) + ProtoUDP
	return fold(sum(acc, datagram))
}

// EthInfo is what ParseEth finds in a frame. The IP fields are set for
// IPv4 and IPv6 frames (IPVersion 4 or 6), the UDP fields when the packet
// is UDP and not a later fragment.
type EthInfo struct {
	DstMAC, SrcMAC net.HardwareAddr
	EtherType      uint16

	IPVersion    int // 4, 6, or 0 for other EtherTypes
	SrcIP, DstIP netip.Addr
	TTL          uint8  // IPv4 TTL or IPv6 hop limit
	Proto        uint8  // IPv4 protocol or IPv6 next header (no extension headers are walked)
	TotalLen     int    // IPv4 total length; IPv6 40 + payload length
	HeaderLen    int    // IPv4 IHL·4; 40 for IPv6
	IPChecksum   uint16 // IPv4 header checksum as carried
	IPChecksumOK bool   // IPv4 header checksum verifies; true for IPv6, which has none
	Fragment     bool   // IPv4 MF set or non-zero fragment offset

	UDP           bool
	SrcPort       uint16
	DstPort       uint16
	UDPChecksum   uint16 // as carried
	UDPChecksumOK bool   // verifies over the pseudo-header; an IPv4 checksum of 0 (none) counts as OK; false in a first fragment (cannot be checked)
	Payload       []byte // UDP payload (aliases the frame)
}

// ParseEth parses an Ethernet frame and the IPv4 or IPv6 packet and UDP
// datagram in it. Bytes after the IP packet's length (Ethernet padding)
// are ignored. Frames of other EtherTypes return only the Ethernet
// fields; malformed or truncated IP and UDP headers are errors.
func ParseEth(frame []byte) (EthInfo, error) {
	var info EthInfo
	if len(frame) < ethHeaderLen {
		return info, fmt.Errorf("pcap: frame of %d bytes is shorter than an Ethernet header", len(frame))
	}
	info.DstMAC = net.HardwareAddr(frame[0:6])
	info.SrcMAC = net.HardwareAddr(frame[6:12])
	info.EtherType = binary.BigEndian.Uint16(frame[12:])
	pkt := frame[ethHeaderLen:]

	var l4 []byte
	switch info.EtherType {
	case EtherTypeIPv4:
		if len(pkt) < ipv4HeaderLen {
			return info, fmt.Errorf("pcap: IPv4 header truncated: %d bytes", len(pkt))
		}
		if v := pkt[0] >> 4; v != 4 {
			return info, fmt.Errorf("pcap: IPv4 EtherType with IP version %d", v)
		}
		info.IPVersion = 4
		info.HeaderLen = int(pkt[0]&0x0f) * 4
		info.TotalLen = int(binary.BigEndian.Uint16(pkt[2:]))
		if info.HeaderLen < ipv4HeaderLen || info.HeaderLen > info.TotalLen || info.TotalLen > len(pkt) {
			return info, fmt.Errorf("pcap: bad IPv4 lengths: header %d, total %d, %d bytes present", info.HeaderLen, info.TotalLen, len(pkt))
		}
		frag := binary.BigEndian.Uint16(pkt[6:])
		info.Fragment = frag&0x2000 != 0 || frag&0x1fff != 0
		info.TTL = pkt[8]
		info.Proto = pkt[9]
		info.IPChecksum = binary.BigEndian.Uint16(pkt[10:])
		info.IPChecksumOK = IPv4Checksum(pkt[:info.HeaderLen]) == 0
		info.SrcIP = netip.AddrFrom4([4]byte(pkt[12:16]))
		info.DstIP = netip.AddrFrom4([4]byte(pkt[16:20]))
		if frag&0x1fff == 0 { // the first fragment carries the UDP header
			l4 = pkt[info.HeaderLen:info.TotalLen]
		}
	case EtherTypeIPv6:
		if len(pkt) < ipv6HeaderLen {
			return info, fmt.Errorf("pcap: IPv6 header truncated: %d bytes", len(pkt))
		}
		if v := pkt[0] >> 4; v != 6 {
			return info, fmt.Errorf("pcap: IPv6 EtherType with IP version %d", v)
		}
		info.IPVersion = 6
		info.HeaderLen = ipv6HeaderLen
		info.TotalLen = ipv6HeaderLen + int(binary.BigEndian.Uint16(pkt[4:]))
		if info.TotalLen > len(pkt) {
			return info, fmt.Errorf("pcap: IPv6 payload length %d, %d bytes present", info.TotalLen-ipv6HeaderLen, len(pkt)-ipv6HeaderLen)
		}
		info.Proto = pkt[6]
		info.TTL = pkt[7]
		info.IPChecksumOK = true
		info.SrcIP = netip.AddrFrom16([16]byte(pkt[8:24]))
		info.DstIP = netip.AddrFrom16([16]byte(pkt[24:40]))
		l4 = pkt[ipv6HeaderLen:info.TotalLen]
	default:
		return info, nil
	}

	if info.Proto != ProtoUDP || l4 == nil {
		return info, nil
	}
	if len(l4) < udpHeaderLen {
		return info, fmt.Errorf("pcap: UDP header truncated: %d bytes", len(l4))
	}
	ulen := int(binary.BigEndian.Uint16(l4[4:]))
	if info.Fragment {
		ulen = len(l4) // only part of the datagram is here: no checksum check
	} else if ulen < udpHeaderLen || ulen > len(l4) {
		return info, fmt.Errorf("pcap: bad UDP length %d with %d bytes present", ulen, len(l4))
	}
	info.UDP = true
	info.SrcPort = binary.BigEndian.Uint16(l4[0:])
	info.DstPort = binary.BigEndian.Uint16(l4[2:])
	info.UDPChecksum = binary.BigEndian.Uint16(l4[6:])
	info.Payload = l4[udpHeaderLen:ulen]
	switch {
	case info.Fragment:
		info.UDPChecksumOK = false
	case info.IPVersion == 4 && info.UDPChecksum == 0:
		info.UDPChecksumOK = true
	default:
		info.UDPChecksumOK = udpChecksum(info.SrcIP, info.DstIP, l4[:ulen]) == 0
	}
	return info, nil
}
