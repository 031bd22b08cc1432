// Package testfrr runs FRR (zebra, bgpd, staticd from Debian's frr
// package) inside a test's network namespace and stops it when the test
// ends. Several instances run side by side, each in a pathspace of its own
// (-N), so vtysh reaches each one by its name.
package testfrr

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"fibd/test/nstest"
)

// Daemons are the FRR daemons an instance runs, zebra first: the others
// connect to it.
var Daemons = []string{"zebra", "staticd", "bgpd"}

const libexec = "/usr/lib/frr"

// Frr is one running FRR instance.
type Frr struct {
	NS, Name, Dir string
	conf          string
	procs         map[string]*proc
}

type proc struct {
	*nstest.Proc
	log *os.File
}

// Start runs FRR with the integrated configuration conf in netns ns, as
// instance name (its pathspace); it skips the test when FRR is not
// installed. Zebra runs with the extra arguments zebraArgs (e.g. "-r" to
// keep its routes when it ends).
func Start(t *testing.T, ns, name, conf string, zebraArgs ...string) *Frr {
	t.Helper()
	if _, err := os.Stat(filepath.Join(libexec, "zebra")); err != nil {
		t.Skip("frr is not installed (make deps)")
	}
	f := &Frr{NS: ns, Name: name, Dir: t.TempDir(), procs: map[string]*proc{}}
	f.conf = filepath.Join(f.Dir, "frr.conf")
	if err := os.WriteFile(f.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The daemons drop to user frr: it must read the configuration and
	// write the logs and the pathspace's sockets.
	run := filepath.Join("/run/frr", name)
	os.RemoveAll(run)
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if u, err := user.Lookup("frr"); err == nil {
		var uid, gid int
		fmt.Sscan(u.Uid, &uid)
		fmt.Sscan(u.Gid, &gid)
		for _, p := range []string{run, f.Dir, f.conf} {
			os.Chown(p, uid, gid)
		}
		// t.TempDir's parent is 0700: user frr must pass through it.
		os.Chmod(filepath.Dir(f.Dir), 0o755)
	}
	t.Cleanup(func() { f.Stop(); os.RemoveAll(run) })
	for _, d := range Daemons {
		var extra []string
		if d == "zebra" {
			extra = zebraArgs
		}
		f.start(t, d, extra...)
	}
	return f
}

func (f *Frr) start(t *testing.T, d string, extra ...string) {
	t.Helper()
	args := []string{"netns", "exec", f.NS, filepath.Join(libexec, d), "-N", f.Name, "-f", f.conf,
		"-u", "frr", "-g", "frr", "-P", "0", "-i", filepath.Join("/run/frr", f.Name, d+".pid"),
		"--log", "file:" + filepath.Join(f.Dir, d+".log"), "--log-level", "info"}
	cmd := exec.Command("ip", append(args, extra...)...)
	out, err := os.Create(filepath.Join(f.Dir, d+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	pr, err := nstest.StartProc(cmd)
	if err != nil {
		out.Close()
		t.Fatal(err)
	}
	p := &proc{Proc: pr, log: out}
	f.procs[d] = p
	// Each daemon is up once its vty socket exists.
	sock := filepath.Join("/run/frr", f.Name, d+".vty")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return
		}
		select {
		case <-p.Done():
			t.Fatalf("FRR %s in %s exited at start:\n%s", d, f.NS, f.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("FRR %s in %s: no vty socket after 15s:\n%s", d, f.NS, f.Logs())
		}
	}
}

// Logs returns every daemon's log, for failure messages.
func (f *Frr) Logs() string {
	var b strings.Builder
	for _, d := range Daemons {
		for _, ext := range []string{".out", ".log"} {
			if s, err := os.ReadFile(filepath.Join(f.Dir, d+ext)); err == nil && len(s) > 0 {
				fmt.Fprintf(&b, "--- %s%s\n%s", d, ext, s)
			}
		}
	}
	return b.String()
}

// Kill ends daemon d with sig and waits for it.
func (f *Frr) Kill(d string, sig syscall.Signal) {
	p, ok := f.procs[d]
	if !ok {
		return
	}
	p.Stop(sig, 10*time.Second)
	p.log.Close()
}

// Restart starts daemon d again (after Kill).
func (f *Frr) Restart(t *testing.T, d string, extra ...string) {
	t.Helper()
	os.Remove(filepath.Join("/run/frr", f.Name, d+".vty"))
	f.start(t, d, extra...)
}

// Stop ends every daemon, the others before zebra (which then withdraws
// its routes from the kernel unless it runs with -r); calling it twice is
// fine.
func (f *Frr) Stop() {
	for i := len(Daemons) - 1; i >= 0; i-- {
		f.Kill(Daemons[i], syscall.SIGTERM)
	}
}

// Vtysh runs vtysh commands (each -c) against this instance.
func (f *Frr) Vtysh(cmds ...string) (string, error) {
	args := []string{"-N", f.Name}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("vtysh", args...).CombinedOutput()
	return string(out), err
}

// Eventually polls the vtysh command until its output contains want.
func (f *Frr) Eventually(t *testing.T, within time.Duration, want string, cmd string) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, _ := f.Vtysh(cmd)
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("vtysh %q never showed %q; last:\n%s\nlogs:\n%s", cmd, want, out, f.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
