package main

// DPDK's l3fwd example as a peer in the benchmark: built at bench time from
// the sources Debian's dpdk-doc installs (never committed here), patched so
// it runs on vdevs, and run on the same net_pcap -> net_null path, the same
// packets and the same routes as fibd, on one worker lcore.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// l3fwdExamplesDir holds the installed DPDK examples (l3fwd/ and common/).
var l3fwdExamplesDir = "/usr/share/dpdk/examples"

// l3fwdPatch replaces Old (which must occur exactly once in File) with New.
type l3fwdPatch struct {
	File, Why, Old, New string
}

// l3fwdPatches adapt the 22.11 example to vdevs and to benchmark tables.
// Each one is a literal edit that fails loudly if the source has changed.
var l3fwdPatches = []l3fwdPatch{
	{
		File: "main.c",
		Why: "l3fwd asks every port for RX_OFFLOAD_CHECKSUM; net_pcap and net_null offer no " +
			"offloads and rte_eth_dev_configure fails with -EINVAL: mask the port's rx (and, " +
			"defensively, tx) offload request to the device's capabilities",
		Old: "\t\tlocal_port_conf.rx_adv_conf.rss_conf.rss_hf &=\n" +
			"\t\t\tdev_info.flow_type_rss_offloads;\n",
		New: "\t\t/* fibd bench: request only what the (virtual) device offers */\n" +
			"\t\tlocal_port_conf.rxmode.offloads &= dev_info.rx_offload_capa;\n" +
			"\t\tlocal_port_conf.txmode.offloads &= dev_info.tx_offload_capa;\n" +
			"\t\tlocal_port_conf.rx_adv_conf.rss_conf.rss_hf &=\n" +
			"\t\t\tdev_info.flow_type_rss_offloads;\n",
	},
	{
		File: "main.c",
		Why:  "the rx queues are set up with the unmasked global port_conf offloads: mask them too",
		Old:  "rxq_conf.offloads = port_conf.rxmode.offloads;",
		New:  "rxq_conf.offloads = port_conf.rxmode.offloads & dev_info.rx_offload_capa;",
	},
	{
		File: "l3fwd_fib.c",
		Why: "the IPv6 FIB (trie) has 32,768 tbl8 groups, exhausted after ~22k routes of a " +
			"realistic IPv6 mix: raise to 1<<18 (256 MiB of EAL memory; routes stay <= 65,535)",
		Old: "config.trie.num_tbl8 = (1 << 15);",
		New: "config.trie.num_tbl8 = (1 << 18);",
	},
	{
		File: "l3fwd_lpm.c",
		Why:  "--lookup lpm holds only 1024 IPv4 rules and 256 tbl8 groups: raise to the fib limits (65,536)",
		Old:  "#define IPV4_L3FWD_LPM_MAX_RULES         1024\n#define IPV4_L3FWD_LPM_NUMBER_TBL8S (1 << 8)\n",
		New:  "#define IPV4_L3FWD_LPM_MAX_RULES         (1 << 16)\n#define IPV4_L3FWD_LPM_NUMBER_TBL8S (1 << 15)\n",
	},
	{
		File: "l3fwd_lpm.c",
		Why:  "--lookup lpm holds only 1024 IPv6 rules: raise to 65,536 (tbl8 groups stay at 1<<16)",
		Old:  "#define IPV6_L3FWD_LPM_MAX_RULES         1024\n",
		New:  "#define IPV6_L3FWD_LPM_MAX_RULES         (1 << 16)\n",
	},
}

// Route limits of the patched binary (rte_fib: 1<<16 IPv4, (1<<16)-1 IPv6;
// rte_lpm after the patch above: 1<<16 each).
const (
	l3fwdMaxRoutes4 = 1 << 16
	l3fwdMaxRoutes6 = 1<<16 - 1
)

// l3fwdBigPatches make the "big" variant of l3fwd (BuildL3fwdBig), applied
// after l3fwdPatches: l3fwd-fib with its compiled-in table limits raised
// for a full view (1M IPv4 + 200k IPv6 routes of the synthetic mix, with
// headroom) and an mbuf pool that holds a 64k-packet capture. The lookup
// and forwarding code is untouched. The route arrays themselves are sized
// from the rule files (calloc of the counted 'R' lines), so only the FIB
// configurations and the pool bound the table. It is a separate binary so
// the small-table comparison keeps the 22.11 defaults (and their memory).
var l3fwdBigPatches = []l3fwdPatch{
	{
		File: "l3fwd_fib.c",
		Why: "rte_fib DIR-24-8 takes at most 1<<16 IPv4 routes (its RIB is sized from max_routes " +
			"and refuses more nodes): raise to 1<<21",
		Old: "config_ipv4.max_routes = (1 << 16);",
		New: "config_ipv4.max_routes = (1 << 21);",
	},
	{
		File: "l3fwd_fib.c",
		Why: "32,768 IPv4 tbl8 groups (one per /24 block holding a longer prefix, DPDK 22.11 " +
			"reserves pessimistically): raise to 1<<17 (128 MiB) for a 1M full view",
		Old: "config_ipv4.dir24_8.num_tbl8 = (1 << 15);",
		New: "config_ipv4.dir24_8.num_tbl8 = (1 << 17);",
	},
	{
		File: "l3fwd_fib.c",
		Why:  "rte_fib6 TRIE takes at most (1<<16)-1 IPv6 routes: raise to 1<<19",
		Old:  "config.max_routes = (1 << 16) - 1;",
		New:  "config.max_routes = (1 << 19);",
	},
	{
		File: "l3fwd_fib.c",
		Why: "the IPv6 trie needs about two tbl8 groups per route of a full view added in random " +
			"order (fibd sizes it so too): raise the 1<<18 of l3fwdPatches to 1<<19 (512 MiB)",
		Old: "config.trie.num_tbl8 = (1 << 18);",
		New: "config.trie.num_tbl8 = (1 << 19);",
	},
	{
		File: "main.c",
		Why: "the mbuf pool has max(descriptors..., 8192) mbufs, and net_pcap's infinite_rx " +
			"keeps the whole capture in mbufs of that pool: at least 1<<17 for 64k packets",
		Old: "(unsigned)8192)",
		New: "(unsigned)(1 << 17))",
	},
}

// Route limits of the big variant (l3fwdBigPatches).
const (
	l3fwdBigMaxRoutes4 = 1 << 21
	l3fwdBigMaxRoutes6 = 1 << 19
)

// l3fwdSources lists the C files of the example from its Makefile.
func l3fwdSources(srcDir string) ([]string, error) {
	mk, err := os.ReadFile(filepath.Join(srcDir, "Makefile"))
	if err != nil {
		return nil, err
	}
	var srcs []string
	re := regexp.MustCompile(`(?m)^SRCS-y\s*\+?:?=\s*(.*)$`)
	for _, m := range re.FindAllStringSubmatch(string(mk), -1) {
		srcs = append(srcs, strings.Fields(m[1])...)
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no SRCS-y in %s/Makefile", srcDir)
	}
	return srcs, nil
}

// l3fwdPkgConfig returns pkg-config's answer for libdpdk.
func l3fwdPkgConfig(args ...string) ([]string, error) {
	out, err := exec.Command("pkg-config", append(args, "libdpdk")...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("pkg-config %v libdpdk: %v: %s", args, err, ee.Stderr)
		}
		return nil, fmt.Errorf("pkg-config %v libdpdk: %v", args, err)
	}
	return strings.Fields(string(out)), nil
}

// BuildL3fwd copies the installed l3fwd example into dir/l3fwd-src,
// patches it for vdevs (l3fwdPatches), builds it with cc and pkg-config
// libdpdk, and returns the binary's path (dir/l3fwd). If dir/l3fwd exists,
// is newer than the installed sources and the libdpdk.pc file, and was
// built with the current patch set, it is reused.
func BuildL3fwd(dir string) (string, error) {
	return buildL3fwd(dir, l3fwdPatches)
}

// BuildL3fwdBig is BuildL3fwd with l3fwdBigPatches on top: table limits
// for a full view, a pool for a 64k-packet capture. Build it in a
// directory of its own (the binary is dir/l3fwd either way).
func BuildL3fwdBig(dir string) (string, error) {
	return buildL3fwd(dir, append(append([]l3fwdPatch{}, l3fwdPatches...), l3fwdBigPatches...))
}

func buildL3fwd(dir string, patches []l3fwdPatch) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "l3fwd")
	stampPath := filepath.Join(dir, "l3fwd.stamp")
	exDir := filepath.Join(l3fwdExamplesDir, "l3fwd")
	comDir := filepath.Join(l3fwdExamplesDir, "common")
	if _, err := os.Stat(filepath.Join(exDir, "main.c")); err != nil {
		return "", fmt.Errorf("l3fwd example sources not found (install dpdk-doc): %w", err)
	}

	cflags, err := l3fwdPkgConfig("--cflags")
	if err != nil {
		return "", err
	}
	libs, err := l3fwdPkgConfig("--libs")
	if err != nil {
		return "", err
	}
	cflags = append([]string{"-O3"}, cflags...)
	cflags = append(cflags, "-DALLOW_EXPERIMENTAL_API", "-I../common")

	// What the binary depends on besides the sources: the patch set and
	// the compiler flags.
	h := sha256.New()
	for _, p := range patches {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", p.File, p.Old, p.New)
	}
	fmt.Fprintf(h, "%q %q", cflags, libs)
	stamp := hex.EncodeToString(h.Sum(nil))

	newest, err := l3fwdNewestMtime(exDir, comDir)
	if err != nil {
		return "", err
	}
	if pc, err := l3fwdPkgConfig("--path"); err == nil && len(pc) == 1 {
		if st, err := os.Stat(pc[0]); err == nil && st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	if st, err := os.Stat(bin); err == nil && st.Mode().IsRegular() && st.ModTime().After(newest) {
		if old, err := os.ReadFile(stampPath); err == nil && strings.TrimSpace(string(old)) == stamp {
			return bin, nil
		}
	}

	// Fresh copy, patch, build.
	srcRoot := filepath.Join(dir, "l3fwd-src")
	if err := os.RemoveAll(srcRoot); err != nil {
		return "", err
	}
	srcDir := filepath.Join(srcRoot, "l3fwd")
	if err := l3fwdCopyTree(exDir, srcDir); err != nil {
		return "", err
	}
	if err := l3fwdCopyTree(comDir, filepath.Join(srcRoot, "common")); err != nil {
		return "", err
	}
	for _, p := range patches {
		path := filepath.Join(srcDir, p.File)
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if n := bytes.Count(b, []byte(p.Old)); n != 1 {
			return "", fmt.Errorf("l3fwd patch (%s) does not apply to %s: anchor found %d times, want 1: %q",
				p.Why, path, n, p.Old)
		}
		b = bytes.Replace(b, []byte(p.Old), []byte(p.New), 1)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return "", err
		}
	}
	srcs, err := l3fwdSources(srcDir)
	if err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	args := append(append(append([]string{}, cflags...), srcs...), "-o", tmp)
	args = append(args, libs...)
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	cmd := exec.Command(cc, args...)
	cmd.Dir = srcDir
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("building l3fwd: %s %s: %v\n%s", cc, strings.Join(args, " "), err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	if err := os.WriteFile(stampPath, []byte(stamp+"\n"), 0o644); err != nil {
		return "", err
	}
	return bin, nil
}

func l3fwdNewestMtime(dirs ...string) (time.Time, error) {
	var newest time.Time
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			if info.ModTime().After(newest) {
				newest = info.ModTime()
			}
			return nil
		})
		if err != nil {
			return time.Time{}, err
		}
	}
	return newest, nil
}

// l3fwdCopyTree copies the regular files and directories under src to dst.
func l3fwdCopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case e.IsDir():
			return os.MkdirAll(target, 0o755)
		case e.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil // skip symlinks and specials
	})
}

// WriteL3fwdRules writes the rule files for --rule_ipv4/--rule_ipv6
// ("R<prefix>/<len> <port>" lines), every route to port 1. l3fwd refuses a
// rule file without any route, so an empty list gets one placeholder route
// that no benchmark traffic matches (0.0.0.0/32 or ::/128), marked by a
// comment. More routes than the compiled-in limits (65,536 IPv4, 65,535
// IPv6) are an error.
func WriteL3fwdRules(path4, path6 string, v4, v6 []netip.Prefix) error {
	return writeL3fwdRules(path4, path6, v4, v6, l3fwdMaxRoutes4, l3fwdMaxRoutes6)
}

// WriteL3fwdBigRules is WriteL3fwdRules for the big variant
// (BuildL3fwdBig): up to 1<<21 IPv4 and 1<<19 IPv6 routes.
func WriteL3fwdBigRules(path4, path6 string, v4, v6 []netip.Prefix) error {
	return writeL3fwdRules(path4, path6, v4, v6, l3fwdBigMaxRoutes4, l3fwdBigMaxRoutes6)
}

func writeL3fwdRules(path4, path6 string, v4, v6 []netip.Prefix, max4, max6 int) error {
	if len(v4) > max4 {
		return fmt.Errorf("l3fwd rules: %d IPv4 routes, l3fwd holds at most %d", len(v4), max4)
	}
	if len(v6) > max6 {
		return fmt.Errorf("l3fwd rules: %d IPv6 routes, l3fwd holds at most %d", len(v6), max6)
	}
	write := func(path string, ps []netip.Prefix, is4 bool, placeholder string) error {
		var b bytes.Buffer
		b.WriteString("# l3fwd routes written by fibd's bench; every route to port 1\n")
		for _, p := range ps {
			if !p.IsValid() || p.Addr().Is4() != is4 || p.Addr().Is4In6() {
				return fmt.Errorf("l3fwd rules: %v is not a valid IPv%s prefix", p, map[bool]string{true: "4", false: "6"}[is4])
			}
			p = p.Masked()
			fmt.Fprintf(&b, "R%s/%d 1\n", p.Addr(), p.Bits())
		}
		if len(ps) == 0 {
			b.WriteString("# placeholder: l3fwd refuses a rule file without routes\n")
			fmt.Fprintf(&b, "R%s 1\n", placeholder)
		}
		return os.WriteFile(path, b.Bytes(), 0o644)
	}
	if err := write(path4, v4, true, "0.0.0.0/32"); err != nil {
		return err
	}
	return write(path6, v6, false, "::/128")
}

// L3fwdRun describes one measurement of l3fwd.
type L3fwdRun struct {
	Bin            string
	Pcap           string // input: 64-byte frames, replayed forever (net_pcap infinite_rx=1) on port 0
	Rules4, Rules6 string // route files (WriteL3fwdRules); every route points at port 1
	Lookup         string // "fib" (default) or "lpm"
	Lcore          int    // worker lcore (default 1); the main lcore is 0
	FilePrefix     string // EAL --file-prefix (default fibd-l3fwd-<pid>)
	Warmup, Window time.Duration

	// EALMem are the EAL memory arguments (default --no-huge -m 1024).
	// With hugepages: e.g. {"-m", "1024", "--huge-unlink"}.
	EALMem []string
	// StartTimeout bounds the time from exec to the first packet read from
	// port 0 (EAL init, route load). Default 2 minutes.
	StartTimeout time.Duration
	// AllowUnrouted accepts a port 1 tx rate below 95% of port 0's rx rate
	// (packets without a route go back out of port 0). By default that is
	// an error: the routes do not cover the pcap's destinations.
	AllowUnrouted bool
	// Samples > 1 splits Window into that many equal sub-windows; Run then
	// returns their median, RunSamples all of them. Default 1.
	Samples int
	// Log, if set, receives l3fwd's full stdout and stderr.
	Log io.Writer
	// Routes, if > 0, is the number of routes l3fwd must report adding
	// (its "FIB: Adding route" / "LPM: Adding route" lines, one per rule
	// loaded), checked once it has exited and flushed its stdout: proof
	// that the whole table went in.
	Routes int
}

// l3fwdTail keeps the last bytes written to it, for error messages.
// Concurrency: mu guards every field (stdout and stderr are written from
// two goroutines of os/exec).
type l3fwdTail struct {
	mu  sync.Mutex
	buf []byte
	max int
	w   io.Writer
}

// l3fwdRouteCounter passes l3fwd's stdout on to tail and counts the
// lines it prints per route added ("FIB: Adding route ..." or "LPM:
// Adding route ..."). Concurrency: os/exec calls Write from one
// goroutine; routes is read after l3fwd has exited (its pipe drained).
type l3fwdRouteCounter struct {
	tail   io.Writer
	line   []byte // the start of the current line, up to len(l3fwdRouteLine)
	routes int
}

const l3fwdRouteLine = "FIB: Adding route"

func (c *l3fwdRouteCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			c.line = c.line[:0]
			continue
		}
		if len(c.line) < len(l3fwdRouteLine) {
			c.line = append(c.line, b)
			if len(c.line) == len(l3fwdRouteLine) && string(c.line[3:]) == l3fwdRouteLine[3:] &&
				(string(c.line[:3]) == "FIB" || string(c.line[:3]) == "LPM") {
				c.routes++
			}
		}
	}
	return c.tail.Write(p)
}

func (t *l3fwdTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w != nil {
		t.w.Write(p)
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *l3fwdTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	// The per-route "FIB: Adding route" lines only hide the interesting part.
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "FIB: Adding route") && !strings.HasPrefix(l, "LPM: Adding route") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func (r *L3fwdRun) defaults() error {
	if r.Bin == "" || r.Pcap == "" {
		return errors.New("l3fwd run: Bin and Pcap are required")
	}
	if r.Rules4 == "" || r.Rules6 == "" {
		// Without both files l3fwd silently falls back to its built-in routes.
		return errors.New("l3fwd run: Rules4 and Rules6 are both required")
	}
	for _, f := range []string{r.Bin, r.Pcap, r.Rules4, r.Rules6} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("l3fwd run: %w", err)
		}
		if strings.ContainsAny(f, ", ") {
			return fmt.Errorf("l3fwd run: path %q must not contain commas or spaces", f)
		}
	}
	if r.Lookup == "" {
		r.Lookup = "fib"
	}
	if r.Lookup != "fib" && r.Lookup != "lpm" {
		return fmt.Errorf("l3fwd run: lookup %q: want fib or lpm", r.Lookup)
	}
	if r.Lcore == 0 {
		r.Lcore = 1
	}
	if r.Lcore < 0 {
		return fmt.Errorf("l3fwd run: lcore %d", r.Lcore)
	}
	if r.FilePrefix == "" {
		r.FilePrefix = "fibd-l3fwd-" + strconv.Itoa(os.Getpid())
	}
	if strings.ContainsAny(r.FilePrefix, "/ ") || r.FilePrefix == "." || r.FilePrefix == ".." {
		return fmt.Errorf("l3fwd run: bad file prefix %q", r.FilePrefix)
	}
	if r.Window <= 0 {
		return errors.New("l3fwd run: Window must be positive")
	}
	if r.EALMem == nil {
		r.EALMem = []string{"--no-huge", "-m", "1024"}
	}
	if r.Samples < 1 {
		r.Samples = 1
	}
	if r.StartTimeout <= 0 {
		r.StartTimeout = 2 * time.Minute
	}
	return nil
}

// Args returns l3fwd's command line (after defaults are applied).
func (r L3fwdRun) Args() ([]string, error) {
	if err := r.defaults(); err != nil {
		return nil, err
	}
	return r.args(), nil
}

func (r *L3fwdRun) args() []string {
	// l3fwd sets up one tx queue per enabled lcore on every port, and
	// net_pcap has as many tx queues as tx streams: one throwaway tx_pcap
	// per lcore (only packets without a route go back out of port 0).
	pcap0 := "net_pcap0,rx_pcap=" + r.Pcap + strings.Repeat(",tx_pcap=/dev/null", 2) + ",infinite_rx=1"
	args := []string{
		"-l", fmt.Sprintf("0,%d", r.Lcore),
		"--file-prefix", r.FilePrefix,
		"--no-pci",
	}
	args = append(args, r.EALMem...)
	args = append(args,
		"--vdev", pcap0,
		"--vdev", "net_null0,no-rx=1",
		"--",
		"-p", "0x3",
		"--config", fmt.Sprintf("(0,0,%d)", r.Lcore), // only port 0 is polled; port 1 has no rx queue
		"--parse-ptype", // net_pcap sets no packet types; l3fwd drops untyped packets without it
		"--lookup", r.Lookup,
		"--rule_ipv4", r.Rules4,
		"--rule_ipv6", r.Rules6,
	)
	return args
}

// l3fwdPrefixFree removes the runtime dir of a previous EAL instance with
// this prefix, after checking (via the lock EAL holds on its config file)
// that no live process uses it.
func l3fwdPrefixFree(prefix string) error {
	rd := filepath.Join(telemetryRuntimeDir(), prefix)
	cfg := filepath.Join(rd, "config")
	if f, err := os.OpenFile(cfg, os.O_RDWR, 0); err == nil {
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
		err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk)
		f.Close()
		if err != nil {
			return fmt.Errorf("checking %s: %w", cfg, err)
		}
		if lk.Type != syscall.F_UNLCK {
			return fmt.Errorf("EAL file prefix %q is in use by pid %d", prefix, lk.Pid)
		}
	}
	return os.RemoveAll(rd)
}

// l3fwdCleanupPrefix removes what an EAL instance leaves behind: its
// runtime dir and, if it died without --huge-unlink, its hugepage files.
func l3fwdCleanupPrefix(prefix string) {
	os.RemoveAll(filepath.Join(telemetryRuntimeDir(), prefix))
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[2] == "hugetlbfs" {
			files, _ := filepath.Glob(filepath.Join(f[1], prefix+"map_*"))
			for _, p := range files {
				os.Remove(p)
			}
		}
	}
}

// Run starts l3fwd (port 0 = net_pcap0 reading Pcap forever, port 1 =
// net_null0 with no-rx=1), waits until it forwards, measures port
// 1's tx rate through telemetry over Window after Warmup, stops l3fwd
// (SIGINT, then SIGKILL to its process group), removes its runtime files
// and returns the rate in Mpps (the median of the sub-window rates if
// Samples > 1).
func (r L3fwdRun) Run(ctx context.Context) (mpps float64, err error) {
	s, err := r.RunSamples(ctx)
	if err != nil {
		return 0, err
	}
	return l3fwdMedian(s), nil
}

// l3fwdMedian returns the median of s (not modified).
func l3fwdMedian(s []float64) float64 {
	c := append([]float64(nil), s...)
	sort.Float64s(c)
	n := len(c)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return c[n/2]
	}
	return (c[n/2-1] + c[n/2]) / 2
}

// RunSamples is Run returning the rate (Mpps) of each of the Samples
// sub-windows.
func (r L3fwdRun) RunSamples(ctx context.Context) (mpps []float64, err error) {
	if err := r.defaults(); err != nil {
		return nil, err
	}
	if err := l3fwdPrefixFree(r.FilePrefix); err != nil {
		return nil, err
	}
	args := r.args()
	out := &l3fwdTail{max: 16 << 10, w: r.Log}
	stdout := &l3fwdRouteCounter{tail: out}
	cmd := exec.Command(r.Bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, out // two pipes: stderr never splits a stdout line
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL, // if this process dies, so does l3fwd
	}
	cmdline := r.Bin + " " + l3fwdQuote(args)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmdline, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	pgid := cmd.Process.Pid
	defer func() {
		// Always stop l3fwd, whatever happened above.
		select {
		case <-exited:
		default:
			syscall.Kill(pgid, syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				syscall.Kill(-pgid, syscall.SIGKILL)
				<-exited
			}
		}
		syscall.Kill(-pgid, syscall.SIGKILL) // stragglers in the group, if any
		l3fwdCleanupPrefix(r.FilePrefix)
		if err == nil && r.Routes > 0 && stdout.routes != r.Routes { // Wait has drained the pipe
			err = fmt.Errorf("l3fwd reported adding %d routes, want %d", stdout.routes, r.Routes)
		}
		if err != nil {
			err = fmt.Errorf("%w\ncommand: %s\nl3fwd output (tail):\n%s", err, cmdline, out.String())
		}
	}()

	// A context that ends when l3fwd exits, so no wait below outlives it.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-rctx.Done():
		}
	}()
	died := func(e error) error {
		select {
		case <-exited:
			return fmt.Errorf("l3fwd exited early (%v)", waitErr)
		default:
			return e
		}
	}

	sctx, scancel := context.WithTimeout(rctx, r.StartTimeout)
	defer scancel()
	tel, err := dialTelemetryCtx(sctx, r.FilePrefix)
	if err != nil {
		return nil, died(err)
	}
	defer tel.Close()
	// Port 0 receives only once the routes are loaded and the worker lcore
	// polls it (net_pcap counts packets when they are read).
	for {
		i, _, _, err := tel.PortStats(0)
		if err == nil && i > 0 {
			break
		}
		if werr := telemetrySleep(sctx, 100*time.Millisecond); werr != nil {
			if err == nil {
				err = errors.New("no packets received on port 0")
			}
			return nil, died(fmt.Errorf("waiting for l3fwd to forward: %w (%v)", werr, err))
		}
	}

	if err := telemetrySleep(rctx, r.Warmup); err != nil {
		return nil, died(err)
	}
	i0, _, _, err := tel.PortStats(0)
	if err != nil {
		return nil, died(err)
	}
	pps, err := tel.txRates(rctx, 1, 0, r.Window, r.Samples)
	if err != nil {
		return nil, died(err)
	}
	i1, _, _, err := tel.PortStats(0)
	if err != nil {
		return nil, died(err)
	}
	select {
	case <-exited:
		return nil, died(nil)
	default:
	}
	// Port 0's rx interval brackets port 1's tx interval, so rx >= tx for a
	// table that routes everything to port 1.
	rx := float64(i1 - i0)
	var tx float64
	for _, p := range pps {
		tx += p * r.Window.Seconds() / float64(len(pps))
	}
	if !r.AllowUnrouted && rx > 0 && tx < 0.95*rx {
		return nil, fmt.Errorf("l3fwd sent ~%.0f packets to port 1 but received %.0f on port 0: "+
			"routes do not cover the pcap's destinations", tx, rx)
	}
	for i := range pps {
		pps[i] /= 1e6
	}
	return pps, nil
}

func l3fwdQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " ()\"'$;&|<>*?") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}
