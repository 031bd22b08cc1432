package saveip

import (
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/ports/pcap"
)

// fake is a Source: records queue while masks are set.
type fake struct {
	masks []netip.Prefix
	queue []dpdk.SaveIPRecord
}

func (f *fake) SetMasks(m []netip.Prefix) error { f.masks = slices.Clone(m); return nil }

func (f *fake) Drain(buf []byte, fn func(dpdk.SaveIPRecord) error) (int, bool, error) {
	n := 0
	for len(f.queue) > 0 && n < 3 { // a small buffer: "more" is exercised
		r := f.queue[0]
		f.queue = f.queue[1:]
		n++
		if err := fn(r); err != nil {
			return n, len(f.queue) > 0, err
		}
	}
	return n, len(f.queue) > 0, nil
}

// record queues a pair as a worker would, if masks are set.
func (f *fake) record(t0 time.Time, b byte) {
	if len(f.masks) == 0 {
		return
	}
	f.queue = append(f.queue, dpdk.SaveIPRecord{Time: t0, Frame: []byte{b, 0}},
		dpdk.SaveIPRecord{Time: t0.Add(time.Microsecond), Sent: true, Frame: []byte{b, 1}})
}

func frames(t *testing.T, name string) [][]byte {
	t.Helper()
	out, err := pcap.ReadFrames(name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecorder: masks open a file, records land in it in order, rotation
// starts the next file, clearing the masks stops the source and closes
// the file, setting them again opens a new one.
func TestRecorder(t *testing.T) {
	dir := t.TempDir()
	src := &fake{}
	r := New(zerolog.Nop(), src)
	t0 := time.Unix(1700000000, 0)
	masks := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	if err := r.Set(Config{Path: dir, Rotate: time.Minute}, t0); err != nil || r.File() != "" || src.masks != nil {
		t.Fatalf("no masks: err %v, file %q, source masks %v", err, r.File(), src.masks)
	}
	if err := r.Set(Config{Masks: masks, Path: dir, Rotate: time.Minute}, t0); err != nil {
		t.Fatal(err)
	}
	first := r.File()
	if filepath.Base(first) != "save_ip_1700000000.pcap" || !slices.Equal(src.masks, masks) {
		t.Fatalf("file %q, source masks %v", first, src.masks)
	}
	for b := range byte(4) {
		src.record(t0, b)
	}
	r.Tick(t0.Add(time.Second))
	if got := frames(t, first); len(got) != 8 || got[0][0] != 0 || got[0][1] != 0 || got[1][1] != 1 || got[7][0] != 3 {
		t.Errorf("first file: %v", got)
	}
	// rotation: the pairs after it go to the next file
	src.record(t0, 9)
	r.Tick(t0.Add(time.Minute))
	second := r.File()
	if second == first || filepath.Base(second) != "save_ip_1700000060.pcap" {
		t.Fatalf("after rotation: %q", second)
	}
	if got := frames(t, first); len(got) != 10 {
		t.Errorf("first file after rotation has %d records, want 10 (the pair drained before rotating)", len(got))
	}
	src.record(t0, 10)
	// clearing: the source stops, what it queued is written, the file closes
	if err := r.Set(Config{Path: dir, Rotate: time.Minute}, t0.Add(61*time.Second)); err != nil {
		t.Fatal(err)
	}
	if src.masks != nil || r.File() != "" {
		t.Fatalf("cleared: source masks %v, file %q", src.masks, r.File())
	}
	if got := frames(t, second); len(got) != 2 || got[0][0] != 10 {
		t.Errorf("second file: %v", got)
	}
	src.record(t0, 11) // nothing: no masks
	if len(src.queue) != 0 {
		t.Fatal("fake recorded without masks")
	}
	// set again: a new file
	if err := r.Set(Config{Masks: masks[1:], Path: dir, Rotate: time.Minute}, t0.Add(62*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r.File() == "" || r.File() == second || !slices.Equal(src.masks, masks[1:]) {
		t.Fatalf("set again: file %q, masks %v", r.File(), src.masks)
	}
	if r.Written.Load() != 12 || r.Discarded.Load() != 0 || r.WriteErrors.Load() != 0 {
		t.Errorf("written %d discarded %d errors %d", r.Written.Load(), r.Discarded.Load(), r.WriteErrors.Load())
	}
}
