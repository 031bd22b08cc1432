/* The benchmarks' EAL runtime directory (/var/run/dpdk/PREFIX, a prefix
 * per process): rte_eal_cleanup leaves it behind, so each program removes
 * its own after the cleanup. The includer defines _GNU_SOURCE (nftw)
 * before its first include. */
#ifndef EAL_RUNDIR_H
#define EAL_RUNDIR_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include <rte_eal.h>

static int
rundir_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* Runs cleanup (the EAL's, or one that ends in it), then removes the
 * runtime directory the EAL had. */
static inline void
eal_cleanup_rundir(int (*cleanup)(void))
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	cleanup();
	if (dir[0] != '\0')
		nftw(dir, rundir_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
