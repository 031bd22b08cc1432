package main

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAnnounceAllowed(t *testing.T) {
	pools := []netip.Prefix{netip.MustParsePrefix("203.0.113.128/25"), netip.MustParsePrefix("2001:db8:77::/48")}
	for _, c := range []struct {
		p  string
		ok bool
	}{
		{"100.64.1.7/32", true},
		{"10.1.1.1/32", true},
		{"2001:db8:1::7/128", true},
		{"203.0.113.128/25", true}, // a pool
		{"203.0.113.192/26", true}, // part of a pool
		{"2001:db8:77:1::/64", true},
		{"203.0.113.0/24", false}, // holds a pool, is not one
		{"0.0.0.0/0", false},
		{"::/0", false},
		{"8.8.8.0/24", false},
		{"100.64.2.0/24", false},
		{"127.0.0.1/32", false},
		{"224.0.0.5/32", false},
		{"255.255.255.255/32", false},
		{"0.0.0.0/32", false},
		{"fe80::1/128", false},
		{"ff02::1/128", false},
	} {
		err := announceAllowed(netip.MustParsePrefix(c.p), pools)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want allowed=%v", c.p, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "force=1") {
			t.Errorf("%s: refusal does not say how to force: %v", c.p, err)
		}
	}
}

// TestParseAuthEvent: the attributes of an authorisation event line.
func TestParseAuthEvent(t *testing.T) {
	p := netip.MustParsePrefix("100.64.1.7/32")
	cases := []struct {
		kind     string
		opts     map[string]string
		override int
		rejected bool
		nat      bool
		err      bool
	}{
		{"accept", nil, -1, false, false, false},
		{"reject", nil, -1, true, false, false},
		{"accept", map[string]string{"VasExperts-Route-Announce": "1"}, 1, false, false, false},
		{"reject", map[string]string{"VasExperts-Route-Announce": "0"}, 0, true, false, false},
		{"accept", map[string]string{"VasExperts-Service-Profile": "11:cgnat"}, -1, false, true, false},
		{"accept", map[string]string{"VasExperts-Service-Profile": "5,11:cgnat"}, -1, false, true, false},
		{"accept", map[string]string{"VasExperts-Service-Profile": "5:x,110"}, -1, false, false, false},
		{"accept", map[string]string{"service": "11"}, -1, false, true, false},
		{"accept", map[string]string{"nat": "1"}, -1, false, true, false},
		{"accept", map[string]string{"VasExperts-Route-Announce": "2"}, 0, false, false, true},
		{"accept", map[string]string{"VasExperts-Service-Profile": "x"}, 0, false, false, true},
		{"accept", map[string]string{"Framed-IP-Address": "1.2.3.4"}, 0, false, false, true},
		{"stop", map[string]string{"nat": "1"}, 0, false, false, true},
	}
	for _, c := range cases {
		ev, err := parseAuthEvent(c.kind, p, c.opts)
		if c.err {
			if err == nil {
				t.Errorf("%s %v: no error", c.kind, c.opts)
			}
			continue
		}
		if err != nil || ev.sub.Override != c.override || ev.sub.Rejected != c.rejected || ev.sub.NAT != c.nat || ev.sub.Prefix != p {
			t.Errorf("%s %v: %+v %v", c.kind, c.opts, ev.sub, err)
		}
	}
}
