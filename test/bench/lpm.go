package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// lpmBench runs cgo/dp/test/bench_lpm (C, its own EAL in a subprocess) on
// the same synthetic full view: fibd's own LPM tables (fp_lpm) next to
// rte_fib DIR-24-8 / rte_fib6 TRIE in one run: memory, build from nothing,
// ns per bulk lookup, single changes. It must run while no EAL holds the
// hugepages in this process (before fibBench).
func lpmBench(o *options, huge bool, v4, v6 []netip.Prefix) error {
	// meson builds bench_lpm next to the scratch directory's parent
	// (make: -build $(BUILD)/bench, the binary in $(BUILD)/cgo/dp)
	bin := filepath.Join(filepath.Dir(abs(o.build)), "cgo", "dp", "bench_lpm")
	if _, err := os.Stat(bin); err != nil {
		fmt.Printf("LPM: skipped (%v; build it with make)\n\n", err)
		return nil
	}
	in := filepath.Join(o.build, "fullview.txt")
	f, err := os.Create(in)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, p := range v4 {
		fmt.Fprintln(w, p)
	}
	for _, p := range v6 {
		fmt.Fprintln(w, p)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	args := []string{in}
	if huge {
		args = append(args, "huge")
	}
	ctx, cancel := withTimeout(o.lpmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil { // bench_lpm's EAL runtime directory (--file-prefix=benchlpm<pid>)
		os.RemoveAll(fmt.Sprintf("/var/run/dpdk/benchlpm%d", cmd.Process.Pid))
	}
	fmt.Printf("LPM: fp_lpm (fibd_fib=own) vs rte_fib DIR-24-8 / rte_fib6 TRIE (fibd_fib=dpdk), same run, synthetic full view %d IPv4 + %d IPv6 prefixes (DESIGN.md length mix, as `go run ./test/fullview/fvdump`), %s\n",
		len(v4), len(v6), filepath.Base(bin))
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, "TELEMETRY:") { // EAL chatter, not a figure
			continue
		}
		fmt.Println("  " + l)
	}
	fmt.Println()
	if err != nil {
		return fmt.Errorf("bench_lpm: %w", err)
	}
	scoreLPM(string(out))
	return nil
}
