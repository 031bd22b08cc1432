// Package saveip writes ajb_save_ip's recordings to pcap files: the fast
// path (cgo/dp/fp_ajb.c) copies the packets from or to the configured
// masks, as received and as sent, into per-worker rings; a Recorder drains
// them from one goroutine into save_ip_<unix time>.pcap under
// ajb_udpi_path, a new file every ajb_udpi_ftimeout.
package saveip

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/conf"
	"fibd/ports/pcap"
)

// Config is what ajb_save_ip, ajb_udpi_path and ajb_udpi_ftimeout ask for
// (all hot).
type Config struct {
	Masks  []netip.Prefix // empty: off
	Path   string         // directory of the files
	Rotate time.Duration  // a new file this often
}

// ConfigOf reads the recording parameters of c.
func ConfigOf(c *conf.Config) Config {
	return Config{Masks: c.AjbSaveIP, Path: c.AjbUdpiPath, Rotate: c.AjbUdpiFtimeout}
}

// Source is where the recordings come from: the fast path in fibd (Fastpath),
// a fake in tests.
type Source interface {
	// SetMasks hands the masks over; none stops recording. Once it
	// returns, nothing is recorded with the previous masks any more.
	SetMasks([]netip.Prefix) error
	// Drain calls fn for the waiting records; more: call again now.
	Drain(buf []byte, fn func(dpdk.SaveIPRecord) error) (n int, more bool, err error)
}

// Fastpath is the Source of fibd's workers.
type Fastpath struct{}

func (Fastpath) SetMasks(m []netip.Prefix) error { return dpdk.SetSaveIP(m) }
func (Fastpath) Drain(buf []byte, fn func(dpdk.SaveIPRecord) error) (int, bool, error) {
	return dpdk.DrainSaveIP(buf, fn)
}

// drainBuf is the drain buffer: many records per cgo call, and room for the
// largest frame an mbuf chain carries.
const drainBuf = 1 << 20

// Recorder writes the recordings of a Source to rotating pcap files.
//
// Concurrency: Set may be called from any goroutine (a reload), Tick and
// Run from one goroutine; mu guards the configuration and the file, and
// serialises the drain (the rings' single consumer). The counters are
// atomics any goroutine reads.
type Recorder struct {
	log zerolog.Logger
	src Source

	mu    sync.Mutex
	cfg   Config
	f     *os.File
	bw    *bufio.Writer
	w     *pcap.Writer
	name  string
	since time.Time
	on    bool // the source has masks
	buf   []byte

	Written     atomic.Uint64 // records written to files
	Discarded   atomic.Uint64 // records drained while no file was open
	WriteErrors atomic.Uint64 // files abandoned after a failed write
}

// New makes a Recorder of src; it records nothing until Set gives it masks.
func New(log zerolog.Logger, src Source) *Recorder {
	return &Recorder{log: log.With().Str("component", "save_ip").Logger(), src: src, buf: make([]byte, drainBuf)}
}

// File is the file being written, "" when none.
func (r *Recorder) File() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.name
}

// Set applies a configuration: masks start (a new file) or stop (the
// file is completed and closed) recording; a new path starts a new file.
func (r *Recorder) Set(c Config, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cfg
	r.cfg = c
	if len(c.Masks) == 0 {
		if !r.on && r.f == nil {
			return nil
		}
		err := r.stopLocked()
		r.drainLocked()
		r.closeLocked()
		if err != nil {
			return fmt.Errorf("ajb_save_ip: %w", err)
		}
		return nil
	}
	if r.f != nil && old.Path != c.Path {
		r.drainLocked()
		r.closeLocked()
	}
	if r.f == nil {
		if err := r.openLocked(now); err != nil {
			r.stopLocked() // nowhere to write: record nothing
			return err
		}
	}
	if r.on && slices.Equal(old.Masks, c.Masks) {
		return nil
	}
	if err := r.src.SetMasks(c.Masks); err != nil {
		r.stopLocked()
		r.closeLocked()
		return fmt.Errorf("ajb_save_ip: %w", err)
	}
	r.on = true
	r.log.Info().Strs("masks", prefixStrings(c.Masks)).Str("file", r.name).Msg("recording")
	return nil
}

// Tick writes what the workers recorded and starts the next file when
// the rotation is due.
func (r *Recorder) Tick(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drainLocked()
	if r.f != nil && now.Sub(r.since) >= r.cfg.Rotate {
		r.closeLocked()
		if err := r.openLocked(now); err != nil {
			r.log.Error().Err(err).Msg("ajb_save_ip: no next file, recording stops")
			r.stopLocked()
		}
	}
}

// Run drains every period until ctx ends, then stops recording and
// closes the file.
func (r *Recorder) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.Set(Config{}, time.Now())
			return
		case now := <-t.C:
			r.Tick(now)
		}
	}
}

// drainLocked writes every waiting record to the file (or counts it
// discarded when there is none), then flushes the file.
func (r *Recorder) drainLocked() {
	write := func(rec dpdk.SaveIPRecord) error {
		if r.w == nil {
			r.Discarded.Add(1)
			return nil
		}
		if err := r.w.WritePacket(rec.Time, rec.Frame); err != nil {
			return err
		}
		r.Written.Add(1)
		return nil
	}
	// bounded: workers that record faster than we write fill their rings
	// and count ajb_ring_full, rather than keep this loop (and mu) forever
	for range 64 {
		n, more, err := r.src.Drain(r.buf, write)
		if err != nil {
			r.failLocked(err)
		}
		if !more && n == 0 {
			break
		}
	}
	if r.bw != nil {
		if err := r.bw.Flush(); err != nil {
			r.failLocked(err)
		}
	}
}

// failLocked abandons a file that could not be written: a short record
// would leave the rest unreadable. Recording stops until the next Set.
func (r *Recorder) failLocked(err error) {
	if r.f == nil {
		return
	}
	r.WriteErrors.Add(1)
	r.log.Error().Err(err).Str("file", r.name).Msg("ajb_save_ip: write failed, recording stops")
	r.stopLocked()
	r.f.Close()
	r.f, r.bw, r.w, r.name = nil, nil, nil, ""
}

// stopLocked takes the masks away from the source.
func (r *Recorder) stopLocked() error {
	r.on = false
	return r.src.SetMasks(nil)
}

func (r *Recorder) openLocked(now time.Time) error {
	f, name, err := pcap.Create(r.cfg.Path, "save_ip", now)
	if err != nil {
		return fmt.Errorf("ajb_save_ip: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	w, err := pcap.NewWriter(bw, pcap.LinkTypeEthernet)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("ajb_save_ip: %s: %w", name, err)
	}
	r.f, r.bw, r.w, r.name, r.since = f, bw, w, name, now
	return nil
}

func (r *Recorder) closeLocked() {
	if r.f == nil {
		return
	}
	err := r.bw.Flush()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, os.ErrClosed) {
		r.WriteErrors.Add(1)
		r.log.Error().Err(err).Str("file", r.name).Msg("ajb_save_ip: closing")
	}
	r.f, r.bw, r.w, r.name = nil, nil, nil, ""
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
