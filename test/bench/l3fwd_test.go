package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fibd/test/fullview"
)

// l3fwdTestPcap writes a classic libpcap file (LINKTYPE_ETHERNET) with one
// 64-byte Ethernet/IPv4/UDP frame per destination, valid IPv4 header
// checksums, UDP checksum 0 (none).
func l3fwdTestPcap(path string, dsts []netip.Addr) error {
	const frameLen = 64
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4) // magic, microsecond timestamps
	le.PutUint16(hdr[4:], 2)          // version 2.4
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535) // snaplen
	le.PutUint32(hdr[20:], 1)     // LINKTYPE_ETHERNET
	b.Write(hdr)
	src := netip.MustParseAddr("192.0.2.1").As4()
	for i, dst := range dsts {
		f := make([]byte, frameLen)
		copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 0x01})  // dst MAC
		copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0x02}) // src MAC
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := f[14:34]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], frameLen-14) // total length
		binary.BigEndian.PutUint16(ip[4:], uint16(i))   // id
		ip[8] = 64                                      // TTL
		ip[9] = 17                                      // UDP
		copy(ip[12:16], src[:])
		d := dst.As4()
		copy(ip[16:20], d[:])
		binary.BigEndian.PutUint16(ip[10:], l3fwdTestCsum(ip))
		udp := f[34:]
		binary.BigEndian.PutUint16(udp[0:], 1024)
		binary.BigEndian.PutUint16(udp[2:], 1024)
		binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(i/1000000))
		le.PutUint32(rec[4:], uint32(i%1000000))
		le.PutUint32(rec[8:], frameLen)
		le.PutUint32(rec[12:], frameLen)
		b.Write(rec)
		b.Write(f)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// l3fwdTestCsum is the Internet checksum of b (the checksum field zero).
func l3fwdTestCsum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func TestL3fwdTestCsum(t *testing.T) {
	// RFC 1071-style known header: 4500 0073 0000 4000 4011 .... c0a8 0001 c0a8 00c7 -> b861
	h := []byte{0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7}
	if got := l3fwdTestCsum(h); got != 0xb861 {
		t.Fatalf("checksum %#04x, want 0xb861", got)
	}
}

func TestWriteL3fwdRules(t *testing.T) {
	d := t.TempDir()
	p4, p6 := filepath.Join(d, "r4"), filepath.Join(d, "r6")
	v4 := []netip.Prefix{netip.MustParsePrefix("198.18.1.7/24"), netip.MustParsePrefix("10.0.0.0/8")}
	if err := WriteL3fwdRules(p4, p6, v4, nil); err != nil {
		t.Fatal(err)
	}
	b4, _ := os.ReadFile(p4)
	b6, _ := os.ReadFile(p6)
	if !strings.Contains(string(b4), "\nR198.18.1.0/24 1\nR10.0.0.0/8 1\n") {
		t.Errorf("v4 rules:\n%s", b4)
	}
	if !strings.Contains(string(b6), "\nR::/128 1\n") {
		t.Errorf("v6 placeholder missing:\n%s", b6)
	}
	v6 := []netip.Prefix{netip.MustParsePrefix("2001:db8:1::/48")}
	if err := WriteL3fwdRules(p4, p6, nil, v6); err != nil {
		t.Fatal(err)
	}
	b4, _ = os.ReadFile(p4)
	b6, _ = os.ReadFile(p6)
	if !strings.Contains(string(b4), "\nR0.0.0.0/32 1\n") || !strings.Contains(string(b6), "\nR2001:db8:1::/48 1\n") {
		t.Errorf("rules:\n%s\n%s", b4, b6)
	}
	if err := WriteL3fwdRules(p4, p6, v6, nil); err == nil {
		t.Error("IPv6 prefix accepted as IPv4")
	}
	if err := WriteL3fwdRules(p4, p6, make([]netip.Prefix, l3fwdMaxRoutes4+1), nil); err == nil {
		t.Error("too many routes accepted")
	}
}

func TestWriteL3fwdBigRules(t *testing.T) {
	d := t.TempDir()
	p4, p6 := filepath.Join(d, "r4"), filepath.Join(d, "r6")
	v4 := fullview.IPv4(1, l3fwdMaxRoutes4+1)
	v6 := fullview.IPv6(2, l3fwdMaxRoutes6+1)
	if err := WriteL3fwdRules(p4, p6, v4, v6); err == nil {
		t.Error("small variant accepted more than its limits")
	}
	if err := WriteL3fwdBigRules(p4, p6, v4, v6); err != nil {
		t.Fatal(err)
	}
	b4, _ := os.ReadFile(p4)
	b6, _ := os.ReadFile(p6)
	if n := bytes.Count(b4, []byte("\nR")); n != len(v4) {
		t.Errorf("%d IPv4 rules, want %d", n, len(v4))
	}
	if n := bytes.Count(b6, []byte("\nR")); n != len(v6) {
		t.Errorf("%d IPv6 rules, want %d", n, len(v6))
	}
	if err := WriteL3fwdBigRules(p4, p6, make([]netip.Prefix, l3fwdBigMaxRoutes4+1), nil); err == nil {
		t.Error("too many routes accepted by the big variant")
	}
}

func TestL3fwdBigPatchesApply(t *testing.T) {
	// Every patch must find its anchor exactly once in the installed
	// sources, after the ones before it (what buildL3fwd checks).
	dir := filepath.Join(l3fwdExamplesDir, "l3fwd")
	if _, err := os.Stat(filepath.Join(dir, "main.c")); err != nil {
		t.Skip("dpdk-doc examples not installed")
	}
	files := map[string][]byte{}
	for _, p := range append(append([]l3fwdPatch{}, l3fwdPatches...), l3fwdBigPatches...) {
		b, ok := files[p.File]
		if !ok {
			var err error
			if b, err = os.ReadFile(filepath.Join(dir, p.File)); err != nil {
				t.Fatal(err)
			}
		}
		if n := bytes.Count(b, []byte(p.Old)); n != 1 {
			t.Errorf("%s: anchor %q found %d times, want 1", p.File, p.Old, n)
			continue
		}
		files[p.File] = bytes.Replace(b, []byte(p.Old), []byte(p.New), 1)
	}
}

func TestL3fwdRouteCounter(t *testing.T) {
	var tail bytes.Buffer
	c := &l3fwdRouteCounter{tail: &tail}
	in := "EAL: something\nFIB: Adding route 10.0.0.0 / 8 (1) [net_null0]\n" +
		"LPM: Adding route 2001:db8:: / 32 (1) [net_null0]\nnot FIB: Adding route\nFIB: Adding rou"
	// split at every position: a line may arrive in pieces
	for i := range len(in) {
		c.routes, c.line = 0, nil
		c.Write([]byte(in[:i]))
		c.Write([]byte(in[i:]))
		if c.routes != 2 {
			t.Fatalf("split at %d: %d routes, want 2", i, c.routes)
		}
	}
	if !strings.HasPrefix(tail.String(), "EAL: something\n") {
		t.Errorf("tail not passed on: %q", tail.String())
	}
}

// l3fwdTestDir is where the test builds l3fwd; FIBD_BENCH_DIR overrides it
// so repeated runs reuse the binary.
func l3fwdTestDir(t *testing.T) string {
	if d := os.Getenv("FIBD_BENCH_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "fibd-bench")
}

// TestL3fwdRate builds l3fwd, feeds it 64-byte IPv4 UDP frames to 4096
// destinations in 198.18.0.0/16 routed by 256 /24s, and checks it forwards
// more than 0.5 Mpps. Needs root and FIBD_BENCH_L3FWD=1; FIBD_BENCH_EAL_MEM
// (e.g. "-m 1024 --huge-unlink") replaces the default --no-huge -m 1024.
func TestL3fwdRate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if os.Getenv("FIBD_BENCH_L3FWD") != "1" {
		t.Skip("set FIBD_BENCH_L3FWD=1 to run (takes ~15 s, more on the first build)")
	}
	bin, err := BuildL3fwd(l3fwdTestDir(t))
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	var dsts []netip.Addr
	for i := 0; i < 4096; i++ {
		dsts = append(dsts, netip.AddrFrom4([4]byte{198, 18, byte(i % 256), byte(1 + i/256)}))
	}
	pcap := filepath.Join(d, "in.pcap")
	if err := l3fwdTestPcap(pcap, dsts); err != nil {
		t.Fatal(err)
	}
	var v4 []netip.Prefix
	for i := 0; i < 256; i++ {
		v4 = append(v4, netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, byte(i), 0}), 24))
	}
	// The 60k table: a synthetic full-view slice (which leaves 198.18/15
	// alone) plus the same 256 /24s, at the size the bench passes l3fwd.
	big4 := append(fullview.IPv4(1, 60000-len(v4)), v4...)
	big6 := fullview.IPv6(1, 60000)
	tables := []struct {
		name   string
		v4, v6 []netip.Prefix
	}{
		{"256", v4, []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}},
		{"60k", big4, big6},
	}
	for _, tb := range tables {
		r4, r6 := filepath.Join(d, tb.name+".rules4"), filepath.Join(d, tb.name+".rules6")
		if err := WriteL3fwdRules(r4, r6, tb.v4, tb.v6); err != nil {
			t.Fatal(err)
		}
		for _, lookup := range []string{"fib", "lpm"} {
			t.Run(lookup+"-"+tb.name, func(t *testing.T) {
				run := L3fwdRun{
					Bin: bin, Pcap: pcap, Rules4: r4, Rules6: r6,
					Lookup: lookup, Lcore: 1,
					Warmup: 2 * time.Second, Window: 3 * time.Second, Samples: 3,
				}
				if m := os.Getenv("FIBD_BENCH_EAL_MEM"); m != "" {
					run.EALMem = strings.Fields(m)
				}
				args, err := run.Args()
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s %s", bin, l3fwdQuote(args))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				start := time.Now()
				samples, err := run.RunSamples(ctx)
				if err != nil {
					t.Fatal(err)
				}
				mpps := l3fwdMedian(samples)
				t.Logf("l3fwd --lookup %s, %d+%d routes: median %.2f Mpps, 1 s windows %.2f (run took %v)",
					lookup, len(tb.v4), len(tb.v6), mpps, samples, time.Since(start).Round(time.Second))
				if mpps <= 0.5 {
					t.Errorf("l3fwd forwarded %.2f Mpps, want > 0.5", mpps)
				}
			})
		}
	}
}

// TestL3fwdRunFailures checks that Run stops l3fwd and cleans up when the
// context ends, when the routes miss the traffic and when l3fwd fails to
// start. Needs root and FIBD_BENCH_L3FWD=1.
func TestL3fwdRunFailures(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if os.Getenv("FIBD_BENCH_L3FWD") != "1" {
		t.Skip("set FIBD_BENCH_L3FWD=1 to run")
	}
	bin, err := BuildL3fwd(l3fwdTestDir(t))
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	pcap := filepath.Join(d, "in.pcap")
	if err := l3fwdTestPcap(pcap, []netip.Addr{netip.MustParseAddr("198.18.0.1")}); err != nil {
		t.Fatal(err)
	}
	r4, r6 := filepath.Join(d, "r4"), filepath.Join(d, "r6")
	prefix := "fibd-l3fwd-test-" + strconv.Itoa(os.Getpid())
	run := L3fwdRun{Bin: bin, Pcap: pcap, Rules4: r4, Rules6: r6, FilePrefix: prefix, Window: time.Second}
	gone := func(t *testing.T) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(telemetryRuntimeDir(), prefix)); !os.IsNotExist(err) {
			t.Errorf("runtime dir of %s left behind (%v)", prefix, err)
		}
		out, _ := exec.Command("pgrep", "-f", "file-prefix "+prefix).Output()
		if len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("l3fwd still running: pids %s", out)
		}
	}

	t.Run("cancel", func(t *testing.T) {
		if err := WriteL3fwdRules(r4, r6, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/16")}, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		r := run
		r.Window = time.Minute
		start := time.Now()
		_, err := r.Run(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 20*time.Second {
			t.Errorf("after %v: err %v, want a prompt deadline error", time.Since(start), err)
		}
		gone(t)
	})
	t.Run("unrouted", func(t *testing.T) {
		if err := WriteL3fwdRules(r4, r6, []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16")}, nil); err != nil {
			t.Fatal(err)
		}
		_, err := run.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "routes do not cover") {
			t.Errorf("err %v, want routes do not cover", err)
		}
		gone(t)
		r := run
		r.AllowUnrouted = true
		if mpps, err := r.Run(context.Background()); err != nil || mpps != 0 {
			t.Errorf("AllowUnrouted: %.2f Mpps, %v; want 0, nil", mpps, err)
		}
		gone(t)
	})
	t.Run("bad-eal-args", func(t *testing.T) {
		r := run
		r.EALMem = []string{"--no-huge", "-m", "1024", "--in-memory"} // refused together
		start := time.Now()
		_, err := r.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "exited early") || time.Since(start) > 20*time.Second {
			t.Errorf("after %v: err %v, want a prompt exited early", time.Since(start), err)
		}
		gone(t)
	})
}
