/* Internal state of the fast path, shared by its C files only. */
#ifndef FP_PRIV_H
#define FP_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ether.h>
#include <rte_fib.h>
#include <rte_fib6.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "fp.h"
#include "fp_lpm.h"
#include "fp_fib.h"
#include "fp_nh.h"
#include "fp_ports.h"
#include "fp_punt.h"
#include "fp_rcu.h"
#include "fp_rules.h"
#include "fp_workers.h"

/* Per-worker state. Only its own lcore writes it. */
struct fp_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[FP_BURST * 2];
};

struct fp_wctx {
	unsigned int idx;             /* worker index, QSBR thread id */
	unsigned int lcore;
	uint16_t txq;
	uint16_t n_rxq;
	struct fp_rxq rxq[FP_MAX_PORTS * 4];
	uint16_t tidx;                /* FIB table used for lookups */
	struct fp_worker_stats st;
	uint64_t icmp_tokens, icmp_last; /* ICMP rate limit */
	uint64_t tx_polled;           /* TSC of the last tx_poll pass */
	uint64_t dirty_ports;         /* bitmap of ports with buffered tx (first 64) */
	/* exception path: punts out, frames of the exception interfaces in */
	struct rte_ring *punt, *inject;
	struct fp_policer policer;
	struct fp_txbuf tx[FP_MAX_PORTS];
} __rte_cache_aligned;

/* The routing step shared by workers and fp_process_frames(): decide every
 * packet of a burst, rewriting the forwarded ones in place. */
void fp_route_burst(struct fp_wctx *w, struct rte_mbuf **pkts, uint16_t n,
		    uint16_t *verdict, uint16_t *oport);

/* Verdict values: FP_V_FORWARD, FP_V_PUNT or FP_V_GLEAN (a punt for an
 * unresolved neighbour; oport = exception index) or a drop reason. */
#define FP_V_FORWARD 0xffff
#define FP_V_PUNT 0xfffe
#define FP_V_GLEAN 0xfffd

/* Workers, for the exception thread (fp_worker.c). */
extern struct fp_wctx *fp_workers[FP_MAX_WORKERS];
extern unsigned int fp_n_workers;     /* added */
extern unsigned int fp_workers_cap;   /* fp_dp_init's count */

#endif /* FP_PRIV_H */
