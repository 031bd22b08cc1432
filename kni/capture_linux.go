package kni

import (
	"errors"
	"fmt"
	"slices"
	"time"

	dpdk "fibd/cgo"
	"fibd/conf"
	"fibd/ports/pcap"
)

// CaptureConfig is what router_tap_pcap, router_tap_pcap_dir and
// router_tap_pcap_rotate ask for (all hot).
type CaptureConfig struct {
	Taps   []string      // "all", or tap= names; empty: off
	Dir    int           // 1 from the TAP, 2 to the TAP, 0 or 3 both
	Rotate time.Duration // a new file this often
	Path   string        // ajb_udpi_path
}

// CaptureConfigOf reads the capture parameters of cfg.
func CaptureConfigOf(cfg *conf.Config) CaptureConfig {
	c := CaptureConfig{Taps: cfg.RouterTapPcap, Dir: cfg.RouterTapPcapDir, Rotate: cfg.RouterTapPcapRotate, Path: cfg.AjbUdpiPath}
	if c.Rotate == 0 {
		c.Rotate = cfg.AjbUdpiFtimeout
	}
	return c
}

func (c *CaptureConfig) wants(tap string) bool {
	return slices.Contains(c.Taps, "all") || slices.Contains(c.Taps, tap)
}

func (c *CaptureConfig) dirs() uint {
	switch c.Dir {
	case 1:
		return dpdk.CaptureFromExc
	case 2:
		return dpdk.CaptureToExc
	}
	return dpdk.CaptureFromExc | dpdk.CaptureToExc
}

// SetCapture applies a capture configuration: interfaces it names get a
// new file now, the others stop.
func (s *Set) SetCapture(c CaptureConfig) error {
	s.capMu.Lock()
	defer s.capMu.Unlock()
	s.capture = c
	var errs []error
	for _, e := range s.List {
		if err := s.captureFile(e, time.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// TickCapture starts the next file of every capture whose rotation is due.
func (s *Set) TickCapture(now time.Time) error {
	s.capMu.Lock()
	defer s.capMu.Unlock()
	var errs []error
	for _, e := range s.List {
		if e.capFile != "" && now.Sub(e.capSince) >= s.capture.Rotate {
			if err := s.captureFile(e, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// captureFile starts e's next file (tap_<tap>_<unix seconds>.pcap under
// the capture path), or stops e's capture when it is not wanted.
func (s *Set) captureFile(e *Exception, now time.Time) error {
	if !s.capture.wants(e.Tap) {
		if e.capFile == "" {
			return nil
		}
		e.capFile = ""
		return dpdk.CaptureException(e.Index, nil, 0)
	}
	f, name, err := pcap.Create(s.capture.Path, "tap_"+e.Tap, now)
	if err != nil {
		return fmt.Errorf("router_tap_pcap: %w", err)
	}
	defer f.Close()
	if _, err := pcap.NewWriter(f, pcap.LinkTypeEthernet); err != nil {
		return fmt.Errorf("router_tap_pcap: %s: %w", name, err)
	}
	if err := dpdk.CaptureException(e.Index, f, s.capture.dirs()); err != nil {
		return err
	}
	s.log.Info().Str("tap", e.Tap).Str("file", name).Msg("capturing")
	e.capFile, e.capSince = name, now
	return nil
}
