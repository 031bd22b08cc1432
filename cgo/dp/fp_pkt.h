/* Per-packet header checks and rewrites. Pure functions over one packet,
 * inlined into the burst loop and unit-tested on their own. */
#ifndef FP_PKT_H
#define FP_PKT_H

#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fp_counters.h"

#define FP_OK (-1)

/* The one's complement sum of an IPv4 header of ihl bytes, folded to 16
 * bits (0xffff when the checksum is right). Nearly every header has no
 * options: its five 32-bit words are added in 64 bits, where no carry is
 * lost, and folded by adding each value to itself rotated by half its
 * width: the upper half of that is the sum of both halves with the
 * end-around carry. Three short chains instead of a carry after each add. */
static inline uint16_t
fp_ip4_hdr_sum(const void *hdr, uint32_t ihl)
{
	if (unlikely(ihl != sizeof(struct rte_ipv4_hdr)))
		return rte_raw_cksum(hdr, ihl);
	/* two 8-byte loads and a 4-byte one, straight from the packet: a
	 * 20-byte memcpy became a 16-byte vector load spilled to the stack
	 * and read back in 4-byte pieces, which store forwarding makes wait */
	uint64_t a, b;
	uint32_t c;
	memcpy(&a, hdr, 8);
	memcpy(&b, (const uint8_t *)hdr + 8, 8);
	memcpy(&c, (const uint8_t *)hdr + 16, 4);
	uint64_t s = ((a & UINT32_MAX) + (a >> 32)) + ((b & UINT32_MAX) + (b >> 32)) + c;
	uint32_t x = (uint32_t)((s + (s >> 32 | s << 32)) >> 32);
	return (uint16_t)((x + (x >> 16 | x << 16)) >> 16);
}

/* A MAC address as one integer (its 6 bytes in the low 48 bits, in memory
 * order), so that comparing two is one compare. */
static inline uint64_t
fp_mac48(const struct rte_ether_addr *a)
{
	uint32_t lo;
	uint16_t hi;
	memcpy(&lo, a->addr_bytes, 4);
	memcpy(&hi, a->addr_bytes + 4, 2);
	return lo | (uint64_t)hi << 32;
}

/* RFC 1812 5.2.2 and 5.3.7 checks of an IPv4 header that starts l3off bytes
 * into the first segment. Returns FP_OK or a drop reason. */
static inline int
fp_ip4_check(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	uint32_t seg = rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN;
	uint32_t l3len = rte_pktmbuf_pkt_len(m) - RTE_ETHER_HDR_LEN;

	/* 5.2.2: the frame must hold a minimal header ... */
	if (unlikely(seg < sizeof(struct rte_ipv4_hdr)))
		return FP_DROP_IP4_RUNT;
	/* ... of version 4 ... */
	if (unlikely((ip->version_ihl >> 4) != 4))
		return FP_DROP_IP4_VERSION;
	/* ... at least five words long ... */
	uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
	if (unlikely(ihl < sizeof(struct rte_ipv4_hdr)))
		return FP_DROP_IP4_IHL;
	if (unlikely(ihl > seg))
		return FP_DROP_IP4_RUNT;
	/* ... whose total length covers the header and fits the frame. */
	uint32_t tot = rte_be_to_cpu_16(ip->total_length);
	if (unlikely(tot < ihl))
		return FP_DROP_IP4_TOTAL_LEN;
	if (unlikely(tot > l3len))
		return FP_DROP_IP4_TRUNCATED;
	/* 5.2.2: the checksum must be valid (trust the NIC when it checked). */
	uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return FP_DROP_IP4_CHECKSUM;
	if (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
	    unlikely(fp_ip4_hdr_sum(ip, ihl) != 0xffff))
		return FP_DROP_IP4_CHECKSUM;

	/* 5.3.7: martian source and destination addresses. */
	uint8_t s0 = ((const uint8_t *)&ip->src_addr)[0];
	uint8_t d0 = ((const uint8_t *)&ip->dst_addr)[0];
	if (unlikely(s0 == 0 || s0 == 127 || s0 >= 224))
		return FP_DROP_IP4_MARTIAN_SRC;
	if (unlikely(d0 == 0 || d0 == 127 || d0 >= 224)) {
		if (ip->dst_addr == RTE_BE32(0xffffffff))
			return FP_DROP_IP4_BROADCAST;
		if (d0 < 240 && d0 >= 224)
			return FP_DROP_IP4_MULTICAST;
		return FP_DROP_IP4_MARTIAN_DST;
	}
	return FP_OK;
}

/* ::ffff:0:0/96 */
static inline bool
fp_ip6_mapped(const uint8_t *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, prefix, 12) == 0;
}

/* RFC 8200 section 3 checks and RFC 4291 address rules. */
static inline int
fp_ip6_check(const struct rte_mbuf *m, const struct rte_ipv6_hdr *ip)
{
	uint32_t seg = rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN;
	uint32_t l3len = rte_pktmbuf_pkt_len(m) - RTE_ETHER_HDR_LEN;

	if (unlikely(seg < sizeof(struct rte_ipv6_hdr)))
		return FP_DROP_IP6_RUNT;
	if (unlikely((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6))
		return FP_DROP_IP6_VERSION;
	if (unlikely(rte_be_to_cpu_16(ip->payload_len) + sizeof(*ip) > l3len))
		return FP_DROP_IP6_TRUNCATED;

	const uint8_t *s = ip->src_addr, *d = ip->dst_addr;
	/* 2.7: multicast is never a source. */
	if (unlikely(s[0] == 0xff))
		return FP_DROP_IP6_MARTIAN_SRC;
	/* 2.5.6: link-local scope ends at the link, in either direction. */
	if (unlikely((s[0] == 0xfe && (s[1] & 0xc0) == 0x80) ||
		     (d[0] == 0xfe && (d[1] & 0xc0) == 0x80)))
		return FP_DROP_IP6_LINK_LOCAL;
	if (unlikely(d[0] == 0xff))
		return FP_DROP_IP6_MULTICAST;
	/* 2.5.2, 2.5.3: ::/128 and ::1/128 are never forwarded. */
	if (unlikely(d[0] == 0)) {
		static const uint8_t zero15[15];
		if (memcmp(d, zero15, 15) == 0 && d[15] <= 1)
			return FP_DROP_IP6_MARTIAN_DST;
	}
	/* 2.5.2, 2.5.3: :: and ::1 are never a source either; 2.5.5.2:
	 * IPv4-mapped addresses never appear on the wire. */
	if (unlikely(s[0] == 0)) {
		static const uint8_t zero15[15];
		if (memcmp(s, zero15, 15) == 0 && s[15] <= 1)
			return FP_DROP_IP6_MARTIAN_SRC;
		if (fp_ip6_mapped(s))
			return FP_DROP_IP6_MARTIAN_SRC;
	}
	if (unlikely(d[0] == 0 && fp_ip6_mapped(d)))
		return FP_DROP_IP6_MARTIAN_DST;
	return FP_OK;
}

/* RFC 1812 5.3.1 TTL decrement with the RFC 1624 (eqn. 3) incremental
 * checksum update, HC' = ~(~HC + ~m + m'): the TTL is the high byte of its
 * 16-bit word m, so ~m + m' = ~m + m - 0x0100 is always 0xfeff, and one
 * fold is enough. One's complement sums do not depend on byte order: the
 * field is updated as stored, with the constant's bytes swapped. */
static inline void
fp_ip4_ttl_dec(struct rte_ipv4_hdr *ip)
{
	ip->time_to_live--;
	uint32_t sum = (uint16_t)~ip->hdr_checksum + (uint32_t)rte_cpu_to_be_16(0xfeff);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->hdr_checksum = (uint16_t)~sum;
}

/* Flow hash for ECMP: the same 5-tuple always gives the same value. Ports
 * are used for unfragmented TCP/UDP/SCTP only, so all fragments of a
 * datagram and all packets of a flow stay together. */
static inline uint32_t
fp_l4_ports(const struct rte_mbuf *m, uint32_t l4off, uint8_t proto)
{
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return 0;
	if (l4off + 4 > rte_pktmbuf_data_len(m))
		return 0;
	return *rte_pktmbuf_mtod_offset(m, const uint32_t *, l4off);
}

static inline uint32_t
fp_hash4(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	uint32_t h = rte_hash_crc_4byte(ip->src_addr, 0x9e3779b9);
	h = rte_hash_crc_4byte(ip->dst_addr, h);
	h = rte_hash_crc_4byte(ip->next_proto_id, h);
	/* Unfragmented only: a first fragment (MF set, offset 0) carries ports
	 * the later ones lack, and all fragments must take the same path. */
	if ((ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) == 0) {
		uint32_t off = RTE_ETHER_HDR_LEN + (ip->version_ihl & 0xf) * 4u;
		h = rte_hash_crc_4byte(fp_l4_ports(m, off, ip->next_proto_id), h);
	}
	return h;
}

static inline uint32_t
fp_hash6(const struct rte_mbuf *m, const struct rte_ipv6_hdr *ip)
{
	uint32_t h = rte_hash_crc(ip->src_addr, 32, 0x9e3779b9); /* src + dst */
	h = rte_hash_crc_4byte(ip->proto, h);
	uint32_t off = RTE_ETHER_HDR_LEN + sizeof(*ip);
	return rte_hash_crc_4byte(fp_l4_ports(m, off, ip->proto), h);
}

/* Map a 32-bit hash onto [0, n) without a division. */
static inline uint32_t
fp_bucket(uint32_t hash, uint32_t n)
{
	return (uint32_t)(((uint64_t)hash * n) >> 32);
}

#endif /* FP_PKT_H */
