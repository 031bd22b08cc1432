package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/router/rib"
	"fibd/router/rtnl"
)

// Kernel nexthop objects and routes that name them. vishvananda/netlink
// decodes neither nexthop messages nor RTA_NH_ID, so both are read from a
// socket of fibd's own, as the route dump already was (dump_linux.go).

const (
	rtaNhID       = 30   // RTA_NH_ID: the route's nexthop object
	rtmDelNexthop = 0x69 // RTM_DELNEXTHOP
	nhaGroupType  = 3    // NHA_GROUP_TYPE
	nhaFDB        = 11   // NHA_FDB: bridge FDB nexthops are not for routes
	nhmsgLen      = 8    // struct nhmsg
	nexthopGrpLen = 8    // struct nexthop_grp
)

// parseNexthop decodes an nhmsg and its attributes; ok is false for
// messages fibd does not use (FDB nexthops, malformed).
func parseNexthop(m []byte) (*rib.NhObj, bool) {
	if len(m) < nhmsgLen {
		return nil, false
	}
	o := &rib.NhObj{Dead: binary.NativeEndian.Uint32(m[4:])&unix.RTNH_F_DEAD != 0}
	for a := m[nhmsgLen:]; len(a) >= 4; {
		al := int(binary.NativeEndian.Uint16(a[0:]))
		at := binary.NativeEndian.Uint16(a[2:]) & nlaTypeMask
		if al < 4 || al > len(a) {
			return nil, false
		}
		v := a[4:al]
		switch at {
		case unix.NHA_ID:
			if len(v) >= 4 {
				o.ID = binary.NativeEndian.Uint32(v)
			}
		case unix.NHA_GROUP:
			for ; len(v) >= nexthopGrpLen; v = v[nexthopGrpLen:] {
				o.Group = append(o.Group, rib.NhMember{ID: binary.NativeEndian.Uint32(v), Weight: int(v[4]) + 1})
			}
		case unix.NHA_BLACKHOLE:
			o.Blackhole = true
		case unix.NHA_OIF:
			if len(v) >= 4 {
				o.Oif = int(binary.NativeEndian.Uint32(v))
			}
		case unix.NHA_GATEWAY:
			if g, ok := netip.AddrFromSlice(v); ok {
				o.Gateway = g.Unmap()
			}
		case nhaFDB:
			return nil, false
		}
		a = a[min(rtnl.Align(al), len(a)):]
	}
	return o, o.ID != 0
}

// nexthopID reads the nexthop id of a nexthop message (for a delete,
// which may carry nothing else).
func nexthopID(m []byte) uint32 {
	if o, ok := parseNexthop(m); ok {
		return o.ID
	}
	return 0
}

// dumpNexthops reads every nexthop object of ns.
func dumpNexthops(ns netns.NsHandle) ([]*rib.NhObj, error) {
	fd, err := rtnl.SocketIn(ns)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// nlmsghdr (16) + nhmsg (8), family AF_UNSPEC: both families
	var m [24]byte
	binary.NativeEndian.PutUint32(m[0:], uint32(len(m)))
	binary.NativeEndian.PutUint16(m[4:], unix.RTM_GETNEXTHOP)
	binary.NativeEndian.PutUint16(m[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(m[8:], 1)
	if err := unix.Sendto(fd, m[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("nexthop dump: %w", err)
	}
	var out []*rib.NhObj
	buf := make([]byte, 1<<16)
	interrupted := false
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("nexthop dump: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			typ, flags, body, rest, ok := splitMsg(b)
			if !ok {
				return nil, errors.New("nexthop dump: malformed message")
			}
			if flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			if end, errno := dumpEnd(typ, body); end {
				switch {
				case errno == unix.EOPNOTSUPP || errno == unix.EINVAL:
					return nil, nil // a kernel without nexthop objects
				case errno != 0:
					return nil, fmt.Errorf("nexthop dump: %w", errno)
				case interrupted:
					return nil, errDumpInterrupted
				}
				return out, nil
			}
			if typ == unix.RTM_NEWNEXTHOP {
				if o, ok := parseNexthop(body); ok {
					out = append(out, o)
				}
			}
			b = rest
		}
	}
}

// DumpNexthops reads the nexthop objects again (Router.redump: the kernel
// removes those of an interface going down without a notification, and
// shrinks the groups that held them). An interrupted dump is retried.
func (k *Kernel) DumpNexthops() ([]*rib.NhObj, error) {
	var err error
	for range 10 {
		var out []*rib.NhObj
		if out, err = dumpNexthops(k.ns); err == nil {
			return out, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("nexthop dump interrupted 10 times in a row: %w", err)
}

// RawMsg is a route or nexthop notification as the kernel sent it: its
// type and its body after the netlink header. It is decoded when applied,
// with the links and tables of that moment.
type RawMsg struct {
	Type uint16 // RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWNEXTHOP, RTMDelNexthop
	Body []byte
}

// RTMDelNexthop is RTM_DELNEXTHOP (golang.org/x/sys/unix lacks it).
const RTMDelNexthop = rtmDelNexthop

// Route decodes a route message of the tables in want, naming links
// from links; ok is false for routes fibd does not mirror.
func (m *RawMsg) Route(want map[uint32]bool, links rib.Links) (rib.Route, bool) {
	return parseRoute(m.Body, want, links, nil)
}

// Nexthop decodes an RTM_NEWNEXTHOP; ok is false for objects fibd does
// not mirror.
func (m *RawMsg) Nexthop() (*rib.NhObj, bool) { return parseNexthop(m.Body) }

// NexthopID is the object id of an RTM_DELNEXTHOP, 0 when it has none.
func (m *RawMsg) NexthopID() uint32 { return nexthopID(m.Body) }
