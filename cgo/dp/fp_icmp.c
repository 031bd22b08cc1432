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

/* A new frame of l3len bytes back to m's sender, out of m's port: the
 * Ethernet header is filled in, the rest is the caller's. */
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
	rte_ether_addr_copy(&fp_ports[m->port].mac, &re->src_addr);
	re->ether_type = rte_cpu_to_be_16(ethertype);
	*out = r;
	return re;
}

static struct rte_mbuf *
reply4(struct rte_mbuf *m, const struct icmp_kind *k, uint16_t mtu)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const void *)(eth + 1);
	uint16_t in = m->port;
	/* RFC 1812 4.3.2.7: never about an ICMP error, a non-first fragment,
	 * or a packet whose source is not a single host. */
	if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK))
		return NULL;
	uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
	uint32_t avail = (uint32_t)rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN;
	if (ip->next_proto_id == IPPROTO_ICMP) {
		const uint8_t *icmp = (const uint8_t *)ip + ihl;
		if (ihl + 1 > avail)
			return NULL;
		uint8_t t = icmp[0];
		if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12)
			return NULL;
	}
	if (ip->src_addr == 0 || !fp_ports[in].has4)
		return NULL;
	/* RFC 1812 5.2.7.1: "fragmentation needed" only for DF packets (the
	 * others would be fragmented by a router that fragments; fibd drops
	 * them, counted as mtu_exceeded). */
	if (k->mtu && !(ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)))
		return NULL;
	uint32_t quote = RTE_MIN(avail, RTE_MIN((uint32_t)rte_be_to_cpu_16(ip->total_length),
						(uint32_t)ICMP4_MAX_QUOTE));
	struct rte_mbuf *r;
	struct rte_ether_hdr *re = reply_frame(m, RTE_ETHER_TYPE_IPV4, 20 + 8 + quote, &r);
	if (re == NULL)
		return NULL;
	struct rte_ipv4_hdr *ri = (void *)(re + 1);
	memset(ri, 0, sizeof(*ri));
	ri->version_ihl = 0x45;
	ri->total_length = rte_cpu_to_be_16(20 + 8 + quote);
	ri->time_to_live = 64;
	ri->next_proto_id = IPPROTO_ICMP;
	ri->src_addr = fp_ports[in].ip4;
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

static struct rte_mbuf *
reply6(struct rte_mbuf *m, const struct icmp_kind *k, uint16_t mtu)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv6_hdr *ip = (const void *)(eth + 1);
	uint16_t in = m->port;
	uint32_t avail = (uint32_t)rte_pktmbuf_data_len(m) - RTE_ETHER_HDR_LEN;
	/* RFC 4443 2.4(e): never about an ICMPv6 error message. */
	if (ip->proto == IPPROTO_ICMPV6) {
		const uint8_t *icmp = (const uint8_t *)(ip + 1);
		if (sizeof(*ip) + 1 > avail || icmp[0] < 128)
			return NULL;
	}
	static const uint8_t zero[16];
	if (memcmp(ip->src_addr, zero, 16) == 0 || !fp_ports[in].has6)
		return NULL;
	uint32_t quote = RTE_MIN(avail, RTE_MIN((uint32_t)rte_be_to_cpu_16(ip->payload_len) + 40,
						(uint32_t)ICMP6_MAX_QUOTE));
	struct rte_mbuf *r;
	struct rte_ether_hdr *re = reply_frame(m, RTE_ETHER_TYPE_IPV6, 40 + 8 + quote, &r);
	if (re == NULL)
		return NULL;
	struct rte_ipv6_hdr *ri = (void *)(re + 1);
	memset(ri, 0, sizeof(*ri));
	ri->vtc_flow = RTE_BE32(6u << 28);
	ri->payload_len = rte_cpu_to_be_16(8 + quote);
	ri->proto = IPPROTO_ICMPV6;
	ri->hop_limits = 64;
	memcpy(ri->src_addr, fp_ports[in].ip6, 16);
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
	/* never to a link-layer broadcast or multicast sender */
	if (rte_is_multicast_ether_addr(&eth->src_addr))
		return NULL;
	uint16_t mtu = egress < FP_MAX_PORTS ? fp_ports[egress].mtu : 0;
	if (!ratelimit_ok(w)) {
		w->st.icmp_ratelimited++;
		return NULL;
	}
	struct rte_mbuf *r = NULL;
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4))
		r = reply4(m, &k, mtu);
	else if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6))
		r = reply6(m, &k, mtu);
	if (r != NULL)
		w->st.icmp_sent++;
	return r;
}
