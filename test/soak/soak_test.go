package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fibd/test/nstest"
)

// TestSoakShort is the soak of CI (make test): a smaller view (20,000
// IPv4 + 5,000 IPv6 routes) and about two and a half minutes of faults,
// every kind at least once when time allows. It fails on any mismatch
// between the FIB and the kernel, a crash, or traffic that stops.
// SOAK_SEED replays a run, SOAK_FAULTS picks the kinds, SOAK_SHORT sets
// the duration.
func TestSoakShort(t *testing.T) {
	nstest.Root(t)
	nstest.Tools(t, "ip", "bird", "birdc")
	bin, err := filepath.Abs("../../bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"fibd", "fdpi_cli"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Skipf("%s not built (%v): run make", b, err)
		}
	}
	cfg := Config{Duration: 150 * time.Second, Seed: time.Now().UnixNano() % 1000000, Routes4: 20000, Routes6: 5000,
		Bin: bin, Dir: t.TempDir(), Out: testWriter{t}, Sample: 500}
	// SOAK_SEED, SOAK_FAULTS and SOAK_KEEP_GOING as for make soak
	env, err := configFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("SOAK_SEED") != "" {
		cfg.Seed = env.Seed
	}
	cfg.Faults, cfg.KeepGoing = env.Faults, env.KeepGoing
	if v := os.Getenv("SOAK_SHORT"); v != "" {
		if cfg.Duration, err = time.ParseDuration(v); err != nil {
			t.Fatalf("SOAK_SHORT: %v", err)
		}
	}
	if err := Run(cfg); err != nil {
		t.Fatalf("soak (seed %d): %v", cfg.Seed, err)
	}
}

// testWriter prints the soak's progress lines into the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
