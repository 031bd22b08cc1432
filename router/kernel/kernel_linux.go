// Package kernel mirrors the routing state of router_netns over
// rtnetlink: subscriptions whose readers convert and queue, dumps, kernel
// nexthop objects, ip rules, and the BGP/LDP peers (sock_diag). It reads
// only; announcements into the kernel are router/announce's.
package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/router/rib"
	"fibd/router/rtnl"
	"fibd/router/rtnlpcap"
)

// Kernel reads routing state from router_netns over rtnetlink.
//
// What is mirrored: unicast, blackhole, unreachable and prohibit routes of
// the configured tables (other route types — local, broadcast, multicast,
// anycast — live in the kernel's local table and are the exception path's
// business; cloned/cached routes are skipped); addresses of the interfaces
// that are fibd's (their connected subnets and local addresses), except
// IPv6 link-local ones (every interface has fe80::/64); neighbours in a
// usable state (reachable, stale, delay, probe, permanent, noarp) with an
// Ethernet address; and link names, to map ifindexes to ports.
//
// Subscriptions come first, with a large forced receive buffer; readers
// only queue. Then a dump; queued events are applied after it. Any socket
// error (ENOBUFS: the kernel dropped messages) or a closed subscription
// asks the router for a resync.
type Kernel struct {
	Netns  string   // router_netns; "" = fibd's own namespace
	Tables []uint32 // kernel tables to mirror
	RcvBuf int      // forced receive buffer of each subscription, bytes
	// Forged counts messages on the subscription that did not come from
	// the kernel (any process in the netns can send to the socket):
	// dropped. Set by the caller, shared across subscriptions; nil: not
	// counted.
	Forged *atomic.Uint64

	ns   netns.NsHandle
	nsID nsID // the namespace ns is (its nsfs inode)
	h    *netlink.Handle
	done chan struct{}
	wg   sync.WaitGroup
	q    queue
	// rulesChanged fires on ip rule notifications (subscribe).
	rulesChanged chan struct{}
}

// Event is one queued notification, converted by the reader into fibd's
// terms (netip addresses, links by ifindex: the router names them with
// its link table when it applies the event), or a subscription failure
// (Err). Routes and nexthop objects come raw (Raw): decoding them needs
// the tables and links of the moment they are applied.
type Event struct {
	Link  *LinkEvent
	Addr  *AddrEvent
	Neigh *NeighEvent
	Raw   *RawMsg
	Err   error
}

// LinkEvent says a link came, changed or went.
type LinkEvent struct {
	Index   int
	Name    string
	Up      bool         // IFF_UP
	Del     bool         // RTM_DELLINK
	VLAN    *rib.VLAN    // the link is an 802.1Q interface
	Macvlan *rib.Macvlan // the link is a macvlan
}

// AddrEvent says an address was added to link Index or removed from it.
// IPv6 link-local addresses are not reported (every interface has one).
type AddrEvent struct {
	Index  int
	Prefix netip.Prefix // not masked: Addr() is the interface address
	Del    bool
}

// NeighEvent says a neighbour entry (ARP, NDP) changed or went.
type NeighEvent struct {
	Index int
	Addr  netip.Addr
	MAC   net.HardwareAddr // nil when the entry has no usable Ethernet address (incomplete, failed)
	Stale bool             // NUD_STALE
	Del   bool             // RTM_DELNEIGH
}

func linkEvent(l netlink.Link, del, up bool) *LinkEvent {
	a := l.Attrs()
	e := &LinkEvent{Index: a.Index, Name: a.Name, Up: up, Del: del}
	e.VLAN, e.Macvlan = subLink(l)
	return e
}

// addrEvent decodes an ifaddrmsg (family, prefix length, flags, scope,
// index) and its address: IFA_LOCAL, or IFA_ADDRESS when there is none
// (IFA_ADDRESS is the peer's on point-to-point links).
func addrEvent(m []byte, del bool) (*AddrEvent, bool) {
	if len(m) < unix.SizeofIfAddrmsg {
		return nil, false
	}
	bits, index := int(m[1]), int(binary.NativeEndian.Uint32(m[4:]))
	var local, address []byte
	for b := m[unix.SizeofIfAddrmsg:]; len(b) >= 4; {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		if l < 4 || l > len(b) {
			return nil, false
		}
		switch binary.NativeEndian.Uint16(b[2:]) & nlaTypeMask {
		case unix.IFA_LOCAL:
			local = b[4:l]
		case unix.IFA_ADDRESS:
			address = b[4:l]
		}
		b = b[min(rtnl.Align(l), len(b)):]
	}
	if local == nil {
		local = address
	}
	ip, ok := netip.AddrFromSlice(local)
	if !ok {
		return nil, false
	}
	p, ok := ifPrefix(ip.Unmap(), bits)
	if !ok {
		return nil, false
	}
	return &AddrEvent{Index: index, Prefix: p, Del: del}, true
}

func neighEvent(n *netlink.Neigh, del bool) (*NeighEvent, bool) {
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok || n.Family == unix.AF_BRIDGE {
		return nil, false
	}
	e := &NeighEvent{Index: n.LinkIndex, Addr: ip.Unmap(), Stale: n.State == unix.NUD_STALE, Del: del}
	if n.State&usableNUD != 0 && len(n.HardwareAddr) == 6 {
		// a copy: the library's decoding points into the receive buffer,
		// which the next receive overwrites
		e.MAC = slices.Clone(n.HardwareAddr)
	}
	return e, true
}

// queue is unbounded: the netlink readers must never block, or the kernel
// drops messages (ENOBUFS). Its memory is the price of a burst.
type queue struct {
	mu     sync.Mutex
	items  []Event
	signal chan struct{}
}

func (q *queue) push(e Event) {
	q.mu.Lock()
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// drain takes up to max queued events.
func (q *queue) drain(max int) []Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.items), max)
	out := make([]Event, n)
	copy(out, q.items[:n])
	q.items = q.items[n:]
	if len(q.items) == 0 {
		q.items = nil // let a burst's backing array go
	} else {
		select {
		case q.signal <- struct{}{}:
		default:
		}
	}
	return out
}

// ErrNoNetns means router_netns does not exist (yet, or any more).
var ErrNoNetns = errors.New("router netns does not exist")

// ErrNetnsReplaced means router_netns names another namespace than the one
// mirrored: it was deleted and made again under the same name.
var ErrNetnsReplaced = errors.New("router netns was replaced by a new one of the same name")

// nsID tells namespaces apart: the device and inode of their nsfs file.
type nsID struct{ dev, ino uint64 }

func nsIDOf(st *unix.Stat_t) nsID { return nsID{uint64(st.Dev), st.Ino} }

// Alive checks that router_netns still names the namespace mirrored. A
// namespace deleted and made again under the same name is another one:
// the subscriptions would go on listening to the old, dead one (the open
// handle keeps it alive) while the routing daemon fills the new one.
func (k *Kernel) Alive() error {
	if k.Netns == "" {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(netnsPath(k.Netns), &st); err != nil {
		return fmt.Errorf("%w: %s", ErrNoNetns, k.Netns)
	}
	if nsIDOf(&st) != k.nsID {
		return fmt.Errorf("%w: %s", ErrNetnsReplaced, k.Netns)
	}
	return nil
}

func netnsPath(name string) string { return "/run/netns/" + name }

// Open enters the namespace and subscribes. Close undoes it.
func (k *Kernel) Open() error {
	ns := netns.None()
	if k.Netns != "" {
		var err error
		ns, err = netns.GetFromName(k.Netns)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("%w: %s", ErrNoNetns, k.Netns)
			}
			return fmt.Errorf("netns %s: %w", k.Netns, err)
		}
	} else {
		var err error
		if ns, err = netns.Get(); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		ns.Close()
		return fmt.Errorf("netns %s: %w", k.Netns, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return fmt.Errorf("netlink in netns %s: %w", k.Netns, err)
	}
	k.ns, k.h, k.nsID = ns, h, nsIDOf(&st)
	k.done = make(chan struct{})
	if k.q.signal == nil {
		k.q.signal = make(chan struct{}, 1)
		k.rulesChanged = make(chan struct{}, 1)
	}
	if err := k.subscribe(); err != nil {
		k.Close()
		return err
	}
	return nil
}

// Close ends the subscriptions and leaves the namespace. Queued events are
// dropped: the next Open dumps anew.
func (k *Kernel) Close() {
	if k.done != nil {
		close(k.done)
		k.wg.Wait()
		k.done = nil
	}
	if k.h != nil {
		k.h.Close()
		k.h = nil
	}
	if k.ns.IsOpen() {
		k.ns.Close()
	}
	k.q.mu.Lock()
	k.q.items = nil
	k.q.mu.Unlock()
}

// Signal fires when events are queued.
func (k *Kernel) Signal() <-chan struct{} { return k.q.signal }

// Drain takes up to max queued events.
func (k *Kernel) Drain(max int) []Event { return k.q.drain(max) }

// subscribe listens, on one socket in k.ns, to every notification the
// mirror follows: links, addresses, neighbours, routes of both families,
// nexthop objects, and ip rules (which only fire RulesChanged). One socket keeps the kernel's order across kinds
// (an address before the routes through it). The reader converts what it
// can without the router's state and queues; it never blocks (the kernel
// would drop messages). A receive error (ENOBUFS: messages were dropped)
// or a notification it cannot decode is queued as Err, and the reader
// stops: the router resynchronises. Only the kernel's messages count: any
// process in the netns may send to the socket, and what it sends is
// dropped and counted (Forged).
func (k *Kernel) subscribe() error {
	fd, err := rtnl.Subscribe(k.ns, []int{
		unix.RTNLGRP_LINK, unix.RTNLGRP_NEIGH, unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
		unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_NEXTHOP,
		unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE,
	}, k.RcvBuf)
	if err != nil {
		return fmt.Errorf("rtnetlink subscription: %w", err)
	}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer unix.Close(fd)
		buf := make([]byte, 1<<20)
		for {
			select {
			case <-k.done:
				return
			default:
			}
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			if err != nil {
				k.q.push(Event{Err: fmt.Errorf("rtnetlink subscription: %w", err)})
				return
			}
			if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
				if k.Forged != nil {
					k.Forged.Add(1)
				}
				continue
			}
			for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
				l := int(binary.NativeEndian.Uint32(b[0:]))
				if l < unix.NLMSG_HDRLEN || l > len(b) {
					k.q.push(Event{Err: errors.New("rtnetlink subscription: malformed message")})
					return
				}
				switch typ := binary.NativeEndian.Uint16(b[4:]); {
				case typ == unix.RTM_NEWRULE || typ == unix.RTM_DELRULE:
					// the signal carries nothing: the router reads the rules again
					select {
					case k.rulesChanged <- struct{}{}:
					default:
					}
				default:
					if e, ok := convert(b[:l]); ok {
						k.q.push(e)
						if e.Err != nil {
							return
						}
					}
				}
				b = b[min(rtnl.Align(l), len(b)):]
			}
		}
	}()
	return nil
}

// convert turns one notification (header included) into an Event; ok is
// false for what the mirror does not follow. One it follows but cannot
// decode is an Event with Err: the router resynchronises rather than miss
// it (a link going down whose silent route flush would go unseen).
func convert(m []byte) (Event, bool) {
	hdr := unix.NlMsghdr{Len: binary.NativeEndian.Uint32(m[0:]), Type: binary.NativeEndian.Uint16(m[4:]),
		Flags: binary.NativeEndian.Uint16(m[6:]), Seq: binary.NativeEndian.Uint32(m[8:]), Pid: binary.NativeEndian.Uint32(m[12:])}
	body := m[unix.NLMSG_HDRLEN:]
	switch hdr.Type {
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE, unix.RTM_NEWNEXTHOP, rtmDelNexthop:
		return Event{Raw: &RawMsg{Type: hdr.Type, Body: append([]byte(nil), body...)}}, true
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		if len(body) < unix.SizeofIfInfomsg {
			return Event{Err: errors.New("rtnetlink subscription: short link message")}, true
		}
		l, err := netlink.LinkDeserialize(&hdr, body)
		if err != nil {
			return Event{Err: fmt.Errorf("rtnetlink subscription: link message: %w", err)}, true
		}
		return Event{Link: linkEvent(l, hdr.Type == unix.RTM_DELLINK, binary.NativeEndian.Uint32(body[8:])&unix.IFF_UP != 0)}, true
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		e, ok := addrEvent(body, hdr.Type == unix.RTM_DELADDR)
		return Event{Addr: e}, ok
	case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH:
		n, err := netlink.NeighDeserialize(body)
		if err != nil {
			return Event{Err: fmt.Errorf("rtnetlink subscription: neighbour message: %w", err)}, true
		}
		e, ok := neighEvent(n, hdr.Type == unix.RTM_DELNEIGH)
		return Event{Neigh: e}, ok
	}
	return Event{}, false
}

// subLink says whether l is a VLAN or a macvlan interface.
func subLink(l netlink.Link) (*rib.VLAN, *rib.Macvlan) {
	a := l.Attrs()
	switch v := l.(type) {
	case *netlink.Vlan:
		return &rib.VLAN{Parent: a.ParentIndex, ID: uint16(v.VlanId)}, nil
	case *netlink.Macvlan:
		m := &rib.Macvlan{Parent: a.ParentIndex}
		copy(m.MAC[:], a.HardwareAddr)
		return nil, m
	}
	return nil, nil
}

// DumpEach reads the complete state: links, addresses, neighbours and
// nexthop objects, handed to begin first (State.Routes stays empty), then
// the routes of the mirrored tables, one by one as the kernel dumps them,
// to the function begin returns. A dump the kernel marks as interrupted
// (NLM_F_DUMP_INTR: the tables changed under it) is retried, and begin
// called again: what the previous attempt's routes built is to be dropped.
func (k *Kernel) DumpEach(begin func(*rib.State, rib.Links) func(*rib.Route)) error {
	var err error
	for range 10 {
		err = k.dumpOnce(begin)
		if err == nil {
			return nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return fmt.Errorf("dump interrupted 10 times in a row: %w", err)
}

func (k *Kernel) dumpOnce(begin func(*rib.State, rib.Links) func(*rib.Route)) error {
	st, links, err := k.dumpState()
	if err != nil {
		return err
	}
	want := map[uint32]bool{}
	for _, t := range k.Tables {
		want[t] = true
	}
	return eachRoute(k.ns, want, links, begin(st, links))
}

// dumpState reads links, addresses, neighbours and nexthop objects.
func (k *Kernel) dumpState() (*rib.State, rib.Links, error) {
	ll, err := k.h.LinkList()
	if err != nil {
		return nil, nil, fmt.Errorf("link dump: %w", err)
	}
	links := rib.Links{}
	st := &rib.State{VLANs: map[int]rib.VLAN{}, Macvlans: map[int]rib.Macvlan{}, LinkUp: map[int]bool{}}
	for _, l := range ll {
		links[l.Attrs().Index] = l.Attrs().Name
		st.LinkUp[l.Attrs().Index] = l.Attrs().RawFlags&unix.IFF_UP != 0
		switch v, m := subLink(l); {
		case v != nil:
			st.VLANs[l.Attrs().Index] = *v
		case m != nil:
			st.Macvlans[l.Attrs().Index] = *m
		}
	}
	al, err := k.h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, nil, fmt.Errorf("address dump: %w", err)
	}
	for _, a := range al {
		if a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		if p, ok := ifPrefix(ip.Unmap(), ones); ok {
			st.Addrs = append(st.Addrs, rib.Addr{Prefix: p, Dev: links[a.LinkIndex]})
		}
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		nl, err := k.h.NeighList(0, fam)
		if err != nil {
			return nil, nil, fmt.Errorf("neighbour dump: %w", err)
		}
		for _, n := range nl {
			if x, ok := convertNeigh(&n, links); ok {
				st.Neighs = append(st.Neighs, x)
				if n.State == unix.NUD_STALE {
					st.Stale = append(st.Stale, x)
				}
			}
		}
	}
	// Nexthop objects before the routes that name them.
	if st.Nexthops, err = dumpNexthops(k.ns); err != nil {
		return nil, nil, err
	}
	return st, links, nil
}

// DumpRoutesOf reads the routes of the mirrored tables again, of one
// family: the kernel changes some without a notification (see
// Router.redump). A dump the kernel marks as interrupted is retried.
func (k *Kernel) DumpRoutesOf(v6 bool, links rib.Links) ([]rib.Route, error) {
	want := map[uint32]bool{}
	for _, t := range k.Tables {
		want[t] = true
	}
	fam := uint8(unix.AF_INET)
	if v6 {
		fam = unix.AF_INET6
	}
	var err error
	for range 10 {
		var rs []rib.Route
		if rs, err = dumpRoutes(k.ns, want, links, nil, fam); err == nil {
			return rs, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("route dump interrupted 10 times in a row: %w", err)
}

// ResolveNeigh asks the kernel to resolve addr on ifindex (ARP or NDP), as
// a packet to it would: NTF_USE triggers the neighbour state machine.
func (k *Kernel) ResolveNeigh(ifindex int, addr netip.Addr) error {
	fam := netlink.FAMILY_V4
	if addr.Is6() {
		fam = netlink.FAMILY_V6
	}
	err := k.h.NeighSet(&netlink.Neigh{LinkIndex: ifindex, Family: fam, IP: addr.AsSlice(),
		State: netlink.NUD_NONE, Flags: netlink.NTF_USE})
	rtnlpcap.NeighUse(ifindex, addr, err) // router_rtnl_pcap
	return err
}

// ConvertRoute turns a kernel route into a RIB route; ok is false for
// routes fibd does not mirror.
func ConvertRoute(r *netlink.Route, links rib.Links) (rib.Route, bool) {
	if r.Flags&unix.RTM_F_CLONED != 0 || r.Protocol == rtnl.ProtoFibd { // fibd's own announcements
		return rib.Route{}, false
	}
	v6 := r.Family == netlink.FAMILY_V6
	if r.Dst != nil {
		v6 = r.Dst.IP.To4() == nil
	}
	p, ok := rtnl.Prefix(r.Dst, v6)
	if !ok {
		return rib.Route{}, false
	}
	out := rib.Route{Table: uint32(r.Table), Prefix: p, Metric: uint32(r.Priority)}
	switch r.Type {
	case unix.RTN_UNICAST:
		out.Type = rib.Unicast
	case unix.RTN_BLACKHOLE:
		out.Type = rib.Blackhole
		return out, true
	case unix.RTN_UNREACHABLE:
		out.Type = rib.Unreachable
		return out, true
	case unix.RTN_PROHIBIT:
		out.Type = rib.Prohibit
		return out, true
	case unix.RTN_THROW:
		out.Type = rib.Throw
		return out, true
	default:
		return rib.Route{}, false
	}
	hop := func(gw net.IP, ifindex, weight int) rib.Nexthop {
		nh := rib.Nexthop{Dev: links[ifindex], Weight: weight}
		if g, ok := netip.AddrFromSlice(gw); ok {
			nh.Gateway = g.Unmap()
		}
		return nh
	}
	if len(r.MultiPath) > 0 {
		// A path whose interface went down (or lost its address) is dead:
		// the kernel keeps it in the route, silently, but forwards on the
		// others (and revives it, as silently, when the interface is up).
		var dead []rib.Nexthop
		for _, m := range r.MultiPath {
			if m.Flags&unix.RTNH_F_DEAD != 0 {
				dead = append(dead, hop(m.Gw, m.LinkIndex, m.Hops+1))
				continue
			}
			out.Nexthops = append(out.Nexthops, hop(m.Gw, m.LinkIndex, m.Hops+1))
		}
		if len(out.Nexthops) == 0 { // cannot be: the kernel flushes a route whose paths are all dead
			out.Nexthops = dead
		}
	} else {
		out.Nexthops = []rib.Nexthop{hop(r.Gw, r.LinkIndex, 0)}
	}
	return out, true
}

// ifPrefix is an interface address with its subnet length; ok is false
// for IPv6 link-local addresses, which fibd does not mirror.
func ifPrefix(ip netip.Addr, bits int) (netip.Prefix, bool) {
	if ip.IsLinkLocalUnicast() && ip.Is6() {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(ip, bits)
	return p, p.IsValid()
}

// usableNUD are the neighbour states whose MAC can be used.
const usableNUD = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY |
	netlink.NUD_PROBE | netlink.NUD_PERMANENT | netlink.NUD_NOARP

// convertNeigh turns a kernel neighbour into a RIB neighbour; ok is false
// for entries without a usable Ethernet address (incomplete, failed).
func convertNeigh(n *netlink.Neigh, links rib.Links) (rib.Neigh, bool) {
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok || n.State&usableNUD == 0 || len(n.HardwareAddr) != 6 {
		return rib.Neigh{}, false
	}
	return rib.Neigh{Addr: ip.Unmap(), MAC: n.HardwareAddr, Dev: links[n.LinkIndex]}, true
}
