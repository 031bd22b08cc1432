package nstest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func nsExists(name string) bool {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

func linkExists(ns, name string) bool {
	return exec.Command("ip", nsArgs(ns, "link", "show", name)...).Run() == nil
}

// TestCleanupWhenTheTestStops: a test that stops early (SkipNow ends it
// as Fatal does, through runtime.Goexit) still leaves no namespace and no
// root-namespace veth end behind; what it built was there meanwhile.
func TestCleanupWhenTheTestStops(t *testing.T) {
	Root(t)
	Tools(t, "ip")
	sfx := strconv.Itoa(os.Getpid() % 100000)
	ns, root := "nst"+sfx, "nstv"+sfx
	var mac string
	t.Run("stops", func(t *testing.T) {
		NS(t, ns)
		Veth(t, "", root, ns, "p0")
		Batch(t, ns, "address add 192.0.2.1/24 dev p0")
		h := Handle(t, ns)
		l, err := h.LinkByName("p0")
		if err != nil {
			t.Fatal(err)
		}
		if got := MAC(t, ns, "p0"); got.String() != l.Attrs().HardwareAddr.String() {
			t.Errorf("MAC %s, netlink says %s", got, l.Attrs().HardwareAddr)
		}
		if l.Attrs().Flags&1 == 0 { // IFF_UP
			t.Error("the veth end in the namespace is not up")
		}
		if !linkExists("", root) || !strings.Contains(Exec(t, ns, "ip", "-o", "address"), "192.0.2.1/24") {
			t.Fatal("the topology is not there")
		}
		mac = MAC(t, "", root).String()
		t.SkipNow()
	})
	if mac == "" {
		t.Fatal("the subtest did not get as far as the MAC of the root end")
	}
	if nsExists(ns) || linkExists("", root) {
		t.Errorf("left behind: netns %s %v, link %s %v", ns, nsExists(ns), root, linkExists("", root))
	}
}

// TestLeftoverReplaced: NS starts from a fresh namespace when an earlier
// run left one of the same name, and Links removes a leftover interface.
func TestLeftoverReplaced(t *testing.T) {
	Root(t)
	Tools(t, "ip")
	sfx := strconv.Itoa(os.Getpid() % 100000)
	ns, old := "nsl"+sfx, "nsld"+sfx
	t.Cleanup(func() { DelNS(ns); DelLinks(old) })
	if err := AddNS(ns); err != nil {
		t.Fatal(err)
	}
	if err := IPBatch(ns, "link add old0 type veth peer name old1"); err != nil {
		t.Fatal(err)
	}
	if err := IPBatch("", "link add "+old+" type veth peer name "+old+"p"); err != nil {
		t.Fatal(err)
	}
	NS(t, ns)
	Links(t, old)
	if linkExists(ns, "old0") {
		t.Error("NS kept the leftover namespace's interface")
	}
	if linkExists("", old) {
		t.Error("Links kept the leftover interface")
	}
	if out := IP(t, "-n", ns, "-o", "link", "show", "lo"); !strings.Contains(out, "UP") {
		t.Errorf("loopback not up: %s", out)
	}
}

// TestBatchFunc: a batch streamed line by line arrives whole.
func TestBatchFunc(t *testing.T) {
	Root(t)
	Tools(t, "ip")
	ns := "nsb" + strconv.Itoa(os.Getpid()%100000)
	NS(t, ns)
	err := BatchFunc(ns, func(w *bufio.Writer) {
		for i := range 3000 {
			fmt.Fprintf(w, "route add 10.%d.%d.0/24 dev lo table 100\n", i/256, i%256)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	out := IP(t, "-n", ns, "route", "show", "table", "100")
	if n := strings.Count(out, "\n"); n != 3000 {
		t.Errorf("%d routes in table 100, want 3000", n)
	}
}

// TestErrorsCarryOutput: a failing command or batch line is reported
// with the command and what it printed.
func TestErrorsCarryOutput(t *testing.T) {
	Tools(t, "ip", "sh")
	out, err := RunErr("sh", "-c", "echo to stdout; echo to stderr >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "to stderr") ||
		!strings.Contains(out, "to stdout") {
		t.Errorf("RunErr: %q, %v", out, err)
	}
	if out, err := RunErr("sh", "-c", "echo fine"); err != nil || out != "fine\n" {
		t.Errorf("RunErr of a command that works: %q, %v", out, err)
	}
	err = IPBatch("", "link set nstest-none0 up")
	if err == nil || !strings.Contains(err.Error(), "nstest-none0") {
		t.Errorf("batch on a missing interface: %v", err)
	}
}

// TestProcStop: Stop ends the whole process group (a grandchild too, as
// a daemon under `ip netns exec` is) and waits; a second Stop is a no-op.
func TestProcStop(t *testing.T) {
	Tools(t, "sh", "sleep")
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := Start(t, exec.Command("sh", "-c", "sleep 600 & echo $! > "+pidFile+"; wait"))
	var grandchild int
	WaitUntil(t, 5*time.Second, "the grandchild's pid", func() bool {
		b, _ := os.ReadFile(pidFile)
		grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return grandchild > 0
	})
	if !p.Alive() {
		t.Fatal("not alive after start")
	}
	p.Stop(syscall.SIGTERM, 5*time.Second)
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before the process was waited for")
	}
	if p.Alive() {
		t.Error("alive after Stop")
	}
	WaitUntil(t, 5*time.Second, "the grandchild gone", func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", grandchild))
		// gone, or a zombie left for init to reap
		return err != nil || strings.Contains(string(b), ") Z ")
	})
	p.Stop(syscall.SIGTERM, time.Second)
}
