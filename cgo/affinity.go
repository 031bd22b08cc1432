package dpdk

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KeepOffWorkerCPUs moves every thread of the process but the worker
// lcores (the Go runtime's threads, EAL's service threads) off the CPUs the
// workers poll on. Threads inherit the mask of the thread that creates
// them, so threads the Go runtime starts later stay off too. Without this,
// the Go scheduler and garbage collector preempt a busy-polling worker.
// It returns the CPUs left to the control plane.
func KeepOffWorkerCPUs() (unix.CPUSet, error) {
	var all, workers unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return all, fmt.Errorf("process affinity: %w", err)
	}
	tasks, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		return all, err
	}
	var others []int
	for _, t := range tasks {
		tid, err := strconv.Atoi(filepath.Base(t))
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(t, "comm"))
		if !strings.HasPrefix(string(comm), "rte-worker-") {
			others = append(others, tid)
			continue
		}
		var s unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &s); err == nil {
			for c := range 1024 {
				if s.IsSet(c) {
					workers.Set(c)
				}
			}
		}
	}
	control := all
	for c := range 1024 {
		if workers.IsSet(c) {
			control.Clear(c)
		}
	}
	if control.Count() == 0 {
		return all, fmt.Errorf("every CPU runs a worker lcore: nothing left for the control plane")
	}
	for _, tid := range others {
		// A thread may have exited meanwhile: not an error.
		if err := unix.SchedSetaffinity(tid, &control); err != nil && err != unix.ESRCH {
			return control, fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return control, nil
}
