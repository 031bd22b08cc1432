// Package testbird runs BIRD 2 inside a test's network namespace and
// stops it when the test ends.
package testbird

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fibd/test/nstest"
)

// Bird is one running BIRD.
type Bird struct {
	NS, Dir string
	Cmd     *exec.Cmd
	proc    *nstest.Proc
	log     *os.File
}

// Start runs BIRD with conf in netns ns; it skips the test when BIRD is
// not installed.
func Start(t *testing.T, ns, conf string) *Bird {
	t.Helper()
	nstest.Tools(t, "bird", "birdc")
	b := &Bird{NS: ns, Dir: t.TempDir()}
	// protocol events to bird.log, for the test's failure messages
	conf = "log stderr { info, remote, warning, error, auth, fatal, bug };\n" + conf
	if err := os.WriteFile(filepath.Join(b.Dir, "bird.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Cmd = exec.Command("ip", "netns", "exec", ns, "bird", "-f", "-c", filepath.Join(b.Dir, "bird.conf"),
		"-s", b.Socket(), "-P", filepath.Join(b.Dir, "bird.pid"))
	var err error
	if b.log, err = os.Create(filepath.Join(b.Dir, "bird.log")); err != nil {
		t.Fatal(err)
	}
	b.Cmd.Stdout, b.Cmd.Stderr = b.log, b.log
	if b.proc, err = nstest.StartProc(b.Cmd); err != nil {
		b.log.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop() })
	// A configuration error ends BIRD at once: say so here, not as a
	// protocol that never comes up.
	exited := b.proc.Done()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(b.Socket()); err == nil {
			return b
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(b.Dir, "bird.log"))
			t.Fatalf("bird in %s exited at start:\n%s", ns, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("bird in %s: no control socket after 10s", ns)
		}
	}
}

// Socket is the control socket birdc talks to.
func (b *Bird) Socket() string { return filepath.Join(b.Dir, "bird.ctl") }

// Stop ends BIRD (TERM, then KILL) and waits for it; calling it twice is fine.
func (b *Bird) Stop() {
	b.proc.Stop(syscall.SIGTERM, 5*time.Second)
	b.log.Close()
}

// C runs a birdc command and returns its output.
func (b *Bird) C(args ...string) (string, error) {
	out, err := exec.Command("birdc", append([]string{"-s", b.Socket()}, args...)...).CombinedOutput()
	return string(out), err
}

// Reconfigure replaces the configuration and asks BIRD to reload it.
func (b *Bird) Reconfigure(t *testing.T, conf string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(b.Dir, "bird.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := b.C("configure")
	if err != nil || !strings.Contains(out, "Reconfigured") {
		t.Fatalf("birdc configure: %v\n%s", err, out)
	}
}

// Eventually polls birdc args until its output contains want.
func (b *Bird) Eventually(t *testing.T, within time.Duration, want string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, _ := b.C(args...)
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.Dir, "bird.log"))
			t.Fatalf("birdc %v never showed %q; last:\n%s\nbird log:\n%s", args, want, out, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
