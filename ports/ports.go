// Package ports turns the in_dev/out_dev devices of the configuration into
// started DPDK ports with a queue layout for the workers, and answers which
// port an interface name (device, tap or rib peer) belongs to.
package ports

import (
	"errors"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/conf"
)

// Port is one configured device.
type Port struct {
	Dev      conf.Device // name as configured, direction
	Name     Name        // parsed name
	ID       dpdk.PortID
	MAC      net.HardwareAddr
	MTU      int
	Driver   string
	RxQueues int // queues 0..RxQueues-1, queue w polled by worker w
	TxQueues int // queue w owned by worker w
	// KernelIface is the kernel interface an af_packet/af_xdp vdev sits
	// on: its link state is the port's.
	KernelIface string
}

// Set is every port of fibd, in configuration order.
type Set struct {
	Ports  []*Port
	byName map[string]*Port
}

// Layout is how ports are set up for the workers.
type Layout struct {
	Workers int // worker lcores; each gets an rx queue (where the device has one) and a tx queue on every port
	RxDesc  int
	TxDesc  int
}

// EALArgs returns the EAL arguments that make the configured devices
// appear: -a for PCI devices, --vdev for vdevs.
func EALArgs(cfg *conf.Config) ([]string, error) {
	names := make([]Name, 0, len(cfg.Devices))
	var errs []error
	for _, d := range cfg.Devices {
		n, err := ParseName(d.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		names = append(names, n)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return EALDeviceArgs(names, cfg.Vdevs)
}

// Open finds every configured device among the probed DPDK ports and sets
// it up with the queue layout. Ports are not started.
func Open(log zerolog.Logger, cfg *conf.Config, l Layout) (_ *Set, err error) {
	s := &Set{byName: map[string]*Port{}}
	defer func() {
		if err != nil { // leave nothing half set up
			s.Close()
		}
	}()
	for _, d := range cfg.Devices {
		n, err := ParseName(d.Name)
		if err != nil {
			return nil, err
		}
		id, err := dpdk.PortByName(n.DPDK)
		if err != nil {
			return nil, fmt.Errorf("device %s (%s): %w", d.Name, d.Dir, err)
		}
		info, err := id.Info()
		if err != nil {
			return nil, err
		}
		p := &Port{Dev: d, Name: n, ID: id, MAC: info.MAC, MTU: info.MTU, Driver: info.Driver,
			KernelIface: kernelIface(n.DPDK, cfg.Vdevs)}
		p.RxQueues = min(l.Workers, info.MaxRxQueues)
		p.TxQueues = l.Workers
		if info.MaxTxQueues < l.Workers {
			return nil, fmt.Errorf("device %s: %d workers need %d tx queues, %s offers %d (net_pcap: give one tx_pcap per queue)",
				d.Name, l.Workers, l.Workers, info.Driver, info.MaxTxQueues)
		}
		if p.RxQueues == 0 {
			return nil, fmt.Errorf("device %s: no rx queue", d.Name)
		}
		if err := id.Setup(dpdk.PortConfig{
			RxQueues: p.RxQueues, TxQueues: p.TxQueues,
			RxDesc: l.RxDesc, TxDesc: l.TxDesc,
			RSS:         p.RxQueues > 1,
			Promiscuous: true, // routers receive frames for the MACs of the exception interfaces too
			Scatter:     true,
		}); err != nil {
			return nil, fmt.Errorf("device %s: %w", d.Name, err)
		}
		if p.KernelIface != "" {
			if err := quietKernelIface(p.KernelIface); err != nil {
				log.Warn().Err(err).Str("device", d.Name).Msg("the kernel may talk on the port's interface")
			}
		}
		s.Ports = append(s.Ports, p)
		s.byName[d.Name] = p
		if n.DPDK != d.Name {
			s.byName[n.DPDK] = p
		}
		log.Info().Str("device", d.Name).Stringer("dir", d.Dir).Uint16("port", uint16(id)).
			Str("driver", info.Driver).Str("mac", info.MAC.String()).Int("mtu", info.MTU).
			Int("rxq", p.RxQueues).Int("txq", p.TxQueues).Msg("port ready")
	}
	// Exception interface names answer for their device (routes in the
	// router netns name rib<dev>; the manual's TAP side is dpi<dev>).
	for _, rd := range cfg.RouterDevices {
		p := s.byName[rd.Device]
		if p == nil {
			continue
		}
		s.byName[rd.Peer] = p
		s.byName[rd.Tap] = p
	}
	return s, nil
}

// PortOf maps an interface name to its port (router.Ports).
func (s *Set) PortOf(dev string) (dpdk.PortID, bool) {
	p, ok := s.byName[dev]
	if !ok {
		return 0, false
	}
	return p.ID, true
}

// ByName returns the port of a device (or exception interface) name.
func (s *Set) ByName(dev string) (*Port, bool) {
	p, ok := s.byName[dev]
	return p, ok
}

// Workers is the rx/tx assignment for n workers on lcores: worker w polls
// rx queue w of every port that has one and owns tx queue w everywhere.
func (s *Set) Workers(lcores []uint) []dpdk.Worker {
	ws := make([]dpdk.Worker, len(lcores))
	for w, lc := range lcores {
		ws[w] = dpdk.Worker{Lcore: lc, TxQueue: uint16(w)}
		for _, p := range s.Ports {
			if w < p.RxQueues {
				ws[w].Rx = append(ws[w].Rx, dpdk.RxQueue{Port: p.ID, Queue: uint16(w)})
			}
		}
	}
	return ws
}

// Start starts every port.
func (s *Set) Start() error {
	for _, p := range s.Ports {
		if err := p.ID.Start(); err != nil {
			return fmt.Errorf("device %s: %w", p.Dev.Name, err)
		}
	}
	return nil
}

// Close stops and closes every port (pcap vdevs flush their files here).
func (s *Set) Close() error {
	var errs []error
	for _, p := range s.Ports {
		if err := p.ID.Stop(); err != nil {
			errs = append(errs, err)
		}
		if err := p.ID.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
