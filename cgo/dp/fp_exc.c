#define _GNU_SOURCE
/* The exception thread: moves punted frames from the workers' punt rings
 * to the exception interfaces, and what the routing daemon sends on those
 * interfaces to the workers' inject rings. One thread serves all
 * exception interfaces; it is not an lcore (it shares the main lcore's CPU
 * with the control plane) and sleeps when there is nothing to move. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "fp_priv.h"

/* Ring sizes: a punt ring absorbs a burst of every class's policer depth,
 * an inject ring a burst of what the kernel may send at once. */
#define FP_PUNT_RING 2048
#define FP_INJECT_RING 1024
/* Idle passes before the exception thread naps, and the nap. */
#define FP_EXC_IDLE_PASSES 64
#define FP_EXC_NAP_US 100
/* ... and the pause after a pass that moved less than a burst */
#define FP_EXC_TRICKLE_US 20

struct fp_exc fp_excs[FP_MAX_PORTS];
unsigned int fp_n_excs;
struct fp_police_conf fp_police[FP_PUNT_CLASSES];

static pthread_t exc_thread;
static _Atomic bool exc_running;

int
fp_exc_attach(uint16_t port, uint16_t exc_port)
{
	if (port >= FP_MAX_PORTS || exc_port >= FP_MAX_PORTS || port == exc_port)
		return -EINVAL;
	if (!fp_ports[port].configured || !fp_ports[exc_port].configured)
		return -ENODEV;
	if (fp_ports[port].has_exc)
		return -EEXIST;
	if (fp_ports[port].is_exc || fp_ports[exc_port].has_exc || fp_ports[exc_port].is_exc)
		return -EINVAL;
	if (fp_workers_running() || atomic_load(&exc_running))
		return -EBUSY;
	unsigned int idx = fp_n_excs;
	struct fp_exc *e = &fp_excs[idx];
	memset(e, 0, sizeof(*e));
	e->port = port;
	e->exc_port = exc_port;
	e->cap_fd = -1;
	atomic_store(&e->cap_next, 0);
	fp_port_mark_exc(exc_port, true);
	fp_port_bind_exc(port, (uint16_t)idx);
	fp_n_excs = idx + 1;
	return (int)idx;
}

/* The exception interface of idx was made again (its netns was): the new
 * port takes the old one's place, or FP_EXC_NONE leaves idx without one
 * until it is (its punts are dropped and counted as to_exc_drop). Only
 * while the exception thread is stopped (it is the only reader of
 * exc_port); the workers only ever see the exception index, which does not
 * change. The old port's is_exc flag goes with it (it is closed, or its id
 * is the new port's). */
int
fp_exc_reattach(unsigned int idx, uint16_t exc_port)
{
	if (idx >= fp_n_excs || (exc_port >= FP_MAX_PORTS && exc_port != FP_EXC_NONE))
		return -EINVAL;
	struct fp_exc *e = &fp_excs[idx];
	if (exc_port != FP_EXC_NONE) {
		if (!fp_ports[exc_port].configured)
			return -ENODEV;
		if (exc_port == e->port || fp_ports[exc_port].has_exc ||
		    (fp_ports[exc_port].is_exc && exc_port != e->exc_port))
			return -EINVAL;
	}
	if (atomic_load(&exc_running))
		return -EBUSY;
	if (e->exc_port != FP_EXC_NONE)
		fp_port_mark_exc(e->exc_port, false);
	if (exc_port != FP_EXC_NONE)
		fp_port_mark_exc(exc_port, true);
	e->exc_port = exc_port;
	return 0;
}

int
fp_punt_set_rate(unsigned int cls, uint32_t pps, uint32_t burst)
{
	if (cls >= FP_PUNT_CLASSES)
		return -EINVAL;
	uint64_t hz = rte_get_tsc_hz();
	/* Each worker polices its own share of the rate. */
	unsigned int nw = fp_workers_cap ? fp_workers_cap : 1;
	uint64_t rate = ((uint64_t)pps << FP_POLICE_SHIFT) / hz / nw;
	if (pps != 0 && rate == 0)
		rate = 1;
	uint64_t depth = (uint64_t)RTE_MAX(burst / nw, 1u) << FP_POLICE_SHIFT;
	atomic_store(&fp_police[cls].rate, rate);
	atomic_store(&fp_police[cls].depth, pps ? depth : 0);
	return 0;
}

int
fp_exc_worker_init(struct fp_wctx *w)
{
	char name[RTE_RING_NAMESIZE];
	int socket = (int)rte_lcore_to_socket_id(w->lcore);

	snprintf(name, sizeof(name), "fp_punt_%u", w->idx);
	w->punt = rte_ring_create(name, FP_PUNT_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "fp_inject_%u", w->idx);
	w->inject = rte_ring_create(name, FP_INJECT_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (w->punt == NULL || w->inject == NULL) {
		rte_ring_free(w->punt);
		rte_ring_free(w->inject);
		w->punt = w->inject = NULL;
		return -ENOMEM;
	}
	return 0;
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

/* ---- capture --------------------------------------------------------------- */

static inline uint64_t
cap_pack(int fd, unsigned int dirs)
{
	return FP_CAP_PENDING | ((uint64_t)(dirs & 0xff) << 32) | (uint32_t)fd;
}

static inline int
cap_fd_of(uint64_t v)
{
	return (int)(uint32_t)v;
}

/* The exception thread (or fp_exc_stop, once the thread has ended) takes a
 * file handed over by fp_exc_capture(). */
static void
capture_take(struct fp_exc *e)
{
	uint64_t v = atomic_exchange(&e->cap_next, 0);
	if (!(v & FP_CAP_PENDING))
		return;
	if (e->cap_fd >= 0)
		close(e->cap_fd);
	e->cap_fd = cap_fd_of(v);
	e->cap_dirs = e->cap_fd >= 0 ? (unsigned int)(v >> 32) & 0xff : 0;
}

int
fp_exc_capture(unsigned int idx, int fd, unsigned int dirs)
{
	if (idx >= fp_n_excs)
		return -ENOENT;
	/* A handover the thread has not taken yet is replaced: its fd is
	 * closed here. The file in use is closed by the thread when it takes
	 * the new one. */
	uint64_t old = atomic_exchange(&fp_excs[idx].cap_next, cap_pack(fd, dirs));
	if ((old & FP_CAP_PENDING) && cap_fd_of(old) >= 0)
		close(cap_fd_of(old));
	return 0;
}

/* One pcap record (microsecond timestamps, little endian like the header
 * the control plane wrote), gathered from the mbuf's segments. */
static void
capture(struct fp_exc *e, const struct rte_mbuf *m, const struct timespec *ts)
{
	struct iovec iov[1 + 16];
	uint32_t hdr[4] = {(uint32_t)ts->tv_sec, (uint32_t)(ts->tv_nsec / 1000), 0, rte_pktmbuf_pkt_len(m)};
	int n = 1;
	uint32_t len = 0;
	for (const struct rte_mbuf *s = m; s != NULL && n < (int)RTE_DIM(iov); s = s->next) {
		iov[n].iov_base = rte_pktmbuf_mtod(s, void *);
		iov[n].iov_len = rte_pktmbuf_data_len(s);
		len += rte_pktmbuf_data_len(s);
		n++;
	}
	hdr[2] = len;
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	if (writev(e->cap_fd, iov, n) == (ssize_t)(sizeof(hdr) + len))
		e->captured++;
	else {
		/* a short write leaves the rest of the file unreadable: stop */
		e->cap_errors++;
		e->cap_dirs = 0;
	}
}

/* ---- the thread ------------------------------------------------------------ */

struct exc_buf {
	uint16_t n;
	struct rte_mbuf *pkts[FP_BURST];
};

static void
to_exc_flush(struct fp_exc *e, struct exc_buf *b)
{
	uint16_t sent = e->exc_port == FP_EXC_NONE ? 0 : rte_eth_tx_burst(e->exc_port, 0, b->pkts, b->n);
	e->to_exc += sent;
	if (sent < b->n) {
		e->to_exc_drop += b->n - sent;
		rte_pktmbuf_free_bulk(&b->pkts[sent], b->n - sent);
	}
	b->n = 0;
}

/* Punted frames, from every worker, to their exception interfaces. */
static uint32_t
drain_punts(struct exc_buf *bufs)
{
	struct rte_mbuf *pkts[FP_BURST];
	uint32_t moved = 0;

	for (unsigned int w = 0; w < fp_n_workers; w++) {
		struct rte_ring *r = fp_workers[w]->punt;
		unsigned int n = rte_ring_sc_dequeue_burst(r, (void **)pkts, FP_BURST, NULL);
		moved += n;
		for (unsigned int i = 0; i < n; i++) {
			uint32_t x = pkts[i]->hash.usr;
			if (unlikely(x >= fp_n_excs)) { /* cannot happen: workers check */
				rte_pktmbuf_free(pkts[i]);
				continue;
			}
			if (unlikely(fp_excs[x].cap_dirs & FP_CAP_TO_EXC)) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				capture(&fp_excs[x], pkts[i], &ts);
			}
			struct exc_buf *b = &bufs[x];
			b->pkts[b->n++] = pkts[i];
			if (b->n == FP_BURST)
				to_exc_flush(&fp_excs[x], b);
		}
	}
	for (unsigned int x = 0; x < fp_n_excs; x++)
		if (bufs[x].n)
			to_exc_flush(&fp_excs[x], &bufs[x]);
	return moved;
}

/* What the routing daemon sent, to the workers that transmit it. An
 * exception interface always hands its frames to the same worker, so they
 * leave in the order the daemon sent them. */
static uint32_t
drain_exceptions(void)
{
	struct rte_mbuf *pkts[FP_BURST];
	uint32_t moved = 0;

	for (unsigned int x = 0; x < fp_n_excs; x++) {
		struct fp_exc *e = &fp_excs[x];
		if (e->exc_port == FP_EXC_NONE) /* made again, not yet back */
			continue;
		uint16_t n = rte_eth_rx_burst(e->exc_port, 0, pkts, FP_BURST);
		if (n == 0)
			continue;
		moved += n;
		e->from_exc += n;
		if (unlikely(e->cap_dirs & FP_CAP_FROM_EXC)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			for (uint16_t i = 0; i < n; i++)
				capture(e, pkts[i], &ts);
		}
		for (uint16_t i = 0; i < n; i++)
			pkts[i]->port = e->port;
		struct rte_ring *r = fp_workers[x % fp_n_workers]->inject;
		unsigned int q = rte_ring_sp_enqueue_burst(r, (void **)pkts, n, NULL);
		if (q < n) {
			e->from_exc_drop += n - q;
			rte_pktmbuf_free_bulk(&pkts[q], n - q);
		}
	}
	return moved;
}

static void *
exc_main(void *arg)
{
	static struct exc_buf bufs[FP_MAX_PORTS];
	uint32_t idle = 0;
	(void)arg;

	while (atomic_load_explicit(&exc_running, memory_order_relaxed)) {
		for (unsigned int x = 0; x < fp_n_excs; x++)
			capture_take(&fp_excs[x]);
		uint32_t moved = drain_punts(bufs) + drain_exceptions();
		/* A full burst: more is waiting, go on. Less: the thread shares
		 * its CPU with the control plane and the routing daemon, so it
		 * naps and lets frames gather rather than spin on a trickle (a
		 * punt flood, policed to thousands per second, would otherwise
		 * keep it busy and starve BIRD's own timers). */
		if (moved >= FP_BURST) {
			idle = 0;
			continue;
		}
		if (moved > 0 || ++idle >= FP_EXC_IDLE_PASSES) {
			struct timespec ts = {0, (moved ? FP_EXC_TRICKLE_US : FP_EXC_NAP_US) * 1000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int
fp_exc_start(void)
{
	if (fp_n_excs == 0 || fp_n_workers == 0)
		return 0;
	if (atomic_exchange(&exc_running, true))
		return -EBUSY;
	int rc = pthread_create(&exc_thread, NULL, exc_main, NULL);
	if (rc != 0) {
		atomic_store(&exc_running, false);
		return -rc;
	}
	pthread_setname_np(exc_thread, "fibd-exc");
	return 0;
}

int
fp_exc_stop(void)
{
	if (atomic_exchange(&exc_running, false))
		pthread_join(exc_thread, NULL);
	/* the thread has ended (or never ran): its files are ours to close */
	for (unsigned int x = 0; x < fp_n_excs; x++) {
		capture_take(&fp_excs[x]);
		if (fp_excs[x].cap_fd >= 0)
			close(fp_excs[x].cap_fd);
		fp_excs[x].cap_fd = -1;
		fp_excs[x].cap_dirs = 0;
	}
	/* Frames still in the rings are freed by the workers' last drain or
	 * here; nothing is sent after stop. */
	struct rte_mbuf *m;
	for (unsigned int w = 0; w < fp_n_workers; w++)
		while (rte_ring_sc_dequeue(fp_workers[w]->punt, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	return 0;
}

unsigned int
fp_exc_count(void)
{
	return fp_n_excs;
}

int
fp_exc_stats(unsigned int idx, struct fp_exc_stats *st)
{
	if (idx >= fp_n_excs)
		return -ENOENT;
	const struct fp_exc *e = &fp_excs[idx];
	memset(st, 0, sizeof(*st));
	st->port = e->port;
	st->exc_port = e->exc_port;
	st->to_exc = e->to_exc;
	st->to_exc_drop = e->to_exc_drop;
	st->from_exc = e->from_exc;
	st->from_exc_drop = e->from_exc_drop;
	st->captured = e->captured;
	st->cap_errors = e->cap_errors;
	for (unsigned int w = 0; w < fp_n_workers; w++)
		for (unsigned int c = 0; c < FP_PUNT_CLASSES; c++)
			st->policed[c] += fp_workers[w]->policed[idx][c];
	return 0;
}
