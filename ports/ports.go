// Package ports turns the in_dev/out_dev devices of the configuration into
// started DPDK ports with a queue layout for the workers, and answers which
// port an interface name (device, tap or rib peer) belongs to.
package ports

import (
	"errors"
	"fmt"
	"net"
	"slices"

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
	// Lag: the port is a net_bonding device over these members (in_dev /
	// out_dev devices, which are not ports of their own).
	Lag     *conf.Lag
	Members []Member
	vdev    string // a bond fibd created
}

// Member is a device of a LAG.
type Member struct {
	Dev  conf.Device
	Name Name
	ID   dpdk.PortID
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
	members := map[string][]Member{} // lag name -> its devices
	for _, d := range cfg.Devices {
		n, err := ParseName(d.Name)
		if err != nil {
			return nil, err
		}
		id, err := dpdk.PortByName(n.DPDK)
		if err != nil {
			return nil, fmt.Errorf("device %s (%s): %w", d.Name, d.Dir, err)
		}
		kif := kernelIface(n.DPDK, cfg.Vdevs)
		if kif != "" {
			if err := quietKernelIface(kif); err != nil {
				log.Warn().Err(err).Str("device", d.Name).Msg("the kernel may talk on the port's interface")
			}
		}
		if lag, ok := cfg.LagOf(d.Name); ok {
			members[lag.Name] = append(members[lag.Name], Member{Dev: d, Name: n, ID: id})
			continue
		}
		p := &Port{Dev: d, Name: n, ID: id, KernelIface: kif}
		if err := s.setup(log, p, l, false); err != nil {
			return nil, err
		}
		s.byName[d.Name] = p
		if n.DPDK != d.Name {
			s.byName[n.DPDK] = p
		}
	}
	for i := range cfg.Lags {
		lag := &cfg.Lags[i]
		p, err := s.openLag(log, lag, i, members[lag.Name], l)
		if err != nil {
			return nil, err
		}
		s.byName[lag.Name] = p
		for _, m := range p.Members {
			s.byName[m.Dev.Name] = p
			s.byName[m.Name.DPDK] = p
		}
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

// setup configures p's queues for the workers and adds it to the set.
func (s *Set) setup(log zerolog.Logger, p *Port, l Layout, txPoll bool) error {
	info, err := p.ID.Info()
	if err != nil {
		return err
	}
	p.MAC, p.MTU, p.Driver = info.MAC, info.MTU, info.Driver
	p.RxQueues = min(l.Workers, info.MaxRxQueues)
	p.TxQueues = l.Workers
	if info.MaxTxQueues < l.Workers {
		return fmt.Errorf("device %s: %d workers need %d tx queues, %s offers %d (net_pcap: give one tx_pcap per queue)",
			p.Dev.Name, l.Workers, l.Workers, info.Driver, info.MaxTxQueues)
	}
	if p.RxQueues == 0 {
		return fmt.Errorf("device %s: no rx queue", p.Dev.Name)
	}
	if err := p.ID.Setup(dpdk.PortConfig{
		RxQueues: p.RxQueues, TxQueues: p.TxQueues,
		RxDesc: l.RxDesc, TxDesc: l.TxDesc,
		RSS:         p.RxQueues > 1,
		Promiscuous: true, // routers receive frames for the MACs of the exception interfaces too
		Scatter:     true,
		TxPoll:      txPoll,
		Bond:        p.Lag != nil,
	}); err != nil {
		return fmt.Errorf("device %s: %w", p.Dev.Name, err)
	}
	s.Ports = append(s.Ports, p)
	log.Info().Str("device", p.Dev.Name).Stringer("dir", p.Dev.Dir).Uint16("port", uint16(p.ID)).
		Str("driver", info.Driver).Str("mac", info.MAC.String()).Int("mtu", info.MTU).
		Int("rxq", p.RxQueues).Int("txq", p.TxQueues).Msg("port ready")
	return nil
}

// openLag bonds a lag section's devices with DPDK's net_bonding: 802.3ad
// (LACP) or static balance, a flow's frames on the member its addresses
// and ports hash to. The bond is the port; its members are not.
func (s *Set) openLag(log zerolog.Logger, lag *conf.Lag, i int, members []Member, l Layout) (_ *Port, err error) {
	if len(members) < 2 {
		return nil, fmt.Errorf("lag %s: %d of its devices are ports, need 2", lag.Name, len(members))
	}
	mode := 4
	if lag.Mode == conf.LagBalance {
		mode = 2
	}
	args := fmt.Sprintf("mode=%d,xmit_policy=l34", mode)
	var names []string
	for _, m := range members {
		args += ",slave=" + m.Name.DPDK
		names = append(names, m.Dev.Name)
	}
	vdev := fmt.Sprintf("net_bonding_fibd%d", i)
	id, err := dpdk.CreateVdev(vdev, args)
	if err != nil {
		return nil, fmt.Errorf("lag %s: %w", lag.Name, err)
	}
	defer func() {
		if err != nil && !slices.ContainsFunc(s.Ports, func(p *Port) bool { return p.ID == id }) {
			dpdk.RemoveVdev(vdev)
		}
	}()
	p := &Port{Dev: conf.Device{Name: lag.Name, Dir: lag.Dir, Index: members[0].Dev.Index},
		Name: Name{DPDK: vdev}, ID: id, Lag: lag, Members: members, vdev: vdev}
	// The bond takes its first member's MAC now, not at start: the
	// exception interface is made with it before.
	first, err := members[0].ID.Info()
	if err == nil {
		err = id.SetMAC(first.MAC)
	}
	if err != nil {
		return nil, fmt.Errorf("lag %s: %w", lag.Name, err)
	}
	if err := s.setup(log, p, l, mode == 4); err != nil {
		return nil, fmt.Errorf("lag %s: %w", lag.Name, err)
	}
	log.Info().Str("lag", lag.Name).Str("mode", lag.Mode).Strs("members", names).Msg("lag bonded")
	return p, nil
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
		if p.vdev != "" {
			if err := dpdk.RemoveVdev(p.vdev); err != nil {
				errs = append(errs, err)
			}
		}
		for _, m := range p.Members { // net_pcap members flush their files here
			m.ID.Stop()
			if err := m.ID.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
