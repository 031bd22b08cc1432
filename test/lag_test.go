package test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fibd/ports/pcap"
	"fibd/test/nstest"
)

// TestLAG bonds two of fibd's devices (net_bonding over af_packet veths)
// against a DPDK partner (testpmd bonding the other ends, forwarding to a
// host namespace), in 802.3ad and in static balance mode. Flows hashed to
// either member are routed and punted: the router answers on the LAG's
// exception interface and forwards to a client behind another port.
//
//	lh (hosts 10.4.0.2-17) ─ lcp ─ lc ┐ testpmd ┌ lb0 ─ la0 ┐ fibd
//	                                   └ bond    └ lb1 ─ la1 ┘ bond ─ ribl (rt)
//	lcl (client 10.5.0.2) ─ lkp ─ lk ─ fibd ─ ribk (rt)
func TestLAG(t *testing.T) {
	fibdBin(t)
	nstest.Tools(t, "dpdk-testpmd")
	for _, mode := range []struct{ fibd, testpmd string }{{"802.3ad", "4"}, {"balance", "2"}} {
		t.Run(mode.fibd, func(t *testing.T) { testLAG(t, mode.fibd, mode.testpmd) })
	}
}

func testLAG(t *testing.T, mode, partnerMode string) {
	s := strconv.Itoa(os.Getpid() % 100000)
	rt, lh, lcl := "lrt"+s, "lh"+s, "lcl"+s
	la0, la1, lb0, lb1, lc, lk := "la0"+s, "la1"+s, "lb0"+s, "lb1"+s, "lc"+s, "lk"+s
	nstest.NS(t, rt, lh, lcl)
	nstest.Links(t, la0, la1, lc, lk)
	nstest.Batch(t, "", "link add "+la0+" type veth peer name "+lb0, "link add "+la1+" type veth peer name "+lb1,
		"link add "+lc+" type veth peer name lcp netns "+lh, "link add "+lk+" type veth peer name lkp netns "+lcl,
		"link set "+la0+" up", "link set "+la1+" up", "link set "+lb0+" up", "link set "+lb1+" up",
		"link set "+lc+" up", "link set "+lk+" up")
	hosts := []string{"link set lcp up"}
	var srcs []string
	for i := 2; i < 18; i++ {
		srcs = append(srcs, fmt.Sprintf("10.4.0.%d", i))
		hosts = append(hosts, fmt.Sprintf("address add 10.4.0.%d/24 dev lcp", i))
	}
	nstest.Batch(t, lh, append(hosts, "route add default via 10.4.0.1")...)
	nstest.Batch(t, lcl, "link set lkp up", "address add 10.5.0.2/24 dev lkp", "route add default via 10.5.0.1")
	for _, l := range []string{lb0, lb1, lc} { // the partner's ports: no kernel chatter
		os.WriteFile("/proc/sys/net/ipv6/conf/"+l+"/disable_ipv6", []byte("1"), 0)
	}
	nstest.Exec(t, rt, "sysctl", "-qw", "net.ipv4.ip_forward=1")

	l := newLabAt(t, routerConf(rt, []string{la0, la1}, []string{lk})+fmt.Sprintf(`
lag {
name=down
mode=%[1]s
device=net_af_packet0
device=net_af_packet1
}
router_device {
device=net_af_packet1
tap=xtl%[2]s
peer=ribl
}
router_device {
device=net_af_packet2
tap=xtk%[2]s
peer=ribk
}`, mode, s))
	r := l.start(t)
	nstest.WaitUntil(t, 20*time.Second, "ribl and ribk in the router netns", func() bool {
		out, _ := exec.Command("ip", "-n", rt, "link").CombinedOutput()
		return strings.Contains(string(out), "ribl") && strings.Contains(string(out), "ribk")
	})
	nstest.Batch(t, rt, "address add 10.4.0.1/24 dev ribl", "address add 10.5.0.1/24 dev ribk")

	// The partner: testpmd bonds lb0 and lb1 and forwards between the
	// bond and lc. Its io forwarding calls tx only when it has frames,
	// and 802.3ad needs a tx burst every 100 ms: a keepalive ping through
	// it (from an address of its own) provides them.
	args := []string{"--lcores", "0@0,1@0", "--no-huge", "-m", "512",
		"--file-prefix", "fibdpartner" + s, "--no-pci", "--log-level", "lib.eal:warning",
		"--vdev", "net_af_packet10,iface=" + lb0, "--vdev", "net_af_packet11,iface=" + lb1,
		"--vdev", "net_af_packet12,iface=" + lc,
		"--vdev", "net_bonding9,mode=" + partnerMode + ",slave=net_af_packet10,slave=net_af_packet11,xmit_policy=l34",
		"--", "--forward-mode=io", "--portlist=2,3", "-a", "--no-lsc-interrupt", "--nb-cores=1",
		"--total-num-mbufs=4096"}
	startPartner(t, args, "/var/run/dpdk/fibdpartner"+s)
	keep := exec.Command("ip", "netns", "exec", lh, "ping", "-q", "-i", "0.02", "-I", "10.4.0.17", "10.4.0.1")
	keep.Stdout, keep.Stderr = io.Discard, io.Discard
	nstest.Start(t, keep)

	ping := func(src, dst string) bool {
		return exec.Command("ip", "netns", "exec", lh, "ping", "-c", "1", "-W", "1", "-I", src, dst).Run() == nil
	}
	nstest.WaitUntil(t, 30*time.Second, "the LAG carries traffic (LACP converged)", func() bool { return ping("10.4.0.2", "10.4.0.1") })

	if os.Getenv("XLAB_PAUSE") != "" { // a look at the running lab before the checks
		time.Sleep(200 * time.Second)
	}
	// capture both members while every host pings the router (punted)
	// and the client (routed); af_packet sends bypass the qdisc and the
	// captures, so what fibd sends on la0 is captured where it arrives, lb0
	dir := t.TempDir()
	var dumps []*nstest.Proc
	for _, m := range []string{la0, la1, lb0, lb1} {
		c := exec.Command("tcpdump", "-Z", "root", "--immediate-mode", "-U", "-n", "-i", m, "-w", filepath.Join(dir, m+".pcap"), "icmp")
		errs := &syncBuffer{}
		c.Stderr = errs
		dumps = append(dumps, nstest.Start(t, c))
		nstest.WaitUntil(t, 10*time.Second, "tcpdump on "+m, func() bool { return strings.Contains(errs.String(), "listening on") })
	}
	for _, src := range srcs[:15] {
		for _, dst := range []string{"10.4.0.1", "10.5.0.2"} {
			if !ping(src, dst) {
				t.Errorf("%s -> %s over the LAG: no answer", src, dst)
			}
		}
	}
	time.Sleep(500 * time.Millisecond)
	for _, c := range dumps {
		c.Stop(syscall.SIGTERM, 10*time.Second)
	}
	for _, m := range [][2]string{{la0, lb0}, {la1, lb1}} {
		var punted, routed, answered, replied int
		for i, iface := range m {
			for _, f := range readPcap(t, filepath.Join(dir, iface+".pcap")) {
				e, err := pcap.ParseEth(f)
				if err != nil || e.IPVersion != 4 || len(f) < 14+e.HeaderLen+1 || e.SrcIP.String() == "10.4.0.17" ||
					e.DstIP.String() == "10.4.0.17" {
					continue
				}
				switch typ := f[14+e.HeaderLen]; {
				case i == 0 && typ == 8 && e.DstIP.String() == "10.4.0.1":
					punted++ // an echo request to the router, received by fibd on this member
				case i == 0 && typ == 8 && e.DstIP.String() == "10.5.0.2":
					routed++ // ... to the client, routed by fibd
				case i == 1 && typ == 0 && e.SrcIP.String() == "10.4.0.1":
					answered++ // the router's reply, sent by fibd on this member
				case i == 1 && typ == 0 && e.SrcIP.String() == "10.5.0.2":
					replied++ // the client's reply, routed by fibd onto this member
				}
			}
		}
		t.Logf("member %s: in, %d echo requests to the router and %d to the client; out, %d and %d replies",
			m[0], punted, routed, answered, replied)
		if punted == 0 || routed == 0 || answered == 0 || replied == 0 {
			t.Errorf("member %s did not carry every kind of traffic", m[0])
		}
	}
	out, _, _ := r.fdpi(t, "router", "device", "show")
	if !strings.Contains(out, "ribl") {
		t.Errorf("the LAG's exception interface is not shown:\n%s", out)
	}
}

// startPartner runs testpmd (args) until the test ends. DPDK's af_packet
// PMD names its socket's fanout group after its pid and the interface's
// index; fibd's af_packet ports in the same netns do the same, so a
// collision of the two (a few in ten thousand runs) fails testpmd's start
// with EINVAL: then a new process, with a new pid, tries again.
func startPartner(t *testing.T, args []string, runDir string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		partner := exec.Command("dpdk-testpmd", args...)
		stdin, err := partner.StdinPipe() // testpmd runs until its input ends
		if err != nil {
			t.Fatal(err)
		}
		plog := &syncBuffer{}
		partner.Stdout, partner.Stderr = plog, plog
		partner.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := partner.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { partner.Wait(); close(done) }()
		stop := func() {
			stdin.Close()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				partner.Process.Kill()
				<-done
			}
			os.RemoveAll(runDir)
		}
		// it starts forwarding within a second or reports its failure
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(plog.String(), "could not set PACKET_FANOUT") {
			time.Sleep(50 * time.Millisecond)
		}
		if strings.Contains(plog.String(), "could not set PACKET_FANOUT") && attempt < 3 {
			stop()
			t.Logf("testpmd, attempt %d: its af_packet fanout group is taken; again", attempt)
			continue
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("testpmd:\n%s", plog.String())
			}
		})
		return
	}
}
