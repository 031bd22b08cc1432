package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/router/rib"
	"fibd/router/rtnl"
	"fibd/router/rtnlpcap"
)

// The route dump of a full view is a million messages: decoding each into
// the library's netlink.Route (and then into ours) took most of the time
// from "full view in the kernel" to "FIB equal". This reader decodes the
// few attributes fibd uses straight from the receive buffer.

// errDumpInterrupted is the kernel's NLM_F_DUMP_INTR: the table changed
// during the dump, the result may be inconsistent and is taken again.
var errDumpInterrupted = netlink.ErrDumpInterrupted

// dumpRoutes appends the routes of the wanted tables, of the families
// given (both when none).
func dumpRoutes(ns netns.NsHandle, want map[uint32]bool, links rib.Links, out []rib.Route, fams ...uint8) ([]rib.Route, error) {
	err := eachRoute(ns, want, links, func(r *rib.Route) { out = append(out, *r) }, fams...)
	return out, err
}

// eachRoute hands each route of the wanted tables, of the families given
// (both when none), to f, as the dump comes: no slice of a million routes
// is made. Each family is dumped on a socket of its own, both at once (the
// kernel's work of a dump runs in its reader's recvfrom); f sees the
// routes of one family in the kernel's order, those of both interleaved.
// f may keep the route's Nexthops (read-only: one-path routes share
// them), not the pointer.
func eachRoute(ns netns.NsHandle, want map[uint32]bool, links rib.Links, f func(*rib.Route), fams ...uint8) error {
	if len(fams) == 0 {
		fams = []uint8{unix.AF_INET, unix.AF_INET6}
	}
	fds := make([]int, 0, len(fams))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, fam := range fams {
		fd, err := rtnl.SocketIn(ns)
		if err != nil {
			return err
		}
		fds = append(fds, fd)
		if err := sendDump(fd, 1, fam); err != nil {
			return err
		}
	}
	return readDump(fds, want, links, f)
}

func sendDump(fd int, seq uint32, family uint8) error {
	// nlmsghdr (16) + rtmsg (12)
	var m [28]byte
	binary.NativeEndian.PutUint32(m[0:], uint32(len(m)))
	binary.NativeEndian.PutUint16(m[4:], unix.RTM_GETROUTE)
	binary.NativeEndian.PutUint16(m[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(m[8:], seq)
	m[16] = family
	rtnlpcap.Netlink(rtnlpcap.ToKernel, m[:])
	return unix.Sendto(fd, m[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// dumpBufs is how many receive buffers a dump's reader cycles through:
// the kernel fills one (its dump runs in the reader's recvfrom, about half
// of a full view's dump) while the caller decodes another.
const dumpBufs = 4

// dumpRead is one recvfrom of a dump: the bytes read, or why none, and
// which dump (index in readDump's fds) it is of.
type dumpRead struct {
	b   []byte
	err error
	src int
}

// readDump reads the dumps requested on fds to their ends, handing their
// routes to f. A goroutine per fd receives while this one decodes: the
// kernel's side of the dumps runs beside the decoding and f (a RIB's
// insertion). A reader stops at the message its dump ends with for this
// decoder too (dumpEnds), so it never waits for a message that does not
// come; readDump returns once its readers are gone (the fds outlive
// them).
func readDump(fds []int, want map[uint32]bool, links rib.Links, f func(*rib.Route)) error {
	full := make(chan dumpRead, dumpBufs*len(fds))
	stop := make(chan struct{})
	free := make([]chan []byte, len(fds))
	var wg sync.WaitGroup
	for i, fd := range fds {
		free[i] = make(chan []byte, dumpBufs)
		for range dumpBufs {
			free[i] <- make([]byte, 1<<20)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			receiveDump(fd, i, free[i], full, stop)
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	interrupted := make([]bool, len(fds))
	running := len(fds)
	paths := newPathCache()
	var r rib.Route // f's argument: one for the dump, not one per route
	for running > 0 {
		rd := <-full
		if rd.err != nil {
			return rd.err
		}
		ended, err := decodeDump(rd.b, want, links, paths, &r, f, &interrupted[rd.src])
		if err != nil {
			return err
		}
		if ended {
			running--
			continue
		}
		free[rd.src] <- rd.b[:cap(rd.b)]
	}
	return nil
}

// receiveDump reads dump src from fd into the buffers of free and queues
// them on full, up to the read that ends the dump, a receive error, or
// stop.
func receiveDump(fd, src int, free chan []byte, full chan<- dumpRead, stop <-chan struct{}) {
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-stop:
			return
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		for err == unix.EINTR {
			n, _, err = unix.Recvfrom(fd, buf, 0)
		}
		rd := dumpRead{src: src}
		if err != nil {
			rd.err = fmt.Errorf("route dump: %w", err)
		} else {
			rd.b = buf[:n]
		}
		select {
		case full <- rd:
		case <-stop:
			return
		}
		if err != nil || dumpEnds(rd.b) {
			return
		}
	}
}

// decodeDump decodes one read of a dump, handing its routes to f through
// r; ended: the read ends the dump. *interrupted records the kernel's
// NLM_F_DUMP_INTR until the end.
func decodeDump(b []byte, want map[uint32]bool, links rib.Links, paths *pathCache, r *rib.Route,
	f func(*rib.Route), interrupted *bool) (ended bool, err error) {
	rtnlpcap.Netlink(rtnlpcap.ToUser, b) // router_rtnl_pcap
	for len(b) >= unix.NLMSG_HDRLEN {
		typ, flags, body, rest, ok := splitMsg(b)
		if !ok {
			return true, errors.New("route dump: malformed message")
		}
		if flags&unix.NLM_F_DUMP_INTR != 0 {
			*interrupted = true
		}
		if end, errno := dumpEnd(typ, body); end {
			if errno != 0 {
				return true, fmt.Errorf("route dump: %w", errno)
			}
			if *interrupted {
				return true, errDumpInterrupted
			}
			return true, nil
		}
		if typ == unix.RTM_NEWROUTE {
			var ok bool
			if *r, ok = parseRoute(body, want, links, paths); ok {
				f(r)
			}
		}
		b = rest
	}
	return false, nil
}

// dumpEnds reports whether b, one read of a dump, holds the message that
// ends it for readDump: NLMSG_DONE, an NLMSG_ERROR with an error, or a
// malformed message.
func dumpEnds(b []byte) bool {
	for len(b) >= unix.NLMSG_HDRLEN {
		typ, _, body, rest, ok := splitMsg(b)
		if !ok {
			return true
		}
		if end, _ := dumpEnd(typ, body); end {
			return true
		}
		b = rest
	}
	return false
}

// splitMsg takes the first netlink message off b (at least a header
// long): its type, flags and payload, and what follows it; ok is false
// when the message is malformed (its length outside the header and b).
func splitMsg(b []byte) (typ, flags uint16, body, rest []byte, ok bool) {
	l := int(binary.NativeEndian.Uint32(b[0:]))
	if l < unix.NLMSG_HDRLEN || l > len(b) {
		return 0, 0, nil, nil, false
	}
	typ = binary.NativeEndian.Uint16(b[4:])
	flags = binary.NativeEndian.Uint16(b[6:])
	return typ, flags, b[unix.NLMSG_HDRLEN:l], b[min(rtnl.Align(l), len(b)):], true
}

// dumpEnd reports whether a message of a dump ends it: NLMSG_DONE (errno
// 0), or an NLMSG_ERROR that carries an error (errno). An NLMSG_ERROR of
// 0 is an acknowledgement, not an end.
func dumpEnd(typ uint16, body []byte) (end bool, errno unix.Errno) {
	switch typ {
	case unix.NLMSG_DONE:
		return true, 0
	case unix.NLMSG_ERROR:
		if len(body) >= 4 {
			if e := int32(binary.NativeEndian.Uint32(body)); e != 0 {
				return true, unix.Errno(-e)
			}
		}
	}
	return false, 0
}

// nlaTypeMask strips the nested/byte-order flags of an attribute type.
const nlaTypeMask = 0x3fff

// pathCache shares the Nexthops of a dump's routes, read-only: a full
// view is a million routes through a handful of gateways, or of sets of
// them (multipath), and a slice each was a million allocations for the
// GC to follow while the dump runs.
type pathCache struct {
	one   map[pathKey][]rib.Nexthop
	multi map[string][]rib.Nexthop // by the route's RTA_MULTIPATH bytes
}

type pathKey struct {
	gw  netip.Addr
	oif int
}

func newPathCache() *pathCache {
	return &pathCache{one: map[pathKey][]rib.Nexthop{}, multi: map[string][]rib.Nexthop{}}
}

// maxCachedPaths bounds each map of a cache: past it, routes get their
// own slices.
const maxCachedPaths = 4096

// onePath is the Nexthops of a route with one path (c nil: a new slice).
func (c *pathCache) onePath(gw netip.Addr, oif int, links rib.Links) []rib.Nexthop {
	k := pathKey{gw, oif}
	if c != nil {
		if ps, ok := c.one[k]; ok {
			return ps
		}
	}
	ps := []rib.Nexthop{{Gateway: gw, Dev: links[oif]}}
	if c != nil && len(c.one) < maxCachedPaths {
		c.one[k] = ps
	}
	return ps
}

// multiPath is the Nexthops of a route's RTA_MULTIPATH attribute mp (c
// nil: a new slice): the live paths, or the dead ones when none lives.
// Within one dump the same bytes (gateways, interfaces, weights and
// flags) are the same paths.
func (c *pathCache) multiPath(mp []byte, links rib.Links) []rib.Nexthop {
	if c != nil {
		if ps, ok := c.multi[string(mp)]; ok {
			return ps
		}
	}
	ps := decodeMultipath(mp, links)
	if c != nil && len(c.multi) < maxCachedPaths {
		c.multi[string(mp)] = ps
	}
	return ps
}

// parseRoute decodes an rtmsg and the attributes fibd mirrors; ok is false
// for routes not mirrored (other tables, cloned, local/broadcast types).
// Routes of the same paths share their Nexthops through paths (may be nil).
func parseRoute(m []byte, want map[uint32]bool, links rib.Links, paths *pathCache) (rib.Route, bool) {
	const rtmsgLen = 12
	if len(m) < rtmsgLen {
		return rib.Route{}, false
	}
	family, dstLen := m[0], int(m[1])
	table := uint32(m[4])
	rtype := m[7]
	if binary.NativeEndian.Uint32(m[8:])&unix.RTM_F_CLONED != 0 || m[5] == rtnl.ProtoFibd {
		return rib.Route{}, false // cached, or fibd's own announcement
	}
	r := rib.Route{Prefix: netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
	if family == unix.AF_INET6 {
		r.Prefix = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	switch rtype {
	case unix.RTN_UNICAST:
		r.Type = rib.Unicast
	case unix.RTN_BLACKHOLE:
		r.Type = rib.Blackhole
	case unix.RTN_UNREACHABLE:
		r.Type = rib.Unreachable
	case unix.RTN_PROHIBIT:
		r.Type = rib.Prohibit
	case unix.RTN_THROW:
		r.Type = rib.Throw
	default:
		return rib.Route{}, false
	}
	var gw netip.Addr
	oif := 0
	var multipath []byte
	for a := m[rtmsgLen:]; len(a) >= 4; {
		al := int(binary.NativeEndian.Uint16(a[0:]))
		at := binary.NativeEndian.Uint16(a[2:]) & nlaTypeMask
		if al < 4 || al > len(a) {
			return rib.Route{}, false
		}
		v := a[4:al]
		switch at {
		case unix.RTA_TABLE:
			if len(v) >= 4 {
				table = binary.NativeEndian.Uint32(v)
			}
		case unix.RTA_DST:
			if ad, ok := netip.AddrFromSlice(v); ok {
				r.Prefix = netip.PrefixFrom(ad, dstLen)
			}
		case unix.RTA_GATEWAY:
			gw, _ = netip.AddrFromSlice(v)
		case unix.RTA_OIF:
			if len(v) >= 4 {
				oif = int(binary.NativeEndian.Uint32(v))
			}
		case unix.RTA_PRIORITY:
			if len(v) >= 4 {
				r.Metric = binary.NativeEndian.Uint32(v)
			}
		case unix.RTA_MULTIPATH:
			multipath = v
		case rtaNhID:
			if len(v) >= 4 {
				r.NhID = binary.NativeEndian.Uint32(v)
			}
		}
		a = a[min(rtnl.Align(al), len(a)):]
	}
	if !want[table] || !r.Prefix.IsValid() {
		return rib.Route{}, false
	}
	r.Table = table
	r.Prefix = r.Prefix.Masked()
	if r.Type != rib.Unicast || r.NhID != 0 {
		return r, true // a nexthop object's route: rib.NhObjs.expand (compat mode 1 adds the paths too)
	}
	if multipath == nil {
		r.Nexthops = paths.onePath(gw.Unmap(), oif, links)
	} else {
		r.Nexthops = paths.multiPath(multipath, links)
	}
	return r, true
}

// decodeMultipath reads an RTA_MULTIPATH attribute: its live paths, or
// its dead ones when none lives.
func decodeMultipath(multipath []byte, links rib.Links) []rib.Nexthop {
	// struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex; } + attrs
	var live, dead []rib.Nexthop
	for mp := multipath; len(mp) >= 8; {
		nl := int(binary.NativeEndian.Uint16(mp[0:]))
		if nl < 8 || nl > len(mp) {
			break
		}
		isDead := mp[2]&unix.RTNH_F_DEAD != 0
		nh := rib.Nexthop{Dev: links[int(int32(binary.NativeEndian.Uint32(mp[4:])))], Weight: int(mp[3]) + 1}
		for a := mp[8:nl]; len(a) >= 4; {
			al := int(binary.NativeEndian.Uint16(a[0:]))
			if al < 4 || al > len(a) {
				break
			}
			if binary.NativeEndian.Uint16(a[2:])&nlaTypeMask == unix.RTA_GATEWAY {
				if g, ok := netip.AddrFromSlice(a[4:al]); ok {
					nh.Gateway = g.Unmap()
				}
			}
			a = a[min(rtnl.Align(al), len(a)):]
		}
		if isDead {
			dead = append(dead, nh)
		} else {
			live = append(live, nh)
		}
		mp = mp[min(rtnl.Align(nl), len(mp)):]
	}
	if len(live) == 0 { // cannot be: the kernel flushes a route whose paths are all dead
		return slices.Clip(dead)
	}
	return slices.Clip(live) // shared by routes: an append must copy
}
