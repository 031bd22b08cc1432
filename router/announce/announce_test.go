package announce

import (
	"net/netip"
	"testing"
)

// TestPolicyDirs is the manual's decision table, case by case: accept or
// reject with auth_announce_reject, VasExperts-Route-Announce, the bits
// of router_subs_announce, private address and service 11 (both needed to
// keep an address from inet), NAT pools (bit 4) and gateways (bit 8).
func TestPolicyDirs(t *testing.T) {
	pfx := netip.MustParsePrefix
	both := DirSubs | DirInet
	cases := []struct {
		name string
		bits uint8
		rej  bool // auth_announce_reject
		priv []netip.Prefix
		s    Subscriber
		want Dir
	}{
		{"accept, bits 1+2", 3, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1}, both},
		{"accept, bit 1", 1, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1}, DirSubs},
		{"accept, bit 2", 2, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1}, DirInet},
		{"accept, no bits", 0, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1}, 0},
		{"reject", 3, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1, Rejected: true}, 0},
		{"reject, auth_announce_reject", 3, true, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1, Rejected: true}, both},
		{"reject, Route-Announce=1", 3, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: 1, Rejected: true}, both},
		{"accept, Route-Announce=0", 3, true, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: 0}, 0},
		{"reject, auth_announce_reject, Route-Announce=0", 3, true, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: 0, Rejected: true}, 0},
		// private and service 11: both conditions
		{"private + NAT (RFC 1918)", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("10.1.1.1/32"), Override: -1, NAT: true}, DirSubs},
		{"private + NAT (172.16/12)", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("172.31.255.1/32"), Override: -1, NAT: true}, DirSubs},
		{"private + NAT (192.168/16)", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("192.168.5.5/32"), Override: -1, NAT: true}, DirSubs},
		{"private + NAT (RFC 6598)", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("100.127.0.1/32"), Override: -1, NAT: true}, DirSubs},
		{"private, no NAT", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("10.1.1.1/32"), Override: -1}, both},
		{"public + NAT", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("172.32.0.1/32"), Override: -1, NAT: true}, both},
		{"public + NAT (next to 100.64/10)", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("100.128.0.1/32"), Override: -1, NAT: true}, both},
		{"private + NAT, bit 2 only", 2, false, DefaultPrivate, Subscriber{Prefix: pfx("10.1.1.1/32"), Override: -1, NAT: true}, 0},
		{"private + NAT, Route-Announce=1", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("10.1.1.1/32"), Override: 1, NAT: true}, DirSubs},
		{"configured range + NAT", 3, false, []netip.Prefix{pfx("198.18.0.0/15")}, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1, NAT: true}, DirSubs},
		{"configured range replaces the defaults", 3, false, []netip.Prefix{pfx("198.18.0.0/15")}, Subscriber{Prefix: pfx("10.1.1.1/32"), Override: -1, NAT: true}, both},
		{"prefix wider than the range", 3, false, []netip.Prefix{pfx("10.0.0.0/8")}, Subscriber{Prefix: pfx("10.0.0.0/7"), Override: -1, NAT: true}, both},
		{"IPv6 + NAT, no IPv6 range", 3, false, DefaultPrivate, Subscriber{Prefix: pfx("2001:db8::7/128"), Override: -1, NAT: true}, both},
		// an explicit direction
		{"dir=inet", 3, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1, Dir: DirInet}, DirInet},
		{"dir=inet, bit 1 only", 1, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: -1, Dir: DirInet}, 0},
		{"dir=inet, Route-Announce=1, bit 1 only", 1, false, nil, Subscriber{Prefix: pfx("198.18.0.7/32"), Override: 1, Dir: DirInet}, DirInet},
		// NAT pools: bit 4, towards inet only
		{"pool, bit 4", 4, false, nil, Subscriber{Prefix: pfx("203.0.113.0/24"), Override: -1, Pool: true}, DirInet},
		{"pool, bits 1+2", 3, false, nil, Subscriber{Prefix: pfx("203.0.113.0/24"), Override: -1, Pool: true}, 0},
		{"pool, all bits", 15, false, nil, Subscriber{Prefix: pfx("203.0.113.0/24"), Override: -1, Pool: true}, DirInet},
		// gateways: bit 8, the directions of bits 1 and 2
		{"gateway, bits 8+1+2", 11, false, nil, Subscriber{Prefix: pfx("100.64.0.1/32"), Override: -1, Gateway: true}, both},
		{"gateway, bits 8+1", 9, false, nil, Subscriber{Prefix: pfx("100.64.0.1/32"), Override: -1, Gateway: true}, DirSubs},
		{"gateway, bits 8+2", 10, false, nil, Subscriber{Prefix: pfx("100.64.0.1/32"), Override: -1, Gateway: true}, DirInet},
		{"gateway, bit 8 alone", 8, false, nil, Subscriber{Prefix: pfx("100.64.0.1/32"), Override: -1, Gateway: true}, 0},
		{"gateway, no bit 8", 7, false, nil, Subscriber{Prefix: pfx("100.64.0.1/32"), Override: -1, Gateway: true}, 0},
	}
	for _, c := range cases {
		pol := Policy{Bits: c.bits, AnnounceRejected: c.rej, Private: c.priv}
		if got := pol.Dirs(c.s); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
