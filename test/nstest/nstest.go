// Package nstest is what the root-only tests under test/ share to build a
// topology: network namespaces and root-namespace links that are removed
// when the test ends (pass or fail, and any leftover of an earlier run
// before they are made), `ip -batch` in a namespace, veth pairs, commands
// that fail the test with their output, polling, MACs, netlink handles in a
// namespace, and child processes in a process group of their own.
//
// The helpers taking a testing.TB fail or skip the test; the ones without
// return an error, for the programs (test/bench, test/soak) that build the
// same topologies outside `go test`.
//
// Concurrency: the helpers keep no state; a test may call them from
// several goroutines, as it may run `ip` from several.
package nstest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Root skips the test unless it runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
}

// Tools skips the test when one of the programs is not in PATH.
func Tools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (make deps)", tool)
		}
	}
}

// NS makes each namespace with its loopback up and removes it when the
// test ends. A namespace of that name left by an earlier run goes first.
// It skips the test without root or without ip.
func NS(t testing.TB, names ...string) {
	t.Helper()
	Root(t)
	Tools(t, "ip")
	for _, ns := range names {
		DelNS(ns)
		t.Cleanup(func() { DelNS(ns) })
		IP(t, "netns", "add", ns)
		Batch(t, ns, "link set lo up")
	}
}

// Links removes the root-namespace interfaces now (leftovers of an
// earlier run) and when the test ends; a veth goes with its peer.
func Links(t testing.TB, links ...string) {
	t.Helper()
	DelLinks(links...)
	t.Cleanup(func() { DelLinks(links...) })
}

// Veth makes the veth pair name (in namespace ns, "" for the root one) and
// peer (in peerNS; "" only when ns is "" too) and brings both up. A
// root-namespace end is removed when the test ends; one in a namespace
// goes with it.
func Veth(t testing.TB, ns, name, peerNS, peer string) {
	t.Helper()
	if peerNS == "" && ns != "" {
		t.Fatalf("veth %s/%s: give the root-namespace end first", name, peer)
	}
	if ns == "" {
		Links(t, name)
	}
	add := "link add " + name + " type veth peer name " + peer
	if peerNS != ns {
		add += " netns " + peerNS
	}
	Batch(t, ns, add, "link set "+name+" up")
	Batch(t, peerNS, "link set "+peer+" up")
}

// AddNS makes namespace name with its loopback up, after removing a
// leftover of that name.
func AddNS(name string) error {
	DelNS(name)
	if _, err := RunErr("ip", "netns", "add", name); err != nil {
		return err
	}
	return IPBatch(name, "link set lo up")
}

// DelNS removes namespace name, if it exists.
func DelNS(name string) { exec.Command("ip", "netns", "del", name).Run() }

// DelLinks removes root-namespace interfaces, those that exist.
func DelLinks(links ...string) {
	for _, l := range links {
		exec.Command("ip", "link", "del", l).Run()
	}
}

// Batch runs the lines through `ip -batch` in namespace ns ("" for the
// root namespace) and fails the test with ip's output if one fails.
func Batch(t testing.TB, ns string, lines ...string) {
	t.Helper()
	if err := IPBatch(ns, lines...); err != nil {
		t.Fatal(err)
	}
}

// IPBatch runs the lines through `ip -batch` in namespace ns ("" for the
// root namespace); the error carries ip's output.
func IPBatch(ns string, lines ...string) error {
	return BatchFrom(ns, strings.NewReader(strings.Join(lines, "\n")+"\n"))
}

// BatchFrom is IPBatch on lines read from r.
func BatchFrom(ns string, r io.Reader) error {
	cmd := exec.Command("ip", nsArgs(ns, "-batch", "-")...)
	cmd.Stdin = r
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %q -batch: %w\n%.2000s", ns, err, out)
	}
	return nil
}

// BatchFunc is IPBatch on the lines write writes: a table of a million
// routes is streamed to ip, not built in memory first.
func BatchFunc(ns string, write func(w *bufio.Writer)) error {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		write(w)
		pw.CloseWithError(w.Flush())
	}()
	err := BatchFrom(ns, pr)
	pr.Close() // a writer ip stopped reading from returns
	return err
}

func nsArgs(ns string, args ...string) []string {
	if ns == "" {
		return args
	}
	return append([]string{"-n", ns}, args...)
}

// IP runs ip with args and returns its output; it fails the test with the
// output when ip fails.
func IP(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, append([]string{"ip"}, args...)...)
}

// Exec runs argv in namespace ns (ip netns exec) and returns its output;
// it fails the test with the output when the command fails.
func Exec(t testing.TB, ns string, argv ...string) string {
	t.Helper()
	return Run(t, append([]string{"ip", "netns", "exec", ns}, argv...)...)
}

// Run runs argv and returns its combined output; it fails the test with
// the output when the command fails.
func Run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := RunErr(argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunErr runs argv and returns its combined output; the error names the
// command and carries its output.
func RunErr(argv ...string) (string, error) {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// WaitUntil polls cond every 50 ms and fails the test, naming what, when
// it is still false after within.
func WaitUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MAC is the address of interface dev in namespace ns ("" for the root
// namespace).
func MAC(t testing.TB, ns, dev string) net.HardwareAddr {
	t.Helper()
	path := filepath.Join("/sys/class/net", dev, "address")
	var s string
	if ns == "" {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s = string(b)
	} else {
		s = Exec(t, ns, "cat", path)
	}
	m, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("MAC of %s in %q: %v", dev, ns, err)
	}
	return m
}

// Handle is a netlink handle in namespace ns, closed when the test ends.
func Handle(t testing.TB, ns string) *netlink.Handle {
	t.Helper()
	h, err := HandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// HandleAt is a netlink handle in namespace ns; the caller closes it.
func HandleAt(ns string) (*netlink.Handle, error) {
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	return h, nil
}
