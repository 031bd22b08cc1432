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
