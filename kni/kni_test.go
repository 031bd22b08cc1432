package kni

import (
	"net/netip"
	"slices"
	"testing"

	"fibd/conf"
)

func TestPlanFollowsTheManual(t *testing.T) {
	src := `in_dev=01-00.0:02-00.0
out_dev=01-00.1:02-00.1
lag {
name=inet
device=01-00.1
device=02-00.1
}
router_device {
device=01-00.1
tap=tap0
peer=peer0
subnet=10.0.10.0/26
subnet6=2001:db8::/64
}
router_device {
device=01-00.0
}
`
	cfg, err := conf.Parse("lag.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p := Plan(cfg)
	if len(p) != 2 {
		t.Fatalf("%d interfaces, want 2", len(p))
	}
	up := p[0]
	if up.Tap != "tap0" || up.Peer != "peer0" || !up.Upstream {
		t.Errorf("upstream interface %+v", up)
	}
	if !slices.Equal(up.Members, []string{"01-00.1", "02-00.1"}) {
		t.Errorf("members %v: the whole LAG punts to tap0", up.Members)
	}
	if !slices.Equal(up.Subnets, []netip.Prefix{netip.MustParsePrefix("10.0.10.0/26"), netip.MustParsePrefix("2001:db8::/64")}) {
		t.Errorf("subnets %v", up.Subnets)
	}
	down := p[1]
	if down.Tap != "dpi01-00.0" || down.Peer != "rib01-00.0" || down.Upstream || !slices.Equal(down.Members, []string{"01-00.0"}) {
		t.Errorf("default names and direction: %+v", down)
	}
}
