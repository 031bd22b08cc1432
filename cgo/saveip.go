package dpdk

/*
#include "fp_ajb.h"
*/
import "C"

import (
	"fmt"
	"net/netip"
	"time"
	"unsafe"
)

// SaveIPMaxMasks is the most ajb_save_ip masks per address family.
const SaveIPMaxMasks = int(C.FP_AJB_MAX_MASKS)

// SetSaveIP gives the workers ajb_save_ip's masks: packets from or to one
// of them are recorded as received and, when forwarded, as sent. No masks
// stops recording. It returns after a grace period: no worker records
// with the previous masks any more. Any goroutine may call it.
func SetSaveIP(masks []netip.Prefix) error {
	c := make([]C.struct_fp_ajb_mask, len(masks))
	for i, p := range masks {
		a := p.Addr().Unmap()
		if !p.IsValid() || p.Bits() > a.BitLen() {
			return fmt.Errorf("ajb_save_ip: bad mask %s", p)
		}
		c[i].len = C.uint8_t(p.Bits())
		b := a.AsSlice()
		c[i].family = 6
		if a.Is4() {
			c[i].family = 4
		}
		for j := range b {
			c[i].addr[j] = C.uint8_t(b[j])
		}
	}
	var ptr *C.struct_fp_ajb_mask
	if len(c) > 0 {
		ptr = &c[0]
	}
	return errno(C.fp_ajb_set(ptr, C.uint32_t(len(c))), "ajb_save_ip: %d masks", len(c))
}

// SaveIPRecord is one recorded frame. Frame aliases the drain buffer: it
// is valid during the callback only.
type SaveIPRecord struct {
	Time   time.Time
	Sent   bool // false: as received; true: as sent, after routing
	Worker int
	Frame  []byte
}

// DrainSaveIP moves the recorded frames into buf and calls fn for each,
// in the order each worker recorded them (an original, then its sent
// copy). more says buf filled up: call again at once. Only one goroutine
// may drain (the rings have one consumer). fn's first error stops the
// walk over buf (the frames are already out of the rings).
func DrainSaveIP(buf []byte, fn func(SaveIPRecord) error) (n int, more bool, err error) {
	if len(buf) == 0 {
		return 0, false, fmt.Errorf("ajb_save_ip: empty drain buffer")
	}
	var m C.int
	used := int(C.fp_ajb_drain((*C.uint8_t)(unsafe.Pointer(&buf[0])), C.uint32_t(len(buf)), &m))
	hdr := int(unsafe.Sizeof(C.struct_fp_ajb_rec{}))
	for off := 0; off+hdr <= used; {
		r := (*C.struct_fp_ajb_rec)(unsafe.Pointer(&buf[off]))
		l := int(r.len)
		if off+hdr+l > used {
			return n, m != 0, fmt.Errorf("ajb_save_ip: drain record at %d overruns %d bytes", off, used)
		}
		rec := SaveIPRecord{Time: time.Unix(0, int64(r.ns)), Sent: r.sent != 0, Worker: int(r.worker),
			Frame: buf[off+hdr : off+hdr+l : off+hdr+l]}
		n++
		if err := fn(rec); err != nil {
			return n, m != 0, err
		}
		off += hdr + (l+7)&^7
	}
	return n, m != 0, nil
}

// SaveIPStats are ajb_save_ip's counters, all workers together.
type SaveIPStats struct {
	Packets  uint64 // incoming packets recorded
	Records  uint64 // records queued: originals, and sent copies of forwarded ones
	RingFull uint64 // packets not recorded: a worker's ring was full (ajb_ring_full)
	NoMbuf   uint64 // packets not recorded: no mbuf for a copy (ajb_no_mbuf)
	Drained  uint64 // records handed to the writer
	Masks    int    // masks in force
	Ready    bool   // rings and mempool made (ajb_save_ip was set once)
}

// ReadSaveIPStats reads ajb_save_ip's counters.
func ReadSaveIPStats() SaveIPStats {
	var s C.struct_fp_ajb_stats
	C.fp_ajb_stats(&s)
	return SaveIPStats{Packets: uint64(s.packets), Records: uint64(s.records), RingFull: uint64(s.ring_full),
		NoMbuf: uint64(s.no_mbuf), Drained: uint64(s.drained), Masks: int(s.masks), Ready: s.ready != 0}
}
