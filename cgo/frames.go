package dpdk

/*
#include <stdlib.h>
#include <string.h>
#include "fp.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Verdict is what the fast path decided for one frame.
type Verdict struct {
	Forward   bool
	Port      PortID // egress port when Forward
	Punt      bool
	Glean     bool // a punt for a neighbour not resolved yet
	Exception int  // exception index (AttachException) when Punt
	Drop      int  // drop reason index (DropReasons) when neither
}

// ProcessFrames runs the complete per-packet pipeline of a worker (checks,
// lookup in table idx, nexthop, ECMP, rewrite) over raw frames as if
// received on port in, without polling any port: for tests and fuzzing.
// Forwarded frames are rewritten in place (shortened when trimmed to
// their IP length, 4 bytes longer when tagged for a VLAN). A packet pool must exist (CreatePool).
func ProcessFrames(idx uint16, in PortID, frames [][]byte) ([]Verdict, error) {
	n := len(frames)
	if n == 0 {
		return nil, nil
	}
	// C memory: the C side keeps no pointer, but an array of pointers to
	// Go memory may not be passed to C.
	ptrs := (*[1 << 28]*C.uint8_t)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(uintptr(0)))))[:n:n]
	defer C.free(unsafe.Pointer(&ptrs[0]))
	lens := make([]C.uint16_t, n)
	for i, f := range frames {
		if len(f) > 0xffff {
			return nil, fmt.Errorf("frame %d: %d bytes", i, len(f))
		}
		ptrs[i] = (*C.uint8_t)(C.malloc(C.size_t(len(f) + 4))) // room for a VLAN tag
		if len(f) > 0 {
			C.memcpy(unsafe.Pointer(ptrs[i]), unsafe.Pointer(&f[0]), C.size_t(len(f)))
		}
		lens[i] = C.uint16_t(len(f))
	}
	defer func() {
		for _, p := range ptrs {
			C.free(unsafe.Pointer(p))
		}
	}()
	verd := make([]C.uint32_t, n)
	ports := make([]C.uint16_t, n)
	if rc := C.fp_process_frames(C.uint16_t(idx), C.uint16_t(in), &ptrs[0], &lens[0], C.uint32_t(n),
		&verd[0], &ports[0]); rc < 0 {
		return nil, errno(rc, "process %d frames", n)
	}
	out := make([]Verdict, n)
	for i := range out {
		switch verd[i] {
		case C.FP_VERDICT_PUNT:
			out[i] = Verdict{Punt: true, Exception: int(ports[i])}
		case C.FP_VERDICT_GLEAN:
			out[i] = Verdict{Punt: true, Glean: true, Exception: int(ports[i])}
		case C.FP_VERDICT_FORWARD:
			out[i] = Verdict{Forward: true, Port: PortID(ports[i])}
			frames[i] = append(frames[i][:0], unsafe.Slice((*byte)(ptrs[i]), int(lens[i]))...)
		default:
			out[i] = Verdict{Drop: int(verd[i]) - verdictDrops}
		}
	}
	return out, nil
}
