package kni

import (
	"fmt"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	dpdk "fibd/cgo"
)

// Making exception interfaces again.
//
// router_netns may be deleted and made again under the same name (a
// routing container restarts). Its exception interfaces go with it: a
// managed TAP stays behind in the old namespace (fibd's descriptors keep
// it alive) where no routing daemon looks; the manual's veth pair dies
// (or the operator removes it) and is made again, and the af_packet port
// stays bound to the dead interface. Either way BGP would never come back.
//
// Watch starts one goroutine that owns the recovery. Once a second it
// checks every interface against what it was made on (the namespace's
// inode; the peer's ifindex in it for a TAP, the tap end's for a veth):
//
//  1. gone: the exception thread stops (workers go on; their punts wait in
//     the punt rings, then are dropped and counted), the old DPDK port is
//     stopped, closed and its vdev removed, and the fast path's exception
//     keeps its index but no port (dpdk.NoPort: punts to it are counted as
//     to_exc_drop);
//  2. without a port: it is made as at start (a TAP inside the new
//     namespace with the port's name, MAC and MTU; or af_packet on the
//     re-made tap end, ARP and IPv6 off there, the port's MAC on the peer
//     end). When that fails (no namespace yet, no veth yet) it is tried
//     again on the next tick;
//  3. made: it is attached to its data port in place of nothing, the
//     exception thread restarts, captures get a new file and link state
//     is mirrored again.
//
// The exception thread is stopped once per tick for all of it, and only
// when something changed.

// Watch starts making exception interfaces again when their router netns
// or veth pair is made again; start restarts the exception thread (where
// it runs is the caller's business). Call after the exception thread
// started, and Unwatch before it stops for good.
func (s *Set) Watch(start func() error) {
	if s == nil || len(s.List) == 0 || s.stop != nil {
		return
	}
	s.start = start
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.heal()
			}
		}
	}()
}

// Unwatch ends Watch's goroutine and waits for it: no exception interface
// is made again, and the exception thread is not restarted, after it.
func (s *Set) Unwatch() {
	if s == nil || s.stop == nil {
		return
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// nsIno is the inode of network namespace name (0 when there is none).
func nsIno(name string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+name, &st); err != nil {
		return 0
	}
	return st.Ino
}

// identity reads what e is made on now: the namespace's inode and the
// ifindex of its interface (the peer in the namespace for a TAP, the tap
// end for a veth); 0 for what is not there.
func (s *Set) identity(e *Exception) (ino uint64, ifindex int) {
	ino = nsIno(s.netns)
	if e.Mode == ModeTap {
		if ino != 0 {
			withHandle(s.netns, func(h *netlink.Handle) error {
				if l, err := h.LinkByName(e.Peer); err == nil {
					ifindex = l.Attrs().Index
				}
				return nil
			})
		}
		return ino, ifindex
	}
	if l, err := netlink.LinkByName(e.Tap); err == nil {
		ifindex = l.Attrs().Index
	}
	return ino, ifindex
}

// remember records what e was just made on.
func (s *Set) remember(e *Exception) {
	e.nsIno, e.ifindex = s.identity(e)
	e.waitErr = ""
}

// heal is one pass of Watch (see above). Runs on Watch's goroutine only.
func (s *Set) heal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	stopped := false
	stopThread := func() {
		if !stopped && !s.threadDown {
			if err := dpdk.StopExceptions(); err != nil {
				s.log.Error().Err(err).Msg("stopping the exception thread")
			}
			s.log.Info().Msg("exception thread stopped: re-attaching exception interfaces")
		}
		stopped = true
	}
	// 1. gone
	for _, e := range s.List {
		if e.vdev == "" {
			continue
		}
		ino, ifindex := s.identity(e)
		if ino == e.nsIno && ifindex == e.ifindex {
			continue
		}
		stopThread()
		s.log.Warn().Str("device", e.Device).Str("mode", e.Mode).Str("tap", e.Tap).Str("peer", e.Peer).
			Str("netns", s.netns).Bool("netns_replaced", ino != e.nsIno).
			Msg("exception interface gone with its router netns or veth pair: releasing its port")
		if err := s.removeVdev(e); err != nil {
			s.log.Warn().Err(err).Str("device", e.Device).Uint16("port", uint16(e.Exc)).Msg("releasing the old exception port")
		}
		if err := dpdk.ReattachException(e.Index, dpdk.NoPort); err != nil {
			s.log.Error().Err(err).Str("device", e.Device).Msg("detaching the old exception port")
		}
		e.Exc, e.linked = dpdk.NoPort, false
	}
	// 2. made again where possible
	var made []*Exception
	for _, e := range s.List {
		if e.vdev != "" {
			continue
		}
		if err := s.reopen(e); err != nil {
			if err.Error() != e.waitErr {
				s.log.Warn().Err(err).Str("device", e.Device).Msg("exception interface cannot be made again yet: retrying every second")
				e.waitErr = err.Error()
			}
			continue
		}
		made = append(made, e)
	}
	// 3. attached, thread restarted
	for _, e := range made {
		stopThread()
		if err := dpdk.ReattachException(e.Index, e.Exc); err != nil {
			s.log.Error().Err(err).Str("device", e.Device).Msg("re-attaching the exception interface")
			s.removeVdev(e)
			e.Exc = dpdk.NoPort
			continue
		}
		s.remember(e)
		n := e.Reattached.Add(1)
		s.log.Info().Str("device", e.Device).Str("mode", e.Mode).Str("tap", e.Tap).Str("peer", e.Peer).
			Str("netns", s.netns).Uint16("port", uint16(e.Exc)).Uint64("reattached", n).
			Msg("exception interface made again and re-attached")
	}
	if !stopped && !s.threadDown {
		return
	}
	if err := s.start(); err != nil {
		s.threadDown = true
		s.log.Error().Err(err).Msg("restarting the exception thread: retrying every second")
		return
	}
	s.threadDown = false
	s.log.Info().Msg("exception thread restarted")
	// Stopping the thread closed every capture file: new ones.
	s.capMu.Lock()
	for _, e := range s.List {
		if e.capFile != "" {
			if err := s.captureFile(e, time.Now()); err != nil {
				s.log.Error().Err(err).Str("device", e.Device).Msg("router_tap_pcap after re-attach")
			}
		}
	}
	s.capMu.Unlock()
	s.syncLinks()
}

// reopen makes e's interface and DPDK port again, as Open did.
func (s *Set) reopen(e *Exception) error {
	if nsIno(s.netns) == 0 {
		return fmt.Errorf("netns %s does not exist", s.netns)
	}
	var err error
	if e.Mode == ModeTap {
		err = s.openTap(e, e.pos)
	} else {
		err = s.openVeth(e, e.pos)
	}
	if err != nil {
		if e.vdev != "" {
			s.removeVdev(e)
		}
		e.Exc = dpdk.NoPort
		return err
	}
	s.checkForwarding()
	return nil
}
