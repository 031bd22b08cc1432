package nstest

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a child process in a process group of its own (a daemon started
// through `ip netns exec` is a grandchild: a signal to the group reaches
// it), killed with the test binary (Pdeathsig).
//
// Concurrency: one goroutine waits for the process and closes Done; the
// methods may be called from any goroutine.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
}

// StartProc starts cmd as a Proc.
func StartProc(cmd *exec.Cmd) (*Proc, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// Start starts cmd as a Proc that ends (SIGTERM, then SIGKILL after 10 s)
// when the test ends; it fails the test when cmd cannot start.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p, err := StartProc(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(syscall.SIGTERM, 10*time.Second) })
	return p
}

// Done is closed once the process has exited and been waited for.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Alive tells whether the process has not exited yet.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process group, while the process lives.
func (p *Proc) Signal(sig syscall.Signal) {
	if p.Alive() {
		syscall.Kill(-p.Cmd.Process.Pid, sig)
	}
}

// Stop sends sig, then SIGKILL after grace, and waits for the process;
// calling it again, or after the process ended, is fine.
func (p *Proc) Stop(sig syscall.Signal, grace time.Duration) {
	p.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Signal(syscall.SIGKILL)
		<-p.done
	}
}
