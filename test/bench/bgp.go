package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// bgpStarts is how many times the load runs per FIB kind, in turn: how
// far the FIB is behind at the end of one load is a single sample (0.09
// to 0.90 s for one FIB in three runs), the scoreboard takes the best.
const bgpStarts = 2

// bgpLoad runs the soak binary's load benchmark (test/soak -load-bench):
// real BIRDs announce the full view over eBGP into the router netns's
// kernel tables in one burst, and it prints, per FIB kind and start, the
// load time and how far fibd's FIB is behind the kernel at its end. A
// subprocess with its own fibd on --no-huge: it needs none of the
// hugepages, and runs before this process starts an EAL. Its progress
// goes to bgpload.log.
func bgpLoad(o *options) error {
	dir := filepath.Dir(abs(o.bin))
	logPath := filepath.Join(abs(o.build), "bgpload.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Printf("BGP full-view load (BIRD over eBGP into the router's kernel table), %d starts per FIB in turn\n", bgpStarts)
	ctx, cancel := withTimeout(bgpStarts * 30 * time.Minute)
	defer cancel()
	fibs := strings.TrimSuffix(strings.Repeat(strings.Join(fwdFIBs, ",")+",", bgpStarts), ",")
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "soak"), "-load-bench", "-bin", dir,
		"-routes", fmt.Sprintf("%d,%d", o.v4, o.v6), "-fib", fibs)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = io.MultiWriter(os.Stdout, &out), logf
	// SIGTERM: the soak tears its namespaces and processes down
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		return fmt.Errorf("the BGP load benchmark (%s; log %s): %w\n%s", strings.Join(cmd.Args, " "), logPath, err,
			strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
	scoreBGP(out.String())
	fmt.Println()
	return nil
}
