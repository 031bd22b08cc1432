package ports

// Device names as operators write them, and the EAL arguments that make
// those devices appear.

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind says how DPDK finds a device.
type Kind uint8

const (
	// KindPCI is a physical (or SR-IOV virtual) function on the PCI bus,
	// probed by a PMD such as ice or mlx5 when allowed with -a.
	KindPCI Kind = iota + 1
	// KindVdev is a virtual device created by a software PMD (net_pcap,
	// net_tap, ...) from a --vdev argument or rte_vdev_init.
	KindVdev
)

func (k Kind) String() string {
	switch k {
	case KindPCI:
		return "pci"
	case KindVdev:
		return "vdev"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Name is a port's device name, as written in the configuration and as
// DPDK knows it.
type Name struct {
	Config string // as written: "41-00.1", "0000:41:00.1", "net_pcap0"
	Kind   Kind
	DPDK   string // "0000:41:00.1" for PCI, the name itself for vdevs
	Driver string // vdevs only: the PMD, "net_pcap"
}

// String returns the name as the operator wrote it.
func (n Name) String() string { return n.Config }

// vdevDrivers are the software PMDs fibd knows (all present in Debian's
// DPDK 22.11). A vdev name is one of them followed by an instance number;
// ParseName accepts other net_ drivers too (KnownDriver tells them apart).
var vdevDrivers = []string{
	"net_af_packet",
	"net_af_xdp",
	"net_bonding",
	"net_memif",
	"net_null",
	"net_pcap",
	"net_ring",
	"net_tap",
	"net_vhost",
	"net_virtio_user",
}

// vdevNoArgs are the drivers that make a working device from the bare
// name (a null sink, an in-memory ring pair, a TAP named after the port).
var vdevNoArgs = map[string]bool{"net_null": true, "net_ring": true, "net_tap": true}

// maxDevNameLen is DPDK's RTE_DEV_NAME_MAX_LEN less the terminating NUL.
const maxDevNameLen = 63

const acceptedForms = `want a PCI address ("41-00.1", "0000-41-00.1", "41:00.1" or "0000:41:00.1") ` +
	`or a vdev name ("net_pcap0", "net_tap1", ...: a net_ driver and an instance number)`

// ParseName parses a device name as operators write it: a PCI address,
// with '-' or ':' between its fields and with or without the domain
// (bus 00-ff, device 00-1f, function 0-7, hexadecimal), or a vdev name
// (net_<driver><N>).
func ParseName(s string) (Name, error) {
	if strings.HasPrefix(s, "net_") {
		return parseVdev(s)
	}
	dpdk, err := parsePCI(s)
	if err != nil {
		return Name{}, fmt.Errorf("device name %q: %v; %s", s, err, acceptedForms)
	}
	return Name{Config: s, Kind: KindPCI, DPDK: dpdk}, nil
}

// parsePCI parses [DDDD{:|-}]BB{:|-}DD.F with one separator throughout
// and returns the canonical DPDK form DDDD:BB:DD.F (lower-case hex).
func parsePCI(s string) (string, error) {
	dot := strings.LastIndexByte(s, '.')
	if dot < 0 {
		return "", errors.New("no '.' before the PCI function")
	}
	head, fn := s[:dot], s[dot+1:]
	sep := ":"
	if strings.Contains(head, "-") {
		sep = "-"
	}
	fields := strings.Split(head, sep)
	domain := "0000"
	switch len(fields) {
	case 2:
	case 3:
		domain, fields = fields[0], fields[1:]
	default:
		return "", errors.New("want bus, device and function, optionally after a domain")
	}
	d, err := hexField(domain, 4, 0xffff, "domain")
	if err != nil {
		return "", err
	}
	bus, err := hexField(fields[0], 2, 0xff, "bus")
	if err != nil {
		return "", err
	}
	dev, err := hexField(fields[1], 2, 0x1f, "device")
	if err != nil {
		return "", err
	}
	f, err := hexField(fn, 1, 7, "function")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%04x:%02x:%02x.%x", d, bus, dev, f), nil
}

// hexField parses a fixed-width hexadecimal field no larger than max.
func hexField(s string, width int, max uint64, what string) (uint64, error) {
	if len(s) != width {
		return 0, fmt.Errorf("PCI %s %q: want %d hex digits", what, s, width)
	}
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("PCI %s %q is not hexadecimal", what, s)
	}
	if v > max {
		return 0, fmt.Errorf("PCI %s %q is out of range (max %x)", what, s, max)
	}
	return v, nil
}

// parseVdev checks a vdev name against DPDK's rule: a driver name, then
// an instance suffix. Here that is net_[a-z_]+ followed by digits. The
// driver is the longest known driver the name starts with (DPDK matches
// driver names as prefixes), else the name without its digits.
func parseVdev(s string) (Name, error) {
	bad := func(why string) (Name, error) {
		return Name{}, fmt.Errorf("device name %q: %s; %s", s, why, acceptedForms)
	}
	if len(s) > maxDevNameLen {
		return bad(fmt.Sprintf("longer than %d characters", maxDevNameLen))
	}
	digits := len(s)
	for digits > 0 && s[digits-1] >= '0' && s[digits-1] <= '9' {
		digits--
	}
	if digits == len(s) {
		return bad("no instance number at the end")
	}
	stem := s[:digits]
	if stem == "net_" {
		return bad("no driver after net_")
	}
	for i := len("net_"); i < len(stem); i++ {
		if c := stem[i]; (c < 'a' || c > 'z') && c != '_' {
			return bad(fmt.Sprintf("character %q in the driver name", c))
		}
	}
	driver, best := stem, 0
	for _, d := range vdevDrivers {
		if len(d) > best && strings.HasPrefix(stem, d) {
			driver, best = d, len(d)
		}
	}
	return Name{Config: s, Kind: KindVdev, DPDK: s, Driver: driver}, nil
}

// KnownDriver reports whether driver is a vdev PMD fibd knows: net_pcap,
// net_ring, net_af_packet, net_af_xdp, net_tap, net_null, net_memif,
// net_bonding, net_vhost or net_virtio_user.
func KnownDriver(driver string) bool {
	return slices.Contains(vdevDrivers, driver)
}

// EALDeviceArgs returns the EAL arguments that make exactly the given
// devices appear: "-a <pci>" for each PCI device ("--no-pci" when there is
// none, so that EAL probes no other NIC), and "--vdev <spec>" for each
// vdev. vdevs holds the vdev specifications ("net_pcap0,rx_pcap=in.pcap,
// tx_pcap=out.pcap": the device name, then the driver's arguments after
// commas); a vdev without one is an error unless its driver works from the
// bare name (net_null, net_ring, net_tap). Specifications of devices not
// in names are checked but left out; a device named twice appears once.
func EALDeviceArgs(names []Name, vdevs []string) ([]string, error) {
	specs := make(map[string]string, len(vdevs))
	var errs []error
	for _, spec := range vdevs {
		dev, _, _ := strings.Cut(spec, ",")
		n, err := ParseName(dev)
		if err == nil && n.Kind != KindVdev {
			err = fmt.Errorf("%q is not a vdev name", dev)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("vdev spec %q: %w", spec, err))
			continue
		}
		if _, dup := specs[dev]; dup {
			errs = append(errs, fmt.Errorf("vdev spec %q: a second spec for %s", spec, dev))
			continue
		}
		specs[dev] = spec
	}

	var pci, vdev []string
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n.DPDK] {
			continue
		}
		seen[n.DPDK] = true
		switch n.Kind {
		case KindPCI:
			pci = append(pci, "-a", n.DPDK)
		case KindVdev:
			spec, ok := specs[n.DPDK]
			if !ok {
				if !vdevNoArgs[n.Driver] {
					errs = append(errs, fmt.Errorf("device %s: no vdev spec for it (%s needs arguments, e.g. %s,...)", n.Config, n.Driver, n.DPDK))
					continue
				}
				spec = n.DPDK
			}
			vdev = append(vdev, "--vdev", spec)
		default:
			errs = append(errs, fmt.Errorf("device %q: not parsed by ParseName", n.Config))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(pci) == 0 {
		pci = []string{"--no-pci"}
	}
	return append(pci, vdev...), nil
}
