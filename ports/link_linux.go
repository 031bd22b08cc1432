package ports

import (
	"fmt"
	"os"
	"strconv"
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

// RaiseAFPacketSendBuffers gives every AF_PACKET socket of the process
// (those of the af_packet PMD: data ports and exception interfaces) a
// large send buffer. DPDK 22.11's af_packet transmits by a kick (sendto)
// that the kernel refuses with EAGAIN when the socket's send buffer is
// full; the frames stay in the ring, and once the ring is full the PMD's
// tx waits in poll(-1) for a slot that only another kick would free: the
// worker hangs. With room for a whole ring in flight, the kick is not
// refused. It returns how many sockets it changed.
func RaiseAFPacketSendBuffers(bytes int) (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil || dom != unix.AF_PACKET {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bytes); err != nil {
			return n, fmt.Errorf("af_packet socket %d: send buffer: %w", fd, err)
		}
		n++
	}
	return n, nil
}
