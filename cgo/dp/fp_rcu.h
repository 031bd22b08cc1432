/* The control lock and RCU (QSBR): how the one writer changes what workers
 * read, and when it may free what it replaced (fp_rcu.c owns all of it).
 *
 * The rule for every RCU object of the fast path (nexthops, rule sets,
 * interface maps, fibd's own LPM nodes): the writer, holding the control
 * lock, unlinks the old object with one atomic store and hands it to
 * fp_retire(); the next completed grace period frees it. Workers read
 * such objects only between two quiescent points of their loop. */
#ifndef FP_RCU_H
#define FP_RCU_H

#include <pthread.h>
#include <stdbool.h>

#include <rte_rcu_qsbr.h>

/* Control-plane serialisation: one writer at a time. A mutex, not a
 * spinlock: it is held across grace periods and table rebuilds (seconds),
 * and waiters must sleep, not spin a core. Workers never take it.
 * Defined in fp_rcu.c; taken by every control call that writes (or reads
 * writer-side state) in fp_fib.c, fp_nh.c, fp_port.c, fp_rules.c. */
extern pthread_mutex_t fp_ctl_lock;

static inline void
fp_ctl_lock_take(void)
{
	pthread_mutex_lock(&fp_ctl_lock);
}

static inline void
fp_ctl_lock_give(void)
{
	pthread_mutex_unlock(&fp_ctl_lock);
}

/* The QSBR variable workers report to; NULL before fp_dp_init. Written
 * once, by fp_rcu_init() under the control lock, before any worker runs;
 * read-only everywhere else (workers register, report quiescence and go
 * offline on it; tests play a worker on it). */
extern struct rte_rcu_qsbr *fp_qs;

/* Create the QSBR variable for n workers (fp_dp_init). 0, -EEXIST, -ENOMEM
 * or rte_rcu_qsbr_init's error. */
int fp_rcu_init(unsigned int n_workers);

/* Hand obj (rte_malloc'd) over to be freed after the next grace period.
 * Writer only, under the control lock. NULL is ignored. */
void fp_retire(void *obj);

/* Wait for a grace period, bounded. True: afterwards no worker holds a
 * pointer read before the call, and the retired objects are freed. False:
 * some worker did not report in time; nothing is freed and the caller must
 * not touch what workers may still read. Under the control lock. */
bool fp_grace_period(void);

/* Did the last grace period time out (a worker may still be inside what
 * the writer replaced)? Any thread. */
bool fp_rcu_stalled(void);

#endif /* FP_RCU_H */
