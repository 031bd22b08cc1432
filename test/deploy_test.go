package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fibd/test/nstest"
)

// TestDeployAsService follows the README's bare-metal steps with vdevs
// standing in for NICs: `make install` into a scratch root, then the
// commands of the installed systemd unit in order (there is no systemd in
// CI): ExecStartPre reserves hugepages, ExecStart runs fibd on them under
// the unit's sandbox, ExecReload is SIGHUP, and SIGTERM stops it leaving no
// hugepage file.
//
// Everything runs in a private mount namespace whose /dev has no
// hugepages directory, as on a fresh machine: what an earlier run (or the
// machine's owner) mounted does not help.
func TestDeployAsService(t *testing.T) {
	bin := fibdBin(t)
	root := t.TempDir()
	mk := exec.Command("make", "-C", "..", "install", "DESTDIR="+root, "BIN="+filepath.Dir(bin))
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	unit := readUnit(t, filepath.Join(root, "etc/systemd/system/fibd.service"))
	nr, _ := os.ReadFile("/proc/sys/vm/nr_hugepages")
	t.Cleanup(func() { os.WriteFile("/proc/sys/vm/nr_hugepages", nr, 0o644) })
	giant := "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
	giantBefore, _ := os.ReadFile(giant)

	ns := newFreshMountNS(t)
	prefix := fmt.Sprintf("fibdsvc%d", os.Getpid())
	port := 30000 + os.Getpid()%20000
	netnsName := fmt.Sprintf("fibdsvc%d", os.Getpid())
	nstest.NS(t, netnsName)
	conf := filepath.Join(root, "fastdpi.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`in_dev=net_null0
out_dev=net_null1
fibd_vdev=net_null0,no-rx=1
fibd_vdev=net_null1,no-rx=1
fibd_eal_args=-l 0-1 --huge-unlink --file-prefix %s --log-level lib.eal:warning
fibd_hugepages=768M
fibd_idle_sleep_us=100
fibd_exception=tap
router=1
router_netns=%s
router_kernel_table=100
bras_arp_mac=02:00:00:00:5e:01
bras_arp_ip=192.0.2.254
router_max_ip4_route_count=1024
router_max_ip6_route_count=1024
fibd_cli_listen=127.0.0.1:%d
fibd_metrics_listen=127.0.0.1:%d
fibd_cli_secret=%s
router_device {
device=net_null1
}
`, prefix, netnsName, port, port+1, filepath.Join(root, "cli.secret"))), 0o644)
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	cmdline := func(key string) []string {
		v := unit.get(t, key)
		v = strings.TrimPrefix(v, "+") // '+': no sandbox, which is how we run it
		v = strings.ReplaceAll(v, "/etc/dpi/fastdpi.conf", conf)
		v = strings.ReplaceAll(v, "/usr/local/", root+"/usr/local/")
		return strings.Fields(v)
	}
	if !strings.HasPrefix(unit.get(t, "ExecStartPre"), "+") {
		t.Errorf("ExecStartPre must run outside the sandbox ('+'): it mounts and writes /sys")
	}

	// ExecStartPre, twice: it is idempotent, keeps what is not fibd's, and
	// sweeps what a crashed fibd left.
	pre := cmdline("ExecStartPre")
	if out, err := ns.command(pre...).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre on a machine without /dev/hugepages: %v\n%s", err, out)
	}
	if !ns.hasHugetlbfs(t, "/dev/hugepages") {
		t.Fatalf("ExecStartPre succeeded but /dev/hugepages is not a hugetlbfs mount")
	}
	if free := hugeFree(t); free < 384 {
		t.Fatalf("fibd-prepare left %d free hugepages, want 384 (768M)", free)
	}
	totalAfterFirst := hugeTotal(t)
	ns.mustRun(t, "touch", "/dev/hugepages/othermap_0", "/dev/hugepages/"+prefix+"map_7")
	if out, err := ns.command(pre...).CombinedOutput(); err != nil {
		t.Fatalf("ExecStartPre again: %v\n%s", err, out)
	}
	if hugeTotal(t) != totalAfterFirst {
		t.Errorf("a second ExecStartPre changed the pool from %d to %d pages", totalAfterFirst, hugeTotal(t))
	}
	if !ns.exists("/dev/hugepages/othermap_0") {
		t.Errorf("fibd-prepare removed another DPDK program's hugepage file")
	}
	if ns.exists("/dev/hugepages/" + prefix + "map_7") {
		t.Errorf("fibd-prepare kept a stale hugepage file of fibd's own prefix")
	}
	ns.mustRun(t, "rm", "/dev/hugepages/othermap_0")
	if after, _ := os.ReadFile(giant); string(after) != string(giantBefore) {
		t.Errorf("fibd-prepare changed the 1G pool: %q -> %q", giantBefore, after)
	}

	start := cmdline("ExecStart")
	svc := ns.sandboxed(t, unit, start...)
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
			<-done
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
		select {
		case err := <-done:
			t.Fatalf("fibd exited under the unit's sandbox (%v):\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if free, total := hugeFree(t), hugeTotal(t); free >= total {
		t.Errorf("fibd runs but uses no hugepage (%d of %d free)", free, total)
	}
	cli := exec.Command(filepath.Join(root, "usr/local/bin/fdpi_cli"), "-r", fmt.Sprintf("127.0.0.1:%d", port), "router", "status")
	if o, err := cli.CombinedOutput(); err != nil || !regexp.MustCompile(`workers +1\n`).Match(o) ||
		!strings.Contains(string(o), "(mirroring: true)") {
		t.Errorf("installed fdpi_cli: want one worker and the router netns mirrored: %v %s", err, o)
	}
	// The sandbox let fibd make its TAP inside the router netns.
	if o, err := exec.Command("ip", "-n", netnsName, "link", "show", "ribnet_null1").CombinedOutput(); err != nil {
		t.Errorf("no exception TAP in %s under the sandbox: %v %s\n%s", netnsName, err, o, out.String())
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
	if files := ns.glob(t, "/dev/hugepages/"+prefix+"*"); len(files) > 0 {
		t.Errorf("hugepage files left behind: %v", files)
	}
	if free, total := hugeFree(t), hugeTotal(t); free != total {
		t.Errorf("%d of %d hugepages still in use after stop", total-free, total)
	}
}

// TestPrepareFailsLoudly: fibd-prepare exits non-zero, saying why, when it
// cannot give fibd its hugepages or refuses the configuration.
func TestPrepareFailsLoudly(t *testing.T) {
	bin := fibdBin(t)
	prep, _ := filepath.Abs("../conf/deploy/fibd-prepare")
	nr, _ := os.ReadFile("/proc/sys/vm/nr_hugepages")
	t.Cleanup(func() { os.WriteFile("/proc/sys/vm/nr_hugepages", nr, 0o644) })
	dir := t.TempDir()
	for _, c := range []struct{ name, conf, want string }{
		{"mount point cannot be made", "fibd_eal_args=--huge-dir /proc/fibd-no-such-dir\nfibd_hugepages=2M\n", "cannot make the mount point"},
		{"configuration refused", "fibd_hugepages=lots\n", "refuses the configuration"},
	} {
		conf := filepath.Join(dir, "c.conf")
		os.WriteFile(conf, []byte("in_dev=net_null0\nout_dev=net_null1\n"+c.conf), 0o644)
		cmd := exec.Command(prep, conf)
		cmd.Env = append(os.Environ(), "FIBD="+bin)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: exit %v, want failure saying %q:\n%s", c.name, err, c.want, out)
		}
	}
}

// unitFile is a systemd unit's [Service] settings.
type unitFile map[string]string

func readUnit(t *testing.T, path string) unitFile {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			u[k] = v
		}
	}
	return u
}

func (u unitFile) get(t *testing.T, key string) string {
	v, ok := u[key]
	if !ok {
		t.Fatalf("unit has no %s", key)
	}
	return v
}

// sandboxSettings are the unit's sandbox settings that TestDeployAsService
// reproduces; a unit setting of this kind that is not listed fails the test,
// so that fibd is never shipped under a sandbox it was not tested in.
var sandboxSettings = map[string]bool{
	"NoNewPrivileges": true, "CapabilityBoundingSet": true, "ProtectSystem": true,
	"ProtectHome": true, "ProtectControlGroups": true,
}

// mountNS is a private mount namespace kept alive by a holder process.
type mountNS struct{ pid int }

// newFreshMountNS makes a private mount namespace whose /dev is a copy of
// the machine's without hugepages/, as on a fresh machine. Under it lies a
// hidden hugetlbfs mount on /dev/hugepages, which the mount table still
// lists (as a container's /dev hides the machine's): fibd-prepare must go
// by the directory it sees, whether or not the machine has the mount.
func newFreshMountNS(t *testing.T) *mountNS {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) not installed")
	}
	const script = `set -e
old=$(mktemp -d /run/fibdtest-dev.XXXXXX)
mount --rbind /dev "$old"
# a /dev of copies of the machine's entries, hugepages/ left out
devcopy() {
	mount -t tmpfs -o mode=755 fibdtest-dev /dev
	for e in "$old"/*; do
		n=${e##*/}
		[ "$n" = hugepages ] && continue
		if [ -L "$e" ]; then cp -P "$e" /dev/
		elif [ -d "$e" ]; then mkdir /dev/"$n"; mount --rbind "$e" /dev/"$n"
		else touch /dev/"$n"; mount --bind "$e" /dev/"$n"
		fi
	done
}
devcopy
mkdir /dev/hugepages
mount -t hugetlbfs fibdtest-hidden /dev/hugepages
devcopy
umount -l "$old"; rmdir "$old"
test ! -e /dev/hugepages
echo ready
exec sleep infinity`
	cmd := exec.Command("unshare", "--mount", "--propagation", "slave", "bash", "-c", script)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("private mount namespace: %q %v", line, err)
	}
	return &mountNS{pid: cmd.Process.Pid}
}

// command runs argv inside the namespace.
func (m *mountNS) command(argv ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(m.pid), "-m", "--"}, argv...)...)
}

func (m *mountNS) mustRun(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := m.command(argv...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, out)
	}
}

func (m *mountNS) exists(path string) bool { return m.command("test", "-e", path).Run() == nil }

func (m *mountNS) glob(t *testing.T, pattern string) []string {
	out, _ := m.command("bash", "-c", "shopt -s nullglob; for f in "+pattern+"; do echo \"$f\"; done").Output()
	return strings.Fields(string(out))
}

func (m *mountNS) hasHugetlbfs(t *testing.T, dir string) bool {
	out, err := m.command("awk", "-v", "d="+dir, `$2 == d && $3 == "hugetlbfs" { f = 1 } END { exit !f }`, "/proc/self/mounts").CombinedOutput()
	if err != nil && len(out) > 0 {
		t.Logf("awk: %s", out)
	}
	return err == nil
}

// sandboxed returns argv run in a namespace of its own below m with the
// unit's sandbox: ProtectSystem/ProtectHome/ProtectControlGroups as
// read-only or empty mounts, the capability bounding set and no new
// privileges through setpriv. It fails the test on a sandbox setting it
// cannot reproduce.
func (m *mountNS) sandboxed(t *testing.T, u unitFile, argv ...string) *exec.Cmd {
	for k := range u {
		if strings.HasPrefix(k, "Protect") || strings.HasPrefix(k, "Private") || strings.HasPrefix(k, "Restrict") ||
			strings.HasSuffix(k, "Capabilities") || k == "CapabilityBoundingSet" || k == "NoNewPrivileges" {
			if !sandboxSettings[k] {
				t.Fatalf("the unit sets %s, which TestDeployAsService does not reproduce", k)
			}
		}
	}
	var mounts []string
	switch u["ProtectSystem"] {
	case "":
	case "yes", "full":
		for _, d := range []string{"/usr", "/boot", "/efi"} {
			mounts = append(mounts, d)
		}
		if u["ProtectSystem"] == "full" {
			mounts = append(mounts, "/etc")
		}
	default:
		t.Fatalf("ProtectSystem=%s is not reproduced", u["ProtectSystem"])
	}
	script := "set -e\n"
	for _, d := range mounts {
		script += fmt.Sprintf("[ ! -d %[1]s ] || { mount --rbind %[1]s %[1]s; mount -o remount,bind,ro %[1]s; }\n", d)
	}
	if u["ProtectHome"] == "yes" {
		script += "for d in /home /root /run/user; do [ ! -d $d ] || mount -t tmpfs -o ro,mode=755 fibdtest-home $d; done\n"
	}
	if u["ProtectControlGroups"] == "yes" {
		script += "mount --rbind /sys/fs/cgroup /sys/fs/cgroup; mount -o remount,bind,ro /sys/fs/cgroup\n"
	}
	setpriv := []string{"setpriv"}
	if u["NoNewPrivileges"] == "yes" {
		setpriv = append(setpriv, "--no-new-privs")
	}
	if caps := u["CapabilityBoundingSet"]; caps != "" {
		set := "-all"
		for _, c := range strings.Fields(caps) {
			set += ",+" + strings.ToLower(strings.TrimPrefix(c, "CAP_"))
		}
		setpriv = append(setpriv, "--bounding-set", set, "--inh-caps", "-all")
	}
	script += `exec "$@"`
	args := append([]string{"unshare", "--mount", "--propagation", "slave", "bash", "-c", script, "sandbox"}, setpriv...)
	args = append(args, "--")
	return m.command(append(args, argv...)...)
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
