/* The exception path's rings (fp_exc.c owns them and the exception
 * thread; the public calls are in fp.h). */
#ifndef FP_EXC_H
#define FP_EXC_H

#include <rte_ring.h>

/* Create the punt ring (worker -> exception thread) and the inject ring
 * (exception thread -> worker) of worker widx, the next index in order,
 * on lcore's socket; the worker keeps both pointers as its own. Only while
 * the exception thread is stopped (fp_worker_add). 0 or -errno. */
int fp_exc_rings(unsigned int widx, unsigned int lcore, struct rte_ring **punt, struct rte_ring **inject);

#endif /* FP_EXC_H */
