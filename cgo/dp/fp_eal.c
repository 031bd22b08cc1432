/* EAL bring-up and teardown. */
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "fp.h"

int
fp_eal_init(int argc, char **argv, char *errbuf, int errlen)
{
	int rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		int err = rte_errno;
		snprintf(errbuf, errlen, "rte_eal_init: %s", rte_strerror(err));
		return -err;
	}
	return rc;
}

int
fp_eal_cleanup(void)
{
	return rte_eal_cleanup();
}

unsigned int
fp_main_lcore(void)
{
	return rte_get_main_lcore();
}

int
fp_worker_lcores(unsigned int *ids, int max)
{
	int n = 0;
	unsigned int lc;
	RTE_LCORE_FOREACH_WORKER(lc) {
		if (n < max)
			ids[n] = lc;
		n++;
	}
	return n;
}
