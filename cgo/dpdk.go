// Package dpdk is fibd's own thin binding to DPDK and to the C fast path in
// cgo/dp. It is the only package of fibd that imports "C": everything else
// talks to DPDK through the Go types and functions here.
//
// The fast path never calls Go and Go never runs per packet. Calls here are
// control operations: bring up the EAL, set up ports, publish nexthops,
// apply batches of FIB changes, start and stop worker lcores, read counters.
//
// The C library is built by meson (see the top-level Makefile); cgo links
// build/cgo/dp/libfibdp.a.
package dpdk

/*
#cgo CFLAGS: -I${SRCDIR}/dp -I${SRCDIR}/../build -O2
#cgo LDFLAGS: ${SRCDIR}/../build/cgo/dp/libfibdp.a
#cgo pkg-config: libdpdk
#include <stdlib.h>
#include "fp.h"
*/
import "C"

import (
	"fmt"
	"syscall"
)

// Limits compiled into the fast path (meson_options.txt).
const (
	Burst        = int(C.FP_BURST)
	MaxPorts     = int(C.FP_MAX_PORTS)
	MaxWorkers   = int(C.FP_MAX_WORKERS)
	MaxTables    = int(C.FP_MAX_TABLES)
	MaxNexthops  = int(C.FP_MAX_NEXTHOPS)
	ECMPBuckets  = int(C.FP_ECMP_BUCKETS)
	NexthopMiss  = uint32(C.FP_NH_MISS)
	verdictDrops = int(C.FP_VERDICT_DROP_BASE)
)

// errno turns a negative errno return of the C side into an error that
// matches syscall.Errno values with errors.Is (ENOSPC, ENOENT, ...).
func errno(rc C.int, what string, args ...any) error {
	if rc >= 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(what, args...), syscall.Errno(-rc))
}

// DropReasons lists the fast path's drop counter names, index = reason.
func DropReasons() []string {
	n := int(C.FP_DROP_MAX)
	out := make([]string, n)
	for i := range n {
		out[i] = C.GoString(C.fp_drop_name(C.uint(i)))
	}
	return out
}
