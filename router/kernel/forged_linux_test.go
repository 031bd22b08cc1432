package kernel

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/router/rtnl"
	"fibd/test/nstest"
)

// TestForgedNotificationsDropped: a process in the router netns sends
// fibd's subscription a link notification of its own making. The mirror
// drops and counts it, and still takes the kernel's.
func TestForgedNotificationsDropped(t *testing.T) {
	nstest.Root(t)
	name := fmt.Sprintf("fibdfg%d", os.Getpid())
	nstest.NS(t, name)
	var forged atomic.Uint64
	k := &Kernel{Netns: name, Forged: &forged}
	if err := k.Open(); err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	// the subscription's port: NETLINK_ROUTE with groups, in the netns
	var port uint32
	for _, l := range strings.Split(nstest.Exec(t, name, "cat", "/proc/net/netlink"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && f[1] == "0" && strings.Trim(f[3], "0") != "" {
			p, _ := strconv.ParseUint(f[2], 10, 32)
			port = uint32(p)
		}
	}
	if port == 0 {
		t.Fatal("no rtnetlink socket with groups in the netns")
	}
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	fd, err := rtnl.SocketIn(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	body := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(body[4:], 4)
	binary.NativeEndian.PutUint32(body[8:], unix.IFF_UP)
	body = nla(body, unix.IFLA_IFNAME, []byte("forged0\x00"))
	if err := unix.Sendto(fd, nlmsg(unix.RTM_NEWLINK, body), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Pid: port}); err != nil {
		t.Fatalf("send to the subscription: %v", err)
	}
	nstest.Batch(t, name, "link add fg0 type veth peer name fg1")
	var names []string
	nstest.WaitUntil(t, 3*time.Second, "the kernel's notification of fg0", func() bool {
		for _, e := range k.Drain(100) {
			if e.Link != nil {
				names = append(names, e.Link.Name)
			}
		}
		return strings.Contains(strings.Join(names, " "), "fg0")
	})
	if strings.Contains(strings.Join(names, " "), "forged0") {
		t.Errorf("the forged link was queued: %v", names)
	}
	if forged.Load() != 1 {
		t.Errorf("forged notifications counted: %d, want 1", forged.Load())
	}
}
