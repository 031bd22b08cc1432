// Command soak runs fibd in router mode against real BIRDs for a while and
// injects faults at random, checking after each one that fibd's FIB equals
// the kernel's tables route by route, that traffic flows and that fibd has
// not crashed; it prints a summary per fault kind and fibd's memory. `make
// soak` runs it (root, bird2):
//
//	SOAK=10m SOAK_SEED=42 SOAK_ROUTES=200000,50000 make soak
//	SOAK_ROUTES=full make soak        # 1,000,000 IPv4 + 200,000 IPv6
//	SOAK_FAULTS=flap,churn make soak  # only these kinds
//
// With -load-bench it runs no faults: it measures, per FIB kind, how far
// fibd's FIB is behind the kernel at the end of a full view arriving over
// BGP in one burst, and prints one line each (`make bench` runs it; see
// loadbench.go):
//
//	bin/soak -load-bench [-routes full|V4,V6] [-fib dpdk,own]
//
// A mismatch prints the address, the kernel's route, fibd's answer and
// the seed; the run then fails (SOAK_KEEP_GOING=1: repair and go on).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg, err := configFromEnv()
	var loadBench bool
	var routes, fibs string
	if err == nil {
		flag.BoolVar(&loadBench, "load-bench", false, "measure a BGP full-view load instead of soaking")
		flag.StringVar(&routes, "routes", "", "the view: V4,V6 or full (SOAK_ROUTES; -load-bench: full)")
		flag.StringVar(&fibs, "fib", "dpdk,own", "with -load-bench: the fibd_fib kinds to measure, in order")
		flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long faults are injected (SOAK)")
		flag.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (SOAK_SEED)")
		flag.StringVar(&cfg.Bin, "bin", cfg.Bin, "directory of fibd and fdpi_cli")
		flag.BoolVar(&cfg.KeepGoing, "keep-going", cfg.KeepGoing, "after a failed fault, repair and go on (SOAK_KEEP_GOING)")
		flag.Parse()
		if routes == "" && loadBench && os.Getenv("SOAK_ROUTES") == "" {
			routes = "full"
		}
		if routes != "" {
			cfg.Routes4, cfg.Routes6, err = parseRoutes(routes)
		}
		for _, f := range strings.Split(fibs, ",") {
			if f != "dpdk" && f != "own" {
				err = fmt.Errorf("-fib: %q: want dpdk or own", f)
			}
			cfg.FIBs = append(cfg.FIBs, f)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if b, aerr := filepath.Abs(cfg.Bin); aerr == nil {
		cfg.Bin = b
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "soak: needs root (DPDK, namespaces)")
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "fibd-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	cfg.Dir, cfg.Out = dir, os.Stdout
	if loadBench {
		cfg.Out = os.Stderr // progress; the figures go to stdout
	}
	// an interrupt still cleans up: the soak's children die with it
	// (Pdeathsig), its namespaces and links are removed here
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "soak: interrupted; cleaning up")
		newLab(&cfg).teardown()
		os.Exit(130)
	}()
	run := Run
	if loadBench {
		run = func(cfg Config) error { return LoadBench(cfg, os.Stdout) }
	}
	if err := run(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "soak failed (logs in %s):\n%v\n", dir, err)
		os.Exit(1)
	}
	os.RemoveAll(dir)
}

// configFromEnv reads SOAK, SOAK_SEED, SOAK_ROUTES, SOAK_FAULTS and
// SOAK_KEEP_GOING.
func configFromEnv() (Config, error) {
	cfg := Config{Duration: 10 * time.Minute, Seed: time.Now().UnixNano() % 1000000, Routes4: 200000, Routes6: 50000}
	if exe, err := os.Executable(); err == nil {
		cfg.Bin = filepath.Dir(exe)
	}
	if b, err := filepath.Abs("bin"); err == nil {
		if _, err := os.Stat(filepath.Join(b, "fibd")); err == nil {
			cfg.Bin = b
		}
	}
	if v := os.Getenv("SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return cfg, fmt.Errorf("SOAK=%q: %w", v, err)
		}
		cfg.Duration = d
	}
	if v := os.Getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("SOAK_SEED=%q: %w", v, err)
		}
		cfg.Seed = n
	}
	if v := os.Getenv("SOAK_ROUTES"); v != "" {
		var err error
		if cfg.Routes4, cfg.Routes6, err = parseRoutes(v); err != nil {
			return cfg, err
		}
	}
	if v := os.Getenv("SOAK_FAULTS"); v != "" {
		for _, f := range strings.Split(v, ",") {
			known := false
			for _, k := range allFaults {
				known = known || k.name == f
			}
			if !known {
				return cfg, fmt.Errorf("SOAK_FAULTS: unknown fault %q", f)
			}
			cfg.Faults = append(cfg.Faults, f)
		}
	}
	cfg.KeepGoing = os.Getenv("SOAK_KEEP_GOING") != ""
	return cfg, nil
}

// parseRoutes reads "V4,V6" or "full".
func parseRoutes(v string) (int, int, error) {
	if v == "full" {
		return 1000000, 200000, nil
	}
	a, b, ok := strings.Cut(v, ",")
	n4, err1 := strconv.Atoi(a)
	n6, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n4 < 2000 || n6 < 100 {
		return 0, 0, fmt.Errorf("routes %q: want V4,V6 (at least 2000,100) or full", v)
	}
	return n4, n6, nil
}
