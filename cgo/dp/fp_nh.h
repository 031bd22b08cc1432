/* Nexthops: what a FIB entry's value (an index) means. fp_nh.c owns the
 * table and is its only writer. */
#ifndef FP_NH_H
#define FP_NH_H

#include <stdatomic.h>
#include <stdint.h>

#include <rte_ether.h>

#include "fp.h"

/* A published nexthop. Immutable: a change publishes a new object (and the
 * old one is retired, freed after a grace period). */
struct fp_nh {
	uint8_t type;                 /* enum fp_nh_type */
	uint16_t port;
	uint16_t vlan;                /* 802.1Q VID on egress, 0 = untagged */
	struct rte_ether_addr dst;
	uint16_t n_buckets;           /* ECMP */
	uint32_t buckets[];           /* ECMP member indices */
};

/* Index -> RCU pointer to the object (NULL: free), FP_MAX_NEXTHOPS slots;
 * the array itself is NULL until the first table or nexthop exists.
 * Writer: fp_nh.c (fp_nh_set), under the control lock, with release
 * stores. Readers: workers and fp_rules.c through fp_nh_load(), RCU. */
extern struct fp_nh *_Atomic *fp_nh_tbl;

/* The nexthop at idx (< FP_MAX_NEXTHOPS) or NULL; an RCU reader (a worker
 * between quiescent points) or the writer. */
static inline const struct fp_nh *
fp_nh_load(uint32_t idx)
{
	return atomic_load_explicit(&fp_nh_tbl[idx], memory_order_acquire);
}

/* Allocate the pointer array (idempotent; under the control lock). A FIB
 * table is never created before it, so a lookup's index always has a slot
 * to read. */
int fp_nh_table_init(void);

#endif /* FP_NH_H */
