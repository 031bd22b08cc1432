package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// forwarding measures Mpps of one worker lcore, fibd next to l3fwd.
func forwarding(o *options, huge bool, v4, v6 []netip.Prefix) error {
	rng := rand.New(rand.NewPCG(3, 4))
	cmp4, cmp6 := v4[:min(o.cmpV4, len(v4))], v6[:min(o.cmpV6, len(v6))]
	dir := abs(o.build)
	files := map[string]string{}
	for _, f := range []string{"cmp4.pcap", "cmp6.pcap", "full4.pcap", "full6.pcap", "rules4", "rules6", "cmp.routes", "full.routes"} {
		files[f] = filepath.Join(dir, f)
	}
	if err := packets(files["cmp4.pcap"], rng, cmp4, o.dests); err != nil {
		return err
	}
	if err := packets(files["cmp6.pcap"], rng, cmp6, o.dests); err != nil {
		return err
	}
	if err := packets(files["full4.pcap"], rng, v4, o.dests); err != nil {
		return err
	}
	if err := packets(files["full6.pcap"], rng, v6, o.dests); err != nil {
		return err
	}
	if err := writeStatic(files["cmp.routes"], cmp4, cmp6); err != nil {
		return err
	}
	if err := writeStatic(files["full.routes"], v4, v6); err != nil {
		return err
	}

	var l3fwd string
	if !o.noL3fwd {
		if err := WriteL3fwdRules(files["rules4"], files["rules6"], cmp4, cmp6); err != nil {
			return err
		}
		bin, err := BuildL3fwd(filepath.Join(dir, "l3fwd"))
		if err != nil {
			return fmt.Errorf("building l3fwd: %w", err)
		}
		l3fwd = bin
	}

	fmt.Printf("Forwarding: one worker lcore, net_pcap0 (rx_pcap, infinite_rx) -> net_null0, %d destinations, rate of net_null0 tx over %s after %s warm-up\n",
		o.dests, o.window, o.warmup)
	fmt.Printf("  %-42s %10s %10s %8s\n", "input", "fibd Mpps", "l3fwd Mpps", "ratio")
	row := func(name, pcapFile, static string, max4, max6 int, withL3fwd bool) error {
		f, err := fibdRate(o, huge, pcapFile, static, max4, max6)
		if err != nil {
			return fmt.Errorf("fibd %s: %w", name, err)
		}
		if !withL3fwd || l3fwd == "" {
			fmt.Printf("  %-42s %10.2f %10s %8s\n", name, f, "-", "-")
			return nil
		}
		ctx, cancel := withTimeout(5 * time.Minute)
		defer cancel()
		l, err := L3fwdRun{Bin: l3fwd, Pcap: pcapFile, Rules4: files["rules4"], Rules6: files["rules6"],
			Lookup: "fib", Lcore: 1, Warmup: o.warmup, Window: o.window, EALMem: ealMem(huge, 1024)}.Run(ctx)
		if err != nil {
			return fmt.Errorf("l3fwd %s: %w", name, err)
		}
		fmt.Printf("  %-42s %10.2f %10.2f %8.2f\n", name, f, l, f/l)
		return nil
	}
	n4, n6 := len(cmp4), len(cmp6)
	if err := row(fmt.Sprintf("IPv4 64B, table %dk+%dk", n4/1000, n6/1000), files["cmp4.pcap"], files["cmp.routes"], 65536, 65536, true); err != nil {
		return err
	}
	if err := row(fmt.Sprintf("IPv6 62B, table %dk+%dk", n4/1000, n6/1000), files["cmp6.pcap"], files["cmp.routes"], 65536, 65536, true); err != nil {
		return err
	}
	if o.noFull {
		fmt.Println()
		return nil
	}
	if err := row(fmt.Sprintf("IPv4 64B, full view %dk+%dk", len(v4)/1000, len(v6)/1000), files["full4.pcap"], files["full.routes"], len(v4)+16, len(v6)+16, false); err != nil {
		return err
	}
	if err := row(fmt.Sprintf("IPv6 62B, full view %dk+%dk", len(v4)/1000, len(v6)/1000), files["full6.pcap"], files["full.routes"], len(v4)+16, len(v6)+16, false); err != nil {
		return err
	}
	fmt.Println("  (l3fwd-fib: compiled-in limit of 65536 routes, so it runs the small table only;")
	fmt.Println("   fibd does more per packet: RFC 1812 checks, ECMP-capable nexthops, named drop counters)")
	fmt.Println()
	return nil
}

// writeStatic writes routes via one neighbour on net_null0.
func writeStatic(path string, v4, v6 []netip.Prefix) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "address add 198.51.100.1/24 dev net_null0")
	fmt.Fprintln(w, "address add 2001:db8:1::1/64 dev net_null0")
	fmt.Fprintln(w, "neigh add 198.51.100.2 lladdr 02:00:00:00:00:02 dev net_null0")
	fmt.Fprintln(w, "neigh add 2001:db8:1::2 lladdr 02:00:00:00:00:02 dev net_null0")
	for _, p := range v4 {
		fmt.Fprintf(w, "route add %s via 198.51.100.2 dev net_null0\n", p)
	}
	for _, p := range v6 {
		fmt.Fprintf(w, "route add %s via 2001:db8:1::2 dev net_null0\n", p)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// fibdRate runs fibd on the capture and routes, busy-polling, and returns
// net_null0's tx rate in Mpps.
func fibdRate(o *options, huge bool, pcapFile, static string, max4, max6 int) (float64, error) {
	prefix := fmt.Sprintf("fibdbenchfwd%d", os.Getpid())
	defer os.RemoveAll("/var/run/dpdk/" + prefix)
	cfg := filepath.Join(abs(o.build), "fibd.conf")
	mem := ""
	for _, a := range ealMem(huge, 3072) {
		mem += " " + a
	}
	conf := fmt.Sprintf(`in_dev=net_pcap0
out_dev=net_null0
fibd_vdev=net_pcap0,rx_pcap=%s,infinite_rx=1,tx_pcap=/dev/null
fibd_vdev=net_null0,no-rx=1
fibd_eal_args=-l 0-1 --file-prefix %s --log-level lib.eal:warning%s
fibd_idle_sleep_us=0
router_max_ip4_route_count=%d
router_max_ip6_route_count=%d
`, pcapFile, prefix, mem, max4, max6)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return 0, err
	}
	cmd := exec.Command(abs(o.bin), "-c", cfg, "--static", static, "-q", "--log-level", "warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(abs(o.build), "fibd.log"))
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tel, err := dialTelemetryCtx(ctx, prefix)
	if err != nil {
		return 0, fmt.Errorf("telemetry: %w (see %s)", err, logf.Name())
	}
	defer tel.Close()
	for { // forwarding starts once the FIB is programmed
		_, out, _, err := tel.PortStats(1)
		if err == nil && out > 0 {
			break
		}
		select {
		case err := <-exited:
			return 0, fmt.Errorf("fibd exited: %v (see %s)", err, logf.Name())
		case <-ctx.Done():
			return 0, fmt.Errorf("no packet forwarded in time (see %s)", logf.Name())
		case <-time.After(100 * time.Millisecond):
		}
	}
	pps, err := tel.TxRate(1, o.warmup, o.window)
	if err != nil {
		return 0, err
	}
	return pps / 1e6, nil
}
