/* The nexthop table (fp_nh.h): index -> immutable nexthop object, each
 * slot an RCU pointer. Only this file writes it, under the control lock. */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <rte_malloc.h>

#include "fp.h"
#include "fp_nh.h"
#include "fp_ports.h"
#include "fp_rcu.h"

struct fp_nh *_Atomic *fp_nh_tbl;

int
fp_nh_table_init(void)
{
	if (fp_nh_tbl != NULL)
		return 0;
	fp_nh_tbl = rte_zmalloc("fp_nh_tbl", sizeof(*fp_nh_tbl) * FP_MAX_NEXTHOPS,
				RTE_CACHE_LINE_SIZE);
	return fp_nh_tbl == NULL ? -ENOMEM : 0;
}

int
fp_nh_set(uint32_t idx, const struct fp_nh_conf *c)
{
	if (idx == FP_NH_MISS || idx >= FP_MAX_NEXTHOPS || c->type > FP_NH_THROW)
		return -EINVAL;
	if (c->type == FP_NH_ECMP &&
	    (c->n_buckets == 0 || c->n_buckets > FP_ECMP_BUCKETS))
		return -EINVAL;
	if (c->type == FP_NH_ECMP)
		for (unsigned int i = 0; i < c->n_buckets; i++)
			if (c->buckets[i] == FP_NH_MISS || c->buckets[i] >= FP_MAX_NEXTHOPS ||
			    c->buckets[i] == idx)
				return -EINVAL;
	if ((c->type == FP_NH_FORWARD || c->type == FP_NH_UNRESOLVED || c->type == FP_NH_PUNT) &&
	    (c->port >= FP_MAX_PORTS || !fp_ports[c->port].configured))
		return -ENODEV;
	if (c->vlan > 4094)
		return -EINVAL;

	fp_ctl_lock_take();
	int rc = fp_nh_table_init();
	if (rc < 0)
		goto out;

	struct fp_nh *o = NULL;
	if (c->type != FP_NH_NONE) {
		size_t sz = sizeof(*o);
		if (c->type == FP_NH_ECMP)
			sz += sizeof(o->buckets[0]) * c->n_buckets;
		o = rte_zmalloc("fp_nh", sz, RTE_CACHE_LINE_SIZE);
		if (o == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		o->type = c->type;
		o->port = c->port;
		o->vlan = c->vlan;
		memcpy(&o->dst, c->dst_mac, sizeof(o->dst));
		if (c->type == FP_NH_ECMP) {
			o->n_buckets = c->n_buckets;
			memcpy(o->buckets, c->buckets, sizeof(o->buckets[0]) * c->n_buckets);
		}
	}
	struct fp_nh *old = atomic_exchange_explicit(&fp_nh_tbl[idx], o,
						     memory_order_release);
	fp_retire(old);
out:
	fp_ctl_lock_give();
	return rc;
}

int
fp_nh_get(uint32_t idx, struct fp_nh_conf *c)
{
	if (idx >= FP_MAX_NEXTHOPS)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	fp_ctl_lock_take();
	const struct fp_nh *o = fp_nh_tbl ? atomic_load(&fp_nh_tbl[idx]) : NULL;
	if (o != NULL) {
		c->type = o->type;
		c->port = o->port;
		c->vlan = o->vlan;
		memcpy(c->dst_mac, &o->dst, 6);
		c->n_buckets = o->n_buckets;
		memcpy(c->buckets, o->buckets, sizeof(o->buckets[0]) * o->n_buckets);
	}
	fp_ctl_lock_give();
	return o == NULL ? -ENOENT : 0;
}
