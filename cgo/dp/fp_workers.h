/* The worker registry (fp_worker.c owns it). */
#ifndef FP_WORKERS_H
#define FP_WORKERS_H

#include <stdint.h>

#include "fp.h"

/* Loop passes of worker widx so far (0 <= widx < fp_worker_count()): the
 * grace period names the workers that made none while it waited. Any
 * thread; a relaxed load of a counter only that worker writes. */
uint64_t fp_worker_polls(unsigned int widx);

/* Adds to policed[c] the punts to exception exc that the workers' policers
 * held back, per class (fp_exc_stats). Control thread. */
void fp_workers_policed(unsigned int exc, uint64_t policed[FP_PUNT_CLASSES]);

#endif /* FP_WORKERS_H */
