package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
)

// stallAfter is how long a worker may make no loop pass before it is
// reported as wedged. A loop pass takes microseconds, and an idle worker
// sleeps at most fibd_idle_sleep_us (a second at most) between passes.
const stallAfter = 2 * time.Second

// Two reports of one fault. A worker reports RCU quiescence once per loop
// pass and counts the pass (polls), so a wedged worker (a PMD stuck in rx
// or tx) shows in two places:
//
//   - here, the watchdog: polls unchanged for stallAfter, seen from Go
//     every stallAfter/4 whether or not the FIB changes ("worker is
//     wedged"), and logged again when it moves on;
//   - in the fast path's grace periods (cgo/dp/fp_fib.c grace_period): the
//     FIB writer waits at most 1.5 s for every online worker, and on a
//     timeout counts a stall, records which workers made no pass
//     (dpdk.ReadRCUInfo: Stalls, Stalled, StalledWorkers) and holds back
//     the changes that need the grace period. It only sees a wedged worker
//     when the FIB changes.
//
// The control server's status (grace_stalls, stalled_workers) and the
// metrics (fibd_rcu_grace_stalls_total, fibd_rcu_stalled) show the second,
// which is what decides whether FIB changes are held; the watchdog logs
// both, the second as "grace period timed out", once per change of
// ReadRCUInfo().Stalled. A worker in both lists is wedged; one only in the
// watchdog's has not been needed by a grace period yet.

// watchWorkers reports, loudly and once per change, a worker that stopped
// making loop passes (a PMD stuck in rx or tx) and grace periods that time
// out because of it; and reports again when it recovers. It only reads
// counters: the control plane goes on answering whatever the workers do.
func watchWorkers(ctx context.Context, log zerolog.Logger) {
	log = log.With().Str("component", "watchdog").Logger()
	n := dpdk.WorkerCount()
	last := make([]uint64, n)
	since := make([]time.Time, n)
	stuck := make([]bool, n)
	rcuStalled := false
	tick := time.NewTicker(stallAfter / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for i := range n {
				s, err := dpdk.ReadWorkerStats(i)
				if err != nil {
					continue
				}
				if s.Polls != last[i] || since[i].IsZero() {
					if stuck[i] {
						log.Warn().Int("worker", i).Msg("worker makes loop passes again")
					}
					last[i], since[i], stuck[i] = s.Polls, now, false
					continue
				}
				if !stuck[i] && now.Sub(since[i]) >= stallAfter {
					stuck[i] = true
					log.Error().Int("worker", i).Dur("for", now.Sub(since[i])).
						Msg("worker is wedged: no loop pass (its queues are not served; FIB writes wait for it)")
				}
			}
			r := dpdk.ReadRCUInfo()
			if r.Stalled != rcuStalled {
				rcuStalled = r.Stalled
				if r.Stalled {
					log.Error().Ints("workers", r.StalledWorkers).Uint64("stalls", r.Stalls).
						Msg("grace period timed out: FIB and nexthop changes are held until the worker moves on")
				} else {
					log.Warn().Uint64("stalls", r.Stalls).Msg("grace periods end again: FIB changes resume")
				}
			}
		}
	}
}
