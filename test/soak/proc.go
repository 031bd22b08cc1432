package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"fibd/test/nstest"
)

// proc is a child process of the soak: its own process group, killed
// with the soak (Pdeathsig), its output in a log file.
type proc struct {
	*nstest.Proc
	name string
	log  string
}

func startProc(name, logFile string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "---- %s: %s\n", time.Now().Format(time.RFC3339), strings.Join(args, " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	pr, err := nstest.StartProc(cmd)
	f.Close() // the child has its own copy
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &proc{Proc: pr, name: name, log: logFile}, nil
}

// tail is the end of the process's log, for failure messages.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// bird is a BIRD 2 in a namespace.
type bird struct {
	*proc
	ns, dir, conf string
}

func startBird(ns, dir, conf string) (*bird, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := &bird{ns: ns, dir: dir, conf: conf}
	cf := filepath.Join(dir, "bird.conf")
	conf = "log stderr { info, remote, warning, error, auth, fatal, bug };\n" + conf
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	os.Remove(b.socket())
	p, err := startProc("bird "+ns, filepath.Join(dir, "bird.log"), "ip", "netns", "exec", ns, "bird", "-f", "-c", cf,
		"-s", b.socket(), "-P", filepath.Join(dir, "bird.pid"))
	if err != nil {
		return nil, err
	}
	b.proc = p
	for deadline := time.Now().Add(20 * time.Second); ; {
		if _, err := os.Stat(b.socket()); err == nil {
			// BIRD makes its socket before it reads the configuration
			if out, err := b.c("show", "status"); err == nil && strings.Contains(out, "Daemon is up") {
				return b, nil
			}
		}
		if !p.Alive() {
			return nil, fmt.Errorf("bird in %s exited at start:\n%s", ns, p.tail(30))
		}
		if time.Now().After(deadline) {
			p.Stop(syscall.SIGKILL, time.Second)
			return nil, fmt.Errorf("bird in %s: no control socket after 20s", ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bird) socket() string { return filepath.Join(b.dir, "bird.ctl") }

// c runs a birdc command.
func (b *bird) c(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "birdc", append([]string{"-s", b.socket()}, args...)...).CombinedOutput()
	return string(out), err
}

// established tells whether every named BGP protocol is Established.
func (b *bird) established(names ...string) bool {
	out, err := b.c("show", "protocols")
	if err != nil {
		return false
	}
	for _, n := range names {
		ok := false
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == n && strings.Contains(l, "Established") {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// writeRequest sends one request of fibd's control protocol (see
// cmd/internal/ctl, which this package may not import): a JSON line.
func writeRequest(w io.Writer, args []string) error {
	b, err := json.Marshal(struct {
		Args []string `json:"args"`
		JSON bool     `json:"json"`
	}{args, true})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ctlCall sends one request to fibd's control server and calls line for
// every line of the body; it fails on an error status.
func ctlCall(addr string, timeout time.Duration, line func([]byte) error, args ...string) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if err := writeRequest(conn, args); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, 1<<20)
	status, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: no answer: %w", strings.Join(args, " "), err)
	}
	if msg, ok := strings.CutPrefix(strings.TrimSpace(status), "error "); ok {
		return fmt.Errorf("%s: %s", strings.Join(args, " "), msg)
	}
	for {
		l, err := br.ReadSlice('\n')
		if len(l) > 1 {
			if lerr := line(l); lerr != nil {
				return lerr
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("%s: line longer than 1 MiB", strings.Join(args, " "))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
	}
}

// ctlJSON decodes the first line of a command's JSON answer into v.
func ctlJSON(addr string, v any, args ...string) error {
	done := false
	return ctlCall(addr, 10*time.Second, func(l []byte) error {
		if done {
			return nil
		}
		done = true
		return json.Unmarshal(l, v)
	}, args...)
}
