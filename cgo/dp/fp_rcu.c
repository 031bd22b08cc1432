/* The control lock, the QSBR variable, the retire list and the grace
 * period (see fp_rcu.h). Everything here is written under fp_ctl_lock
 * except the counters fp_rcu_info() reads, which are atomics. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <rte_cycles.h>
#include <rte_malloc.h>

#include "fp.h"
#include "fp_rcu.h"
#include "fp_workers.h"

pthread_mutex_t fp_ctl_lock = PTHREAD_MUTEX_INITIALIZER;
struct rte_rcu_qsbr *fp_qs;

/* Objects unlinked by the writer, freed after the next grace period. */
static void **retired;
static size_t n_retired, cap_retired;

/* Grace periods that did not end in time, and what the last one saw.
 * Written under fp_ctl_lock, read by fp_rcu_info() without it. */
static _Atomic uint64_t grace_done, grace_stalls, grace_leaked;
static _Atomic uint64_t stalled_workers; /* bitmap: online, no pass during the wait */
static _Atomic bool stalled;             /* the last grace period timed out */

/* How long a grace period may take. A worker passes its quiescent point
 * every loop (microseconds) and is offline while it sleeps, so a second
 * means a wedged worker (a PMD stuck in rx or tx). After one stall the
 * next waits are short: the control plane must keep answering while the
 * worker is stuck, and the outcome (not freeing, not writing the old copy)
 * is the same. */
#define FP_GRACE_TIMEOUT_US 1500000
#define FP_GRACE_RETRY_US 20000

/* Wait for a grace period, bounded. True: afterwards no worker holds a
 * pointer read before the call, and the retired objects are freed. False:
 * some worker did not report in time; nothing is freed and the caller must
 * not touch what workers may still read. */
bool
fp_grace_period(void)
{
	if (fp_qs == NULL)
		goto done;
	uint64_t polls[FP_MAX_WORKERS];
	unsigned int nw = fp_worker_count();
	for (unsigned int i = 0; i < nw; i++)
		polls[i] = fp_worker_polls(i);
	uint64_t token = rte_rcu_qsbr_start(fp_qs);
	uint64_t limit = atomic_load(&stalled) ? FP_GRACE_RETRY_US : FP_GRACE_TIMEOUT_US;
	uint64_t waited = 0, nap = 1;
	while (rte_rcu_qsbr_check(fp_qs, token, false) != 1) {
		if (waited >= limit) {
			uint64_t stuck = 0;
			for (unsigned int i = 0; i < nw && i < 64; i++)
				if (fp_worker_polls(i) == polls[i])
					stuck |= UINT64_C(1) << i;
			atomic_store(&stalled_workers, stuck);
			atomic_fetch_add(&grace_stalls, 1);
			atomic_store(&stalled, true);
			return false;
		}
		rte_delay_us_sleep(nap);
		waited += nap;
		if (nap < 1000)
			nap *= 2;
	}
done:
	for (size_t i = 0; i < n_retired; i++)
		rte_free(retired[i]);
	n_retired = 0;
	atomic_fetch_add(&grace_done, 1);
	atomic_store(&stalled, false);
	atomic_store(&stalled_workers, 0);
	return true;
}

void
fp_retire(void *obj)
{
	if (obj == NULL)
		return;
	if (n_retired == cap_retired) {
		size_t cap = cap_retired ? cap_retired * 2 : 256;
		void **r = realloc(retired, cap * sizeof(*r));
		if (r == NULL) {
			/* Cannot defer: wait here instead, then free; an object
			 * that a stalled worker may still read is leaked. */
			if (fp_grace_period())
				rte_free(obj);
			else
				atomic_fetch_add(&grace_leaked, 1);
			return;
		}
		retired = r;
		cap_retired = cap;
	}
	retired[n_retired++] = obj;
}

int
fp_sync(void)
{
	fp_ctl_lock_take();
	bool ok = fp_grace_period();
	fp_ctl_lock_give();
	return ok ? 0 : -ETIMEDOUT;
}

void
fp_rcu_info(struct fp_rcu_info *info)
{
	info->grace_periods = atomic_load(&grace_done);
	info->stalls = atomic_load(&grace_stalls);
	info->leaked = atomic_load(&grace_leaked);
	info->stalled = atomic_load(&stalled);
	info->stalled_workers = atomic_load(&stalled_workers);
}

bool
fp_rcu_stalled(void)
{
	return atomic_load(&stalled);
}

int
fp_rcu_init(unsigned int nw)
{
	if (fp_qs != NULL)
		return -EEXIST;
	size_t sz = rte_rcu_qsbr_get_memsize(nw);
	struct rte_rcu_qsbr *qs = rte_zmalloc("fp_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (qs == NULL)
		return -ENOMEM;
	int rc = rte_rcu_qsbr_init(qs, nw);
	if (rc < 0) {
		rte_free(qs);
		return rc;
	}
	fp_ctl_lock_take();
	fp_qs = qs;
	fp_ctl_lock_give();
	return 0;
}
