#define _GNU_SOURCE
/* The exception thread: moves punted frames from the workers' punt rings
 * to the exception interfaces, and what the routing daemon sends on those
 * interfaces to the workers' inject rings. One thread serves all
 * exception interfaces; it is not an lcore (it shares the main lcore's CPU
 * with the control plane) and sleeps when there is nothing to move. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "fp.h"
#include "fp_exc.h"
#include "fp_ports.h"
#include "fp_workers.h"

/* Ring sizes: a punt ring absorbs a burst of every class's policer depth,
 * an inject ring a burst of what the kernel may send at once. */
#define FP_PUNT_RING 2048
#define FP_INJECT_RING 1024
/* Idle passes before the exception thread naps, and the nap. */
#define FP_EXC_IDLE_PASSES 64
#define FP_EXC_NAP_US 100
/* ... and the pause after a pass that moved less than a burst */
#define FP_EXC_TRICKLE_US 20

/* An exception interface: the data port it serves, its port, counters and
 * the capture handover. Written by the control calls below while the
 * exception thread is stopped (attach, reattach), by the exception thread
 * while it runs (counters, capture), and cap_next by both (atomic). */
struct fp_exc {
	uint16_t port, exc_port;
	uint64_t to_exc, to_exc_drop, from_exc, from_exc_drop;
	/* capture: the exception thread's own file, and the one handed over */
	int cap_fd;
	unsigned int cap_dirs;
	uint64_t captured, cap_errors;
	/* The handover, one word so that it moves with one atomic exchange on
	 * each side: FP_CAP_PENDING, the directions, and the fd in the low
	 * 32 bits. */
	_Atomic uint64_t cap_next;
};
#define FP_CAP_PENDING (UINT64_C(1) << 63)
static struct fp_exc fp_excs[FP_MAX_PORTS];
static unsigned int fp_n_excs;

static pthread_t exc_thread;
static _Atomic bool exc_running;

int
fp_exc_attach(uint16_t port, uint16_t exc_port)
{
	if (port >= FP_MAX_PORTS || exc_port >= FP_MAX_PORTS || port == exc_port)
		return -EINVAL;
	if (!fp_ports[port].configured || !fp_ports[exc_port].configured)
		return -ENODEV;
	if (fp_ports[port].has_exc)
		return -EEXIST;
	if (fp_ports[port].is_exc || fp_ports[exc_port].has_exc || fp_ports[exc_port].is_exc)
		return -EINVAL;
	if (fp_workers_running() || atomic_load(&exc_running))
		return -EBUSY;
	unsigned int idx = fp_n_excs;
	struct fp_exc *e = &fp_excs[idx];
	memset(e, 0, sizeof(*e));
	e->port = port;
	e->exc_port = exc_port;
	e->cap_fd = -1;
	atomic_store(&e->cap_next, 0);
	fp_port_mark_exc(exc_port, true);
	fp_port_bind_exc(port, (uint16_t)idx);
	fp_n_excs = idx + 1;
	return (int)idx;
}

/* The exception interface of idx was made again (its netns was): the new
 * port takes the old one's place, or FP_EXC_NONE leaves idx without one
 * until it is (its punts are dropped and counted as to_exc_drop). Only
 * while the exception thread is stopped (it is the only reader of
 * exc_port); the workers only ever see the exception index, which does not
 * change. The old port's is_exc flag goes with it (it is closed, or its id
 * is the new port's). */
int
fp_exc_reattach(unsigned int idx, uint16_t exc_port)
{
	if (idx >= fp_n_excs || (exc_port >= FP_MAX_PORTS && exc_port != FP_EXC_NONE))
		return -EINVAL;
	struct fp_exc *e = &fp_excs[idx];
	if (exc_port != FP_EXC_NONE) {
		if (!fp_ports[exc_port].configured)
			return -ENODEV;
		if (exc_port == e->port || fp_ports[exc_port].has_exc ||
		    (fp_ports[exc_port].is_exc && exc_port != e->exc_port))
			return -EINVAL;
	}
	if (atomic_load(&exc_running))
		return -EBUSY;
	if (e->exc_port != FP_EXC_NONE)
		fp_port_mark_exc(e->exc_port, false);
	if (exc_port != FP_EXC_NONE)
		fp_port_mark_exc(exc_port, true);
	e->exc_port = exc_port;
	return 0;
}

/* The rings between each worker and the exception thread, by worker
 * index: punts (the worker enqueues, the thread dequeues) and injects (the
 * thread enqueues, the worker dequeues). Created by fp_exc_rings() while
 * no worker and no exception thread runs (n_rings only grows then);
 * afterwards only the exception thread and fp_exc_stop read the arrays. */
static struct rte_ring *punt_rings[FP_MAX_WORKERS], *inject_rings[FP_MAX_WORKERS];
static unsigned int n_rings;

int
fp_exc_rings(unsigned int widx, unsigned int lcore, struct rte_ring **punt, struct rte_ring **inject)
{
	char name[RTE_RING_NAMESIZE];
	int socket = (int)rte_lcore_to_socket_id(lcore);

	if (widx >= FP_MAX_WORKERS || widx != n_rings)
		return -EINVAL;
	if (atomic_load(&exc_running))
		return -EBUSY;
	snprintf(name, sizeof(name), "fp_punt_%u", widx);
	struct rte_ring *p = rte_ring_create(name, FP_PUNT_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "fp_inject_%u", widx);
	struct rte_ring *i = rte_ring_create(name, FP_INJECT_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (p == NULL || i == NULL) {
		rte_ring_free(p);
		rte_ring_free(i);
		return -ENOMEM;
	}
	punt_rings[widx] = *punt = p;
	inject_rings[widx] = *inject = i;
	n_rings = widx + 1;
	return 0;
}

/* ---- capture --------------------------------------------------------------- */

static inline uint64_t
cap_pack(int fd, unsigned int dirs)
{
	return FP_CAP_PENDING | ((uint64_t)(dirs & 0xff) << 32) | (uint32_t)fd;
}

static inline int
cap_fd_of(uint64_t v)
{
	return (int)(uint32_t)v;
}

/* The exception thread (or fp_exc_stop, once the thread has ended) takes a
 * file handed over by fp_exc_capture(). */
static void
capture_take(struct fp_exc *e)
{
	uint64_t v = atomic_exchange(&e->cap_next, 0);
	if (!(v & FP_CAP_PENDING))
		return;
	if (e->cap_fd >= 0)
		close(e->cap_fd);
	e->cap_fd = cap_fd_of(v);
	e->cap_dirs = e->cap_fd >= 0 ? (unsigned int)(v >> 32) & 0xff : 0;
}

int
fp_exc_capture(unsigned int idx, int fd, unsigned int dirs)
{
	if (idx >= fp_n_excs)
		return -ENOENT;
	/* A handover the thread has not taken yet is replaced: its fd is
	 * closed here. The file in use is closed by the thread when it takes
	 * the new one. */
	uint64_t old = atomic_exchange(&fp_excs[idx].cap_next, cap_pack(fd, dirs));
	if ((old & FP_CAP_PENDING) && cap_fd_of(old) >= 0)
		close(cap_fd_of(old));
	return 0;
}

/* One pcap record (microsecond timestamps, little endian like the header
 * the control plane wrote), gathered from the mbuf's segments. */
static void
capture(struct fp_exc *e, const struct rte_mbuf *m, const struct timespec *ts)
{
	struct iovec iov[1 + 16];
	uint32_t hdr[4] = {(uint32_t)ts->tv_sec, (uint32_t)(ts->tv_nsec / 1000), 0, rte_pktmbuf_pkt_len(m)};
	int n = 1;
	uint32_t len = 0;
	for (const struct rte_mbuf *s = m; s != NULL && n < (int)RTE_DIM(iov); s = s->next) {
		iov[n].iov_base = rte_pktmbuf_mtod(s, void *);
		iov[n].iov_len = rte_pktmbuf_data_len(s);
		len += rte_pktmbuf_data_len(s);
		n++;
	}
	hdr[2] = len;
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	if (writev(e->cap_fd, iov, n) == (ssize_t)(sizeof(hdr) + len))
		e->captured++;
	else {
		/* a short write leaves the rest of the file unreadable: stop */
		e->cap_errors++;
		e->cap_dirs = 0;
	}
}

/* ---- the thread ------------------------------------------------------------ */

struct exc_buf {
	uint16_t n;
	struct rte_mbuf *pkts[FP_BURST];
};

static void
to_exc_flush(struct fp_exc *e, struct exc_buf *b)
{
	uint16_t sent = e->exc_port == FP_EXC_NONE ? 0 : rte_eth_tx_burst(e->exc_port, 0, b->pkts, b->n);
	e->to_exc += sent;
	if (sent < b->n) {
		e->to_exc_drop += b->n - sent;
		rte_pktmbuf_free_bulk(&b->pkts[sent], b->n - sent);
	}
	b->n = 0;
}

/* Punted frames, from every worker, to their exception interfaces. */
static uint32_t
drain_punts(struct exc_buf *bufs)
{
	struct rte_mbuf *pkts[FP_BURST];
	uint32_t moved = 0;

	for (unsigned int w = 0; w < n_rings; w++) {
		struct rte_ring *r = punt_rings[w];
		unsigned int n = rte_ring_sc_dequeue_burst(r, (void **)pkts, FP_BURST, NULL);
		moved += n;
		for (unsigned int i = 0; i < n; i++) {
			uint32_t x = pkts[i]->hash.usr;
			if (unlikely(x >= fp_n_excs)) { /* cannot happen: workers check */
				rte_pktmbuf_free(pkts[i]);
				continue;
			}
			if (unlikely(fp_excs[x].cap_dirs & FP_CAP_TO_EXC)) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				capture(&fp_excs[x], pkts[i], &ts);
			}
			struct exc_buf *b = &bufs[x];
			b->pkts[b->n++] = pkts[i];
			if (b->n == FP_BURST)
				to_exc_flush(&fp_excs[x], b);
		}
	}
	for (unsigned int x = 0; x < fp_n_excs; x++)
		if (bufs[x].n)
			to_exc_flush(&fp_excs[x], &bufs[x]);
	return moved;
}

/* What the routing daemon sent, to the workers that transmit it. An
 * exception interface always hands its frames to the same worker, so they
 * leave in the order the daemon sent them. */
static uint32_t
drain_exceptions(void)
{
	struct rte_mbuf *pkts[FP_BURST];
	uint32_t moved = 0;

	for (unsigned int x = 0; x < fp_n_excs; x++) {
		struct fp_exc *e = &fp_excs[x];
		if (e->exc_port == FP_EXC_NONE) /* made again, not yet back */
			continue;
		uint16_t n = rte_eth_rx_burst(e->exc_port, 0, pkts, FP_BURST);
		if (n == 0)
			continue;
		moved += n;
		e->from_exc += n;
		if (unlikely(e->cap_dirs & FP_CAP_FROM_EXC)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			for (uint16_t i = 0; i < n; i++)
				capture(e, pkts[i], &ts);
		}
		for (uint16_t i = 0; i < n; i++)
			pkts[i]->port = e->port;
		struct rte_ring *r = inject_rings[x % n_rings];
		unsigned int q = rte_ring_sp_enqueue_burst(r, (void **)pkts, n, NULL);
		if (q < n) {
			e->from_exc_drop += n - q;
			rte_pktmbuf_free_bulk(&pkts[q], n - q);
		}
	}
	return moved;
}

static void *
exc_main(void *arg)
{
	static struct exc_buf bufs[FP_MAX_PORTS];
	uint32_t idle = 0;
	(void)arg;

	while (atomic_load_explicit(&exc_running, memory_order_relaxed)) {
		for (unsigned int x = 0; x < fp_n_excs; x++)
			capture_take(&fp_excs[x]);
		uint32_t moved = drain_punts(bufs) + drain_exceptions();
		/* A full burst: more is waiting, go on. Less: the thread shares
		 * its CPU with the control plane and the routing daemon, so it
		 * naps and lets frames gather rather than spin on a trickle (a
		 * punt flood, policed to thousands per second, would otherwise
		 * keep it busy and starve BIRD's own timers). */
		if (moved >= FP_BURST) {
			idle = 0;
			continue;
		}
		if (moved > 0 || ++idle >= FP_EXC_IDLE_PASSES) {
			struct timespec ts = {0, (moved ? FP_EXC_TRICKLE_US : FP_EXC_NAP_US) * 1000};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int
fp_exc_start(void)
{
	if (fp_n_excs == 0 || n_rings == 0)
		return 0;
	if (atomic_exchange(&exc_running, true))
		return -EBUSY;
	int rc = pthread_create(&exc_thread, NULL, exc_main, NULL);
	if (rc != 0) {
		atomic_store(&exc_running, false);
		return -rc;
	}
	pthread_setname_np(exc_thread, "fibd-exc");
	return 0;
}

int
fp_exc_stop(void)
{
	if (atomic_exchange(&exc_running, false))
		pthread_join(exc_thread, NULL);
	/* the thread has ended (or never ran): its files are ours to close */
	for (unsigned int x = 0; x < fp_n_excs; x++) {
		capture_take(&fp_excs[x]);
		if (fp_excs[x].cap_fd >= 0)
			close(fp_excs[x].cap_fd);
		fp_excs[x].cap_fd = -1;
		fp_excs[x].cap_dirs = 0;
	}
	/* Frames still in the rings are freed by the workers' last drain or
	 * here; nothing is sent after stop. */
	struct rte_mbuf *m;
	for (unsigned int w = 0; w < n_rings; w++)
		while (rte_ring_sc_dequeue(punt_rings[w], (void **)&m) == 0)
			rte_pktmbuf_free(m);
	return 0;
}

unsigned int
fp_exc_count(void)
{
	return fp_n_excs;
}

int
fp_exc_stats(unsigned int idx, struct fp_exc_stats *st)
{
	if (idx >= fp_n_excs)
		return -ENOENT;
	const struct fp_exc *e = &fp_excs[idx];
	memset(st, 0, sizeof(*st));
	st->port = e->port;
	st->exc_port = e->exc_port;
	st->to_exc = e->to_exc;
	st->to_exc_drop = e->to_exc_drop;
	st->from_exc = e->from_exc;
	st->from_exc_drop = e->from_exc_drop;
	st->captured = e->captured;
	st->cap_errors = e->cap_errors;
	fp_workers_policed(idx, st->policed);
	return 0;
}
