package ports

import (
	"fmt"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	dpdk "fibd/cgo"
)

// Link is the port's link state. A port over a kernel interface (af_packet,
// af_xdp) takes it from the interface: those PMDs report "up" for good once
// started, whatever happens to the link below them.
func (p *Port) Link() (dpdk.Link, error) {
	l, err := p.ID.Link()
	if err != nil || p.KernelIface == "" {
		return l, err
	}
	k, err := netlink.LinkByName(p.KernelIface)
	if err != nil {
		return dpdk.Link{}, err
	}
	l.Up = k.Attrs().RawFlags&unix.IFF_RUNNING != 0
	return l, nil
}

// kernelIface is the interface a vdev of driver af_packet or af_xdp sits
// on (its iface= argument), or "".
func kernelIface(dpdkName string, vdevs []string) string {
	if !strings.HasPrefix(dpdkName, "net_af_packet") && !strings.HasPrefix(dpdkName, "net_af_xdp") {
		return ""
	}
	for _, spec := range vdevs {
		parts := strings.Split(spec, ",")
		if parts[0] != dpdkName {
			continue
		}
		for _, kv := range parts[1:] {
			if v, ok := strings.CutPrefix(kv, "iface="); ok {
				return v
			}
		}
	}
	return ""
}

// quietKernelIface stops the kernel from talking on the interface under an
// af_packet/af_xdp port: such a port also receives what the kernel itself
// sends there (its IPv6 DAD and router solicitations, ARP), which would
// reach the routing daemon as if a neighbour had sent them.
func quietKernelIface(name string) error {
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0); err != nil {
		return fmt.Errorf("%s: disable IPv6: %w", name, err)
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := netlink.LinkSetARPOff(l); err != nil {
		return fmt.Errorf("%s: arp off: %w", name, err)
	}
	return nil
}
