package kni

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	dpdk "fibd/cgo"
	"fibd/conf"
	"fibd/ports"
)

// Modes of an exception interface.
const (
	ModeTap  = conf.ExceptionTap  // fibd's own TAP, created in router_netns
	ModeVeth = conf.ExceptionVeth // the operator's veth pair, fibd on the tap= end
)

// Exception is one exception interface in service. Exc, vdev, the link
// fields and the identity fields change when it is made again (Watch):
// they are read and written under Set.mu only.
type Exception struct {
	Interface
	Mode  string
	Port  *ports.Port // the data port it serves
	Exc   dpdk.PortID // the DPDK port of the exception interface (dpdk.NoPort while gone)
	Index int         // the fast path's exception index (never changes)

	// Reattached counts the times it was made again after its router
	// netns (or veth pair) was.
	Reattached atomic.Uint64

	pos    int // position in the plan: names its vdevs
	vdev   string
	linked bool // link state mirrored at least once
	up     bool // last mirrored link state

	// what it was made on: a change means it is gone (heal)
	nsIno   uint64 // inode of router_netns
	ifindex int    // tap mode: the peer's in router_netns; veth mode: the tap end's
	waitErr string // the last reason it could not be made again (logged once)

	capFile  string // current capture file, "" when not capturing
	capSince time.Time
}

// Set is every exception interface of fibd.
//
// Concurrency: List is fixed after Open. mu guards each Exception's port
// and link state: SyncLinks (the daemon's ticker), Stats (control
// commands) and heal (Watch's goroutine, the only one that makes
// interfaces again) take it. capMu guards the captures (reloads, the
// rotation ticker, and heal, which re-applies them after restarting the
// exception thread); the order is mu, then capMu.
type Set struct {
	log     zerolog.Logger
	netns   string
	List    []*Exception
	mu      sync.Mutex
	capMu   sync.Mutex // capture state: reloads and the rotation ticker
	capture CaptureConfig

	// Watch's goroutine: start restarts the exception thread; stop ends
	// the goroutine, done tells it has ended.
	start      func() error
	stop, done chan struct{}
	threadDown bool // the exception thread is stopped (a restart failed)
}

// Open brings up the exception interface of every router_device: a TAP
// that fibd creates inside router_netns (named peer=, with the port's MAC
// and MTU), or, in the manual's layout, the tap= end of an operator's veth
// pair whose peer= end is in router_netns. The interfaces are attached to
// their ports in the fast path; call before the workers are launched.
func Open(log zerolog.Logger, cfg *conf.Config, ps *ports.Set) (_ *Set, err error) {
	s := &Set{log: log.With().Str("component", "kni").Logger(), netns: cfg.RouterNetns}
	if cfg.Exception == conf.ExceptionNone {
		return s, nil
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.checkForwarding()
	for i, it := range Plan(cfg) {
		p, ok := ps.ByName(it.Device)
		if !ok {
			return nil, fmt.Errorf("router_device %s: not a port", it.Device)
		}
		e := &Exception{Interface: it, Port: p, pos: i}
		e.Mode = cfg.Exception
		if e.Mode == conf.ExceptionAuto {
			e.Mode = ModeTap
			if _, err := netlink.LinkByName(it.Tap); err == nil {
				e.Mode = ModeVeth
			}
		}
		s.List = append(s.List, e) // from here on, Close cleans it up
		switch e.Mode {
		case ModeTap:
			err = s.openTap(e, i)
		default:
			err = s.openVeth(e, i)
		}
		if err != nil {
			return nil, fmt.Errorf("router_device %s: %w", it.Device, err)
		}
		if e.Index, err = dpdk.AttachException(p.ID, e.Exc); err != nil {
			return nil, fmt.Errorf("router_device %s: %w", it.Device, err)
		}
		s.remember(e)
		s.log.Info().Str("device", it.Device).Str("mode", e.Mode).Str("tap", it.Tap).Str("peer", it.Peer).
			Str("netns", s.netns).Uint16("port", uint16(e.Exc)).Msg("exception interface ready")
	}
	return s, nil
}

// checkForwarding warns when router_netns does not forward: the packets
// fibd hands to its kernel for a neighbour not resolved yet would be
// dropped there, and on-link neighbours would never be resolved.
func (s *Set) checkForwarding() {
	inNetns(s.netns, func() error {
		for _, k := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
			if b, err := os.ReadFile(k); err == nil && len(b) > 0 && b[0] == '0' {
				s.log.Warn().Str("sysctl", k).Str("netns", s.netns).
					Msg("router netns does not forward: packets towards unresolved neighbours will be lost (set it to 1)")
			}
		}
		return nil
	})
}

// excPort sets up an exception interface's DPDK port: one queue pair,
// polled by the exception thread only.
func excPort(id dpdk.PortID) error {
	if err := id.Setup(dpdk.PortConfig{RxQueues: 1, TxQueues: 1, RxDesc: 512, TxDesc: 512, Scatter: true}); err != nil {
		return err
	}
	return id.Start()
}

// openTap creates the TAP inside router_netns: a TAP moved there later
// loses its link state and cannot restart (DESIGN.md). The TAP goes away
// when fibd closes its port.
func (s *Set) openTap(e *Exception, i int) error {
	if err := withHandle(s.netns, func(h *netlink.Handle) error {
		if l, err := h.LinkByName(e.Peer); err == nil {
			return fmt.Errorf("peer %s already exists in netns %s (%s) and tap %s does not: make the manual's veth pair, remove %s, or set fibd_exception=none",
				e.Peer, s.netns, l.Type(), e.Tap, e.Peer)
		}
		return nil
	}); err != nil {
		return err
	}
	// virtio-user over vhost-net is the faster TAP where the kernel
	// offers it; net_tap everywhere else (and when virtio-user fails).
	if _, err := os.Stat("/dev/vhost-net"); err == nil {
		err := s.createTap(e, fmt.Sprintf("virtio_user_fibd%d", i),
			fmt.Sprintf("path=/dev/vhost-net,iface=%s,mac=%s,queues=1", e.Peer, e.Port.MAC))
		if err == nil {
			return nil
		}
		s.log.Warn().Err(err).Str("peer", e.Peer).Msg("virtio-user exception interface failed: using net_tap")
		s.removeVdev(e)
	}
	return s.createTap(e, fmt.Sprintf("net_tap_fibd%d", i), fmt.Sprintf("iface=%s,mac=%s", e.Peer, e.Port.MAC))
}

// createTap probes vdev (a TAP-making driver) inside router_netns.
func (s *Set) createTap(e *Exception, vdev, args string) error {
	return inNetns(s.netns, func() error {
		id, err := dpdk.CreateVdev(vdev, args)
		if err != nil {
			return err
		}
		e.vdev, e.Exc = vdev, id
		if err := excPort(id); err != nil {
			return err
		}
		if err := id.SetMTU(e.Port.MTU); err != nil {
			s.log.Warn().Err(err).Str("peer", e.Peer).Msg("TAP keeps its default MTU")
		}
		// Link mirroring sets the TAP administratively down with its
		// port: the routing daemon's IPv6 addresses must survive that.
		return os.WriteFile("/proc/sys/net/ipv6/conf/"+e.Peer+"/keep_addr_on_down", []byte("1"), 0)
	})
}

// removeVdev closes and removes e's DPDK device, if it has one.
func (s *Set) removeVdev(e *Exception) error {
	if e.vdev == "" {
		return nil
	}
	var errs []error
	if err := e.Exc.Stop(); err != nil {
		errs = append(errs, err)
	}
	if err := e.Exc.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := dpdk.RemoveVdev(e.vdev); err != nil {
		errs = append(errs, err)
	}
	e.vdev = ""
	return errors.Join(errs...)
}

// openVeth attaches to the tap= end of the operator's veth pair (af_packet)
// and prepares both ends as the manual says: the tap end up, without
// addresses of its own; the peer end in router_netns with the port's MAC,
// so that the kernel takes the frames sent to the port as its own.
func (s *Set) openVeth(e *Exception, i int) error {
	tap, err := netlink.LinkByName(e.Tap)
	if err != nil {
		return fmt.Errorf("tap %s: %w (create the veth pair, or set fibd_exception=tap)", e.Tap, err)
	}
	// Whatever the tap end sends itself would leave the port: nothing.
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+e.Tap+"/disable_ipv6", []byte("1"), 0); err != nil {
		s.log.Warn().Err(err).Str("tap", e.Tap).Msg("IPv6 stays on on the tap end")
	}
	if err := netlink.LinkSetARPOff(tap); err != nil {
		return fmt.Errorf("tap %s: arp off: %w", e.Tap, err)
	}
	if err := netlink.LinkSetUp(tap); err != nil {
		return fmt.Errorf("tap %s: up: %w", e.Tap, err)
	}
	if err := withHandle(s.netns, func(h *netlink.Handle) error {
		peer, err := h.LinkByName(e.Peer)
		if err != nil {
			return fmt.Errorf("peer %s in netns %s: %w", e.Peer, s.netns, err)
		}
		if peer.Attrs().HardwareAddr.String() != e.Port.MAC.String() {
			s.log.Info().Str("peer", e.Peer).Stringer("mac", e.Port.MAC).Msg("peer takes the port's MAC")
			if err := h.LinkSetHardwareAddr(peer, e.Port.MAC); err != nil {
				return fmt.Errorf("peer %s: set MAC %s: %w", e.Peer, e.Port.MAC, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	vdev := fmt.Sprintf("net_af_packet_fibd%d", i)
	id, err := dpdk.CreateVdev(vdev, "iface="+e.Tap+",qpairs=1")
	if err != nil {
		return err
	}
	e.vdev, e.Exc = vdev, id
	return excPort(id)
}

// SyncLinks mirrors each port's link state on its exception interface:
// link down on the port, the routing daemon's interface goes down (its
// sessions and routes with it); up, up.
func (s *Set) SyncLinks() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncLinks()
}

func (s *Set) syncLinks() {
	for _, e := range s.List {
		l, err := e.Port.Link()
		if err != nil || e.vdev == "" || (e.linked && l.Up == e.up) {
			continue
		}
		if err := s.setLink(e, l.Up); err != nil {
			s.log.Warn().Err(err).Str("device", e.Device).Msg("link state not mirrored")
			continue
		}
		if e.linked || !l.Up {
			s.log.Info().Str("device", e.Device).Str("peer", e.Peer).Bool("up", l.Up).Msg("link mirrored")
		}
		e.linked, e.up = true, l.Up
	}
}

func (s *Set) setLink(e *Exception, up bool) error {
	if e.Mode == ModeTap {
		return e.Exc.SetLink(up)
	}
	tap, err := netlink.LinkByName(e.Tap)
	if err != nil {
		return err
	}
	if up { // the peer end sees carrier when the tap end is up
		return netlink.LinkSetUp(tap)
	}
	return netlink.LinkSetDown(tap)
}

// Close stops and removes the exception interfaces (a managed TAP
// disappears from router_netns). Call after the exception thread stopped.
func (s *Set) Close() error {
	s.Unwatch()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, e := range s.List {
		errs = append(errs, s.removeVdev(e))
	}
	return errors.Join(errs...)
}

// inNetns runs f on an OS thread inside network namespace name: what f
// creates (a TAP, its queues' file descriptors) belongs to that namespace.
func inNetns(name string, f func() error) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer ns.Close()
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			res <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			res <- fmt.Errorf("enter netns %s: %w", name, err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			// The thread stays locked and ends with this goroutine: it is
			// never reused in the wrong namespace.
			res <- errors.Join(ferr, fmt.Errorf("leave netns %s: %w", name, err))
			return
		}
		runtime.UnlockOSThread()
		res <- ferr
	}()
	return <-res
}

func withHandle(name string, f func(*netlink.Handle) error) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer h.Close()
	return f(h)
}

// Stats are one exception interface's counters.
type Stats struct {
	Exception *Exception
	dpdk.ExceptionStats
	Attached   bool   // it has a port (false while its netns is made again)
	Reattached uint64 // times it was made again
}

// Stats reads the counters of every exception interface.
func (s *Set) Stats() []Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stats, 0, len(s.List))
	for _, e := range s.List {
		st, err := dpdk.ReadExceptionStats(e.Index)
		if err != nil {
			continue
		}
		out = append(out, Stats{e, st, e.vdev != "", e.Reattached.Load()})
	}
	return out
}
