package router

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cpuBusy is one CPU's busy and total jiffies from /proc/stat.
type cpuBusy struct{ busy, total uint64 }

// readCPUStat parses the per-CPU lines of /proc/stat.
func readCPUStat(path string) (map[int]cpuBusy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[int]cpuBusy{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || !strings.HasPrefix(fields[0], "cpu") || fields[0] == "cpu" {
			continue
		}
		cpu, err := strconv.Atoi(fields[0][3:])
		if err != nil {
			continue
		}
		var b cpuBusy
		for i, v := range fields[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, fields[0], err)
			}
			b.total += n
			if i != 3 && i != 4 { // idle and iowait
				b.busy += n
			}
		}
		out[cpu] = b
	}
	return out, sc.Err()
}

// leastLoaded picks, among candidates, the CPU that was least busy between
// two samples of /proc/stat (the lowest number on a tie), and its load.
func leastLoaded(candidates []int, before, after map[int]cpuBusy) (cpu int, load float64) {
	cpu, load = -1, 2
	for _, c := range candidates {
		b, a := before[c], after[c]
		l := 0.0
		if a.total > b.total {
			l = float64(a.busy-b.busy) / float64(a.total-b.total)
		}
		if l < load {
			cpu, load = c, l
		}
	}
	return cpu, load
}

// autoCore is router_bind_core=-1: the least loaded of the CPUs thread
// tid may run on (the control plane's: the workers' are excluded),
// measured over a short sample.
func autoCore(ctx context.Context, tid int, sample time.Duration) (cpu int, load float64, err error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(tid, &set); err != nil {
		return -1, 0, fmt.Errorf("thread affinity: %w", err)
	}
	var cands []int
	for c := range 1024 {
		if set.IsSet(c) {
			cands = append(cands, c)
		}
	}
	before, err := readCPUStat("/proc/stat")
	if err != nil {
		return -1, 0, err
	}
	if sleep(ctx, sample); ctx.Err() != nil {
		return -1, 0, ctx.Err()
	}
	after, err := readCPUStat("/proc/stat")
	if err != nil {
		return -1, 0, err
	}
	cpu, load = leastLoaded(cands, before, after)
	if cpu < 0 {
		return -1, 0, fmt.Errorf("no CPU to choose from")
	}
	return cpu, load, nil
}
