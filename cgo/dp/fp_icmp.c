/* ICMP and ICMPv6 errors for packets the fast path cannot forward: time
 * exceeded (traceroute shows fibd's hop), destination unreachable, and
 * fragmentation needed / packet too big. Built on the worker, sent back out
 * of the ingress port to the sender's MAC, from the address fibd has on that
 * port, rate-limited per worker. */
#include <string.h>

#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include "fp_icmp.h"
#include "fp_ports.h"
#include "fp_workers.h"

/* RFC 1812 4.3.2.3: a reply carries as much of the original as fits 576
 * bytes (IPv4); RFC 4443 2.4(c): as fits the IPv6 minimum MTU. */
#define ICMP4_MAX_QUOTE (576 - 20 - 8)
#define ICMP6_MAX_QUOTE (1280 - 40 - 8)

/* Errors per second and worker; a flood of expiring packets costs at most
 * this many replies. */
#define FP_ICMP_RATE 1000

static bool
ratelimit_ok(struct fp_wctx *w)
{
	uint64_t now = rte_rdtsc();
	uint64_t hz = rte_get_tsc_hz();
	if (w->icmp_last == 0)
		w->icmp_last = now, w->icmp_tokens = FP_ICMP_RATE;
	uint64_t add = (now - w->icmp_last) * FP_ICMP_RATE / hz;
	if (add > 0) {
		w->icmp_tokens = RTE_MIN(w->icmp_tokens + add, (uint64_t)FP_ICMP_RATE);
		w->icmp_last = now;
	}
	if (w->icmp_tokens == 0)
		return false;
	w->icmp_tokens--;
	return true;
}

/* Which error, if any, a drop reason calls for. */
struct icmp_kind {
	uint8_t type4, code4, type6, code6;
	bool mtu; /* carries the next-hop MTU */
};

static bool
kind_of(uint16_t reason, struct icmp_kind *k)
{
	switch (reason) {
	case FP_DROP_IP4_TTL_EXCEEDED:
	case FP_DROP_IP6_HOP_LIMIT_EXCEEDED:
		*k = (struct icmp_kind){11, 0, 3, 0, false};
		return true;
	case FP_DROP_NO_ROUTE:
		*k = (struct icmp_kind){3, 0, 1, 0, false}; /* net unreachable / no route */
		return true;
	case FP_DROP_UNREACHABLE:
		*k = (struct icmp_kind){3, 1, 1, 3, false}; /* host / address unreachable */
		return true;
	case FP_DROP_PROHIBIT:
		*k = (struct icmp_kind){3, 13, 1, 1, false}; /* administratively prohibited */
		return true;
	case FP_DROP_MTU_EXCEEDED:
		*k = (struct icmp_kind){3, 4, 2, 0, true}; /* frag needed / packet too big */
		return true;
	}
	return false;
}

static uint16_t
fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The router's addresses (bras_arp_ip, bras_ipv6_address): the source of
 * errors from an interface without one. Written by the control plane,
 * read by workers: an error sent while they change may carry a mixed
 * address, never a crash (as fp_port_set_addrs). */
static struct {
	bool has4, has6;
	rte_be32_t ip4;
	uint8_t ip6[16];
} router_addr;

void
fp_set_router_addrs(const uint8_t *ip4, const uint8_t *ip6)
{
	router_addr.has4 = false;
	router_addr.has6 = false;
	if (ip4 != NULL) {
		memcpy(&router_addr.ip4, ip4, 4);
		router_addr.has4 = true;
	}
	if (ip6 != NULL) {
		memcpy(router_addr.ip6, ip6, 16);
		router_addr.has6 = true;
	}
}

/* The source of an error about m: the address of the interface m came in
 * on (the port's, or its VLAN or macvlan sub-interface's), else the
 * router's own. False when there is none. */
static bool
source_of(const struct rte_mbuf *m, const struct rte_ether_hdr *eth, int family, uint8_t *out)
{
	const struct fp_port_state *ps = &fp_ports[m->port];
	const struct fp_iif *e = fp_iif_entry(m, eth);
	if (e == NULL && family == 4 && ps->has4) {
		memcpy(out, &ps->ip4, 4);
		return true;
	}
	if (e == NULL && family == 6 && ps->has6) {
		memcpy(out, ps->ip6, 16);
		return true;
	}
	if (e != NULL) {
		const struct fp_ifaddrs *a = atomic_load_explicit(&ps->ifaddrs, memory_order_acquire);
		for (uint32_t i = 0; a != NULL && i < a->n; i++)
			if (a->e[i].iif == e->iif && a->e[i].family == family) {
				memcpy(out, a->e[i].addr, family == 4 ? 4 : 16);
				return true;
			}
	}
	if (family == 4 && router_addr.has4) {
		memcpy(out, &router_addr.ip4, 4);
		return true;
	}
	if (family == 6 && router_addr.has6) {
		memcpy(out, router_addr.ip6, 16);
		return true;
	}
	return false;
}

/* A new frame of l3len bytes back to m's sender, out of m's port, from the
 * MAC it was sent to (the port's or a macvlan's): the Ethernet header is
 * filled in, the rest is the caller's. */
static struct rte_ether_hdr *
reply_frame(const struct rte_mbuf *m, uint16_t ethertype, uint32_t l3len, struct rte_mbuf **out)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	struct rte_mbuf *r = rte_pktmbuf_alloc(fp_pool);
	if (r == NULL)
		return NULL;
	struct rte_ether_hdr *re = (void *)rte_pktmbuf_append(r, sizeof(*re) + l3len);
	if (re == NULL) {
		rte_pktmbuf_free(r);
		return NULL;
	}
	rte_ether_addr_copy(&eth->src_addr, &re->dst_addr);
	rte_ether_addr_copy(&eth->dst_addr, &re->src_addr);
	re->ether_type = rte_cpu_to_be_16(ethertype);
	*out = r;
	return re;
}

/* Is an error about this IPv4 packet due at all? RFC 1812 4.3.2.7: never
 * about an ICMP error, a non-first fragment, or a packet whose source is
 * not a single host. */
static bool
due4(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, const struct icmp_kind *k)
{
	if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK))
		return false;
	uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
	uint32_t avail = (uint32_t)rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN;
	if (ip->next_proto_id == IPPROTO_ICMP) {
		const uint8_t *icmp = (const uint8_t *)ip + ihl;
		if (ihl + 1 > avail)
			return false;
		uint8_t t = icmp[0];
		if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12)
			return false;
	}
	if (ip->src_addr == 0)
		return false;
	/* RFC 1812 5.2.7.1: "fragmentation needed" only for DF packets (the
	 * others would be fragmented by a router that fragments; fibd drops
	 * them, counted as mtu_exceeded). */
	if (k->mtu && !(ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)))
		return false;
	return true;
}

static struct rte_mbuf *
reply4(struct fp_wctx *w, struct rte_mbuf *m, const struct icmp_kind *k, uint16_t mtu, const uint8_t *from)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const void *)(eth + 1);
	uint32_t avail = (uint32_t)rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN;
	uint32_t quote = RTE_MIN(avail, RTE_MIN((uint32_t)rte_be_to_cpu_16(ip->total_length),
						(uint32_t)ICMP4_MAX_QUOTE));
	struct rte_mbuf *r;
	struct rte_ether_hdr *re = reply_frame(m, RTE_ETHER_TYPE_IPV4, 20 + 8 + quote, &r);
	if (re == NULL) {
		w->st.icmp_alloc_failed++;
		return NULL;
	}
	struct rte_ipv4_hdr *ri = (void *)(re + 1);
	memset(ri, 0, sizeof(*ri));
	ri->version_ihl = 0x45;
	ri->total_length = rte_cpu_to_be_16(20 + 8 + quote);
	ri->time_to_live = 64;
	ri->next_proto_id = IPPROTO_ICMP;
	memcpy(&ri->src_addr, from, 4);
	ri->dst_addr = ip->src_addr;
	ri->hdr_checksum = rte_ipv4_cksum(ri);
	uint8_t *icmp = (uint8_t *)(ri + 1);
	memset(icmp, 0, 8);
	icmp[0] = k->type4;
	icmp[1] = k->code4;
	if (k->mtu) { /* RFC 1191: next-hop MTU in the low half */
		icmp[6] = mtu >> 8;
		icmp[7] = mtu & 0xff;
	}
	memcpy(icmp + 8, ip, quote);
	uint16_t ck = fold(rte_raw_cksum(icmp, 8 + quote)); /* stored as summed: byte order works out */
	memcpy(icmp + 2, &ck, 2);
	return r;
}

/* Is an error about this IPv6 packet due at all? RFC 4443 2.4(e): never
 * about an ICMPv6 error message, wherever its header sits in the chain of
 * extension headers (RFC 8200 4); nor about a non-first fragment, or a
 * packet whose chain cannot be read, whose upper layer it cannot tell. */
static bool
due6(const struct rte_mbuf *m, const struct rte_ipv6_hdr *ip)
{
	static const uint8_t zero[16];
	if (memcmp(ip->src_addr, zero, 16) == 0)
		return false;
	const uint8_t *p = (const uint8_t *)ip;
	uint32_t avail = RTE_MIN((uint32_t)rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN,
				 (uint32_t)rte_be_to_cpu_16(ip->payload_len) + sizeof(*ip));
	uint8_t nh = ip->proto;
	uint32_t off = sizeof(*ip);
	for (int i = 0; i < 8; i++) {
		switch (nh) {
		case 0:  /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
			if (off + 2 > avail)
				return false;
			nh = p[off];
			off += (p[off + 1] + 1u) * 8;
			break;
		case 44: /* fragment */
			if (off + 8 > avail)
				return false;
			if (((p[off + 2] << 8 | p[off + 3]) & 0xfff8) != 0)
				return false;
			nh = p[off];
			off += 8;
			break;
		case 51: /* authentication header */
			if (off + 2 > avail)
				return false;
			nh = p[off];
			off += (p[off + 1] + 2u) * 4;
			break;
		case IPPROTO_ICMPV6:
			return off + 1 <= avail && p[off] >= 128;
		default:
			return true;
		}
	}
	return false; /* a chain this long is not worth an answer */
}

static struct rte_mbuf *
reply6(struct fp_wctx *w, struct rte_mbuf *m, const struct icmp_kind *k, uint16_t mtu, const uint8_t *from)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv6_hdr *ip = (const void *)(eth + 1);
	uint32_t avail = (uint32_t)rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN;
	uint32_t quote = RTE_MIN(avail, RTE_MIN((uint32_t)rte_be_to_cpu_16(ip->payload_len) + 40,
						(uint32_t)ICMP6_MAX_QUOTE));
	struct rte_mbuf *r;
	struct rte_ether_hdr *re = reply_frame(m, RTE_ETHER_TYPE_IPV6, 40 + 8 + quote, &r);
	if (re == NULL) {
		w->st.icmp_alloc_failed++;
		return NULL;
	}
	struct rte_ipv6_hdr *ri = (void *)(re + 1);
	memset(ri, 0, sizeof(*ri));
	ri->vtc_flow = RTE_BE32(6u << 28);
	ri->payload_len = rte_cpu_to_be_16(8 + quote);
	ri->proto = IPPROTO_ICMPV6;
	ri->hop_limits = 64;
	memcpy(ri->src_addr, from, 16);
	memcpy(ri->dst_addr, ip->src_addr, 16);
	uint8_t *icmp = (uint8_t *)(ri + 1);
	memset(icmp, 0, 8);
	icmp[0] = k->type6;
	icmp[1] = k->code6;
	if (k->mtu) { /* RFC 4443 3.2: the MTU, 32 bits */
		icmp[6] = mtu >> 8;
		icmp[7] = mtu & 0xff;
	}
	memcpy(icmp + 8, ip, quote);
	/* checksum over the pseudo-header (RFC 8200 8.1) and the message */
	uint16_t ck = fold(rte_ipv6_phdr_cksum(ri, 0) + rte_raw_cksum(icmp, 8 + quote));
	memcpy(icmp + 2, &ck, 2);
	return r;
}

struct rte_mbuf *
fp_icmp_error(struct fp_wctx *w, struct rte_mbuf *m, uint16_t reason, uint16_t egress)
{
	struct icmp_kind k;
	if (!kind_of(reason, &k))
		return NULL;
	if (rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN || m->port >= FP_MAX_PORTS)
		return NULL;
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	/* never to a link-layer broadcast or multicast sender; RFC 1812
	 * 4.3.2.7: never about a frame that was not sent to the router's own
	 * unicast MAC (another host's frame, or link-layer broadcast) */
	if (rte_is_multicast_ether_addr(&eth->src_addr) || rte_is_multicast_ether_addr(&eth->dst_addr) ||
	    !fp_l2_ours(m, eth))
		return NULL;
	/* decide first, then spend a token: packets that get no error must
	 * not use up the budget of those that do */
	uint8_t from[16];
	int family;
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		if (!due4(m, (const void *)(eth + 1), &k))
			return NULL;
		family = 4;
	} else if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
		if (!due6(m, (const void *)(eth + 1)))
			return NULL;
		family = 6;
	} else {
		return NULL;
	}
	if (!source_of(m, eth, family, from))
		return NULL;
	if (!ratelimit_ok(w)) {
		w->st.icmp_ratelimited++;
		return NULL;
	}
	uint16_t mtu = egress < FP_MAX_PORTS ? fp_ports[egress].mtu : 0;
	struct rte_mbuf *r = family == 4 ? reply4(w, m, &k, mtu, from) : reply6(w, m, &k, mtu, from);
	if (r != NULL)
		w->st.icmp_sent++;
	return r;
}
