/* ajb_save_ip: record the packets of some addresses before and after
 * routing (fp_ajb.h, fp_ajb_dp.h).
 *
 * A worker that finds a burst packet whose source or destination lies in a
 * mask copies it before fp_route_burst() rewrites anything (a clone would
 * share the data the rewrite changes), and once the verdict is known
 * queues that copy, followed by a copy of the rewritten packet when it is
 * forwarded, on its own single-producer ring: both records or neither, so
 * the file shows pairs. Nothing blocks a worker: a full ring or an empty
 * mempool costs the recording of that packet, counted (ajb_ring_full,
 * ajb_no_mbuf). The control plane's one reader drains the rings into a
 * buffer (fp_ajb_drain) and writes pcap files from Go.
 *
 * State here is owned by this file: the mask set (an RCU pointer, replaced
 * under fp_ctl_lock and freed after a grace period), the rings and mempool
 * (created once, under fp_ctl_lock, before the first set is published),
 * per-worker scratch and counters (written by their worker only), and the
 * drain's carry-over (its single caller's).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "fp_ajb_dp.h"
#include "fp_rcu.h"
#include "fp_workers.h"

struct fp_ajb_set {
	uint32_t n4, n6;
	/* raw network-order words: (addr ^ net) & mask == 0 is a match */
	struct {
		uint32_t net, mask;
	} v4[FP_AJB_MAX_MASKS];
	struct {
		uint64_t net[2], mask[2];
	} v6[FP_AJB_MAX_MASKS];
};

/* A ring element: the copy, and its capture time (TSC) with the top bit
 * telling a sent copy from an original. */
struct ajb_elem {
	struct rte_mbuf *m;
	uint64_t tsc;
};
#define AJB_SENT (UINT64_C(1) << 63)

struct ajb_worker {
	struct rte_ring *ring;
	uint64_t tsc;                    /* rx time of the held copies */
	uint16_t n_matched;              /* packets of this burst that match */
	uint8_t matched[FP_BURST];
	struct rte_mbuf *held[FP_BURST]; /* their copies as received (NULL: none) */
	uint64_t packets, records, ring_full, no_mbuf;
} __rte_cache_aligned;

const struct fp_ajb_set *_Atomic fp_ajb_cur;

static struct ajb_worker ajb_w[FP_MAX_WORKERS];
static struct rte_mempool *ajb_pool;
static unsigned int ajb_rings;   /* rings made, one per worker slot */
static _Atomic bool ajb_ready;   /* rings and pool exist (release after making them) */
static _Atomic uint32_t ajb_masks;
static _Atomic uint64_t ajb_drained;

/* The drain's record that did not fit last time (its single caller's). */
static struct {
	struct ajb_elem e;
	uint16_t worker;
	bool has;
} carry;

/* ---- matching ------------------------------------------------------------ */

static inline bool
in4(const struct fp_ajb_set *s, const void *p)
{
	uint32_t a;
	memcpy(&a, p, 4);
	for (uint32_t k = 0; k < s->n4; k++)
		if (((a ^ s->v4[k].net) & s->v4[k].mask) == 0)
			return true;
	return false;
}

static inline bool
in6(const struct fp_ajb_set *s, const void *p)
{
	uint64_t a[2];
	memcpy(a, p, 16);
	for (uint32_t k = 0; k < s->n6; k++)
		if ((((a[0] ^ s->v6[k].net[0]) & s->v6[k].mask[0]) |
		     ((a[1] ^ s->v6[k].net[1]) & s->v6[k].mask[1])) == 0)
			return true;
	return false;
}

/* Does m carry IPv4 or IPv6 (behind up to two VLAN tags) from or to a
 * masked address? Only the first segment is read: headers live there. */
static bool
ajb_match(const struct fp_ajb_set *s, const struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m), off = RTE_ETHER_HDR_LEN;
	if (len < off)
		return false;
	uint16_t et = ((const struct rte_ether_hdr *)d)->ether_type;
	for (int tags = 0; tags < 2 && (et == RTE_BE16(RTE_ETHER_TYPE_VLAN) ||
					et == RTE_BE16(RTE_ETHER_TYPE_QINQ)); tags++) {
		if (len < off + 4)
			return false;
		memcpy(&et, d + off + 2, 2);
		off += 4;
	}
	if (et == RTE_BE16(RTE_ETHER_TYPE_IPV4) && s->n4 && len >= off + sizeof(struct rte_ipv4_hdr)) {
		const struct rte_ipv4_hdr *ip = (const void *)(d + off);
		return in4(s, &ip->src_addr) || in4(s, &ip->dst_addr);
	}
	if (et == RTE_BE16(RTE_ETHER_TYPE_IPV6) && s->n6 && len >= off + sizeof(struct rte_ipv6_hdr)) {
		const struct rte_ipv6_hdr *ip = (const void *)(d + off);
		return in6(s, ip->src_addr) || in6(s, ip->dst_addr);
	}
	return false;
}

/* ---- the workers' side ------------------------------------------------------ */

void
fp_ajb_rx(unsigned int widx, const struct fp_ajb_set *s, struct rte_mbuf **pkts, uint16_t n)
{
	struct ajb_worker *a = &ajb_w[widx];
	a->n_matched = 0;
	for (uint16_t i = 0; i < n; i++) {
		a->matched[i] = ajb_match(s, pkts[i]);
		if (!a->matched[i])
			continue;
		a->n_matched++;
		a->held[i] = rte_pktmbuf_copy(pkts[i], ajb_pool, 0, UINT32_MAX);
	}
	if (a->n_matched)
		a->tsc = rte_rdtsc();
}

void
fp_ajb_tx(unsigned int widx, struct rte_mbuf **pkts, uint16_t n, const uint16_t *verdict)
{
	struct ajb_worker *a = &ajb_w[widx];
	if (likely(a->n_matched == 0))
		return;
	uint64_t now = rte_rdtsc();
	for (uint16_t i = 0; i < n; i++) {
		if (!a->matched[i])
			continue;
		struct rte_mbuf *orig = a->held[i];
		if (orig == NULL) {
			a->no_mbuf++;
			continue;
		}
		struct ajb_elem e[2] = {{orig, a->tsc & ~AJB_SENT}};
		unsigned int k = 1;
		if (verdict[i] == FP_V_FORWARD) {
			struct rte_mbuf *c = rte_pktmbuf_copy(pkts[i], ajb_pool, 0, UINT32_MAX);
			if (c == NULL) {
				rte_pktmbuf_free(orig);
				a->no_mbuf++;
				continue;
			}
			e[k++] = (struct ajb_elem){c, now | AJB_SENT};
		}
		if (rte_ring_sp_enqueue_bulk_elem(a->ring, e, sizeof(e[0]), k, NULL) != k) {
			for (unsigned int j = 0; j < k; j++)
				rte_pktmbuf_free(e[j].m);
			a->ring_full++;
			continue;
		}
		a->packets++;
		a->records += k;
	}
	a->n_matched = 0;
}

/* ---- control ------------------------------------------------------------------ */

/* The rings and the mempool, once; under fp_ctl_lock. */
static int
ajb_setup(void)
{
	if (atomic_load(&ajb_ready))
		return 0;
	if (fp_qs == NULL || fp_workers_capacity() == 0)
		return -EAGAIN; /* before fp_dp_init: no workers to give rings */
	struct rte_mempool *mp = rte_pktmbuf_pool_create("fp_ajb", FP_AJB_MBUFS, 64, 0,
							 RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (mp == NULL)
		return -ENOMEM;
	unsigned int i;
	for (i = 0; i < fp_workers_capacity(); i++) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "fp_ajb%u", i);
		ajb_w[i].ring = rte_ring_create_elem(name, sizeof(struct ajb_elem), FP_AJB_RING_SIZE,
						     SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (ajb_w[i].ring == NULL)
			break;
	}
	if (i < fp_workers_capacity()) {
		while (i-- > 0) {
			rte_ring_free(ajb_w[i].ring);
			ajb_w[i].ring = NULL;
		}
		rte_mempool_free(mp);
		return -ENOMEM;
	}
	ajb_pool = mp;
	ajb_rings = fp_workers_capacity();
	atomic_store_explicit(&ajb_ready, true, memory_order_release);
	return 0;
}

/* mask bytes of a prefix length */
static void
mask_bytes(uint8_t *mb, unsigned int len, unsigned int size)
{
	memset(mb, 0, size);
	for (unsigned int b = 0; b < len; b++)
		mb[b / 8] |= 0x80 >> (b % 8);
}

int
fp_ajb_set(const struct fp_ajb_mask *masks, uint32_t n)
{
	struct fp_ajb_set *s = NULL;
	if (n > 0) {
		s = rte_zmalloc("fp_ajb_set", sizeof(*s), RTE_CACHE_LINE_SIZE);
		if (s == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++) {
			const struct fp_ajb_mask *m = &masks[i];
			uint8_t mb[16], net[16];
			if (m->family == 4 && m->len <= 32 && s->n4 < FP_AJB_MAX_MASKS) {
				mask_bytes(mb, m->len, 4);
				for (int b = 0; b < 4; b++)
					net[b] = m->addr[b] & mb[b];
				memcpy(&s->v4[s->n4].net, net, 4);
				memcpy(&s->v4[s->n4].mask, mb, 4);
				s->n4++;
			} else if (m->family == 6 && m->len <= 128 && s->n6 < FP_AJB_MAX_MASKS) {
				mask_bytes(mb, m->len, 16);
				for (int b = 0; b < 16; b++)
					net[b] = m->addr[b] & mb[b];
				memcpy(s->v6[s->n6].net, net, 16);
				memcpy(s->v6[s->n6].mask, mb, 16);
				s->n6++;
			} else {
				rte_free(s);
				return -EINVAL;
			}
		}
	}
	fp_ctl_lock_take();
	int rc = s != NULL ? ajb_setup() : 0;
	if (rc < 0) {
		fp_ctl_lock_give();
		rte_free(s);
		return rc;
	}
	fp_retire((void *)atomic_exchange_explicit(&fp_ajb_cur, s, memory_order_release));
	atomic_store(&ajb_masks, n);
	fp_ctl_lock_give();
	/* A grace period: afterwards no worker still records with the old
	 * masks, so a reader that drains now has everything they recorded. */
	return fp_sync();
}

/* Append one record to buf; false if it does not fit. */
static bool
put(uint8_t *buf, uint32_t cap, uint32_t *used, const struct ajb_elem *e, uint16_t w,
    uint64_t now_ns, uint64_t now_tsc, uint64_t hz)
{
	const struct rte_mbuf *m = e->m;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	uint32_t need = sizeof(struct fp_ajb_rec) + RTE_ALIGN_CEIL(len, 8);
	if (need > cap)
		return true; /* never fits: skipped, so the rings keep moving */
	if (*used + need > cap)
		return false;
	uint64_t tsc = e->tsc & ~AJB_SENT;
	uint64_t ago = now_tsc > tsc ? (uint64_t)((__uint128_t)(now_tsc - tsc) * 1000000000u / hz) : 0;
	struct fp_ajb_rec r = {.ns = now_ns - RTE_MIN(ago, now_ns), .len = len, .worker = w,
			       .sent = (e->tsc & AJB_SENT) != 0};
	uint8_t *p = buf + *used;
	memcpy(p, &r, sizeof(r));
	p += sizeof(r);
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		memcpy(p, rte_pktmbuf_mtod(s, const void *), rte_pktmbuf_data_len(s));
		p += rte_pktmbuf_data_len(s);
	}
	*used += need;
	return true;
}

int
fp_ajb_drain(uint8_t *buf, uint32_t cap, int *more)
{
	*more = 0;
	if (!atomic_load_explicit(&ajb_ready, memory_order_acquire))
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	uint64_t now_tsc = rte_rdtsc(), hz = rte_get_tsc_hz();
	uint32_t used = 0;
	uint64_t n = 0;
	/* the ring of a carried record first: its sent copy follows it */
	unsigned int first = carry.has ? carry.worker : 0;
	if (carry.has) {
		if (!put(buf, cap, &used, &carry.e, carry.worker, now_ns, now_tsc, hz)) {
			*more = 1;
			return 0;
		}
		rte_pktmbuf_free(carry.e.m);
		carry.has = false;
		n++;
	}
	for (unsigned int k = 0; k < ajb_rings; k++) {
		unsigned int w = (first + k) % ajb_rings;
		struct ajb_elem e;
		while (rte_ring_sc_dequeue_elem(ajb_w[w].ring, &e, sizeof(e)) == 0) {
			if (!put(buf, cap, &used, &e, (uint16_t)w, now_ns, now_tsc, hz)) {
				carry.e = e;
				carry.worker = (uint16_t)w;
				carry.has = true;
				*more = 1;
				goto out;
			}
			rte_pktmbuf_free(e.m);
			n++;
		}
	}
out:
	atomic_fetch_add_explicit(&ajb_drained, n, memory_order_relaxed);
	return (int)used;
}

void
fp_ajb_stats(struct fp_ajb_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (unsigned int i = 0; i < FP_MAX_WORKERS; i++) {
		const struct ajb_worker *a = &ajb_w[i];
		st->packets += __atomic_load_n(&a->packets, __ATOMIC_RELAXED);
		st->records += __atomic_load_n(&a->records, __ATOMIC_RELAXED);
		st->ring_full += __atomic_load_n(&a->ring_full, __ATOMIC_RELAXED);
		st->no_mbuf += __atomic_load_n(&a->no_mbuf, __ATOMIC_RELAXED);
	}
	st->drained = atomic_load_explicit(&ajb_drained, memory_order_relaxed);
	st->masks = atomic_load(&ajb_masks);
	st->ready = atomic_load(&ajb_ready);
}
