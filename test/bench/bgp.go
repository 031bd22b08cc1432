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

// bgpLoad runs the soak binary's load benchmark (test/soak -load-bench):
// real BIRDs announce the full view over eBGP into the router netns's
// kernel tables in one burst, and it prints, per FIB kind, the load time
// and how far fibd's FIB is behind the kernel at its end. A subprocess
// with its own fibd on --no-huge: it needs none of the hugepages, and runs
// before this process starts an EAL. Its progress goes to bgpload.log.
func bgpLoad(o *options) error {
	dir := filepath.Dir(abs(o.bin))
	logPath := filepath.Join(abs(o.build), "bgpload.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Println("BGP full-view load (BIRD over eBGP into the router's kernel table)")
	ctx, cancel := withTimeout(30 * time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "soak"), "-load-bench", "-bin", dir,
		"-routes", fmt.Sprintf("%d,%d", o.v4, o.v6))
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
