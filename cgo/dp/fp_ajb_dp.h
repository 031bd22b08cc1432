/* ajb_save_ip, the workers' side (see fp_ajb.h). With no mask set a worker
 * pays one atomic pointer load and one predictable branch per burst:
 *
 *	const struct fp_ajb_set *ajb = fp_ajb_active();
 *	if (unlikely(ajb != NULL))
 *		fp_ajb_rx(w->idx, ajb, pkts, n);     // before anything rewrites
 *	fp_route_burst(...);
 *	if (unlikely(ajb != NULL))
 *		fp_ajb_tx(w->idx, pkts, n, verdict); // after, before tx
 *
 * The set is read under QSBR: a worker holds it only inside one loop pass.
 */
#ifndef FP_AJB_DP_H
#define FP_AJB_DP_H

#include <stdatomic.h>
#include <stdint.h>

#include "fp_ajb.h"

struct rte_mbuf;
struct fp_ajb_set;

/* The masks in force; NULL: recording is off. Written by fp_ajb_set(). */
extern const struct fp_ajb_set *_Atomic fp_ajb_cur;

static inline const struct fp_ajb_set *
fp_ajb_active(void)
{
	return atomic_load_explicit(&fp_ajb_cur, memory_order_acquire);
}

/* Copy the packets of the burst that match a mask, as received. */
void fp_ajb_rx(unsigned int widx, const struct fp_ajb_set *s, struct rte_mbuf **pkts, uint16_t n);
/* Queue those copies, each followed by a copy of the packet as it will be
 * sent when its verdict is to forward it (verdict: fp_route_burst's). */
void fp_ajb_tx(unsigned int widx, struct rte_mbuf **pkts, uint16_t n, const uint16_t *verdict);

#endif /* FP_AJB_DP_H */
