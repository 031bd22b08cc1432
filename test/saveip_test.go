package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"fibd/ports/pcap"

	"fibd/test/nstest"
)

// saveIPStats is what the test reads of stats show --json.
type saveIPStats struct {
	stats
	SaveIP *struct {
		Masks   int               `json:"masks"`
		File    string            `json:"file"`
		Packets uint64            `json:"packets"`
		Records uint64            `json:"records"`
		Written uint64            `json:"written"`
		Drops   map[string]uint64 `json:"drops"`
	} `json:"save_ip"`
}

func (r *running) saveIPStats(t *testing.T) saveIPStats {
	t.Helper()
	out, _, code := r.fdpi(t, "--json", "router", "stats", "show")
	var s saveIPStats
	if err := json.Unmarshal([]byte(out), &s); code != 0 || err != nil {
		t.Fatalf("stats show: %d %v %q", code, err, out)
	}
	return s
}

// saveIPRecords reads every save_ip_*.pcap under dir, oldest first, and
// the files' names.
func saveIPRecords(t *testing.T, dir string) ([][]byte, []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "save_ip_*.pcap"))
	slices.SortFunc(files, func(a, b string) int {
		sa, _ := os.Stat(a)
		sb, _ := os.Stat(b)
		return sa.ModTime().Compare(sb.ModTime())
	})
	var out [][]byte
	for _, f := range files {
		out = append(out, readPcap(t, f)...)
	}
	return out, files
}

// TestSaveIP runs fibd with ajb_save_ip on a port fed live through a veth
// pair and checks the manual's promise packet by packet: for every packet
// from or to a mask, two records in the pcap under ajb_udpi_path, the
// packet as received and as sent (the neighbour's and the port's MACs, TTL
// or hop limit one less, checksum updated); one record for a matching
// packet that is dropped; none for the others. A reload that clears the
// masks stops the recording; one that sets another mask starts it again
// in a new file.
func TestSaveIP(t *testing.T) {
	fibdBin(t)
	in, feed := fmt.Sprintf("ajbi%d", os.Getpid()%100000), fmt.Sprintf("ajbf%d", os.Getpid()%100000)
	nstest.Links(t, in) // deleted when the test ends
	nstest.Run(t, "ip", "link", "add", in, "type", "veth", "peer", "name", feed)
	for _, dev := range []string{in, feed} { // no router solicitations or MLD of the kernel's own
		if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+dev+"/disable_ipv6", []byte("1"), 0o644); err != nil {
			t.Fatal(err)
		}
		nstest.Run(t, "ip", "link", "set", dev, "up")
	}
	var dump string
	l := newLabWith(t, func(dir string) string {
		dump = filepath.Join(dir, "dump")
		return fmt.Sprintf(`in_dev=net_pcap0
out_dev=net_pcap1:net_pcap2
fibd_vdev=net_pcap0,rx_iface_in=%[2]s,tx_pcap=%[1]s/out0.pcap
fibd_vdev=net_pcap1,tx_pcap=%[1]s/out1.pcap
fibd_vdev=net_pcap2,tx_pcap=%[1]s/out2.pcap
ajb_udpi_path=%[3]s
ajb_save_ip=10.1.0.0/16;2001:db8:77::/48
`, dir, in, dump)
	})
	r := l.startAt(t, cliStatic, "")

	st := r.saveIPStats(t)
	macs := map[string]net.HardwareAddr{}
	for _, p := range st.Ports {
		m, err := net.ParseMAC(p.MAC)
		if err != nil {
			t.Fatalf("port %s MAC %q: %v", p.Device, p.MAC, err)
		}
		macs[p.Device] = m
	}
	if st.SaveIP == nil || st.SaveIP.Masks != 2 || !strings.HasPrefix(st.SaveIP.File, dump+"/save_ip_") {
		t.Fatalf("stats show save_ip at start: %+v", st.SaveIP)
	}
	fd, sa, err := openPacketSocket(feed, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sent := uint64(0)
	send := func(frames ...[]byte) {
		t.Helper()
		for _, f := range frames {
			if err := unix.Sendto(fd, f, 0, sa); err != nil {
				t.Fatal(err)
			}
		}
		sent += uint64(len(frames))
		nstest.WaitUntil(t, 10*time.Second, fmt.Sprintf("fibd to take %d packets", sent), func() bool {
			s := r.saveIPStats(t)
			var rx uint64
			for _, p := range s.Ports {
				if p.Device == "net_pcap0" {
					rx = p.Rx
				}
			}
			return rx >= sent
		})
	}

	host := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xaa}
	nbr := net.HardwareAddr{0x02, 0, 0, 0, 1, 2} // cliStatic's 198.51.100.2 and 2001:db8:1::2
	payload := bytes.Repeat([]byte("fibd ajb_save_ip"), 2)
	a := netip.MustParseAddr
	v4 := func(dst, src net.HardwareAddr, s, d string, ttl uint8) []byte {
		return pcap.EthIPv4UDP(dst, src, a(s), a(d), ttl, 4000, 53, payload)
	}
	v6 := func(dst, src net.HardwareAddr, s, d string, hl uint8) []byte {
		return pcap.EthIPv6UDP(dst, src, a(s), a(d), hl, 4000, 53, payload)
	}
	p0, p1 := macs["net_pcap0"], macs["net_pcap1"]
	var (
		bySrc   = v4(p0, host, "10.1.2.3", "8.8.4.4", 64)    // source in 10.1/16: default route
		byDst   = v4(p0, host, "192.0.2.50", "10.1.9.9", 64) // destination in 10.1/16
		other   = v4(p0, host, "192.0.2.50", "8.8.4.4", 64)  // neither
		dropped = v4(p0, host, "10.1.2.3", "9.9.9.9", 64)    // blackhole: no sent copy
		by6     = v6(p0, host, "2001:db8:77::5", "2001:db8:100::9", 64)
		other6  = v6(p0, host, "2001:db8:5::5", "2001:db8:100::9", 64)
	)
	send(bySrc, other, byDst, other6, dropped, by6)
	want := [][]byte{
		bySrc, v4(nbr, p1, "10.1.2.3", "8.8.4.4", 63),
		byDst, v4(nbr, p1, "192.0.2.50", "10.1.9.9", 63),
		dropped,
		by6, v6(nbr, p1, "2001:db8:77::5", "2001:db8:100::9", 63),
	}
	var got [][]byte
	nstest.WaitUntil(t, 10*time.Second, "the recordings", func() bool {
		got, _ = saveIPRecords(t, dump)
		return len(got) >= len(want)
	})
	checkRecords(t, "ajb_save_ip=10.1.0.0/16;2001:db8:77::/48", got, want)
	st = r.saveIPStats(t)
	if s := st.SaveIP; s.Packets != 4 || s.Records != 7 || s.Drops["ajb_ring_full"] != 0 || s.Drops["ajb_no_mbuf"] != 0 {
		t.Errorf("stats show save_ip: %+v", s)
	}
	if st.Drops["blackhole"] != 1 {
		t.Errorf("drops %v, want the blackholed packet", st.Drops)
	}
	if out, _, _ := r.fdpi(t, "router", "stats", "show"); !strings.Contains(out, "ajb_save_ip: 2 masks, 4 packets recorded") ||
		!strings.Contains(out, "ajb_ring_full 0, ajb_no_mbuf 0") {
		t.Errorf("stats show text:\n%s", out)
	}

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", l.port+1))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"fibd_save_ip_packets_total 4", "fibd_save_ip_records_written_total 7", "fibd_save_ip_masks 2",
		`fibd_save_ip_dropped_total{reason="ajb_ring_full"} 0`, `fibd_save_ip_dropped_total{reason="ajb_no_mbuf"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// A reload that clears the masks: matching packets pass unrecorded.
	conf, err := os.ReadFile(r.conf)
	if err != nil {
		t.Fatal(err)
	}
	off := strings.Replace(string(conf), "ajb_save_ip=10.1.0.0/16;2001:db8:77::/48\n", "", 1)
	os.WriteFile(r.conf, []byte(off), 0o644)
	if out, _, code := r.fdpi(t, "router", "reload"); code != 0 || !strings.Contains(out, "ajb_save_ip") {
		t.Fatalf("reload clearing ajb_save_ip: %d %q", code, out)
	}
	send(bySrc, by6)
	if st := r.saveIPStats(t); st.SaveIP == nil || st.SaveIP.Masks != 0 || st.SaveIP.File != "" || st.SaveIP.Packets != 4 {
		t.Errorf("after clearing: %+v", st.SaveIP)
	}
	got, files := saveIPRecords(t, dump)
	if len(got) != len(want) || len(files) != 1 {
		t.Errorf("after clearing the masks: %d records in %v, want %d in one file", len(got), files, len(want))
	}

	// A reload that sets another mask: a new file, and only its packets.
	on := strings.Replace(off, "ajb_udpi_path=", "ajb_save_ip=8.8.4.0/24\najb_udpi_path=", 1)
	os.WriteFile(r.conf, []byte(on), 0o644)
	if out, _, code := r.fdpi(t, "router", "reload"); code != 0 || !strings.Contains(out, "ajb_save_ip") {
		t.Fatalf("reload setting ajb_save_ip: %d %q", code, out)
	}
	send(by6, other, byDst)
	want2 := [][]byte{other, v4(nbr, p1, "192.0.2.50", "8.8.4.4", 63)}
	nstest.WaitUntil(t, 10*time.Second, "the second file's recordings", func() bool {
		got, files = saveIPRecords(t, dump)
		return len(got) >= len(want)+len(want2)
	})
	if len(files) != 2 {
		t.Fatalf("files %v, want a second one", files)
	}
	checkRecords(t, "ajb_save_ip=8.8.4.0/24", readPcap(t, files[1]), want2)

	// The sent records are what the port sent (its pcap is complete once
	// fibd has stopped).
	r.stop(t)
	out1 := readPcap(t, l.path("out1.pcap"))
	for _, rec := range [][]byte{want[1], want[3], want[6], want2[1]} {
		if !slices.ContainsFunc(out1, func(f []byte) bool { return bytes.Equal(f, rec) }) {
			t.Errorf("recorded as sent but not in out1.pcap: % x", rec)
		}
	}
}

// checkRecords compares recorded frames with the expected ones, byte for
// byte, and names the first difference.
func checkRecords(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s: record %d\n got % x\nwant % x", what, i, got[i], want[i])
		}
	}
}
