/* Ports as the fast path sees them: MAC, MTU, queues, the exception
 * binding, VLANs, ingress interface ids, addresses and link state.
 * fp_port.c owns them and is their only writer. */
#ifndef FP_PORTS_H
#define FP_PORTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "fp.h"

/* Ingress interface identities of a port (immutable, RCU). */
struct fp_iif_map {
	uint32_t n;
	struct fp_iif e[];
};

/* Interface addresses and peers of a port (immutable, RCU), see
 * fp_port_set_ifaddrs(). */
struct fp_ifaddrs {
	uint32_t n;
	struct fp_ifaddr e[];
};

/* Per-port facts the fast path needs on every packet. */
struct fp_port_state {
	/* Set by fp_port_setup before the port carries traffic, read by
	 * workers without a lock. mtu and the addresses may also change
	 * while they run (fp_port_set_mtu, fp_port_set_addrs): a worker may
	 * see the change a burst late, or an ICMP error a mixed source
	 * address, never a crash. */
	struct rte_ether_addr mac;
	uint16_t mtu;
	bool configured;
	bool tx_poll;                 /* see fp_port_conf */
	bool bond;
	uint16_t n_txq;
	/* fibd's addresses on the port: the source of ICMP errors */
	bool has4, has6;
	rte_be32_t ip4;
	uint8_t ip6[16];
	/* the exception path, set through fp_port_bind_exc() and
	 * fp_port_mark_exc() while no worker and no exception thread runs */
	bool has_exc;                 /* punts go to exception exc */
	bool is_exc;                  /* this port is an exception interface */
	uint16_t exc;
	/* The rest changes while workers run: atomics, or RCU pointers
	 * replaced under the control lock (old objects retired). */
	/* VIDs of the mirrored VLAN sub-interfaces: routed, not punted */
	_Atomic uint64_t vlans[4096 / 64];
	/* macvlan MACs and VLAN sub-interfaces: the ingress interface ids */
	struct fp_iif_map *_Atomic iifs;
	/* addresses of the port's interfaces, and protocol peers */
	struct fp_ifaddrs *_Atomic ifaddrs;
	/* the link is down (the control plane's link watcher sets it): ECMP
	 * picks skip members on this port before any route changes */
	_Atomic bool link_down;
} __rte_cache_aligned;

/* Writer: fp_port.c only (the fp_port_* calls of fp.h and the two
 * exception-path setters below), under the rules in the struct. Readers:
 * workers, fp_icmp.c, fp_punt.c (ifaddrs), fp_nh.c and fp_exc.c (set-up
 * checks), fp_worker.c at launch. */
extern struct fp_port_state fp_ports[FP_MAX_PORTS];

/* The ingress interface entry of m: the macvlan it was sent to, or the
 * VLAN sub-interface of its (stripped) tag; NULL: the port itself. */
static inline const struct fp_iif *
fp_iif_entry(const struct rte_mbuf *m, const struct rte_ether_hdr *eth)
{
	const struct fp_iif_map *im = atomic_load_explicit(&fp_ports[m->port].iifs, memory_order_acquire);
	if (im == NULL)
		return NULL;
	bool tagged = m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED;
	uint16_t vid = m->vlan_tci & 0xfff;
	for (uint32_t i = 0; i < im->n; i++) {
		const struct fp_iif *e = &im->e[i];
		if (e->kind == FP_IIF_MAC ? memcmp(e->mac, &eth->dst_addr, 6) == 0 : tagged && e->vid == vid)
			return e;
	}
	return NULL;
}

/* Is the frame addressed to the router at L2: the port's MAC or one of its
 * macvlan interfaces' (RFC 1812 5.3.4)? Multicast is not asked here. */
static inline bool
fp_l2_ours(const struct rte_mbuf *m, const struct rte_ether_hdr *eth)
{
	if (likely(rte_is_same_ether_addr(&eth->dst_addr, &fp_ports[m->port].mac)))
		return true;
	const struct fp_iif_map *im = atomic_load_explicit(&fp_ports[m->port].iifs, memory_order_acquire);
	if (im == NULL)
		return false;
	for (uint32_t i = 0; i < im->n; i++)
		if (im->e[i].kind == FP_IIF_MAC && memcmp(im->e[i].mac, &eth->dst_addr, 6) == 0)
			return true;
	return false;
}

/* The packet pool of every port. Written once by fp_pool_create
 * (fp_port.c) before any port exists; read-only elsewhere (ICMP replies,
 * fp_process_frames). */
extern struct rte_mempool *fp_pool;

/* fp_exc.c's exception path on a port (only while neither the workers
 * nor the exception thread run): data port port punts to exception exc;
 * port is (or is no more) an exception interface, which workers neither
 * poll nor transmit on. */
void fp_port_bind_exc(uint16_t port, uint16_t exc);
void fp_port_mark_exc(uint16_t port, bool is_exc);

#endif /* FP_PORTS_H */
