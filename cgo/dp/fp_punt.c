/* Punt classes and the policer's rates (fp_punt.h). The only writer of
 * fp_police[]; the workers' buckets are theirs (struct fp_policer). */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fp.h"
#include "fp_ports.h"
#include "fp_punt.h"

struct fp_police_conf fp_police[FP_PUNT_CLASSES];

/* Workers among which each class's rate is shared (0 before fp_dp_init:
 * one). Written by fp_punt_init, read by fp_punt_set_rate. */
static _Atomic unsigned int share;

int
fp_punt_set_rate(unsigned int cls, uint32_t pps, uint32_t burst)
{
	if (cls >= FP_PUNT_CLASSES)
		return -EINVAL;
	uint64_t hz = rte_get_tsc_hz();
	/* Each worker polices its own share of the rate. */
	unsigned int nw = atomic_load(&share);
	nw = nw ? nw : 1;
	uint64_t rate = ((uint64_t)pps << FP_POLICE_SHIFT) / hz / nw;
	if (pps != 0 && rate == 0)
		rate = 1;
	uint64_t depth = (uint64_t)RTE_MAX(burst / nw, 1u) << FP_POLICE_SHIFT;
	atomic_store(&fp_police[cls].rate, rate);
	atomic_store(&fp_police[cls].depth, pps ? depth : 0);
	return 0;
}

void
fp_punt_init(unsigned int n_workers)
{
	atomic_store(&share, n_workers);
	/* Defaults (fibd_punt_rate_*): a full view arrives at BGP speed; ARP
	 * and NDP need little; the rest (ping, first packets to unresolved
	 * neighbours) is the first to be held back in a flood. */
	fp_punt_set_rate(FP_PUNT_PROTO, 100000, 2048);
	fp_punt_set_rate(FP_PUNT_ND, 10000, 512);
	fp_punt_set_rate(FP_PUNT_OTHER, 10000, 512);
	/* each glean punt may make the kernel a neighbour entry that lives
	 * ~3 s unresolved: 250/s keeps a scan below gc_thresh3 (1024) */
	fp_punt_set_rate(FP_PUNT_GLEAN, 250, 64);
}

/* ---- classes --------------------------------------------------------------
 *
 * The protected class holds only what can really be the routing daemon's
 * protocol traffic: a protocol port or number is not enough (anyone can
 * send from port 179). It must also come from where a peer can be: a
 * source within a subnet of the ingress port's interfaces or a known peer
 * (fp_port_set_ifaddrs), an IPv6 link-local source, or a TTL of 255 that
 * no router on the way would have left (GTSM, RFC 5082). Protocols with
 * their own TTL rules are held to them: OSPF is sent with TTL 1 (RFC 2328
 * A.1, RFC 5340 A.1) to on-link neighbours, VRRP with 255 (RFC 5798
 * 5.1.1.3), single-hop BFD with 255 (RFC 5881 5). What fails the test is
 * "other". */

enum proto_kind { PK_NONE, PK_PEER, PK_TTL255 };

static inline enum proto_kind
proto_port(uint8_t l4, uint16_t p)
{
	switch (p) {
	case 179:  /* BGP */
	case 646:  /* LDP */
	case 520:  /* RIP */
	case 521:  /* RIPng */
	case 4784: /* BFD multihop */
		return PK_PEER;
	case 3784: /* BFD single hop */
	case 3785: /* BFD echo */
		return l4 == IPPROTO_UDP ? PK_TTL255 : PK_NONE;
	}
	return PK_NONE;
}

static inline bool
prefix_has(const uint8_t *p, uint8_t len, const uint8_t *a)
{
	uint8_t whole = len / 8, rest = len % 8;
	if (memcmp(a, p, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ p[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* Is src (network order) on a subnet of port's interfaces, or a peer? */
static bool
from_peer(uint16_t port, int family, const uint8_t *src)
{
	if (family == 6 && src[0] == 0xfe && (src[1] & 0xc0) == 0x80)
		return true; /* link-local: only ever from the link */
	const struct fp_ifaddrs *a = atomic_load_explicit(&fp_ports[port].ifaddrs, memory_order_acquire);
	if (a == NULL)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->e[i].family == family && prefix_has(a->e[i].addr, a->e[i].len, src))
			return true;
	return false;
}

static unsigned int
l4_class(const struct rte_mbuf *m, uint32_t off, uint8_t proto, uint8_t ttl, int family, const uint8_t *src)
{
	switch (proto) {
	case 89:  /* OSPF */
		return ttl == 1 && from_peer(m->port, family, src) ? FP_PUNT_PROTO : FP_PUNT_OTHER;
	case 112: /* VRRP */
		return ttl == 255 ? FP_PUNT_PROTO : FP_PUNT_OTHER;
	case IPPROTO_TCP:
	case IPPROTO_UDP: {
		if (off + 4 > rte_pktmbuf_data_len(m))
			return FP_PUNT_OTHER;
		const uint16_t *p = rte_pktmbuf_mtod_offset(m, const uint16_t *, off);
		enum proto_kind k = RTE_MAX(proto_port(proto, rte_be_to_cpu_16(p[0])),
					    proto_port(proto, rte_be_to_cpu_16(p[1])));
		if (k == PK_NONE)
			return FP_PUNT_OTHER;
		if (ttl == 255)
			return FP_PUNT_PROTO;
		return k == PK_PEER && from_peer(m->port, family, src) ? FP_PUNT_PROTO : FP_PUNT_OTHER;
	}
	}
	return FP_PUNT_OTHER;
}

unsigned int
fp_punt_class(const struct rte_mbuf *m)
{
	uint32_t off = RTE_ETHER_HDR_LEN;
	uint32_t len = rte_pktmbuf_data_len(m);
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	rte_be16_t type = eth->ether_type;

	if (type == RTE_BE16(RTE_ETHER_TYPE_VLAN) && len >= off + 4) {
		type = *rte_pktmbuf_mtod_offset(m, const rte_be16_t *, off + 2);
		off += 4;
	}
	switch (type) {
	case RTE_BE16(RTE_ETHER_TYPE_ARP):
		return FP_PUNT_ND;
	case RTE_BE16(RTE_ETHER_TYPE_IPV4): {
		if (len < off + sizeof(struct rte_ipv4_hdr))
			return FP_PUNT_OTHER;
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, const void *, off);
		if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK))
			return FP_PUNT_OTHER;
		return l4_class(m, off + (ip->version_ihl & 0xf) * 4u, ip->next_proto_id, ip->time_to_live, 4,
				(const uint8_t *)&ip->src_addr);
	}
	case RTE_BE16(RTE_ETHER_TYPE_IPV6): {
		if (len < off + sizeof(struct rte_ipv6_hdr) + 1)
			return FP_PUNT_OTHER;
		const struct rte_ipv6_hdr *ip = rte_pktmbuf_mtod_offset(m, const void *, off);
		off += sizeof(*ip);
		if (ip->proto == IPPROTO_ICMPV6) {
			uint8_t t = *rte_pktmbuf_mtod_offset(m, const uint8_t *, off);
			return t >= 133 && t <= 137 ? FP_PUNT_ND : FP_PUNT_OTHER;
		}
		return l4_class(m, off, ip->proto, ip->hop_limits, 6, ip->src_addr);
	}
	}
	return FP_PUNT_OTHER;
}
