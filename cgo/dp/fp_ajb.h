/* ajb_save_ip: packets whose source or destination lies in one of a few
 * address masks are recorded twice, as received and as sent (the manual's
 * "two entries in pcap for one incoming packet"). This is the control API
 * that Go calls; the workers' side is fp_ajb_dp.h.
 *
 * Concurrency: fp_ajb_set() may be called from any thread (it takes
 * fp_ctl_lock); fp_ajb_drain() has exactly one caller at a time (the
 * rings' single consumer); fp_ajb_stats() reads counters each worker
 * writes alone (aligned 64-bit loads, never torn).
 */
#ifndef FP_AJB_H
#define FP_AJB_H

#include <stdint.h>

/* Masks per address family. */
#define FP_AJB_MAX_MASKS 16
/* Records each worker's ring holds (a power of two; one slot stays free). */
#define FP_AJB_RING_SIZE 1024
/* Copies in flight, all workers together (the mempool of the copies). */
#define FP_AJB_MBUFS 4095

struct fp_ajb_mask {
	uint8_t family;  /* 4 or 6 */
	uint8_t len;     /* prefix length */
	uint8_t addr[16];/* network byte order; IPv4 in the first 4 bytes */
};

/* Replace the masks; n == 0 stops recording (workers test one pointer per
 * burst and do nothing else). The first call with masks creates the
 * per-worker rings and the copies' mempool, which stay. */
int fp_ajb_set(const struct fp_ajb_mask *masks, uint32_t n);

/* One drained record, as fp_ajb_drain() lays it out in the buffer: this
 * header, then len bytes of frame, then padding to 8 bytes. */
struct fp_ajb_rec {
	uint64_t ns;     /* capture time, Unix nanoseconds */
	uint32_t len;    /* frame length */
	uint16_t worker;
	uint8_t sent;    /* 0: as received, 1: as sent (after routing) */
	uint8_t pad;
};

/* Move recorded frames into buf (at most cap bytes), ring after ring, and
 * free their mbufs. Returns the bytes used (0: nothing waiting) and sets
 * *more when a record did not fit (it is kept for the next call). */
int fp_ajb_drain(uint8_t *buf, uint32_t cap, int *more);

struct fp_ajb_stats {
	uint64_t packets;   /* incoming packets recorded */
	uint64_t records;   /* records queued (an original, and its sent copy when forwarded) */
	uint64_t ring_full; /* packets not recorded: the worker's ring was full */
	uint64_t no_mbuf;   /* packets not recorded: no mbuf for a copy */
	uint64_t drained;   /* records handed to the writer */
	uint32_t masks;     /* masks in force */
	uint32_t ready;     /* rings and pool exist */
};

/* Counters of all workers together. */
void fp_ajb_stats(struct fp_ajb_stats *st);

#endif /* FP_AJB_H */
