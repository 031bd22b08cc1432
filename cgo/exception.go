package dpdk

/*
#include <stdlib.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include "fp.h"
*/
import "C"

import (
	"net"
	"os"
	"syscall"
	"unsafe"
)

// PuntClass is a policer class of the exception path.
type PuntClass int

const (
	PuntProto PuntClass = C.FP_PUNT_PROTO // BGP, OSPF, BFD, LDP, RIP, VRRP from peers (SetIfAddrs) or by TTL
	PuntND    PuntClass = C.FP_PUNT_ND    // ARP, IPv6 neighbour discovery
	PuntOther PuntClass = C.FP_PUNT_OTHER // the rest
	PuntGlean PuntClass = C.FP_PUNT_GLEAN // towards neighbours not resolved yet
)

// PuntClasses names the classes, by value.
var PuntClasses = []string{"proto", "nd", "other", "glean"}

// AttachException makes exc (a set-up port that no worker polls) the
// exception interface of data port p: what the fast path punts from p goes
// there, and what is sent there leaves p. Returns the exception index.
// Call before Launch.
func AttachException(p, exc PortID) (int, error) {
	rc := C.fp_exc_attach(C.uint16_t(p), C.uint16_t(exc))
	if rc < 0 {
		return 0, errno(rc, "exception interface port %d for port %d", exc, p)
	}
	return int(rc), nil
}

// SetPuntRate sets one class's policer: pps packets per second for all
// workers together, bursts of up to burst; 0 punts nothing of the class.
func SetPuntRate(c PuntClass, pps, burst uint32) error {
	return errno(C.fp_punt_set_rate(C.uint(c), C.uint32_t(pps), C.uint32_t(burst)), "punt rate of %s", PuntClasses[c])
}

// StartExceptions starts the exception thread (after Launch). It runs on
// the caller's CPUs: call it through EAL.Do to keep it off the workers'.
func StartExceptions() error { return errno(C.fp_exc_start(), "start the exception thread") }

// StopExceptions stops the exception thread (before StopWorkers).
func StopExceptions() error { return errno(C.fp_exc_stop(), "stop the exception thread") }

// ExceptionStats are one exception interface's counters.
type ExceptionStats struct {
	Port, ExcPort PortID
	ToExc         uint64   // punted frames written to the exception interface
	ToExcDrop     uint64   // ... it did not accept
	FromExc       uint64   // frames the routing daemon sent
	FromExcDrop   uint64   // ... lost to a full inject ring
	Captured      uint64   // frames written to the capture file
	CaptureErrors uint64   // ... that could not be (capture stopped)
	Policed       []uint64 // punts the policer held back, by PuntClass
}

// ExceptionCount is the number of attached exception interfaces.
func ExceptionCount() int { return int(C.fp_exc_count()) }

// ReadExceptionStats reads exception interface i's counters.
func ReadExceptionStats(i int) (ExceptionStats, error) {
	var s C.struct_fp_exc_stats
	if rc := C.fp_exc_stats(C.uint(i), &s); rc < 0 {
		return ExceptionStats{}, errno(rc, "exception %d stats", i)
	}
	pol := unsafe.Slice((*uint64)(unsafe.Pointer(&s.policed[0])), len(PuntClasses))
	return ExceptionStats{
		Port: PortID(s.port), ExcPort: PortID(s.exc_port),
		ToExc: uint64(s.to_exc), ToExcDrop: uint64(s.to_exc_drop),
		FromExc: uint64(s.from_exc), FromExcDrop: uint64(s.from_exc_drop),
		Captured: uint64(s.captured), CaptureErrors: uint64(s.cap_errors),
		Policed: append([]uint64(nil), pol...),
	}, nil
}

// CreateVdev probes a virtual device (hotplug on the vdev bus), e.g. "net_tap0" with
// "iface=rib0,mac=...". A TAP is created in the network namespace of the
// calling thread: lock the thread and enter the namespace around the call.
func CreateVdev(name, args string) (PortID, error) {
	cb, cn, ca := C.CString("vdev"), C.CString(name), C.CString(args)
	defer C.free(unsafe.Pointer(cb))
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(ca))
	if rc := C.rte_eal_hotplug_add(cb, cn, ca); rc < 0 {
		return 0, errno(rc, "create %s,%s", name, args)
	}
	return PortByName(name)
}

// RemoveVdev removes a virtual device probed by CreateVdev (its port must
// be closed).
func RemoveVdev(name string) error {
	cb, cn := C.CString("vdev"), C.CString(name)
	defer C.free(unsafe.Pointer(cb))
	defer C.free(unsafe.Pointer(cn))
	return errno(C.rte_eal_hotplug_remove(cb, cn), "remove %s", name)
}

// SetLink sets port p's link administratively up or down (for a TAP: its
// kernel interface).
func (p PortID) SetLink(up bool) error {
	var rc C.int
	if up {
		rc = C.rte_eth_dev_set_link_up(C.uint16_t(p))
	} else {
		rc = C.rte_eth_dev_set_link_down(C.uint16_t(p))
	}
	return errno(rc, "set port %d link %s", p, map[bool]string{true: "up", false: "down"}[up])
}

// SetMTU sets port p's MTU (for a TAP: its kernel interface's).
func (p PortID) SetMTU(mtu int) error {
	return errno(C.rte_eth_dev_set_mtu(C.uint16_t(p), C.uint16_t(mtu)), "set port %d mtu %d", p, mtu)
}

// Capture directions of an exception interface.
const (
	CaptureFromExc = C.FP_CAP_FROM_EXC // what the routing daemon sends
	CaptureToExc   = C.FP_CAP_TO_EXC   // what is punted to it
)

// CaptureException makes the exception thread append the frames of
// exception i (dirs: CaptureFromExc|CaptureToExc) to f as pcap records; f
// must hold a pcap file header already. The thread writes through its own
// duplicate of f's descriptor: the caller may close f. A nil f stops.
func CaptureException(i int, f *os.File, dirs uint) error {
	fd := -1
	if f != nil {
		var err error
		if fd, err = syscall.Dup(int(f.Fd())); err != nil {
			return err
		}
		syscall.CloseOnExec(fd)
	}
	if rc := C.fp_exc_capture(C.uint(i), C.int(fd), C.uint(dirs)); rc < 0 {
		if fd >= 0 {
			syscall.Close(fd)
		}
		return errno(rc, "capture of exception %d", i)
	}
	return nil
}

// SetVLAN tells the fast path that VLAN vid of port p's exception
// interface has a sub-interface (on) or not: its tagged frames are routed
// instead of punted as they are.
func (p PortID) SetVLAN(vid uint16, on bool) {
	C.fp_port_set_vlan(C.uint16_t(p), C.uint16_t(vid), C.bool(on))
}

// SetMAC sets port p's MAC address (a bond's: its members take it).
func (p PortID) SetMAC(mac net.HardwareAddr) error {
	var a C.struct_rte_ether_addr
	if len(mac) != 6 {
		return errno(-C.int(syscall.EINVAL), "port %d mac %s", p, mac)
	}
	for i := range 6 {
		a.addr_bytes[i] = C.uint8_t(mac[i])
	}
	return errno(C.rte_eth_dev_default_mac_addr_set(C.uint16_t(p), &a), "port %d mac %s", p, mac)
}

// NoPort stands for no exception interface port (ReattachException).
const NoPort PortID = C.FP_EXC_NONE

// ReattachException makes exc (a set-up, started port that no worker
// polls) exception i's interface in place of the old one, e.g. a TAP made
// again in a new router netns, or NoPort while there is none (its punts
// are dropped and counted as ToExcDrop). Only while the exception thread is stopped
// (StopExceptions); the old port is the caller's to close.
func ReattachException(i int, exc PortID) error {
	return errno(C.fp_exc_reattach(C.uint(i), C.uint16_t(exc)), "reattach exception %d to port %d", i, exc)
}
