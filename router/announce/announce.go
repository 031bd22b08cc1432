// Package announce puts fibd's announcements into router_netns: the
// subscribers, NAT pools and gateways the routing daemon is to advertise,
// as routes of protocol rtnl.ProtoFibd in one table per direction. It
// writes where router/kernel only reads.
package announce

import "net/netip"

// Dir is an announcement direction.
type Dir uint8

const (
	DirSubs Dir = 1 << iota // towards subscribers (in_dev side)
	DirInet                 // towards the internet (out_dev side)
)

func (d Dir) String() string {
	switch d {
	case DirSubs:
		return "subs"
	case DirInet:
		return "inet"
	case DirSubs | DirInet:
		return "subs,inet"
	}
	return "none"
}

// ServiceNAT is the gateway's service number of NAT (service 11): a
// subscriber with it and a private address is not announced towards inet.
const ServiceNAT = 11

// Subscriber is one announce request: fdpi_cli router announce add, an
// authorisation event (announce accept/reject), a NAT pool or a gateway.
type Subscriber struct {
	Prefix   netip.Prefix
	Dir      Dir  // 0: as router_subs_announce says
	Override int  // -1 unset; 0 never; 1 always (VasExperts-Route-Announce)
	Rejected bool // authorisation rejected (Access-Reject)
	NAT      bool // service 11 (NAT) is assigned to the subscriber
	Pool     bool // a NAT pool (fibd_nat_pool)
	Gateway  bool // a subscriber gateway (fibd_subs_gateway)
}

// Policy is the manual's announcement configuration. A value is read-only
// once built: the daemon replaces it whole under its lock.
type Policy struct {
	Bits             uint8          // router_subs_announce: 1 subs, 2 inet, 4 NAT pools to inet, 8 gateways
	AnnounceRejected bool           // auth_announce_reject
	Private          []netip.Prefix // fibd_private_range (DefaultPrivate when none is configured)
}

// DefaultPrivate are the private ranges when fibd_private_range is not
// set: RFC 1918 and RFC 6598 (shared address space, carrier-grade NAT).
var DefaultPrivate = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
}

// IsPrivate says whether p lies wholly inside one of the private ranges.
func (pol Policy) IsPrivate(p netip.Prefix) bool {
	for _, r := range pol.Private {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// Dirs decides where s is announced, as the manual's algorithm says:
//   - a NAT pool goes towards inet with bit 4;
//   - a gateway goes where bits 1 and 2 say, with bit 8;
//   - a subscriber: VasExperts-Route-Announce (Override) decides when it is
//     given; else an accepted one is announced, a rejected one only with
//     auth_announce_reject; then bits 1 and 2 give the directions, and a
//     subscriber whose address is private and who has service 11 (NAT) is
//     not announced towards inet (both conditions).
func (pol Policy) Dirs(s Subscriber) Dir {
	var d Dir
	if pol.Bits&1 != 0 {
		d |= DirSubs
	}
	if pol.Bits&2 != 0 {
		d |= DirInet
	}
	switch {
	case s.Pool:
		if pol.Bits&4 != 0 {
			return DirInet
		}
		return 0
	case s.Gateway:
		if pol.Bits&8 != 0 {
			return d
		}
		return 0
	}
	switch {
	case s.Override == 0:
		return 0
	case s.Override == 1:
	case s.Rejected && !pol.AnnounceRejected:
		return 0
	}
	if s.NAT && pol.IsPrivate(s.Prefix) {
		d &^= DirInet
	}
	if s.Dir != 0 {
		d &= s.Dir
		if s.Override == 1 {
			d = s.Dir // an explicit request overrides the bits
		}
	}
	return d
}
