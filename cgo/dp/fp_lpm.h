/* fibd's own longest-prefix-match tables (IPv4 and IPv6), one copy per
 * table, updated in place under RCU.
 *
 * Shape (a compressed multibit trie of the Poptrie class, written for fibd):
 * a direct-indexed first level of 2^S entries (S grows with the table: 8
 * bits while it is small, 18 for IPv4 and 20 for IPv6 once it holds more
 * than a few thousand prefixes), then nodes of 6 bits each. A node is 32
 * bytes: a bitmap of the slots that have a child node, a bitmap marking
 * where a run of equal leaf values starts, and two pointers, to its
 * children (contiguous, indexed by popcount) and to its run-compressed
 * leaves (indexed by popcount). Values are leaf-pushed: a lookup ends at
 * the first leaf it meets. First-level entries are 4 bytes: a value, or
 * the index of a top block: a first node without children is stored flat
 * (lines of 64 bytes, each a run bitmap and the run values of its slots,
 * so the lookup reads the one line its address selects), a first node
 * with children is stored with its leaves right behind it; a deeper node
 * without children and with at most four runs holds them in place of its
 * pointers, and a subtree that only repeats the value its slot inherits
 * has no node (its slot is a leaf). A big IPv4 table (more than 16384
 * prefixes) also gets a direct level: one 2-byte entry per /24 (32 MiB)
 * giving the /24's value when it has one, so that nearly every lookup is a
 * single read (fp_lpm.c, "the direct level").
 *
 * Concurrency: ONE writer (the caller serialises add/delete/defer/reclaim/
 * walk/free, e.g. under fp_ctl_lock), any number of readers (lookups) with
 * no lock. The writer never modifies anything a reader can reach but the
 * direct level's entries, values rewritten one store each: a change
 * builds the affected nodes aside (copying the path from the first level
 * down to the changed node, sharing every untouched subtree) and publishes
 * them with one release store into the first-level entry (or into the root
 * pointer for a full rebuild). A reader therefore sees the old or the new
 * table for each lookup, never a mix. What the change replaced is retired:
 * it stays valid until fp_lpm_reclaim(), which the writer must call only
 * after a QSBR grace period that began after the change was published.
 *
 * The writer keeps its own record of the prefixes (a shadow trie of the
 * same shape holding the original prefixes of each node), so a change
 * recomputes only the nodes under the changed prefix, and fp_lpm_walk()
 * reads the table back.
 */
#ifndef FP_LPM_H
#define FP_LPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the reader-visible parts live (first level, node and leaf chunks).
 * alloc returns memory aligned to 64 bytes, or NULL. NULL allocator in
 * fp_lpm_create: libc (aligned_alloc/free). fibd passes rte_malloc. */
struct fp_lpm_alloc {
	void *(*alloc)(void *arg, size_t size);
	void (*free)(void *arg, void *p);
	void *arg;
};

struct fp_lpm;

struct fp_lpm_stats {
	uint64_t prefixes;
	uint64_t fib_bytes;   /* reader-visible memory held (allocator) */
	uint64_t fib_used;    /* of which in live nodes and leaves */
	uint64_t first_bytes; /* of which the first level (always in use) */
	uint64_t limbo_bytes; /* retired, waiting for fp_lpm_reclaim */
	uint64_t rib_bytes;   /* writer's shadow trie (libc heap) */
	uint64_t nodes;       /* live trie nodes */
	unsigned first_bits;  /* S */
	unsigned direct_bits; /* 24 with the direct level, else 0 */
};

/* family: 4 or 6. */
struct fp_lpm *fp_lpm_create(int family, const struct fp_lpm_alloc *a);
/* Frees everything at once: no reader may use the table any more. */
void fp_lpm_free(struct fp_lpm *l);

/* Add or replace (ip/depth -> nh). ip is in host order for IPv4, network
 * byte order (16 bytes) for IPv6; bits beyond depth are ignored. nh must
 * not be 0 (0 is "no route") and must be below 2^31. 0 or -EINVAL/-ENOMEM;
 * on -ENOMEM the table is unchanged. */
int fp_lpm4_add(struct fp_lpm *l, uint32_t ip, uint8_t depth, uint32_t nh);
int fp_lpm6_add(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth, uint32_t nh);
/* The same, and *old gets the value replaced: 0 when the prefix is new
 * or on an error (one walk of the record where a get before the add takes
 * two). */
int fp_lpm4_put(struct fp_lpm *l, uint32_t ip, uint8_t depth, uint32_t nh, uint32_t *old);
int fp_lpm6_put(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth, uint32_t nh, uint32_t *old);
/* 0, -ENOENT when the prefix is not in the table, -ENOMEM (unchanged). */
int fp_lpm4_delete(struct fp_lpm *l, uint32_t ip, uint8_t depth);
int fp_lpm6_delete(struct fp_lpm *l, const uint8_t ip[16], uint8_t depth);
/* Exact match, writer side: 0 and *nh, or -ENOENT. */
int fp_lpm4_get(const struct fp_lpm *l, uint32_t ip, uint8_t depth, uint32_t *nh);
int fp_lpm6_get(const struct fp_lpm *l, const uint8_t ip[16], uint8_t depth, uint32_t *nh);

/* Batch mode: while deferred, add/delete only record the prefixes; the
 * table readers see does not change. Ending it builds the whole table
 * from the record and publishes it with one store (the way to load a full
 * view from nothing). 0 or -ENOMEM (the readers' table is then the one
 * from before the batch; the record keeps the batch: end it again). */
void fp_lpm_defer(struct fp_lpm *l);
int fp_lpm_commit(struct fp_lpm *l);

/* Free what changes retired. Only after a grace period that started after
 * the last change (the writer calls it right after grace_period()). */
void fp_lpm_reclaim(struct fp_lpm *l);

/* Readers. Any thread, no lock; the caller must be an RCU reader (online
 * on the QSBR variable) or the writer. Missing routes give 0. The bulk
 * lookups' ip and nh must not overlap. */
uint32_t fp_lpm4_lookup(const struct fp_lpm *l, uint32_t ip);
uint32_t fp_lpm6_lookup(const struct fp_lpm *l, const uint8_t ip[16]);
void fp_lpm4_lookup_bulk(const struct fp_lpm *l, const uint32_t *ip, uint32_t *nh, unsigned n);
void fp_lpm6_lookup_bulk(const struct fp_lpm *l, const uint8_t (*ip)[16], uint32_t *nh, unsigned n);

/* Calls cb for every prefix (ip in network byte order, 4 or 16 bytes), in
 * no particular order; stops and returns cb's value when it is not 0.
 * Writer side. */
typedef int (*fp_lpm_walk_fn)(void *arg, const uint8_t *ip, uint8_t depth, uint32_t nh);
int fp_lpm_walk(const struct fp_lpm *l, fp_lpm_walk_fn cb, void *arg);

void fp_lpm_stats(const struct fp_lpm *l, struct fp_lpm_stats *st);

/* Tests: 0 when the blocks the readers' trie reaches are exactly those its
 * arenas count as in use (no block lost, none freed twice), else -1.
 * Writer side, right after fp_lpm_reclaim(). */
int fp_lpm_check(const struct fp_lpm *l);

/* An IPv4 table with an 18-bit first level gets its direct level when it
 * holds more than n prefixes (default 16384) and loses it at n / 2 or
 * fewer; tests lower n to exercise it on small tables. Writer side. */
void fp_lpm_direct_at(struct fp_lpm *l, uint64_t n);

/* Benchmarks: the addresses an IPv6 lookup of ip waits for, in order, one
 * per cache line it must read after the last (at most max stored); the
 * count. Reader side. */
unsigned fp_lpm6_trace(const struct fp_lpm *l, const uint8_t ip[16], const void **at, unsigned max);

#endif
