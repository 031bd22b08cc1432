package rtnlpcap

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"fibd/ports/pcap"
	"fibd/router/rtnl"
)

// TestRtnlRecorder: fibd's request and the kernel's replies become one
// record each, after a cooked header that says who sent it, and tshark
// decodes them as rtnetlink in the right direction.
func TestRtnlRecorder(t *testing.T) {
	// off: nothing recorded, nothing to call
	Netlink(ToKernel, make([]byte, 28))

	path := filepath.Join(t.TempDir(), "rtnl.pcap")
	rec := &rtnlRecorder{}
	var f *os.File
	if err := rec.open(path, &f); err != nil {
		t.Fatal(err)
	}
	rtnlRec.Store(rec)
	defer rtnlRec.Store(nil)

	// a dump request, as sendDump writes it
	var req [28]byte
	binary.NativeEndian.PutUint32(req[0:], 28)
	binary.NativeEndian.PutUint16(req[4:], unix.RTM_GETROUTE)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1)
	req[16] = unix.AF_INET
	Netlink(ToKernel, req[:])
	// a receive buffer: a route of the dump (rtmsg + RTA_DST 192.0.2.0/24) and NLMSG_DONE
	route := make([]byte, 16+12+8)
	binary.NativeEndian.PutUint32(route[0:], uint32(len(route)))
	binary.NativeEndian.PutUint16(route[4:], unix.RTM_NEWROUTE)
	binary.NativeEndian.PutUint16(route[6:], unix.NLM_F_MULTI)
	binary.NativeEndian.PutUint32(route[8:], 1)
	route[16], route[17], route[20], route[23] = unix.AF_INET, 24, unix.RT_TABLE_MAIN, unix.RTN_UNICAST
	binary.NativeEndian.PutUint16(route[28:], 8)
	binary.NativeEndian.PutUint16(route[30:], unix.RTA_DST)
	copy(route[32:], []byte{192, 0, 2, 0})
	done := make([]byte, 20)
	binary.NativeEndian.PutUint32(done[0:], 20)
	binary.NativeEndian.PutUint16(done[4:], unix.NLMSG_DONE)
	binary.NativeEndian.PutUint16(done[6:], unix.NLM_F_MULTI)
	Netlink(ToUser, append(route, done...))
	// the library's requests: a neighbour resolution, an announcement refused
	NeighUse(3, netip.MustParseAddr("2001:db8::7"), nil)
	RouteRequest(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, &netlink.Route{LinkIndex: 4,
		Dst: &net.IPNet{IP: net.IPv4(100, 64, 1, 7).To4(), Mask: net.CIDRMask(32, 32)}, Table: 300, Protocol: rtnl.ProtoFibd,
		Priority: 32, Scope: unix.RT_SCOPE_LINK}, unix.EEXIST)
	rtnlRec.Store(nil)
	Netlink(ToUser, done) // off again
	rec.mu.Lock()
	rec.closeLocked(f)
	rec.mu.Unlock()

	rf, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	r, err := pcap.NewReader(rf)
	if err != nil || r.LinkType() != LinkTypeNetlink {
		t.Fatalf("%v, link type %d", err, r.LinkType())
	}
	want := []struct {
		dir uint16
		typ uint16
	}{{ToKernel, unix.RTM_GETROUTE}, {ToUser, unix.RTM_NEWROUTE}, {ToUser, unix.NLMSG_DONE},
		{ToKernel, unix.RTM_NEWNEIGH}, {ToUser, unix.NLMSG_ERROR}, {ToKernel, unix.RTM_NEWROUTE}, {ToUser, unix.NLMSG_ERROR}}
	for i, w := range want {
		_, b, _, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(b) < 16+16 || binary.BigEndian.Uint16(b) != w.dir || binary.BigEndian.Uint16(b[2:]) != arphrdNetlink ||
			binary.NativeEndian.Uint16(b[16+4:]) != w.typ || int(binary.NativeEndian.Uint32(b[16:])) != len(b)-16 {
			t.Errorf("record %d: % x, want direction %d, type %d", i, b, w.dir, w.typ)
		}
		if i == 6 && int32(binary.NativeEndian.Uint32(b[16+16:])) != -int32(unix.EEXIST) {
			t.Errorf("the kernel's answer to the announcement: % x, want -EEXIST", b)
		}
	}
	if _, _, _, err := r.Next(); err == nil {
		t.Error("a record written while recording was off")
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: decoding not checked")
		return
	}
	// tshark decodes the messages (rtnetlink after the cooked header);
	// the direction is the header's packet type, frame[1].
	tshark := func(filter string) string {
		out, err := exec.Command("tshark", "-r", path, "-Y", filter).CombinedOutput()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v\n%s", filter, err, out)
		}
		return string(out)
	}
	if out := tshark("frame[1] == 7"); !strings.Contains(out, " 1 ") || strings.Contains(out, " 2 ") || !strings.Contains(out, " 4 ") ||
		!strings.Contains(out, " 6 ") || strings.Count(out, "Netlink route") != 3 {
		t.Errorf("tshark: fibd's requests are not records 1, 4 and 6:\n%s", out)
	}
	if out := tshark("netlink-route.rt_table == 0 && netlink-route.rt_protocol == 252 && netlink-route.rt_dst_len == 32"); !strings.Contains(out, " 6 ") {
		t.Errorf("tshark does not decode the announcement:\n%s", out)
	}
	if out := tshark("frame[1] == 6 && netlink-route.rt_dst_len == 24"); !strings.Contains(out, " 2 ") {
		t.Errorf("tshark does not decode the dump reply:\n%s", out)
	}
}
