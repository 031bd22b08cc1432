/* Workers: their context, the routing step they run, and the registry of
 * workers (fp_worker.c owns it: the array of contexts, the count and the
 * running flag are static there; other files ask through the calls here
 * and in fp.h). */
#ifndef FP_WORKERS_H
#define FP_WORKERS_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "fp.h"
#include "fp_punt.h"

/* A worker's tx buffer of one port. */
struct fp_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[FP_BURST * 2];
};

/* A worker's context. Worker-private: allocated and filled by
 * fp_worker_add before the worker runs, then written only by its own
 * lcore. Other threads read only `st` (fp_worker_stats, fp_worker_polls:
 * aligned 64-bit counters) and `policer.policed` (fp_workers_policed);
 * the one exception is fp_stats_reset, which clears `st` from the control
 * thread (an increment racing with it may survive the reset).
 * fp_process_frames and the tests run their own contexts, on their own
 * thread. */
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
	/* exception path: punts out, frames of the exception interfaces in
	 * (fp_exc.c's rings of this worker, see fp_exc_rings) */
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

/* Loop passes of worker widx so far (0 <= widx < fp_worker_count()): the
 * grace period names the workers that made none while it waited. Any
 * thread; a relaxed load of a counter only that worker writes. */
uint64_t fp_worker_polls(unsigned int widx);

/* Workers the data plane was made for (fp_dp_init): the per-worker rings
 * of ajb_save_ip are sized by it. Set once before any worker runs. */
unsigned int fp_workers_capacity(void);

/* Adds to policed[c] the punts to exception exc that the workers' policers
 * held back, per class (fp_exc_stats). Control thread. */
void fp_workers_policed(unsigned int exc, uint64_t policed[FP_PUNT_CLASSES]);

#endif /* FP_WORKERS_H */
