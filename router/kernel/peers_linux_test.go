package kernel

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestPeers: the session peers of a namespace are the remote ends of its
// established and opening TCP sockets on BGP and LDP ports, and nothing
// else (another port's session, a listener).
func TestPeers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (netns)")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	name := fmt.Sprintf("fibdp%d", os.Getpid())
	exec.Command("ip", "netns", "del", name).Run()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	cmd := exec.Command("ip", "-n", name, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		"link set lo up", "link add p0 type veth peer name p1", "link set p0 up", "link set p1 up",
		"address add 10.77.0.1/24 dev p0", "address add 10.77.0.2/24 dev p1", "address add 10.77.0.3/24 dev p1",
	}, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v\n%s", err, out)
	}
	// a BGP session 10.77.0.2 -> 10.77.0.1:179, an LDP session being
	// opened towards 10.77.0.9 (nobody: SYN_SENT), a session on port 8080
	// from 10.77.0.3, a listener on 179
	script := `
import socket, time
def listen(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.77.0.1", port)); s.listen(4); return s
l179, l8080 = listen(179), listen(8080)
def connect(src, dst, port):
    c = socket.socket(); c.bind((src, 0)); c.connect((dst, port)); return c
c1 = connect("10.77.0.2", "10.77.0.1", 179); a1 = l179.accept()
c2 = connect("10.77.0.3", "10.77.0.1", 8080); a2 = l8080.accept()
c3 = socket.socket(); c3.setblocking(False)
try: c3.connect(("10.77.0.9", 646))
except BlockingIOError: pass
print("ready", flush=True)
time.sleep(30)
`
	py := exec.Command("ip", "netns", "exec", name, "python3", "-c", script)
	out, err := py.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	py.Stderr = os.Stderr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer py.Wait()
	defer py.Process.Kill()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("sockets not made: %q", line)
	}
	p := &Peers{Netns: name}
	defer p.Close()
	got, err := p.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("10.77.0.9")}
	if !slices.Equal(got, want) {
		t.Errorf("peers %v, want %v", got, want)
	}
	if _, err := (&Peers{Netns: name + "x"}).List(); err == nil {
		t.Error("a netns that does not exist: no error")
	}
}
