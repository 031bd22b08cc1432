package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	dpdk "fibd/cgo"
)

// report is the final counter snapshot. The JSON field names are an
// interface for scripts and tests: never change their meaning.
type report struct {
	Seconds   float64           `json:"seconds"`
	Ports     []portReport      `json:"ports"`
	Workers   []workerReport    `json:"workers"`
	Drops     map[string]uint64 `json:"drops"`
	Forwarded uint64            `json:"forwarded"`
	Routes4   uint64            `json:"routes4"`
	Routes6   uint64            `json:"routes6"`
	Nexthops  int               `json:"nexthops"`
	Refused   uint64            `json:"routes_refused"`
	Router    *routerReport     `json:"router,omitempty"`
	SaveIP    *saveIPReport     `json:"save_ip,omitempty"` // ajb_save_ip, once set
}

type routerReport struct {
	Events       uint64 `json:"events"`
	Batches      uint64 `json:"batches"`
	Resyncs      uint64 `json:"resyncs"`
	Overruns     uint64 `json:"overruns"`
	NeighRefused uint64 `json:"neigh_refused"`
	NeighProbes  uint64 `json:"neigh_probes"`
	NeighConfirm uint64 `json:"neigh_confirms"`
}

type portReport struct {
	Device   string `json:"device"`
	Dir      string `json:"dir"`
	Port     uint16 `json:"port"`
	MAC      string `json:"mac"`
	Driver   string `json:"driver"`
	MTU      int    `json:"mtu"`
	RxPkts   uint64 `json:"rx_packets"`
	TxPkts   uint64 `json:"tx_packets"`
	RxBytes  uint64 `json:"rx_bytes"`
	TxBytes  uint64 `json:"tx_bytes"`
	RxMissed uint64 `json:"rx_missed"`
	RxErrors uint64 `json:"rx_errors"`
	TxErrors uint64 `json:"tx_errors"`
	RxNoMbuf uint64 `json:"rx_nombuf"`
}

type workerReport struct {
	Lcore     int               `json:"worker"`
	Rx        uint64            `json:"rx"`
	Tx        uint64            `json:"tx"`
	Forwarded uint64            `json:"forwarded"`
	Polls     uint64            `json:"polls"`
	IdlePolls uint64            `json:"idle_polls"`
	Sleeps    uint64            `json:"sleeps"`
	ICMPSent  uint64            `json:"icmp_sent"`
	ICMPLimit uint64            `json:"icmp_ratelimited"`
	ICMPAlloc uint64            `json:"icmp_alloc_failed"` // errors lost: no mbuf
	Punted    uint64            `json:"punted"`            // to the exception interfaces
	Injected  uint64            `json:"injected"`          // from them, sent out
	Drops     map[string]uint64 `json:"drops"`
}

// Report reads every counter: the final report, and stats show.
func (q *query) Report(elapsed time.Duration) (*report, error) {
	r := &report{Seconds: elapsed.Seconds(), Drops: map[string]uint64{}}
	for _, p := range q.Ports() {
		s, err := p.ID.Stats()
		if err != nil {
			return nil, err
		}
		r.Ports = append(r.Ports, portReport{
			Device: p.Dev.Name, Dir: p.Dev.Dir.String(), Port: uint16(p.ID), MAC: p.MAC.String(),
			Driver: p.Driver, MTU: p.MTU,
			RxPkts: s.IPackets, TxPkts: s.OPackets, RxBytes: s.IBytes, TxBytes: s.OBytes,
			RxMissed: s.IMissed, RxErrors: s.IErrors, TxErrors: s.OErrors, RxNoMbuf: s.RxNoMbuf,
		})
	}
	names := dpdk.DropReasons()
	for i := range dpdk.WorkerCount() {
		s, err := dpdk.ReadWorkerStats(i)
		if err != nil {
			return nil, err
		}
		w := workerReport{Lcore: i, Rx: s.Rx, Tx: s.Tx, Forwarded: s.Forwarded, Polls: s.Polls,
			IdlePolls: s.IdlePolls, Sleeps: s.Sleeps, ICMPSent: s.ICMPSent, ICMPLimit: s.ICMPRateLimited,
			ICMPAlloc: s.ICMPAllocFailed,
			Punted:    s.Punted, Injected: s.Injected, Drops: map[string]uint64{}}
		for reason, n := range s.Drops {
			if n > 0 {
				w.Drops[names[reason]] = n
				r.Drops[names[reason]] += n
			}
		}
		r.Forwarded += s.Forwarded
		r.Workers = append(r.Workers, w)
	}
	fs := q.FIBSummary()
	r.Routes4, r.Routes6, r.Nexthops, r.Refused = fs.Routes4, fs.Routes6, fs.Nexthops, fs.Refused
	if m, ok := q.Mirror(); ok {
		r.Router = &routerReport{
			Events: m.Events, Batches: m.Batches, Resyncs: m.Resyncs, Overruns: m.Overruns,
			NeighRefused: m.NeighRefused, NeighProbes: m.NeighProbes, NeighConfirm: m.NeighConfirms,
		}
	}
	r.SaveIP = q.SaveIP()
	return r, nil
}

func (r *report) writeText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "device\tdir\tport\tmac\trx\ttx\trx_missed\trx_errors\ttx_errors\t\n")
	for _, p := range r.Ports {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t\n", p.Device, p.Dir, p.Port, p.MAC,
			p.RxPkts, p.TxPkts, p.RxMissed, p.RxErrors, p.TxErrors)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "worker\trx\tforwarded\ttx\tdropped\ticmp_sent\tpunted\tinjected\tidle_polls\tsleeps\t\n")
	for _, wr := range r.Workers {
		var dropped uint64
		for _, n := range wr.Drops {
			dropped += n
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", wr.Lcore, wr.Rx, wr.Forwarded, wr.Tx, dropped,
			wr.ICMPSent, wr.Punted, wr.Injected, wr.IdlePolls, wr.Sleeps)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintf(w, "drops by reason:\n")
	any := false
	for _, name := range dpdk.DropReasons() {
		if n := r.Drops[name]; n > 0 {
			fmt.Fprintf(w, "  %-24s %d\n", name, n)
			any = true
		}
	}
	if !any {
		fmt.Fprintf(w, "  (none)\n")
	}
	fmt.Fprintf(w, "\nFIB: %d IPv4 + %d IPv6 routes, %d nexthops, %d refused; %.3fs\n",
		r.Routes4, r.Routes6, r.Nexthops, r.Refused, r.Seconds)
	r.SaveIP.writeText(w)
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
