/* Policy routing: the router netns's ip rules, evaluated per packet to pick
 * the FIB table (fp_rules.h). Rule sets are immutable RCU objects, replaced
 * whole by the control plane; the ingress interface ids their iif
 * selectors name are the ports' (fp_port_set_iifs, fp_ports.h). */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "fp_fib.h"
#include "fp_nh.h"
#include "fp_rcu.h"
#include "fp_rules.h"

struct fp_ruleset *_Atomic fp_rules4, *_Atomic fp_rules6;

int
fp_rules_set(uint8_t family, const struct fp_rule *rules, uint32_t n)
{
	if (family != 4 && family != 6)
		return -EINVAL;
	uint8_t max = family == 4 ? 32 : 128;
	for (uint32_t i = 0; i < n; i++) {
		const struct fp_rule *r = &rules[i];
		if (r->src_len > max || r->dst_len > max || r->action < FP_RULE_LOOKUP ||
		    r->action > FP_RULE_PROHIBIT)
			return -EINVAL;
		if ((r->action == FP_RULE_LOOKUP || r->action == FP_RULE_LOCAL) && r->tidx >= FP_MAX_TABLES)
			return -EINVAL;
	}
	struct fp_ruleset *rs = NULL;
	if (n > 0) {
		rs = rte_zmalloc("fp_rules", sizeof(*rs) + n * sizeof(rs->r[0]), RTE_CACHE_LINE_SIZE);
		if (rs == NULL)
			return -ENOMEM;
		rs->n = n;
		memcpy(rs->r, rules, n * sizeof(rs->r[0]));
	}
	fp_ctl_lock_take();
	struct fp_ruleset *_Atomic *slot = family == 4 ? &fp_rules4 : &fp_rules6;
	fp_retire(atomic_exchange_explicit(slot, rs, memory_order_release));
	fp_ctl_lock_give();
	return 0;
}

bool
fp_rules_name_table(uint16_t tidx)
{
	const struct fp_ruleset *sets[] = {fp_rules_get(4), fp_rules_get(6)};
	for (int f = 0; f < 2; f++)
		for (uint32_t i = 0; sets[f] != NULL && i < sets[f]->n; i++) {
			const struct fp_rule *r = &sets[f]->r[i];
			if ((r->action == FP_RULE_LOOKUP || r->action == FP_RULE_LOCAL) && r->tidx == tidx)
				return true;
		}
	return false;
}

static inline bool
prefix_match(const uint8_t *a, const uint8_t *p, uint8_t len)
{
	uint8_t whole = len / 8, rest = len % 8;
	if (memcmp(a, p, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ p[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static inline bool
rule_match(const struct fp_rule *r, uint16_t iif, const uint8_t *src, const uint8_t *dst)
{
	return (r->iif == FP_IIF_ANY || r->iif == iif) &&
	       (r->src_len == 0 || prefix_match(src, r->src, r->src_len)) &&
	       (r->dst_len == 0 || prefix_match(dst, r->dst, r->dst_len));
}

/* Look up the n packets at idx[] in table tidx; res[] gets the nexthop
 * index of each (FP_NH_MISS when the table is gone). */
static void
table_lookup(uint16_t tidx, int family, const uint8_t (*dst)[16], const uint16_t *idx, uint16_t n,
	     uint64_t *res)
{
	const struct fp_table *t = &fp_tables[tidx];
	if (!t->used) {
		for (uint16_t k = 0; k < n; k++)
			res[k] = FP_NH_MISS;
		return;
	}
	if (family == 4) {
		uint32_t ip[FP_BURST];
		for (uint16_t k = 0; k < n; k++) {
			uint32_t be;
			memcpy(&be, dst[idx[k]], 4);
			ip[k] = rte_be_to_cpu_32(be);
		}
		fp_table_lookup(t, 4, ip, res, n);
	} else {
		uint8_t ip[FP_BURST][16];
		for (uint16_t k = 0; k < n; k++)
			memcpy(ip[k], dst[idx[k]], 16);
		fp_table_lookup(t, 6, ip, res, n);
	}
}

/* Does the lookup result idx end the rule walk? Not a miss, nor a throw
 * route (the kernel goes on with the next rule), nor, for the local rule,
 * anything but a local or punted address. */
static inline bool
found(uint64_t idx, bool local)
{
	if (idx == FP_NH_MISS || idx >= FP_MAX_NEXTHOPS)
		return false;
	const struct fp_nh *nh = fp_nh_load((uint32_t)idx);
	if (nh == NULL)
		return false;
	if (local)
		return nh->type == FP_NH_LOCAL || nh->type == FP_NH_PUNT;
	return nh->type != FP_NH_THROW;
}

void
fp_rules_eval(const struct fp_ruleset *rs, int family, uint16_t n, const uint16_t *iif,
	      const uint8_t (*src)[16], const uint8_t (*dst)[16], uint64_t *nh, uint16_t *drop)
{
	uint16_t pos[FP_BURST], pend[FP_BURST], np = 0;
	/* the last lookup of each packet: the local rule and main look in the
	 * same table, which then costs one lookup, not two */
	uint64_t seen[FP_BURST];
	uint16_t seen_t[FP_BURST];

	for (uint16_t i = 0; i < n; i++) {
		pos[i] = 0;
		nh[i] = FP_NH_MISS;
		drop[i] = 0;
		seen_t[i] = UINT16_MAX;
		pend[np++] = i;
	}
	while (np > 0) {
		/* each pending packet to its next matching rule */
		uint16_t look[FP_BURST], nl = 0;
		for (uint16_t k = 0; k < np; k++) {
			uint16_t i = pend[k], p = pos[i];
			while (p < rs->n && !rule_match(&rs->r[p], iif[i], src[i], dst[i]))
				p++;
			pos[i] = p;
			if (p == rs->n)
				continue; /* no rule left: no route */
			switch (rs->r[p].action) {
			case FP_RULE_BLACKHOLE:
				drop[i] = FP_DROP_BLACKHOLE;
				break;
			case FP_RULE_UNREACHABLE:
				drop[i] = FP_DROP_UNREACHABLE;
				break;
			case FP_RULE_PROHIBIT:
				drop[i] = FP_DROP_PROHIBIT;
				break;
			default:
				look[nl++] = i;
			}
		}
		/* one bulk lookup per table among them (none where the packet's
		 * last lookup was in the same table) */
		np = 0;
		while (nl > 0) {
			uint16_t tidx = rs->r[pos[look[0]]].tidx;
			uint16_t same[FP_BURST], ns = 0, other = 0, fresh[FP_BURST], nf = 0;
			for (uint16_t k = 0; k < nl; k++) {
				if (rs->r[pos[look[k]]].tidx == tidx)
					same[ns++] = look[k];
				else
					look[other++] = look[k];
			}
			nl = other;
			for (uint16_t k = 0; k < ns; k++)
				if (seen_t[same[k]] != tidx)
					fresh[nf++] = same[k];
			if (nf > 0) {
				uint64_t got[FP_BURST];
				table_lookup(tidx, family, dst, fresh, nf, got);
				for (uint16_t k = 0; k < nf; k++) {
					seen[fresh[k]] = got[k];
					seen_t[fresh[k]] = tidx;
				}
			}
			uint64_t res[FP_BURST];
			for (uint16_t k = 0; k < ns; k++)
				res[k] = seen[same[k]];
			for (uint16_t k = 0; k < ns; k++) {
				uint16_t i = same[k];
				bool local = rs->r[pos[i]].action == FP_RULE_LOCAL;
				if (!found(res[k], local)) {
					pos[i]++; /* the kernel goes on with the next rule */
					pend[np++] = i;
				} else {
					nh[i] = res[k];
				}
			}
		}
	}
}

int
fp_rules_lookup(uint8_t family, const uint16_t *iif, const uint8_t (*src)[16], const uint8_t (*dst)[16],
		uint32_t *nh, uint32_t n)
{
	if (family != 4 && family != 6)
		return -EINVAL;
	fp_ctl_lock_take();
	const struct fp_ruleset *rs = atomic_load(family == 4 ? &fp_rules4 : &fp_rules6);
	if (rs == NULL) {
		fp_ctl_lock_give();
		return -ENOENT;
	}
	for (uint32_t i = 0; i < n; i += FP_BURST) {
		uint16_t k = (uint16_t)RTE_MIN(n - i, (uint32_t)FP_BURST);
		uint64_t res[FP_BURST];
		uint16_t drop[FP_BURST];
		fp_rules_eval(rs, family, k, &iif[i], &src[i], &dst[i], res, drop);
		for (uint16_t j = 0; j < k; j++)
			nh[i + j] = drop[j] ? (uint32_t)(FP_VERDICT_DROP_BASE + drop[j]) : (uint32_t)res[j];
	}
	fp_ctl_lock_give();
	return 0;
}
