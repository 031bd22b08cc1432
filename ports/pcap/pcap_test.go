package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type packet struct {
	ts      time.Time
	data    []byte
	origLen int
}

func testPackets() []packet {
	var ps []packet
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, size := range []int{0, 1, 60, 64, 1514, 9000, 65535} {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + j)
		}
		ps = append(ps, packet{base.Add(time.Duration(i)*time.Second + time.Duration(i*1234)*time.Microsecond), data, size})
	}
	return ps
}

func readAll(t *testing.T, r io.Reader) []packet {
	t.Helper()
	pr, err := NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	var ps []packet
	for {
		ts, data, orig, err := pr.Next()
		if err == io.EOF {
			return ps
		}
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, packet{ts, data, orig})
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	want := testPackets()
	for _, p := range want {
		if err := w.WritePacket(p.ts, p.data); err != nil {
			t.Fatal(err)
		}
	}
	// The header as written: microsecond magic, little-endian, 2.4,
	// snaplen 65535, Ethernet.
	wantHdr := []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}
	if !bytes.Equal(buf.Bytes()[:24], wantHdr) {
		t.Errorf("header % x, want % x", buf.Bytes()[:24], wantHdr)
	}

	pr, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if pr.LinkType() != LinkTypeEthernet || pr.SnapLen() != DefaultSnapLen || pr.Nanosecond() {
		t.Errorf("header fields: link %d snap %d nano %v", pr.LinkType(), pr.SnapLen(), pr.Nanosecond())
	}
	got := readAll(t, bytes.NewReader(buf.Bytes()))
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].ts.Equal(want[i].ts) || !bytes.Equal(got[i].data, want[i].data) || got[i].origLen != want[i].origLen {
			t.Errorf("packet %d: got %v/%d bytes/%d, want %v/%d bytes/%d", i,
				got[i].ts, len(got[i].data), got[i].origLen, want[i].ts, len(want[i].data), want[i].origLen)
		}
	}
}

func TestWriterTruncatesToSnapLen(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriterSnapLen(&buf, LinkTypeEthernet, 100)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{7}, 1500)
	ts := time.Unix(1, 999_999_999) // sub-microsecond part is dropped
	if err := w.WritePacket(ts, data); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, &buf)
	if len(got) != 1 || len(got[0].data) != 100 || got[0].origLen != 1500 || !got[0].ts.Equal(time.Unix(1, 999_999_000)) {
		t.Errorf("got %+v", got)
	}
	if _, err := NewWriterSnapLen(io.Discard, 1, 0); err == nil {
		t.Errorf("snaplen 0 accepted")
	}
	if err := w.WritePacket(time.Unix(-1, 0), data); err == nil {
		t.Errorf("timestamp before 1970 accepted")
	}
}

// handMade writes a pcap file byte by byte in the given order and
// resolution, independently of Writer.
func handMade(order binary.AppendByteOrder, nano bool, snapLen uint32, ps []packet) []byte {
	var b []byte
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, snapLen)
	b = order.AppendUint32(b, 1)
	for _, p := range ps {
		frac := uint32(p.ts.Nanosecond())
		if !nano {
			frac /= 1000
		}
		b = order.AppendUint32(b, uint32(p.ts.Unix()))
		b = order.AppendUint32(b, frac)
		b = order.AppendUint32(b, uint32(len(p.data)))
		b = order.AppendUint32(b, uint32(p.origLen))
		b = append(b, p.data...)
	}
	return b
}

func TestMagicsAndByteOrders(t *testing.T) {
	ps := []packet{
		{time.Unix(1700000000, 123456789), []byte("first"), 5},
		{time.Unix(1700000001, 1), []byte("second, cut"), 1500},
	}
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nano := range []bool{false, true} {
			name := order.String()
			if nano {
				name += "/nano"
			}
			t.Run(name, func(t *testing.T) {
				file := handMade(order, nano, 65535, ps)
				pr, err := NewReader(bytes.NewReader(file))
				if err != nil {
					t.Fatal(err)
				}
				if pr.Nanosecond() != nano || pr.LinkType() != 1 || pr.SnapLen() != 65535 {
					t.Errorf("header: nano %v link %d snap %d", pr.Nanosecond(), pr.LinkType(), pr.SnapLen())
				}
				got := readAll(t, bytes.NewReader(file))
				for i, p := range ps {
					want := p.ts
					if !nano {
						want = want.Truncate(time.Microsecond)
					}
					if !got[i].ts.Equal(want) || string(got[i].data) != string(p.data) || got[i].origLen != p.origLen {
						t.Errorf("packet %d: got %v %q %d", i, got[i].ts, got[i].data, got[i].origLen)
					}
				}
				path := filepath.Join(t.TempDir(), "x.pcap")
				if err := os.WriteFile(path, file, 0o644); err != nil {
					t.Fatal(err)
				}
				if n, err := CountPackets(path); n != 2 || err != nil {
					t.Errorf("CountPackets = %d, %v", n, err)
				}
			})
		}
	}
}

func writeFile(t *testing.T, ps []packet, snapLen uint32) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriterSnapLen(&buf, LinkTypeEthernet, snapLen)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.WritePacket(p.ts, p.data); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "t.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, buf.Bytes()
}

func TestTruncated(t *testing.T) {
	path, file := writeFile(t, testPackets(), DefaultSnapLen)
	// Cut inside the last record's data, then inside its header.
	lastLen := 16 + 65535
	for _, cut := range []int{len(file) - 1, len(file) - lastLen + 7} {
		short := file[:cut]
		pr, err := NewReader(bytes.NewReader(short))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			_, _, _, err = pr.Next()
			if err != nil {
				break
			}
			n++
		}
		if !errors.Is(err, ErrTruncated) || n != 6 || !strings.Contains(err.Error(), "record 7") {
			t.Errorf("cut at %d: %d packets then %v", cut, n, err)
		}
		if err := os.WriteFile(path, short, 0o644); err != nil {
			t.Fatal(err)
		}
		if n, err := CountPackets(path); !errors.Is(err, ErrTruncated) || n != 6 {
			t.Errorf("cut at %d: CountPackets = %d, %v", cut, n, err)
		}
	}
	// Just the header: a valid, empty file.
	if err := os.WriteFile(path, file[:24], 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := CountPackets(path); n != 0 || err != nil {
		t.Errorf("empty capture: CountPackets = %d, %v", n, err)
	}
	if got := readAll(t, bytes.NewReader(file[:24])); len(got) != 0 {
		t.Errorf("empty capture: %d packets", len(got))
	}
}

func TestGarbage(t *testing.T) {
	valid := handMade(binary.LittleEndian, false, 65535, nil)
	badVersion := bytes.Clone(valid)
	badVersion[4] = 1
	tests := []struct {
		name string
		file []byte
		msg  string
	}{
		{"empty", nil, "shorter than the 24-byte header"},
		{"short", valid[:10], "shorter than the 24-byte header"},
		{"text", []byte("this is not a capture file at all"), "bad magic number"},
		{"pcapng", append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, make([]byte, 28)...), "pcapng"},
		{"version", badVersion, "unsupported format version 1.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("NewReader: %v, want %q", err, tt.msg)
			}
			path := filepath.Join(t.TempDir(), "g.pcap")
			if err := os.WriteFile(path, tt.file, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := CountPackets(path); err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("CountPackets: %v, want %q", err, tt.msg)
			}
		})
	}

	// A record claiming 2 GiB is corruption, not a reason to allocate.
	huge := handMade(binary.LittleEndian, false, 65535, []packet{{time.Unix(0, 0), []byte("x"), 1}})
	binary.LittleEndian.PutUint32(huge[24+8:], 1<<31)
	pr, err := NewReader(bytes.NewReader(huge))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := pr.Next(); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("huge record: %v", err)
	}
	path := filepath.Join(t.TempDir(), "h.pcap")
	if err := os.WriteFile(path, huge, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CountPackets(path); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("huge record: CountPackets: %v", err)
	}
	if _, err := CountPackets(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// CountPackets jumps over records larger than its read block, and reads
// many small ones per block.
func TestCountPacketsMixed(t *testing.T) {
	var ps []packet
	for i := range 5000 {
		size := 60 + i%200
		if i%1000 == 999 {
			size = 600 << 10 // bigger than the 256 KiB read block
		}
		ps = append(ps, packet{time.Unix(int64(i), 0), make([]byte, size), size})
	}
	path, _ := writeFile(t, ps, 1<<20)
	if n, err := CountPackets(path); n != len(ps) || err != nil {
		t.Errorf("CountPackets = %d, %v; want %d", n, err, len(ps))
	}
}

func BenchmarkCountPackets(b *testing.B) {
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, LinkTypeEthernet)
	frame := make([]byte, 64)
	for range 1_000_000 {
		w.WritePacket(time.Unix(0, 0), frame)
	}
	path := filepath.Join(b.TempDir(), "b.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if n, err := CountPackets(path); n != 1_000_000 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// TestCreate: the next file of a series is <base>_<unix>.pcap, then
// _<unix>_1, _2 within one second; nothing is overwritten; the directory
// is made.
func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dump", "dpi")
	now := time.Unix(1700000000, 0)
	var names []string
	for i := range 3 {
		f, name, err := Create(dir, "tap_rib0", now)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "%d", i)
		f.Close()
		names = append(names, filepath.Base(name))
	}
	if want := []string{"tap_rib0_1700000000.pcap", "tap_rib0_1700000000_1.pcap", "tap_rib0_1700000000_2.pcap"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, names[0])); string(b) != "0" {
		t.Errorf("first file overwritten: %q", b)
	}
}

// writeFrames writes n copies of one 60-byte frame to a new pcap file.
func writeFrames(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := w.WritePacket(time.Unix(int64(i), 0), make([]byte, 60)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInfiniteRxPackets: only a net_pcap vdev with infinite_rx (given
// once, above 0, as net_pcap reads it) keeps its rx_pcap packets, those of
// the files its queues read; a cut-off capture counts its whole packets; a
// file that cannot be read is an error naming the vdev.
func TestInfiniteRxPackets(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	writeFrames(t, a, 7)
	writeFrames(t, b, 5)
	cut := filepath.Join(dir, "cut.pcap")
	raw, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cut, raw[:len(raw)-10], 0o644) // the fifth packet cut off
	for _, c := range []struct {
		spec   string
		queues int
		want   int
	}{
		{"net_pcap0,rx_pcap=" + a + ",infinite_rx=1", 1, 7},
		{"net_pcap0,rx_pcap=" + a + ",rx_pcap=" + b + ",tx_pcap=/dev/null,infinite_rx=1", 2, 12},
		{"net_pcap0,rx_pcap=" + a + ",rx_pcap=" + b + ",infinite_rx=1", 1, 7},
		{"net_pcap0,rx_pcap=" + a + ",infinite_rx=1", 4, 7},
		{"net_pcap0,rx_pcap=" + cut + ",infinite_rx=1", 1, 4},
		{"net_pcap0,rx_pcap=" + a + ",infinite_rx=2x", 1, 7},
		{"net_pcap0,rx_pcap=" + a, 1, 0},
		{"net_pcap0,rx_pcap=" + a + ",infinite_rx=0", 1, 0},
		{"net_pcap0,rx_pcap=" + a + ",infinite_rx=-1", 1, 0},
		{"net_pcap0,rx_pcap=" + a + ",infinite_rx=false", 1, 0},
		{"net_pcap0,rx_pcap=" + a + ",infinite_rx=", 1, 0},
		{"net_pcap0,rx_pcap=" + a + ",infinite_rx=1,infinite_rx=1", 1, 0},
		{"net_pcap0,iface=lo,rx_pcap=" + a + ",infinite_rx=1", 1, 0},
		{"net_null0,infinite_rx=1", 1, 0},
	} {
		if n, err := InfiniteRxPackets(c.spec, c.queues); n != c.want || err != nil {
			t.Errorf("InfiniteRxPackets(%q, %d) = %d, %v; want %d", c.spec, c.queues, n, err, c.want)
		}
	}
	_, err = InfiniteRxPackets("net_pcap3,rx_pcap="+filepath.Join(dir, "none.pcap")+",infinite_rx=1", 1)
	if err == nil || !strings.Contains(err.Error(), "net_pcap3: rx_pcap") {
		t.Errorf("missing file: err %v, want one naming net_pcap3's rx_pcap", err)
	}
}
