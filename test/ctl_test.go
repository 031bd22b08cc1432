package test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The control port's protection (README, "fdpi_cli"): commands that change
// state need the control secret, a client can hold neither the router nor
// the server, and the server outlives floods and descriptor exhaustion.

// rawCtl sends one raw request line to fibd's control server and returns
// the status line of the answer.
func rawCtl(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, line)
	status, _ := bufio.NewReader(c).ReadString('\n')
	return status
}

// captureRequest runs fdpi_cli against a stand-in server and returns the
// request line it sent (signed with the secret in file secret).
func captureRequest(t *testing.T, r *running, secret string, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		io.WriteString(c, "ok\n")
		got <- line
	}()
	fake := *r
	fake.addr = ln.Addr().String()
	if _, se, code := fake.fdpiAs(t, secret, args...); code != 0 {
		t.Fatalf("fdpi_cli against the stand-in: %d %s", code, se)
	}
	return <-got
}

// TestCLIAuth: read-only commands answer anyone on loopback; commands that
// change state run only when signed with the control secret, which fibd
// keeps in a root-only file; a wrong secret and a replayed request are
// refused.
func TestCLIAuth(t *testing.T) {
	r := startFibd(t, "", cliStatic)
	st, err := os.Stat(r.secret)
	if err != nil {
		t.Fatalf("fibd made no secret file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %04o, want 0600", st.Mode().Perm())
	}
	programmed := func() int { return strings.Count(r.out.String(), "FIB programmed") }
	before := programmed()

	for _, cmd := range [][]string{{"router", "status"}, {"router", "fib", "lookup", "8.8.8.8"}, {"router", "rib", "show"}, {"help", "router"}} {
		if _, se, code := r.fdpiAs(t, "", cmd...); code != 0 {
			t.Errorf("unsigned %v on loopback: %d %s", cmd, code, se)
		}
	}
	for _, cmd := range [][]string{
		{"router", "fib", "refresh"}, {"router", "stats", "reset"}, {"router", "reload"},
		{"router", "announce", "add", "100.64.1.7"}, {"router", "announce", "del", "100.64.1.7"},
	} {
		if _, se, code := r.fdpiAs(t, "", cmd...); code != 1 || !strings.Contains(se, "needs the control secret") {
			t.Errorf("unsigned %v: %d %q, want refused", cmd, code, se)
		}
	}
	if n := programmed(); n != before {
		t.Fatalf("an unsigned fib refresh reprogrammed the FIB (%d -> %d)", before, n)
	}

	wrong := filepath.Join(t.TempDir(), "wrong.secret")
	os.WriteFile(wrong, []byte("0123456789abcdef0123456789abcdef\n"), 0o600)
	if _, se, code := r.fdpiAs(t, wrong, "router", "fib", "refresh"); code != 1 || !strings.Contains(se, "authentication failed") {
		t.Errorf("wrong secret: %d %q", code, se)
	}
	if _, se, code := r.fdpiAs(t, filepath.Join(t.TempDir(), "missing"), "router", "status"); code != 2 || !strings.Contains(se, "secret") {
		t.Errorf("-k naming a missing file: %d %q, want a usage error", code, se)
	}
	if n := programmed(); n != before {
		t.Fatalf("a wrongly signed fib refresh reprogrammed the FIB")
	}

	out, se, code := r.fdpi(t, "router", "fib", "refresh")
	if code != 0 || !strings.Contains(out, "reprogrammed") {
		t.Fatalf("signed fib refresh: %d %q %q", code, out, se)
	}
	if n := programmed(); n != before+1 {
		t.Errorf("signed fib refresh: FIB programmed %d times, want %d", n-before, 1)
	}

	// A request seen on the wire cannot be sent again.
	line := captureRequest(t, r, r.secret, "router", "fib", "refresh")
	if !strings.Contains(line, `"auth":`) || strings.Contains(line, readFile(t, r.secret)) {
		t.Fatalf("signed request %q: no MAC, or the secret itself", line)
	}
	if s := rawCtl(t, r.addr, line); s != "ok\n" {
		t.Errorf("captured request, first time: %q", s)
	}
	if s := rawCtl(t, r.addr, line); !strings.Contains(s, "replayed") {
		t.Errorf("captured request, replayed: %q, want refused", s)
	}
	if n := programmed(); n != before+2 {
		t.Errorf("FIB programmed %d times after one replay, want 2", n-before)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestCLIRequestDeadline: a client that connects and sends no request, or
// half of one, is answered with an error and dropped after a few seconds;
// it does not keep its connection (and a slot) for minutes.
func TestCLIRequestDeadline(t *testing.T) {
	r := startFibd(t, "", cliStatic)
	for _, partial := range []string{"", `{"args":["router",`} {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, partial)
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, err := io.ReadAll(c) // until fibd closes
		c.Close()
		if err != nil || !strings.HasPrefix(string(b), "error no request within") {
			t.Errorf("request %q never completed: answer %q, %v; want an error and the connection closed", partial, b, err)
		}
	}
}

// dialAs connects to addr from a socket owned by uid: the socket is made
// on a thread whose effective uid alone is changed (Linux credentials are
// per thread; the thread ends with its goroutine).
func dialAs(uid int, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result)
	go func() {
		// Credentials are per thread: this one dials as uid, then is made
		// root again and handed back. It must not end: a thread that ends
		// kills the processes it started (fibd's Pdeathsig), and any thread
		// of the pool may have started fibd.
		runtime.LockOSThread()
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
			runtime.UnlockOSThread()
			ch <- result{nil, e}
			return
		}
		c, err := net.Dial("tcp", addr)
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, ^uintptr(0), 0, ^uintptr(0)); e == 0 {
			runtime.UnlockOSThread()
		} // else: the thread stays locked and ends with the goroutine
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// TestCLIConnectionCap: beyond the cap, a connection is refused at once
// with a message. Other users share a part of the connections, so that
// they cannot lock root out; once the crowd leaves, fibd answers again.
func TestCLIConnectionCap(t *testing.T) {
	r := startFibd(t, "", cliStatic)
	const total, users, nobody = 64, 48, 65534
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	refused := func(c net.Conn) string {
		c.SetReadDeadline(time.Now().Add(3 * time.Second)) // the idle ones are dropped after 5 s
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		return line
	}
	for range users {
		c, err := dialAs(nobody, r.addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	c, err := dialAs(nobody, r.addr)
	if err != nil {
		t.Fatal(err)
	}
	if line := refused(c); !strings.HasPrefix(line, fmt.Sprintf("error too many control connections (%d", users)) {
		t.Errorf("user connection %d: %q, want refused with a message", users+1, line)
	}
	if out, se, code := r.fdpi(t, "-t", "3", "router", "status"); code != 0 || !strings.Contains(out, "mode") {
		t.Errorf("root locked out by another user's %d connections: %d %s", users, code, se)
	}
	for range total - users {
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	c, err = net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	if line := refused(c); !strings.HasPrefix(line, fmt.Sprintf("error too many control connections (%d", total)) {
		t.Errorf("connection %d: %q, want refused with a message", total+1, line)
	}
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, se, code := r.fdpi(t, "router", "status")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer after the crowd left: %d %s", code, se)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCLISlowReaderHoldsNothing: a client that asks for the RIB and stops
// reading holds neither the routing state (changes and other commands go
// on) nor, for long, its connection.
func TestCLISlowReaderHoldsNothing(t *testing.T) {
	const routes = 100000 // ~11 MB of JSON: more than the socket buffers hold
	var static strings.Builder
	static.WriteString(cliStatic)
	for i := range routes {
		fmt.Fprintf(&static, "route add %d.%d.%d.0/24 via 198.51.100.2\n", 20+i>>16, i>>8&255, i&255)
	}
	r := startFibd(t, "router_max_ip4_route_count=262144", static.String())

	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, `{"args":["router","rib","show"],"json":true}`+"\n")
	time.Sleep(time.Second) // fibd is writing, and blocked

	// The state the dump reads is free: a refresh reprograms the FIB, and
	// commands that read it answer.
	if out, se, code := r.fdpi(t, "-t", "10", "router", "fib", "refresh"); code != 0 || !strings.Contains(out, "reprogrammed") {
		t.Errorf("fib refresh while a client stalls rib show: %d %q %q", code, out, se)
	}
	if out, se, code := r.fdpi(t, "-t", "10", "router", "arp", "show"); code != 0 || !strings.Contains(out, "198.51.100.2") {
		t.Errorf("arp show while a client stalls rib show: %d %q %q", code, out, se)
	}
	// The stalled client is dropped (after 10 s without progress): what
	// it reads now ends before the whole RIB, with a reset.
	time.Sleep(13 * time.Second)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	sc := bufio.NewScanner(c)
	lines := 0
	for sc.Scan() {
		lines++
	}
	var ne net.Error
	if lines >= routes || (errors.As(sc.Err(), &ne) && ne.Timeout()) {
		t.Errorf("stalled client read %d lines after its stall (%v), want part of %d routes, then the connection reset", lines, sc.Err(), routes)
	}
	waitLog(t, r, "control client dropped")
	// and a fresh, reading client gets the whole RIB, sorted
	out, _, code := r.fdpi(t, "-t", "60", "router", "rib", "show", "20.0.0.0/8")
	ls := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(ls) != 65536 || !strings.HasPrefix(ls[0], "20.0.0.0/24 ") || !strings.HasPrefix(ls[65535], "20.255.255.0/24 ") {
		t.Errorf("rib show 20.0.0.0/8: %d, %d lines", code, len(ls))
	}
}

// TestCLIAcceptSurvivesEMFILE: when fibd runs out of descriptors, the
// control server waits instead of ending; it answers again once
// descriptors come back.
func TestCLIAcceptSurvivesEMFILE(t *testing.T) {
	r := startFibd(t, "", cliStatic)
	pid := r.cmd.Process.Pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Fatal(err)
	}
	low := unix.Rlimit{Cur: uint64(len(fds)), Max: old.Max}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &low, nil); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			unix.Prlimit(pid, unix.RLIMIT_NOFILE, &old, nil)
			restored = true
		}
	}
	defer restore()
	var conns []net.Conn
	for range 8 { // the kernel completes them; fibd cannot accept them
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitLog(t, r, "control server cannot accept")
	for _, c := range conns {
		c.Close()
	}
	restore()
	if out, se, code := r.fdpi(t, "-t", "10", "router", "status"); code != 0 || !strings.Contains(out, "mode") {
		t.Fatalf("no answer once descriptors came back: %d %q %q", code, out, se)
	}
}

// TestCLIUnsafeSecretDisablesChanges: a secret file others can read is no
// secret. fibd still forwards and answers reads, and refuses every change,
// even one signed with that file.
func TestCLIUnsafeSecretDisablesChanges(t *testing.T) {
	fibdBin(t)
	unsafe := filepath.Join(t.TempDir(), "cli.secret")
	if err := os.WriteFile(unsafe, []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(unsafe, 0o644)
	r := startFibd(t, "fibd_cli_secret="+unsafe, cliStatic)
	if out, se, code := r.fdpiAs(t, unsafe, "router", "status"); code != 0 || !strings.Contains(out, "mode") {
		t.Errorf("status with an unusable secret: %d %q %q", code, out, se)
	}
	if _, se, code := r.fdpiAs(t, unsafe, "router", "fib", "refresh"); code != 1 || !strings.Contains(se, "fibd has none") {
		t.Errorf("fib refresh signed with a world-readable secret: %d %q, want refused", code, se)
	}
	waitLog(t, r, "no control secret")
}
