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
#include "fp_rcu.h"
#include "fp_rules.h"
#include "fp_workers.h"

/* Per-worker state. Only its own lcore writes it. */
struct fp_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[FP_BURST * 2];
};

/* A token bucket: a packet costs hz tokens, rate tokens arrive per cycle. */
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
	struct fp_bucket police[FP_PUNT_CLASSES];
	uint64_t policed[FP_MAX_PORTS][FP_PUNT_CLASSES]; /* per exception */
	struct fp_glean_slot glean[FP_GLEAN_SLOTS];
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

/* Exception interfaces (fp_exc.c). */
struct fp_exc {
	uint16_t port, exc_port;
	uint64_t to_exc, to_exc_drop, from_exc, from_exc_drop;
	/* capture: the exception thread's own file, and the one handed over */
	int cap_fd;
	unsigned int cap_dirs;
	uint64_t captured, cap_errors;
	/* The handover, one word so that it moves with one atomic exchange on
	 * each side: FP_CAP_PENDING, the directions, and the fd in the low
	 * 32 bits. */
	_Atomic uint64_t cap_next;
};
#define FP_CAP_PENDING (UINT64_C(1) << 63)
extern struct fp_exc fp_excs[FP_MAX_PORTS];
extern unsigned int fp_n_excs;
/* Per-class policer parameters, in the units of struct fp_bucket. */
struct fp_police_conf {
	_Atomic uint64_t rate;        /* tokens per TSC cycle, << FP_POLICE_SHIFT */
	_Atomic uint64_t depth;       /* bucket size in tokens */
};
extern struct fp_police_conf fp_police[FP_PUNT_CLASSES];
#define FP_POLICE_SHIFT 32
/* Create the punt and inject rings of worker w. */
int fp_exc_worker_init(struct fp_wctx *w);
/* Which policer class a punted frame belongs to (a glean punt's is
 * FP_PUNT_GLEAN whatever the frame). */
unsigned int fp_punt_class(const struct rte_mbuf *m);
/* May worker w punt m to exception exc (glean: for an unresolved
 * neighbour)? False counts it as policed. */
bool fp_punt_police(struct fp_wctx *w, const struct rte_mbuf *m, uint16_t exc, bool glean);


#endif /* FP_PRIV_H */
