package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	dpdk "fibd/cgo"
	"fibd/conf"
	"fibd/saveip"
)

// ajb_save_ip: the recorder of packets by address mask (package saveip),
// a component (saveIPComp) started once the workers run and stopped before
// they stop; its report and metrics are read through query.

// saveIPPeriod is how often the recorder drains the workers' rings: 1023
// records per worker in 10 ms is ~50k recorded packets a second per worker
// before ajb_ring_full counts losses.
const saveIPPeriod = 10 * time.Millisecond

// startSaveIP starts the recorder with c's parameters; the function it
// returns stops recording, writes what is left and closes the file (call
// it before the workers stop; calling it again does nothing).
func (d *daemon) startSaveIP(ctx context.Context, c *conf.Config) (stop func()) {
	d.saveIP = saveip.New(d.log, saveip.Fastpath{})
	if err := d.saveIP.Set(saveip.ConfigOf(c), time.Now()); err != nil {
		d.log.Error().Err(err).Msg("ajb_save_ip")
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.saveIP.Run(ctx, saveIPPeriod) }()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// reloadSaveIP applies ajb_save_ip, ajb_udpi_path and ajb_udpi_ftimeout
// (hot).
func (d *daemon) reloadSaveIP(c *conf.Config) {
	if d.saveIP == nil {
		return
	}
	if err := d.saveIP.Set(saveip.ConfigOf(c), time.Now()); err != nil {
		d.log.Error().Err(err).Msg("ajb_save_ip")
	}
}

// saveIPReport is ajb_save_ip's part of stats show; nil (left out) while
// ajb_save_ip was never set.
type saveIPReport struct {
	Masks   int               `json:"masks"`   // masks in force; 0: off
	File    string            `json:"file"`    // the file being written, "" when off
	Packets uint64            `json:"packets"` // incoming packets recorded
	Records uint64            `json:"records"` // records queued: originals and, for forwarded packets, sent copies
	Written uint64            `json:"written"` // records written to files
	Drops   map[string]uint64 `json:"drops"`   // packets not recorded, by reason (ajb_ring_full, ajb_no_mbuf); write_errors: files abandoned
}

// saveIPComp is the "saveip" component: it applies ajb_save_ip (captures
// hands it ajb_udpi_path and ajb_udpi_ftimeout).
type saveIPComp struct {
	d    *daemon
	done func() // stops the recorder
}

func (s *saveIPComp) start(ctx context.Context) error {
	s.done = s.d.startSaveIP(ctx, s.d.cfg)
	return nil
}

// stop ends the recorder, then records nothing more: a reload that came
// between the daemon's end and the control server's stop may have set
// masks again after the recorder's goroutine ended, and nothing would
// drain them (the workers still run until the data plane stops).
func (s *saveIPComp) stop() error {
	if s.done != nil {
		s.done()
	}
	if s.d.saveIP != nil {
		return s.d.saveIP.Set(saveip.Config{}, time.Now())
	}
	return nil
}

func (s *saveIPComp) apply(_ []string, _, nc *conf.Config) error {
	s.d.reloadSaveIP(nc)
	return nil
}

// SaveIP is ajb_save_ip's report (nil while it was never set): the fast
// path's counters (atomics) and the recorder's (its own atomics and lock).
// Any goroutine.
func (q *query) SaveIP() *saveIPReport { return q.d.saveIPReport() }

// collectSaveIP adds ajb_save_ip's metrics. Any goroutine.
func (q *query) collectSaveIP(ch chan<- prometheus.Metric) { q.d.collectSaveIP(ch) }

func (d *daemon) saveIPReport() *saveIPReport {
	s := dpdk.ReadSaveIPStats()
	if !s.Ready || d.saveIP == nil {
		return nil
	}
	return &saveIPReport{Masks: s.Masks, File: d.saveIP.File(), Packets: s.Packets, Records: s.Records,
		Written: d.saveIP.Written.Load(),
		Drops: map[string]uint64{"ajb_ring_full": s.RingFull, "ajb_no_mbuf": s.NoMbuf,
			"write_errors": d.saveIP.WriteErrors.Load()}}
}

func (r *saveIPReport) writeText(w io.Writer) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "\najb_save_ip: %d masks, %d packets recorded, %d records queued, %d written", r.Masks, r.Packets, r.Records, r.Written)
	if r.File != "" {
		fmt.Fprintf(w, " (%s)", r.File)
	}
	fmt.Fprintf(w, "\n  not recorded: ajb_ring_full %d, ajb_no_mbuf %d; write_errors %d\n",
		r.Drops["ajb_ring_full"], r.Drops["ajb_no_mbuf"], r.Drops["write_errors"])
}

var (
	mSaveIPMasks   = desc("save_ip_masks", "ajb_save_ip masks in force.")
	mSaveIPPackets = desc("save_ip_packets_total", "Packets recorded by ajb_save_ip (each as received and, when forwarded, as sent).")
	mSaveIPWritten = desc("save_ip_records_written_total", "ajb_save_ip records written to pcap files.")
	mSaveIPDrops   = desc("save_ip_dropped_total", "Packets ajb_save_ip did not record, by reason: ajb_ring_full, ajb_no_mbuf.", "reason")
)

func (d *daemon) collectSaveIP(ch chan<- prometheus.Metric) {
	r := d.saveIPReport()
	if r == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(mSaveIPMasks, prometheus.GaugeValue, float64(r.Masks))
	ch <- prometheus.MustNewConstMetric(mSaveIPPackets, prometheus.CounterValue, float64(r.Packets))
	ch <- prometheus.MustNewConstMetric(mSaveIPWritten, prometheus.CounterValue, float64(r.Written))
	for _, reason := range []string{"ajb_ring_full", "ajb_no_mbuf"} {
		ch <- prometheus.MustNewConstMetric(mSaveIPDrops, prometheus.CounterValue, float64(r.Drops[reason]), reason)
	}
}
