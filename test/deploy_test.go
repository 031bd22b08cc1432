package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeployAsService follows the README's bare-metal steps with vdevs
// standing in for NICs: `make install` into a scratch root, then the
// commands of the installed systemd unit in order (there is no systemd in
// CI): ExecStartPre reserves hugepages, ExecStart runs fibd on them,
// ExecReload is SIGHUP, and SIGTERM stops it leaving no hugepage file.
func TestDeployAsService(t *testing.T) {
	bin := fibdBin(t)
	root := t.TempDir()
	mk := exec.Command("make", "-C", "..", "install", "DESTDIR="+root, "BIN="+filepath.Dir(bin))
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/fibd.service"))
	if err != nil {
		t.Fatal(err)
	}
	nr, _ := os.ReadFile("/proc/sys/vm/nr_hugepages")
	t.Cleanup(func() { os.WriteFile("/proc/sys/vm/nr_hugepages", nr, 0o644) })

	prefix := fmt.Sprintf("fibdsvc%d", os.Getpid())
	port := 30000 + os.Getpid()%20000
	conf := filepath.Join(root, "fastdpi.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`in_dev=net_null0
out_dev=net_null1
fibd_vdev=net_null0,no-rx=1
fibd_vdev=net_null1,no-rx=1
fibd_eal_args=-l 0-1 --huge-unlink --file-prefix %s --log-level lib.eal:warning
fibd_hugepages=768M
fibd_idle_sleep_us=100
router_max_ip4_route_count=1024
router_max_ip6_route_count=1024
fibd_cli_listen=127.0.0.1:%d
fibd_metrics_listen=127.0.0.1:%d
`, prefix, port, port+1)), 0o644)
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	cmdline := func(key string) []string {
		for _, l := range strings.Split(string(unit), "\n") {
			if v, ok := strings.CutPrefix(l, key+"="); ok {
				v = strings.ReplaceAll(v, "/etc/dpi/fastdpi.conf", conf)
				v = strings.ReplaceAll(v, "/usr/local/", root+"/usr/local/")
				return strings.Fields(v)
			}
		}
		t.Fatalf("unit has no %s", key)
		return nil
	}

	pre := cmdline("ExecStartPre")
	if out, err := exec.Command(pre[0], pre[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre: %v\n%s", err, out)
	}
	if hugeTotal(t) < 384 {
		t.Fatalf("fibd-prepare reserved %d hugepages, want 384 (768M)", hugeTotal(t))
	}
	start := cmdline("ExecStart")
	svc := exec.Command(start[0], start[1:]...)
	out := &syncBuffer{}
	svc.Stdout, svc.Stderr = out, out
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Wait() }()
	defer func() {
		if svc.ProcessState == nil {
			svc.Process.Kill()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service never answered:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if free, total := hugeFree(t), hugeTotal(t); free >= total {
		t.Errorf("fibd runs but uses no hugepage (%d of %d free)", free, total)
	}
	cli := exec.Command(filepath.Join(root, "usr/local/bin/fdpi_cli"), "-r", fmt.Sprintf("127.0.0.1:%d", port), "router", "status")
	if o, err := cli.CombinedOutput(); err != nil || !strings.Contains(string(o), "workers         1") {
		t.Errorf("installed fdpi_cli: %v %s", err, o)
	}
	svc.Process.Signal(syscall.SIGHUP) // ExecReload
	waitFor(t, out, "SIGHUP: configuration reloaded")
	svc.Process.Signal(syscall.SIGTERM) // systemctl stop
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("fibd exited with %v after SIGTERM:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second): // TimeoutStopSec
		t.Fatalf("fibd did not stop within TimeoutStopSec:\n%s", out.String())
	}
	if files, _ := filepath.Glob("/dev/hugepages/" + prefix + "*"); len(files) > 0 {
		t.Errorf("hugepage files left behind: %v", files)
	}
	if free, total := hugeFree(t), hugeTotal(t); free != total {
		t.Errorf("%d of %d hugepages still in use after stop", total-free, total)
	}
}

func meminfo(t *testing.T, key string) int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			var n int
			fmt.Sscan(strings.TrimSpace(v), &n)
			return n
		}
	}
	return 0
}

func hugeTotal(t *testing.T) int { return meminfo(t, "HugePages_Total") }
func hugeFree(t *testing.T) int  { return meminfo(t, "HugePages_Free") }

func waitFor(t *testing.T, out *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("never logged %q:\n%s", s, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
