/* Punts: which class a frame for the routing daemon belongs to, and the
 * per-class policer that keeps a flood of one class from crowding out the
 * others. fp_punt.c owns the class rules and the policer's rates; each
 * worker owns its buckets (struct fp_policer, inside its context). */
#ifndef FP_PUNT_H
#define FP_PUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "fp.h"

/* Rates are kept in tokens << FP_POLICE_SHIFT per TSC cycle. */
#define FP_POLICE_SHIFT 32

/* Per-class policer parameters, in the units of struct fp_bucket: each
 * worker's share of the class's rate (fp_punt_set_rate divides by the
 * worker count). */
struct fp_police_conf {
	_Atomic uint64_t rate;        /* tokens per TSC cycle, << FP_POLICE_SHIFT */
	_Atomic uint64_t depth;       /* bucket size in tokens */
};

/* Writer: fp_punt.c only (fp_punt_set_rate, fp_punt_init), any time, with
 * atomic stores. Readers: workers, relaxed loads per punted packet (a
 * change may be seen a packet late, rate and depth apart). */
extern struct fp_police_conf fp_police[FP_PUNT_CLASSES];

/* A token bucket: a packet costs 1 << FP_POLICE_SHIFT tokens. */
struct fp_bucket {
	uint64_t tokens, last;
};

/* Glean punts per destination: a direct-mapped cache of destinations
 * (hash), each allowed FP_GLEAN_PER_DST punts per second. */
#define FP_GLEAN_SLOTS 1024
#define FP_GLEAN_PER_DST 4
struct fp_glean_slot {
	uint32_t key;                 /* destination hash; 0: free */
	uint32_t n;                   /* punts in the current second */
	uint64_t since;               /* TSC of the second's start */
};

/* One worker's policer. Worker-private: only its own lcore writes it;
 * fp_exc_stats sums `policed` from the control thread (aligned 64-bit
 * counters never tear). */
struct fp_policer {
	struct fp_bucket bucket[FP_PUNT_CLASSES];
	uint64_t policed[FP_MAX_PORTS][FP_PUNT_CLASSES]; /* per exception */
	struct fp_glean_slot glean[FP_GLEAN_SLOTS];
};

/* The share of every rate each worker gets (n_workers, fp_dp_init), and
 * the default rates. */
void fp_punt_init(unsigned int n_workers);

/* Which policer class a punted frame belongs to (a glean punt's is
 * FP_PUNT_GLEAN whatever the frame). Reads the ports' ifaddrs (RCU). */
unsigned int fp_punt_class(const struct rte_mbuf *m);

/* Token bucket of one punt class: may one more packet pass? */
static inline bool
fp_police_admit(struct fp_policer *p, unsigned int cls)
{
	const uint64_t one = 1ull << FP_POLICE_SHIFT;
	uint64_t rate = atomic_load_explicit(&fp_police[cls].rate, memory_order_relaxed);
	uint64_t depth = atomic_load_explicit(&fp_police[cls].depth, memory_order_relaxed);
	struct fp_bucket *b = &p->bucket[cls];
	uint64_t now = rte_rdtsc();
	uint64_t elapsed = RTE_MIN(now - b->last, rte_get_tsc_hz());
	b->last = now;
	uint64_t tokens = RTE_MIN(b->tokens + elapsed * rate, depth);
	if (tokens < one) {
		b->tokens = tokens;
		return false;
	}
	b->tokens = tokens - one;
	return true;
}

/* A glean punt's destination: has it had its share this second? A flood
 * towards one unresolved neighbour then costs the glean class little, and
 * the kernel queues only a few packets per neighbour anyway. */
static inline bool
fp_glean_admit(struct fp_policer *p, const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	uint32_t key;
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4))
		key = rte_hash_crc_4byte(((const struct rte_ipv4_hdr *)(eth + 1))->dst_addr, 4);
	else
		key = rte_hash_crc(((const struct rte_ipv6_hdr *)(eth + 1))->dst_addr, 16, 6);
	key |= 1; /* 0 marks a free slot */
	struct fp_glean_slot *s = &p->glean[key % FP_GLEAN_SLOTS];
	uint64_t now = rte_rdtsc();
	if (s->key != key || now - s->since >= rte_get_tsc_hz()) {
		s->key = key;
		s->since = now;
		s->n = 0;
	}
	return s->n++ < FP_GLEAN_PER_DST;
}

/* May a worker (its policer p) punt m to exception exc (glean: for an
 * unresolved neighbour)? False counts it in p->policed; the caller counts
 * the drop. */
static inline bool
fp_punt_police(struct fp_policer *p, const struct rte_mbuf *m, uint16_t exc, bool glean)
{
	unsigned int cls = glean ? FP_PUNT_GLEAN : fp_punt_class(m);
	if (likely((!glean || fp_glean_admit(p, m)) && fp_police_admit(p, cls)))
		return true;
	p->policed[exc][cls]++;
	return false;
}

#endif /* FP_PUNT_H */
