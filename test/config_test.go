package test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadConfigStopsFibd: a bad configuration line is reported as
// file:line with the parameter, fibd exits non-zero and starts nothing
// (no EAL: this test needs neither root nor hugepages).
func TestBadConfigStopsFibd(t *testing.T) {
	bin, err := filepath.Abs("../bin/fibd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("fibd binary not built (%v): run make", err)
	}
	dir := t.TempDir()
	cases := []struct {
		name, conf, want string
	}{
		{"range", "in_dev=net_null0\nrouter_arp_cache_size=40000\n", "fastdpi.conf:2: router_arp_cache_size"},
		{"typo", "in_dev=net_null0\n\nrouter_kernal_table=5\n", "fastdpi.conf:3: router_kernal_table"},
		{"brace", "in_dev=net_null0\nrouter_device\n{\ndevice=net_null0\n}\n", "fastdpi.conf:2: router_device"},
		{"subnet", "in_dev=net_null0\nrouter_device {\ndevice=net_null0\nsubnet=10.0.0.0/33\n}\n", "fastdpi.conf:4: subnet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "fastdpi.conf")
			if err := os.WriteFile(path, []byte(c.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "-c", path, "--check")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2; output:\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), c.want) {
				t.Fatalf("output %q does not name %q", out.String(), c.want)
			}
		})
	}
	// A good configuration passes the same check.
	path := filepath.Join(dir, "good.conf")
	os.WriteFile(path, []byte("in_dev=net_null0\nfibd_vdev=net_null0\n"), 0o644)
	if out, err := exec.Command(bin, "-c", path, "--check").CombinedOutput(); err != nil {
		t.Fatalf("good config refused: %v\n%s", err, out)
	}
}

// TestPeeringAddrCommand: `fibd peering addr` prints the seed's address
// plan and refuses out-of-range identifiers with status 2.
func TestPeeringAddrCommand(t *testing.T) {
	bin, err := filepath.Abs("../bin/fibd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("fibd binary not built (%v): run make", err)
	}
	out, err := exec.Command(bin, "peering", "addr", "-mux", "3", "-upstream", "42", "-container", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"100.67.0.42", "2804:269c:ffff:3::2a", "100.67.128.0/17", "100.125.24.8/30", "100.125.24.10",
		"100.67.0.0/16", "2804:269c:ffff:3::/64"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	out, err = exec.Command(bin, "peering", "addr", "-mux", "12", "-upstream", "42", "-v6-decimal").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "2804:269c:ffff:12::42") || !strings.Contains(string(out), "2804:269c:ffff:12::/64") {
		t.Errorf("-v6-decimal: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"-mux", "3", "-upstream", "32768"}, {"-mux", "32", "-container", "0"}, {"-al2s", "256"}} {
		cmd := exec.Command(bin, append([]string{"peering", "addr"}, args...)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "out of range") {
			t.Errorf("%v: %v %s", args, err, out)
		}
	}
}

// TestInfiniteRxPool: net_pcap's infinite_rx keeps every packet of its
// rx_pcap in mbufs, and DPDK 22.11 crashes at exit when the pool was too
// small for them. An explicit fibd_mbufs that cannot hold them and the
// workers' caches stops fibd, cleanly, before any port is set up; the
// automatic size counts them, here 20,000 packets, more than twice what it
// was without them (8,832 for two ports and one worker), and fibd replays
// them and exits cleanly.
func TestInfiniteRxPool(t *testing.T) {
	bin := fibdBin(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	frames := make([][]byte, 20000)
	for i := range frames {
		frames[i] = make([]byte, 60)
	}
	writePcap(t, in, frames)
	devs := "in_dev=net_pcap0\nout_dev=net_null0\nfibd_vdev=net_pcap0,rx_pcap=" + in +
		",infinite_rx=1,tx_pcap=/dev/null\nfibd_vdev=net_null0\n"
	run := func(l *lab) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-c", l.path("fastdpi.conf"), "--duration", "2s", "-q",
			"--stats-json", l.path("stats.json"), "--log-level", "warn")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	out, err := run(newLabAt(t, devs+"fibd_mbufs=20500\n"))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || strings.Contains(out, "SIGSEGV") || !strings.Contains(out, "fibd_mbufs=20500") {
		t.Fatalf("fibd_mbufs=20500 for 20000 held packets: exit %v, output:\n%s\nwant a clean failure naming fibd_mbufs", err, out)
	}

	l := newLabAt(t, devs)
	if out, err := run(l); err != nil {
		t.Fatalf("fibd with an infinite_rx pcap of 20000 packets and fibd_mbufs=0: %v\n%s", err, out)
	}
	for _, p := range l.stats(t).Ports {
		if p.Device == "net_pcap0" && p.Rx <= 20000 {
			t.Errorf("net_pcap0 received %d frames in 2 s, want the 20000 of its capture replayed", p.Rx)
		}
	}
}
