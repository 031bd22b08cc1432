/* Policy routing (ip rules): the published rule sets and their evaluation.
 * fp_rules.c owns the rule sets and is their only writer. */
#ifndef FP_RULES_H
#define FP_RULES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fp.h"

/* A published rule set (immutable, RCU). */
struct fp_ruleset {
	uint32_t n;
	struct fp_rule r[];
};

/* The rule set of each family (NULL: none, one table). Writer: fp_rules.c
 * (fp_rules_set) under the control lock, with a release exchange, the old
 * set retired. Readers: workers once per burst through fp_rules_get()
 * (RCU), fp_rules_lookup under the control lock. */
extern struct fp_ruleset *_Atomic fp_rules4, *_Atomic fp_rules6;

static inline const struct fp_ruleset *
fp_rules_get(int family)
{
	return atomic_load_explicit(family == 4 ? &fp_rules4 : &fp_rules6, memory_order_acquire);
}

/* Does a published rule set look up table tidx? Under the control lock
 * (fp_table_destroy refuses such a table). */
bool fp_rules_name_table(uint16_t tidx);

/* Decide n (<= FP_BURST) packets of one family through rule set rs: nh[]
 * gets each nexthop index (FP_NH_MISS: no route), drop[] 0 or the drop
 * reason of a rule that drops. Addresses in network order, 16 bytes. An
 * RCU reader (a worker) or the writer. */
void fp_rules_eval(const struct fp_ruleset *rs, int family, uint16_t n, const uint16_t *iif,
		   const uint8_t (*src)[16], const uint8_t (*dst)[16], uint64_t *nh, uint16_t *drop);

#endif /* FP_RULES_H */
