package test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"fibd/ports/pcap"
	"fibd/test/fullview"
)

// TestRouterModePcap runs fibd with router=1: it mirrors a kernel table of
// a scratch router_netns (rib1/rib2 stand for the exception interfaces of
// net_pcap1/net_pcap2) and forwards a capture along it. Every packet must
// leave where the kernel's own route lookup in that netns sends it.
func TestRouterModePcap(t *testing.T) {
	bin := fibdBin(t)
	ns := fmt.Sprintf("fibdr%d", os.Getpid())
	exec.Command("ip", "netns", "del", ns).Run()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	neigh := map[string]string{"198.51.100.2": "02:00:00:00:01:02", "203.0.113.2": "02:00:00:00:02:02",
		"2001:db8:1::2": "02:00:00:00:01:02", "2001:db8:2::2": "02:00:00:00:02:02"}
	setup := []string{
		"link set lo up",
		"link add rib1 type veth peer name nbr1", "link add rib2 type veth peer name nbr2",
		"link set rib1 up", "link set rib2 up", "link set nbr1 up", "link set nbr2 up",
		"address add 198.51.100.1/24 dev rib1", "address add 203.0.113.1/24 dev rib2",
		"address add 2001:db8:1::1/64 dev rib1 nodad", "address add 2001:db8:2::1/64 dev rib2 nodad",
		"rule add lookup 100 pref 100",
	}
	for gw, mac := range neigh {
		dev := "rib1"
		if strings.HasPrefix(gw, "203.") || strings.HasPrefix(gw, "2001:db8:2:") {
			dev = "rib2"
		}
		setup = append(setup, fmt.Sprintf("neigh add %s lladdr %s dev %s nud permanent", gw, mac, dev))
	}
	rng := rand.New(rand.NewPCG(9, 9))
	routes := append(fullview.IPv4(50, 3000)[:2000], fullview.IPv6(51, 3000)[:600]...)
	for _, p := range routes {
		gw := []string{"198.51.100.2", "203.0.113.2"}[rng.IntN(2)]
		if p.Addr().Is6() {
			gw = []string{"2001:db8:1::2", "2001:db8:2::2"}[rng.IntN(2)]
		}
		if rng.IntN(15) == 0 {
			setup = append(setup, fmt.Sprintf("route add blackhole %s table 100", p))
		} else {
			setup = append(setup, fmt.Sprintf("route add %s via %s table 100", p, gw))
		}
	}
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(setup, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v\n%s", err, out)
	}
	if out, err := exec.Command("ip", "-n", ns, "-6", "rule", "add", "lookup", "100", "pref", "100").CombinedOutput(); err != nil {
		t.Fatalf("ip -6 rule: %v %s", err, out)
	}

	// The kernel's decision for every destination, before fibd runs.
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(nsh)
	nsh.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	type want struct {
		port int
		mac  string
		drop bool
	}
	smac, _ := net.ParseMAC(srcMAC)
	dmac, _ := net.ParseMAC("02:70:63:61:70:00")
	var frames [][]byte
	var wants []want
	for i := range 3000 {
		dst := fullview.AddrIn(rng, routes[rng.IntN(len(routes))])
		rs, err := h.RouteGet(dst.AsSlice())
		var w want
		switch {
		case errors.Is(err, syscall.EINVAL): // blackhole
			w.drop = true
		case err != nil:
			t.Fatalf("route get %s: %v", dst, err)
		default:
			l, err := h.LinkByIndex(rs[0].LinkIndex)
			if err != nil {
				t.Fatal(err)
			}
			w.port = map[string]int{"rib1": 1, "rib2": 2}[l.Attrs().Name]
			gw, _ := netip.AddrFromSlice(rs[0].Gw)
			w.mac = neigh[gw.Unmap().String()]
		}
		payload := make([]byte, 8)
		payload[0], payload[1] = byte(i>>8), byte(i)
		if dst.Is4() {
			frames = append(frames, pcap.EthIPv4UDP(dmac, smac, netip.MustParseAddr("192.0.2.9"), dst, 64, uint16(i), 9, payload))
		} else {
			frames = append(frames, pcap.EthIPv6UDP(dmac, smac, netip.MustParseAddr("2001:db8::9"), dst, 64, uint16(i), 9, payload))
		}
		wants = append(wants, w)
	}

	l := newLab(t, fmt.Sprintf(`router=1
router_netns=%s
router_kernel_table=100
router_fib_refresh=5
bras_arp_mac=02:00:00:00:00:fe
bras_arp_ip=192.0.2.254
router_device {
device=net_pcap1
peer=rib1
}
router_device {
device=net_pcap2
peer=rib2
}`, ns))
	writePcap(t, l.path("in.pcap"), frames)
	st := l.run(t, bin, "")
	seen := make([]int, len(frames))
	for port := 1; port <= 2; port++ {
		for _, f := range readPcap(t, l.path(fmt.Sprintf("out%d.pcap", port))) {
			info, err := pcap.ParseEth(f)
			if err != nil || len(info.Payload) < 2 {
				t.Fatalf("port %d: bad output frame", port)
			}
			i := int(info.Payload[0])<<8 | int(info.Payload[1])
			seen[i]++
			w := wants[i]
			if w.drop || w.port != port || w.mac != info.DstMAC.String() {
				t.Errorf("packet %d: out of port %d to %s; kernel says %+v", i, port, info.DstMAC, w)
			}
		}
	}
	drops := 0
	for i, w := range wants {
		if w.drop {
			drops++
			if seen[i] != 0 {
				t.Errorf("packet %d forwarded, kernel blackholes it", i)
			}
		} else if seen[i] != 1 {
			t.Errorf("packet %d came out %d times", i, seen[i])
		}
	}
	if st.Drops["blackhole"] != uint64(drops) {
		t.Errorf("blackhole drops %d, kernel %d", st.Drops["blackhole"], drops)
	}
	if st.Routes4+st.Routes6 < uint64(len(routes)) {
		t.Errorf("FIB holds %d+%d routes, kernel table %d", st.Routes4, st.Routes6, len(routes))
	}
}
