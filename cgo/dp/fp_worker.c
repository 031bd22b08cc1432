/* Worker lcores: rx burst -> checks -> bulk FIB lookup -> nexthop/ECMP ->
 * L2 rewrite and TTL -> buffered tx. No locks, no syscalls (unless idle
 * back-off is configured), no logging. */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_arp.h>

#include "fp.h"
#include "fp_exc.h"
#include "fp_fib.h"
#include "fp_ajb_dp.h"
#include "fp_icmp.h"
#include "fp_nh.h"
#include "fp_pkt.h"
#include "fp_ports.h"
#include "fp_punt.h"
#include "fp_rcu.h"
#include "fp_rules.h"
#include "fp_workers.h"

/* Packets ahead of the one being parsed whose first line is prefetched. */
#define FP_PREFETCH 4
/* Empty polls in a row before an idle worker may sleep. */
#define FP_IDLE_POLLS 256

/* The registry. fp_workers[] and fp_n_workers are written by fp_worker_add
 * (control thread, workers stopped) and read by the control calls below;
 * fp_workers_cap by fp_dp_init; running by launch and stop (atomic). */
static struct fp_wctx *fp_workers[FP_MAX_WORKERS];
static unsigned int fp_n_workers, fp_workers_cap;
static _Atomic bool running;
static _Atomic uint32_t idle_sleep_us;
/* Ports every worker may transmit on, and those among them to tx_poll(). */
static uint16_t tx_ports[FP_MAX_PORTS];
static uint16_t n_tx_ports;
static uint16_t poll_ports[FP_MAX_PORTS];
static uint16_t n_poll_ports;

static const char *const drop_names[] = {
#define FP_X_NAME(e, name, doc) [FP_DROP_##e] = name,
	FP_DROP_REASONS(FP_X_NAME)
#undef FP_X_NAME
};

const char *
fp_drop_name(unsigned int reason)
{
	return reason < FP_DROP_MAX ? drop_names[reason] : NULL;
}

/* Punt to the exception interface of port, if it has one. */
static inline uint16_t
punt_to(uint16_t port, uint16_t *exc, uint16_t otherwise)
{
	const struct fp_port_state *ps = &fp_ports[port];
	if (!ps->has_exc)
		return otherwise;
	*exc = ps->exc;
	return FP_V_PUNT;
}

/* First half of the nexthop decision, before TTL: is this a route we
 * forward on at all? Order follows RFC 1812 5.3.1: packets for the router
 * itself are delivered whatever their TTL. */
static inline uint16_t
nh_route_verdict(const struct rte_mbuf *m, uint32_t idx, const struct fp_nh **out, uint16_t *oport)
{
	if (idx == FP_NH_MISS)
		return FP_DROP_NO_ROUTE;
	if (unlikely(idx >= FP_MAX_NEXTHOPS)) /* never stored: a torn or corrupt entry */
		return FP_DROP_NH_INVALID;
	const struct fp_nh *nh = fp_nh_load(idx);
	if (unlikely(nh == NULL))
		return FP_DROP_NH_INVALID;
	*out = nh;
	/* the common case by one compare: the switch's jump table added a
	 * load and an indirect branch to every packet's dependent chain */
	_Static_assert(FP_NH_ECMP == FP_NH_FORWARD + 1 && FP_NH_UNRESOLVED == FP_NH_FORWARD + 2,
		       "the forwarding kinds are contiguous");
	if (likely((unsigned)nh->type - FP_NH_FORWARD <= FP_NH_UNRESOLVED - FP_NH_FORWARD))
		return FP_V_FORWARD;
	switch (nh->type) {
	case FP_NH_LOCAL: /* the kernel's own address: in by the port it came from */
		return punt_to(m->port, oport, FP_DROP_LOCAL);
	case FP_NH_PUNT:  /* a router_device's subnet */
		return punt_to(nh->port, oport, FP_DROP_LOCAL);
	case FP_NH_BLACKHOLE:
		return FP_DROP_BLACKHOLE;
	case FP_NH_UNREACHABLE:
		return FP_DROP_UNREACHABLE;
	case FP_NH_PROHIBIT:
		return FP_DROP_PROHIBIT;
	case FP_NH_THROW: /* ip rules saw it first: here the table is all there is */
		return FP_DROP_NO_ROUTE;
	}
	return FP_DROP_NH_INVALID;
}

static inline bool
member_down(const struct fp_nh *m)
{
	return m != NULL && atomic_load_explicit(&fp_ports[m->port].link_down, memory_order_relaxed);
}

/* The ECMP member of a flow. A member whose port's link is down is
 * skipped at once (fast local failover, before any route changes): the
 * flow takes the next bucket whose member's link is up, so flows on live
 * members stay where they are. With no live member the first pick stands:
 * the routing daemon's update decides, as in the kernel. */
static inline const struct fp_nh *
ecmp_pick(const struct fp_nh *g, uint32_t hash)
{
	uint32_t b = fp_bucket(hash, g->n_buckets);
	const struct fp_nh *m = fp_nh_load(g->buckets[b]);
	if (likely(!member_down(m)))
		return m;
	for (uint32_t i = 1; i < g->n_buckets; i++) {
		uint32_t j = b + i < g->n_buckets ? b + i : b + i - g->n_buckets;
		const struct fp_nh *x = fp_nh_load(g->buckets[j]);
		if (x != NULL && !member_down(x))
			return x;
	}
	return m;
}

/* Second half: the neighbour to send to. ECMP members are chosen by flow
 * hash, computed only for ECMP routes. A packet whose neighbour is not
 * resolved yet goes to the kernel, which resolves it, queues the packet
 * and sends it through the exception interface: none is lost meanwhile. */
static inline uint16_t
nh_neighbour(const struct rte_mbuf *m, const struct fp_nh **nhp, uint32_t hash, uint16_t *oport)
{
	const struct fp_nh *nh = *nhp;
	if (nh->type == FP_NH_ECMP) {
		nh = ecmp_pick(nh, hash);
		if (unlikely(nh == NULL))
			return FP_DROP_NH_INVALID;
		*nhp = nh;
	}
	if (nh->type == FP_NH_UNRESOLVED) {
		uint16_t v = fp_ports[m->port].has_exc ? punt_to(m->port, oport, 0)
						       : punt_to(nh->port, oport, FP_DROP_NEIGH_UNRESOLVED);
		return v == FP_V_PUNT ? FP_V_GLEAN : v;
	}
	if (unlikely(nh->type != FP_NH_FORWARD))
		return FP_DROP_NH_INVALID;
	return FP_V_FORWARD;
}

static inline void
l2_rewrite(struct rte_ether_hdr *eth, const struct fp_nh *nh)
{
	rte_ether_addr_copy(&nh->dst, &eth->dst_addr);
	rte_ether_addr_copy(&fp_ports[nh->port].mac, &eth->src_addr);
}

/* RFC 1812 5.3.4 and 4.3.2.7: a frame received as link-layer broadcast or
 * multicast is punted when a punt route takes it, but neither forwarded
 * nor answered with an ICMP error. (Frames to another host's MAC never get
 * this far: the burst loop drops them first.) */
static inline uint16_t
l2_multicast(const struct rte_ether_hdr *eth, uint16_t v)
{
	if (unlikely(rte_is_multicast_ether_addr(&eth->dst_addr)) && v != FP_V_PUNT)
		return FP_DROP_L2_BROADCAST;
	return v;
}

/* The rules' iif of m: its port, or the interface iif_entry() names. */
static inline uint16_t
iif_of(const struct rte_mbuf *m)
{
	const struct fp_iif *e = fp_iif_entry(m, rte_pktmbuf_mtod(m, const struct rte_ether_hdr *));
	return e != NULL ? e->iif : m->port;
}

/* Frames may carry Ethernet padding or trailing bytes beyond the IP
 * datagram: they leave without them. */
static inline void
trim_to(struct rte_mbuf *m, uint32_t l3len)
{
	uint32_t want = RTE_ETHER_HDR_LEN + l3len;
	if (unlikely(rte_pktmbuf_pkt_len(m) > want))
		rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - want);
}

/* A nexthop on a VLAN sub-interface tags the frame on its way out. */
static inline uint16_t
vlan_tag(struct rte_mbuf *m, uint16_t vid)
{
	if (likely(vid == 0))
		return FP_V_FORWARD;
	m->vlan_tci = vid;
	return rte_vlan_insert(&m) == 0 ? FP_V_FORWARD : FP_DROP_NH_INVALID;
}

/* Forward a packet the checks passed. unicast: it was sent to the port's
 * own MAC and to a unicast IP address (the burst loop's plain lane), so
 * neither multicast rule below can apply. */
static inline uint16_t
forward4(struct rte_mbuf *m, uint32_t idx, uint16_t *oport, bool unicast)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	const struct fp_nh *nh = NULL;

	uint16_t v = nh_route_verdict(m, idx, &nh, oport);
	if (likely(unicast)) {
		if (unlikely(v != FP_V_FORWARD))
			return v;
	} else {
		/* Multicast reaches the lookup only on ports with an exception
		 * interface, and only a punt route (OSPF's 224.0.0.5/6) takes it. */
		if (unlikely(((const uint8_t *)&ip->dst_addr)[0] >= 224) && v != FP_V_PUNT)
			return FP_DROP_IP4_MULTICAST;
		if (unlikely((v = l2_multicast(eth, v)) != FP_V_FORWARD))
			return v;
	}
	if (unlikely(ip->time_to_live <= 1))
		return FP_DROP_IP4_TTL_EXCEEDED;
	v = nh_neighbour(m, &nh, nh->type == FP_NH_ECMP ? fp_hash4(m, ip) : 0, oport);
	if (v != FP_V_FORWARD)
		return v;
	uint16_t l3len = rte_be_to_cpu_16(ip->total_length);
	*oport = nh->port; /* also tells an MTU error which MTU to report */
	if (unlikely(l3len > fp_ports[nh->port].mtu))
		return FP_DROP_MTU_EXCEEDED;
	trim_to(m, l3len);
	l2_rewrite(eth, nh);
	fp_ip4_ttl_dec(ip);
	*oport = nh->port;
	return vlan_tag(m, nh->vlan);
}

static inline uint16_t
forward6(struct rte_mbuf *m, uint32_t idx, uint16_t *oport, bool unicast)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	const struct fp_nh *nh = NULL;

	uint16_t v = nh_route_verdict(m, idx, &nh, oport);
	if (likely(unicast)) {
		if (unlikely(v != FP_V_FORWARD))
			return v;
	} else {
		if (unlikely(ip->dst_addr[0] == 0xff) && v != FP_V_PUNT)
			return FP_DROP_IP6_MULTICAST;
		if (unlikely((v = l2_multicast(eth, v)) != FP_V_FORWARD))
			return v;
	}
	if (unlikely(ip->hop_limits <= 1))
		return FP_DROP_IP6_HOP_LIMIT_EXCEEDED;
	v = nh_neighbour(m, &nh, nh->type == FP_NH_ECMP ? fp_hash6(m, ip) : 0, oport);
	if (v != FP_V_FORWARD)
		return v;
	uint32_t l3len = rte_be_to_cpu_16(ip->payload_len) + sizeof(*ip);
	*oport = nh->port;
	if (unlikely(l3len > fp_ports[nh->port].mtu))
		return FP_DROP_MTU_EXCEEDED;
	trim_to(m, l3len);
	l2_rewrite(eth, nh);
	ip->hop_limits--;
	*oport = nh->port;
	return vlan_tag(m, nh->vlan);
}

/* The nexthops of one burst, resolved once: most packets of a burst go
 * through a few nexthops, and for each packet the chain index -> object ->
 * type -> port is the forwarding step's longest. A slot holds a plain
 * forwarding nexthop (one neighbour, untagged) as the packet needs it: the
 * egress port, its MTU, and the frame's new destination and source MAC.
 * It lives on the stack of one fp_route_burst call, inside the worker's
 * read-side section, and holds copies, never pointers. A nexthop, port
 * MTU or MAC changed meanwhile is seen from the next burst on by the
 * packets it serves (before, from the next packet): RCU lets a reader
 * see the old or the new version, and a burst is a few microseconds. */
#define FWD_SLOTS 8 /* direct-mapped by index */
struct fwd_slot {
	uint32_t idx;      /* FP_NH_MISS: empty (and MTU 0) */
	uint16_t port, mtu;
	uint8_t hdr[12];   /* destination and source MAC */
};

/* The slot of nexthop idx, filled on first use. A slot of anything but a
 * plain forwarding nexthop (no route, ECMP, punt, a drop) has MTU 0: no
 * packet fits it, so forward4/6 take those, at the cost of one compare. */
static inline const struct fwd_slot *
fwd_slot_of(struct fwd_slot *slot, uint32_t idx)
{
	struct fwd_slot *f = &slot[idx % FWD_SLOTS];
	if (likely(f->idx == idx))
		return f;
	f->idx = idx;
	f->mtu = 0;
	if (unlikely(idx >= FP_MAX_NEXTHOPS))
		return f;
	const struct fp_nh *nh = fp_nh_load(idx);
	if (nh == NULL || nh->type != FP_NH_FORWARD || nh->vlan != 0)
		return f;
	const struct fp_port_state *ps = &fp_ports[nh->port];
	f->port = nh->port;
	f->mtu = ps->mtu;
	memcpy(f->hdr, &nh->dst, 6);
	memcpy(f->hdr + 6, &ps->mac, 6);
	return f;
}

/* 802.1Q at ingress, made what the wire carried and what the kernel makes
 * of it, before anything reads the frame:
 *  - a PMD that reports a tag as stripped may have put it back in the frame
 *    too (DPDK 22.11's af_packet does so unless VLAN stripping was asked
 *    for): the frame carries its tag, the flag goes; a tag that really was
 *    taken off is put back, so that the one rule below sees every tag;
 *  - a priority tag (VID 0, IEEE 802.1Q's priority-tagged frame) is no
 *    VLAN: Linux takes the frame as the port's own, untagged, and so do we.
 * Afterwards RTE_MBUF_F_RX_VLAN_STRIPPED means one thing only: fibd took
 * off the tag of a mirrored sub-interface (vlan_known). False: the tag
 * could not be put back (no headroom), the frame is dropped. */
static inline bool
vlan_ingress(struct rte_mbuf **mp)
{
	struct rte_mbuf *m = *mp;
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (unlikely(m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED)) {
		const struct rte_vlan_hdr *v = (const void *)(eth + 1);
		bool carried = eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN) &&
			       rte_pktmbuf_data_len(m) >= RTE_ETHER_HDR_LEN + sizeof(*v) &&
			       rte_be_to_cpu_16(v->vlan_tci) == m->vlan_tci;
		if (!carried && rte_vlan_insert(mp) != 0)
			return false;
		m = *mp;
		m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
		m->vlan_tci = 0;
		eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	}
	if (unlikely(eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN)) &&
	    rte_pktmbuf_data_len(m) >= RTE_ETHER_HDR_LEN + sizeof(struct rte_vlan_hdr)) {
		const struct rte_vlan_hdr *v = (const void *)(eth + 1);
		if ((rte_be_to_cpu_16(v->vlan_tci) & 0xfff) == 0) {
			rte_vlan_strip(m);
			m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
			m->vlan_tci = 0;
		}
	}
	return true;
}

/* A tagged frame of a mirrored VLAN sub-interface? */
static inline bool
vlan_known(const struct rte_mbuf *m)
{
	const struct fp_port_state *ps = &fp_ports[m->port];
	if (!ps->has_exc || rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN + 4 + 2)
		return false;
	const struct rte_vlan_hdr *v = rte_pktmbuf_mtod_offset(m, const void *, RTE_ETHER_HDR_LEN);
	uint16_t vid = rte_be_to_cpu_16(v->vlan_tci) & 0xfff;
	return (atomic_load_explicit(&ps->vlans[vid / 64], memory_order_relaxed) >> (vid % 64)) & 1;
}

/* ARP is punted when it asks for (or answers) an address of the router or
 * of a punted subnet, or announces its sender (gratuitous ARP); the kernel
 * behind the exception interface answers it and learns from it. */
static uint16_t
arp_verdict(const struct fp_wctx *w, const struct rte_mbuf *m, uint16_t *exc)
{
	const struct fp_port_state *ps = &fp_ports[m->port];
	if (!ps->has_exc)
		return FP_DROP_NON_IP;
	if (rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN + sizeof(struct rte_arp_hdr))
		return FP_DROP_ARP_INVALID;
	const struct rte_arp_hdr *a = rte_pktmbuf_mtod_offset(m, const void *, RTE_ETHER_HDR_LEN);
	if (a->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || a->arp_hlen != 6 || a->arp_plen != 4)
		return FP_DROP_ARP_INVALID;
	if (a->arp_data.arp_tip == a->arp_data.arp_sip)
		return punt_to(m->port, exc, FP_DROP_ARP_OTHER);
	const struct fp_table *t = &fp_tables[w->tidx];
	uint32_t tip = rte_be_to_cpu_32(a->arp_data.arp_tip);
	uint64_t idx;
	fp_table_lookup(t, 4, &tip, &idx, 1);
	const struct fp_nh *nh = idx >= FP_MAX_NEXTHOPS ? NULL : fp_nh_load((uint32_t)idx);
	if (nh != NULL && nh->type == FP_NH_LOCAL)
		return punt_to(m->port, exc, FP_DROP_ARP_OTHER);
	if (nh != NULL && nh->type == FP_NH_PUNT)
		return punt_to(nh->port, exc, FP_DROP_ARP_OTHER);
	return FP_DROP_ARP_OTHER;
}

/* An IPv6 packet of link-local or multicast scope (r says which check
 * stopped it), on a port with an exception interface: neighbour discovery
 * is punted, multicast is looked up (only a punt route such as OSPFv3's
 * ff02::5 takes it), link-local unicast to the port's MAC is for the
 * routing daemon. Returns FP_OK to look the packet up. */
static inline int
ip6_scoped(const struct rte_mbuf *m, const struct rte_ether_hdr *eth,
	   const struct rte_ipv6_hdr *ip, int r, uint16_t *exc)
{
	const struct fp_port_state *ps = &fp_ports[m->port];
	/* RFC 4861: RS, RA, NS, NA, redirect, with hop limit 255 */
	if (ip->proto == IPPROTO_ICMPV6 && ip->hop_limits == 255 &&
	    rte_pktmbuf_data_len(m) > RTE_ETHER_HDR_LEN + sizeof(*ip)) {
		uint8_t type = *(const uint8_t *)(ip + 1);
		if (type >= 133 && type <= 137)
			return punt_to(m->port, exc, r);
	}
	if (ip->dst_addr[0] == 0xff)
		return FP_OK;
	if (rte_is_same_ether_addr(&eth->dst_addr, &ps->mac))
		return punt_to(m->port, exc, r);
	return r;
}

/* The ip rules pick each packet's table: gather its iif and addresses and
 * let fp_rules_eval() decide; a rule that drops sets the verdict. */
static void
rules_lookup(const struct fp_ruleset *rs, int family, struct rte_mbuf **pkts, const uint16_t *at,
	     uint16_t n, uint64_t *nh, uint16_t *verdict)
{
	uint16_t iif[FP_BURST], drop[FP_BURST];
	uint8_t src[FP_BURST][16], dst[FP_BURST][16];
	for (uint16_t k = 0; k < n; k++) {
		const struct rte_mbuf *m = pkts[at[k]];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		iif[k] = iif_of(m);
		if (family == 4) {
			const struct rte_ipv4_hdr *ip = (const void *)(eth + 1);
			memcpy(src[k], &ip->src_addr, 4);
			memcpy(dst[k], &ip->dst_addr, 4);
		} else {
			const struct rte_ipv6_hdr *ip = (const void *)(eth + 1);
			memcpy(src[k], ip->src_addr, 16);
			memcpy(dst[k], ip->dst_addr, 16);
		}
	}
	fp_rules_eval(rs, family, n, iif, (const uint8_t (*)[16])src, (const uint8_t (*)[16])dst, nh, drop);
	for (uint16_t k = 0; k < n; k++) {
		if (!drop[k])
			continue;
		/* link-layer broadcast: neither forwarded nor answered */
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(pkts[at[k]], const struct rte_ether_hdr *);
		verdict[at[k]] = rte_is_multicast_ether_addr(&eth->dst_addr) ? FP_DROP_L2_BROADCAST : drop[k];
	}
}

/* Step 3 for one family's n packets of a burst (at: their places in the
 * burst, nh: their lookups, uni: came by the plain lane): plain packets
 * through the burst's nexthop slots, the rest, and those a slot cannot
 * take (TTL, MTU), through forward4/6, which give the exact reason. */
static __rte_always_inline void
forward_family(int family, struct rte_mbuf **pkts, const uint16_t *at, const uint64_t *nh,
	       const bool *uni, uint16_t n, struct fwd_slot *slot, uint16_t *verdict, uint16_t *oport)
{
	for (uint16_t k = 0; k < n; k++) {
		uint16_t i = at[k];
		if (unlikely(verdict[i] != FP_V_FORWARD))
			continue;
		struct rte_mbuf *m = pkts[i];
		uint32_t idx = (uint32_t)nh[k];
		const struct fwd_slot *f = fwd_slot_of(slot, idx);
		struct rte_ipv4_hdr *ip4 = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, RTE_ETHER_HDR_LEN);
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)ip4;
		uint32_t l3len = family == 4 ? rte_be_to_cpu_16(ip4->total_length)
					     : rte_be_to_cpu_16(ip6->payload_len) + sizeof(*ip6);
		if (likely(uni[k] && (family == 4 ? ip4->time_to_live : ip6->hop_limits) > 1 &&
			   l3len <= f->mtu)) {
			trim_to(m, l3len);
			memcpy(rte_pktmbuf_mtod(m, void *), f->hdr, sizeof(f->hdr));
			if (family == 4)
				fp_ip4_ttl_dec(ip4);
			else
				ip6->hop_limits--;
			oport[i] = f->port;
			continue;
		}
		verdict[i] = family == 4 ? forward4(m, idx, &oport[i], uni[k]) : forward6(m, idx, &oport[i], uni[k]);
	}
}

void
fp_route_burst(struct fp_wctx *w, struct rte_mbuf **pkts, uint16_t n,
	       uint16_t *verdict, uint16_t *oport)
{
	uint32_t ip4[FP_BURST];
	uint8_t ip6[FP_BURST][16];
	uint64_t nh4[FP_BURST], nh6[FP_BURST];
	uint16_t at4[FP_BURST], at6[FP_BURST];
	bool uni4[FP_BURST], uni6[FP_BURST]; /* came by the plain lane */
	uint16_t n4 = 0, n6 = 0;
	if (n == 0)
		return;

	/* The plain lane: an untagged IPv4 or IPv6 frame to the MAC of the
	 * port the burst came in by (a worker's bursts come from one port).
	 * It needs none of the link-layer cases below, and its address
	 * checks also rule out IP multicast: forward4/6 skip those rules. */
	const uint16_t in = pkts[0]->port;
	const struct rte_ether_addr *pm = &fp_ports[in].mac;
	/* a port MAC with the group bit (never set up so, but not ours to
	 * assume) leaves the lane to the full checks: no 48-bit MAC is ~0 */
	const uint64_t in_mac = rte_is_multicast_ether_addr(pm) ? UINT64_MAX : fp_mac48(pm);

	for (uint16_t i = 0; i < FP_PREFETCH && i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));

	/* 1. classify and check headers, gather destinations per family */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (i + FP_PREFETCH < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + FP_PREFETCH], void *));
		if (likely(m->port == in && rte_pktmbuf_data_len(m) >= RTE_ETHER_HDR_LEN &&
			   !(m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED))) {
			const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
			if (likely(fp_mac48(&eth->dst_addr) == in_mac)) {
				if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
					const struct rte_ipv4_hdr *ip = (const void *)(eth + 1);
					int r = fp_ip4_check(m, ip);
					if (likely(r == FP_OK)) {
						verdict[i] = FP_V_FORWARD;
						ip4[n4] = rte_be_to_cpu_32(ip->dst_addr);
						uni4[n4] = true;
						at4[n4++] = i;
						continue;
					}
					/* refused for good, as below; multicast may be punted */
					if (r != FP_DROP_IP4_MULTICAST) {
						verdict[i] = (uint16_t)r;
						continue;
					}
				} else if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
					const struct rte_ipv6_hdr *ip = (const void *)(eth + 1);
					int r = fp_ip6_check(m, ip);
					if (likely(r == FP_OK)) {
						verdict[i] = FP_V_FORWARD;
						memcpy(ip6[n6], ip->dst_addr, 16);
						uni6[n6] = true;
						at6[n6++] = i;
						continue;
					}
					/* refused for good, as below; scoped ones may be punted */
					if (r != FP_DROP_IP6_LINK_LOCAL && r != FP_DROP_IP6_MULTICAST) {
						verdict[i] = (uint16_t)r;
						continue;
					}
				}
			}
		}
		/* every other frame, and the plain lane's multicast and scoped
		 * ones (checked again here, for the exception interface) */
		if (unlikely(rte_pktmbuf_data_len(m) < RTE_ETHER_HDR_LEN)) {
			verdict[i] = FP_DROP_ETH_RUNT;
			continue;
		}
		if (unlikely(!vlan_ingress(&pkts[i]))) {
			verdict[i] = FP_DROP_VLAN;
			continue;
		}
		m = pkts[i];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		/* RFC 1812 5.3.4: another host's frame (ports are promiscuous)
		 * gets no route verdict, no punt and no ICMP error */
		if (unlikely(!rte_is_multicast_ether_addr(&eth->dst_addr) && !fp_l2_ours(m, eth))) {
			verdict[i] = FP_DROP_L2_OTHER_HOST;
			continue;
		}
		int r;
		if (unlikely(eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN)) && vlan_known(m)) {
			rte_vlan_strip(m); /* routed on its sub-interface; re-tagged if punted */
			eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		}
		switch (eth->ether_type) {
		case RTE_BE16(RTE_ETHER_TYPE_IPV4): {
			const struct rte_ipv4_hdr *ip = (const void *)(eth + 1);
			r = fp_ip4_check(m, ip);
			if (unlikely(r == FP_DROP_IP4_MULTICAST) && fp_ports[m->port].has_exc)
				r = FP_OK; /* forward4 punts it or drops it */
			if (r == FP_OK) {
				ip4[n4] = rte_be_to_cpu_32(ip->dst_addr);
				uni4[n4] = false;
				at4[n4++] = i;
			}
			break;
		}
		case RTE_BE16(RTE_ETHER_TYPE_IPV6): {
			const struct rte_ipv6_hdr *ip = (const void *)(eth + 1);
			r = fp_ip6_check(m, ip);
			if (unlikely(r == FP_DROP_IP6_LINK_LOCAL || r == FP_DROP_IP6_MULTICAST) &&
			    fp_ports[m->port].has_exc)
				r = ip6_scoped(m, eth, ip, r, &oport[i]);
			if (r == FP_OK) {
				memcpy(ip6[n6], ip->dst_addr, 16);
				uni6[n6] = false;
				at6[n6++] = i;
			}
			break;
		}
		case RTE_BE16(RTE_ETHER_TYPE_ARP):
			r = arp_verdict(w, m, &oport[i]);
			break;
		case RTE_BE16(RTE_ETHER_TYPE_VLAN):
		case RTE_BE16(RTE_ETHER_TYPE_QINQ):
			/* the manual: tagged frames reach the rib interface as they
			 * are, where the operator's VLAN interfaces take them */
			r = punt_to(m->port, &oport[i], FP_DROP_VLAN);
			break;
		default:
			r = FP_DROP_NON_IP;
			break;
		}
		verdict[i] = r == FP_OK ? FP_V_FORWARD : (uint16_t)r;
	}

	/* 2. one bulk lookup per family (fp_table_lookup: the active copy,
	 * or fibd's own table); or, with ip rules, the rules' lookups */
	const struct fp_table *t = &fp_tables[w->tidx];
	const struct fp_ruleset *rs4 = fp_rules_get(4);
	const struct fp_ruleset *rs6 = fp_rules_get(6);
	if (n4 && likely(rs4 == NULL))
		fp_table_lookup(t, 4, ip4, nh4, n4);
	else if (n4)
		rules_lookup(rs4, 4, pkts, at4, n4, nh4, verdict);
	if (n6 && likely(rs6 == NULL))
		fp_table_lookup(t, 6, ip6, nh6, n6);
	else if (n6)
		rules_lookup(rs6, 6, pkts, at6, n6, nh6, verdict);

	/* 3. nexthop, TTL, rewrite (a rule may have dropped some already):
	 * plain packets through the burst's resolved nexthops, the rest (and
	 * any the fast step declines) through forward4/6 */
	struct fwd_slot slot[FWD_SLOTS];
	for (unsigned j = 0; j < FWD_SLOTS; j++)
		slot[j] = (struct fwd_slot){.idx = FP_NH_MISS, .mtu = 0}; /* no route: MTU 0 */
	forward_family(4, pkts, at4, nh4, uni4, n4, slot, verdict, oport);
	forward_family(6, pkts, at6, nh6, uni6, n6, slot, verdict, oport);
}

static inline void
tx_flush(struct fp_wctx *w, uint16_t port)
{
	struct fp_txbuf *b = &w->tx[port];
	uint16_t sent = rte_eth_tx_burst(port, w->txq, b->pkts, b->n);
	w->st.tx += sent;
	if (unlikely(sent < b->n)) {
		w->st.drop[FP_DROP_TX_FULL] += b->n - sent;
		rte_pktmbuf_free_bulk(&b->pkts[sent], b->n - sent);
	}
	b->n = 0;
}

static inline void
tx_flush_all(struct fp_wctx *w)
{
	for (uint16_t i = 0; i < n_tx_ports; i++)
		if (w->tx[tx_ports[i]].n)
			tx_flush(w, tx_ports[i]);
}

/* Ports whose driver works inside tx bursts (802.3ad bonding sends its
 * LACPDUs there) get an empty burst every 10 ms. */
static inline void
tx_poll(struct fp_wctx *w)
{
	uint64_t now = rte_rdtsc();
	if (likely(now - w->tx_polled < rte_get_tsc_hz() / 100))
		return;
	w->tx_polled = now;
	for (uint16_t i = 0; i < n_poll_ports; i++)
		rte_eth_tx_burst(poll_ports[i], w->txq, NULL, 0);
}

static inline void
punt(struct fp_wctx *w, struct rte_mbuf *m, uint16_t exc, bool glean)
{
	if (unlikely(!fp_punt_police(&w->policer, m, exc, glean))) {
		w->st.drop[FP_DROP_PUNT_POLICED]++;
		rte_pktmbuf_free(m);
		return;
	}
	/* the kernel takes it on the VLAN sub-interface it came for */
	if ((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) && rte_vlan_insert(&m) != 0) {
		w->st.drop[FP_DROP_NH_INVALID]++;
		rte_pktmbuf_free(m);
		return;
	}
	m->hash.usr = exc;
	if (unlikely(rte_ring_sp_enqueue(w->punt, m) != 0)) {
		w->st.drop[FP_DROP_PUNT_QUEUE_FULL]++;
		rte_pktmbuf_free(m);
		return;
	}
	w->st.punted++;
}

/* Frames the exception thread took from the exception interfaces leave
 * their port (m->port) as they are, from this worker's tx queue. */
static inline void
inject(struct fp_wctx *w)
{
	struct rte_mbuf *pkts[FP_BURST];
	unsigned int n = rte_ring_sc_dequeue_burst(w->inject, (void **)pkts, FP_BURST, NULL);
	for (unsigned int i = 0; i < n; i++) {
		struct fp_txbuf *b = &w->tx[pkts[i]->port];
		b->pkts[b->n++] = pkts[i];
		if (b->n >= FP_BURST)
			tx_flush(w, pkts[i]->port);
	}
	w->st.injected += n;
}

/* The one place that acts on a verdict. */
static inline void
dispose(struct fp_wctx *w, struct rte_mbuf *m, uint16_t verdict, uint16_t port)
{
	switch (verdict) {
	case FP_V_PUNT:
		punt(w, m, port, false);
		break;
	case FP_V_GLEAN:
		punt(w, m, port, true);
		break;
	case FP_V_FORWARD: {
		struct fp_txbuf *b = &w->tx[port];
		w->st.forwarded++;
		b->pkts[b->n++] = m;
		if (b->n >= FP_BURST)
			tx_flush(w, port);
		break;
	}
	default: {
		w->st.drop[verdict]++;
		/* port: the egress port when known (MTU), else unset */
		struct rte_mbuf *r = fp_icmp_error(w, m, verdict, port);
		uint16_t in = m->port;
		if (r != NULL && (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED)) {
			r->vlan_tci = m->vlan_tci; /* back on the sub-interface */
			if (rte_vlan_insert(&r) != 0) {
				rte_pktmbuf_free(r);
				r = NULL;
			}
		}
		rte_pktmbuf_free(m);
		if (r != NULL) {
			struct fp_txbuf *b = &w->tx[in];
			b->pkts[b->n++] = r;
			if (b->n >= FP_BURST)
				tx_flush(w, in);
		}
		break;
	}
	}
}

/* dispose() over a burst. Forwarded packets, nearly all of them, go to
 * their port's tx buffer with the buffer's fill kept in a register while
 * a run of packets leaves by the same port, and are counted once per
 * burst: a counter or fill written back to memory for every packet makes
 * each packet wait for the last one's store. */
static inline void
dispose_burst(struct fp_wctx *w, struct rte_mbuf **pkts, const uint16_t *verdict,
	      const uint16_t *oport, uint16_t n)
{
	struct fp_txbuf *b = NULL;
	uint16_t port = 0, fill = 0;
	uint64_t forwarded = 0;
	for (uint16_t i = 0; i < n; i++) {
		if (unlikely(verdict[i] != FP_V_FORWARD)) {
			if (b != NULL) /* dispose() may buffer an ICMP error */
				b->n = fill;
			b = NULL;
			dispose(w, pkts[i], verdict[i], oport[i]);
			continue;
		}
		if (b == NULL || oport[i] != port) {
			if (b != NULL)
				b->n = fill;
			port = oport[i];
			b = &w->tx[port];
			fill = b->n;
		}
		b->pkts[fill++] = pkts[i];
		forwarded++;
		if (unlikely(fill >= FP_BURST)) {
			b->n = fill;
			tx_flush(w, port);
			fill = 0;
		}
	}
	if (b != NULL)
		b->n = fill;
	w->st.forwarded += forwarded;
}

static void
idle_backoff(struct fp_wctx *w, uint32_t *idle)
{
	uint32_t us = atomic_load_explicit(&idle_sleep_us, memory_order_relaxed);
	w->st.idle_polls++;
	if (us == 0 || ++*idle < FP_IDLE_POLLS)
		return;
	/* Offline while asleep, so a grace period never waits for us. */
	rte_rcu_qsbr_thread_offline(fp_qs, w->idx);
	rte_delay_us_sleep(us);
	rte_rcu_qsbr_thread_online(fp_qs, w->idx);
	w->st.sleeps++;
}

static int
worker_main(void *arg)
{
	struct fp_wctx *w = arg;
	struct rte_mbuf *pkts[FP_BURST];
	uint16_t verdict[FP_BURST], oport[FP_BURST];
	uint32_t idle = 0;

	rte_rcu_qsbr_thread_register(fp_qs, w->idx);
	rte_rcu_qsbr_thread_online(fp_qs, w->idx);

	while (atomic_load_explicit(&running, memory_order_relaxed)) {
		uint32_t got = 0;
		inject(w);
		for (uint16_t q = 0; q < w->n_rxq; q++) {
			uint16_t n = rte_eth_rx_burst(w->rxq[q].port, w->rxq[q].queue, pkts, FP_BURST);
			if (n == 0)
				continue;
			got += n;
			w->st.rx += n;
			if (unlikely(fp_ports[w->rxq[q].port].bond)) /* frames of the LAG, not its member */
				for (uint16_t i = 0; i < n; i++)
					pkts[i]->port = w->rxq[q].port;
			const struct fp_ajb_set *ajb = fp_ajb_active(); /* ajb_save_ip */
			if (unlikely(ajb != NULL))
				fp_ajb_rx(w->idx, ajb, pkts, n);
			fp_route_burst(w, pkts, n, verdict, oport);
			if (unlikely(ajb != NULL))
				fp_ajb_tx(w->idx, pkts, n, verdict);
			dispose_burst(w, pkts, verdict, oport, n);
		}
		tx_flush_all(w);
		if (unlikely(n_poll_ports))
			tx_poll(w);
		w->st.polls++;
		rte_rcu_qsbr_quiescent(fp_qs, w->idx);
		if (got == 0)
			idle_backoff(w, &idle);
		else
			idle = 0;
	}
	tx_flush_all(w);
	rte_rcu_qsbr_thread_offline(fp_qs, w->idx);
	rte_rcu_qsbr_thread_unregister(fp_qs, w->idx);
	return 0;
}

int
fp_dp_init(unsigned int nw)
{
	if (nw == 0 || nw > FP_MAX_WORKERS)
		return -EINVAL;
	int rc = fp_rcu_init(nw);
	if (rc < 0)
		return rc;
	fp_workers_cap = nw;
	fp_punt_init(nw);
	return 0;
}

int
fp_worker_add(const struct fp_worker_conf *c)
{
	if (fp_qs == NULL)
		return -EINVAL;
	if (fp_n_workers >= fp_workers_cap || c->n_rxq > RTE_DIM(c->rxq))
		return -ENOSPC;
	if (atomic_load(&running))
		return -EBUSY;
	struct fp_wctx *w = rte_zmalloc_socket("fp_worker", sizeof(*w), RTE_CACHE_LINE_SIZE,
					       rte_lcore_to_socket_id(c->lcore));
	if (w == NULL)
		return -ENOMEM;
	w->idx = fp_n_workers;
	w->lcore = c->lcore;
	w->txq = c->txq;
	w->n_rxq = c->n_rxq;
	memcpy(w->rxq, c->rxq, sizeof(c->rxq[0]) * c->n_rxq);
	w->tidx = 0;
	int rc = fp_exc_rings(w->idx, w->lcore, &w->punt, &w->inject);
	if (rc < 0) {
		rte_free(w);
		return rc;
	}
	fp_workers[fp_n_workers++] = w;
	return 0;
}

int
fp_workers_launch(void)
{
	if (fp_n_workers == 0)
		return -EINVAL;
	if (atomic_load(&running))
		return -EBUSY;
	n_tx_ports = n_poll_ports = 0;
	for (uint16_t p = 0; p < FP_MAX_PORTS; p++) {
		if (fp_ports[p].configured && !fp_ports[p].is_exc)
			tx_ports[n_tx_ports++] = p;
		if (fp_ports[p].configured && !fp_ports[p].is_exc && fp_ports[p].tx_poll)
			poll_ports[n_poll_ports++] = p;
	}
	/* Every worker owns its tx queue on every port it may send to. */
	for (unsigned int i = 0; i < fp_n_workers; i++)
		for (uint16_t p = 0; p < n_tx_ports; p++)
			if (fp_workers[i]->txq >= fp_ports[tx_ports[p]].n_txq)
				return -ERANGE;
	/* Under the control lock: a writer decides "nobody reads the table"
	 * from this flag while it holds the lock (fp_table_apply writes both
	 * copies at once then), so workers start only between writes. */
	fp_ctl_lock_take();
	atomic_store(&running, true);
	fp_ctl_lock_give();
	for (unsigned int i = 0; i < fp_n_workers; i++) {
		int rc = rte_eal_remote_launch(worker_main, fp_workers[i], fp_workers[i]->lcore);
		if (rc < 0) {
			fp_workers_stop();
			return rc;
		}
	}
	return 0;
}

bool
fp_workers_running(void)
{
	return atomic_load(&running);
}

int
fp_workers_stop(void)
{
	atomic_store(&running, false);
	int rc = 0;
	for (unsigned int i = 0; i < fp_n_workers; i++) {
		int r = rte_eal_wait_lcore(fp_workers[i]->lcore);
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

void
fp_set_idle_sleep_us(uint32_t us)
{
	atomic_store(&idle_sleep_us, us);
}

uint64_t
fp_worker_polls(unsigned int widx)
{
	return __atomic_load_n(&fp_workers[widx]->st.polls, __ATOMIC_RELAXED);
}

void
fp_workers_policed(unsigned int exc, uint64_t policed[FP_PUNT_CLASSES])
{
	for (unsigned int w = 0; w < fp_n_workers; w++)
		for (unsigned int c = 0; c < FP_PUNT_CLASSES; c++)
			policed[c] += fp_workers[w]->policer.policed[exc][c];
}

unsigned int
fp_worker_count(void)
{
	return fp_n_workers;
}

unsigned int
fp_workers_capacity(void)
{
	return fp_workers_cap;
}

int
fp_worker_stats(unsigned int widx, struct fp_worker_stats *st)
{
	if (widx >= fp_n_workers)
		return -ENOENT;
	/* 64-bit counters written by one lcore: aligned loads never tear. */
	memcpy(st, &fp_workers[widx]->st, sizeof(*st));
	return 0;
}

void
fp_stats_reset(void)
{
	for (unsigned int i = 0; i < fp_n_workers; i++)
		memset(&fp_workers[i]->st, 0, sizeof(fp_workers[i]->st));
}

int
fp_process_frames(uint16_t tidx, uint16_t in_port, uint8_t **frames, uint16_t *lens, uint32_t n,
		  uint32_t *verdict, uint16_t *port)
{
	static struct fp_wctx w;
	struct rte_mbuf *pkts[FP_BURST];
	uint16_t v[FP_BURST], op[FP_BURST];

	if (fp_pool == NULL || in_port >= FP_MAX_PORTS)
		return -ENODEV;
	if (tidx >= FP_MAX_TABLES)
		return -ENOENT;
	fp_ctl_lock_take();
	if (!fp_tables[tidx].used) {
		fp_ctl_lock_give();
		return -ENOENT;
	}
	w.tidx = tidx;
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i += FP_BURST) {
		uint16_t k = (uint16_t)RTE_MIN(n - i, (uint32_t)FP_BURST);
		if (rte_pktmbuf_alloc_bulk(fp_pool, pkts, k) < 0) {
			rc = -ENOBUFS;
			break;
		}
		for (uint16_t j = 0; j < k; j++) {
			char *d = rte_pktmbuf_append(pkts[j], lens[i + j]);
			if (d == NULL) {
				rc = -EMSGSIZE;
				break;
			}
			memcpy(d, frames[i + j], lens[i + j]);
			pkts[j]->port = in_port;
		}
		if (rc == 0) {
			fp_route_burst(&w, pkts, k, v, op);
			for (uint16_t j = 0; j < k; j++) {
				if (v[j] == FP_V_PUNT || v[j] == FP_V_GLEAN) {
					verdict[i + j] = v[j] == FP_V_PUNT ? FP_VERDICT_PUNT : FP_VERDICT_GLEAN;
					port[i + j] = op[j];
				} else if (v[j] == FP_V_FORWARD) {
					verdict[i + j] = FP_VERDICT_FORWARD;
					port[i + j] = op[j];
					lens[i + j] = rte_pktmbuf_data_len(pkts[j]);
					memcpy(frames[i + j], rte_pktmbuf_mtod(pkts[j], void *),
					       lens[i + j]);
				} else {
					verdict[i + j] = FP_VERDICT_DROP_BASE + v[j];
					port[i + j] = UINT16_MAX;
					/* build (and drop) the ICMP error a worker would
					 * send, so tests and the fuzzer exercise it */
					w.icmp_tokens = 1000;
					rte_pktmbuf_free(fp_icmp_error(&w, pkts[j], v[j], op[j]));
				}
			}
		}
		rte_pktmbuf_free_bulk(pkts, k);
	}
	fp_ctl_lock_give();
	return rc;
}
