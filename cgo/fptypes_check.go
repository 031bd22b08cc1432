package dpdk

/*
#include "fp.h"
*/
import "C"

import (
	"unsafe"

	"fibd/cgo/fptypes"
)

// fptypes spells the C enums in plain Go; these fail to compile when a
// value drifts from cgo/dp/fp.h (an array index must be 0 in [1]struct{}).
var (
	_ = [1]struct{}{}[int(fptypes.NexthopNone)-int(C.FP_NH_NONE)]
	_ = [1]struct{}{}[int(fptypes.NexthopForward)-int(C.FP_NH_FORWARD)]
	_ = [1]struct{}{}[int(fptypes.NexthopECMP)-int(C.FP_NH_ECMP)]
	_ = [1]struct{}{}[int(fptypes.NexthopUnresolved)-int(C.FP_NH_UNRESOLVED)]
	_ = [1]struct{}{}[int(fptypes.NexthopLocal)-int(C.FP_NH_LOCAL)]
	_ = [1]struct{}{}[int(fptypes.NexthopBlackhole)-int(C.FP_NH_BLACKHOLE)]
	_ = [1]struct{}{}[int(fptypes.NexthopUnreachable)-int(C.FP_NH_UNREACHABLE)]
	_ = [1]struct{}{}[int(fptypes.NexthopProhibit)-int(C.FP_NH_PROHIBIT)]
	_ = [1]struct{}{}[int(fptypes.NexthopPunt)-int(C.FP_NH_PUNT)]
	_ = [1]struct{}{}[int(fptypes.NexthopThrow)-int(C.FP_NH_THROW)]
	// PortID: the same width as the C side's uint16_t port ids.
	_ = [1]struct{}{}[int(unsafe.Sizeof(fptypes.PortID(0)))-int(unsafe.Sizeof(C.uint16_t(0)))]
)
