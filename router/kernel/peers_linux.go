package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// peerPorts are the TCP ports of the routing daemon's sessions: BGP, LDP.
var peerPorts = []uint16{179, 646}

// Peers finds the routing daemon's session peers in router_netns: the
// remote addresses of its TCP sockets on a protocol port that are
// established or being opened by the daemon (SYN_SENT). Half-open sockets
// (SYN_RECV) are not peers: anyone can make one. The fast path protects
// the punts of these peers (multihop BGP from a loopback address, LDP's
// transport addresses) like those of on-link sources.
//
// Not safe for concurrent use: one goroutine calls List.
type Peers struct {
	Netns string // "" = the current namespace
	h     *netlink.Handle
}

// List returns the peers, sorted. An error closes the handle; the next
// call opens it again (the netns may come back).
func (p *Peers) List() ([]netip.Addr, error) {
	if p.h == nil {
		ns, err := netns.Get()
		if p.Netns != "" {
			ns, err = netns.GetFromName(p.Netns)
		}
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil, fmt.Errorf("%w: %s", ErrNoNetns, p.Netns)
			}
			return nil, fmt.Errorf("netns %s: %w", p.Netns, err)
		}
		// the handle needs its own sock_diag socket in the netns: without
		// it, the library opens one in the current netns
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_INET_DIAG)
		ns.Close()
		if err != nil {
			return nil, fmt.Errorf("netlink in netns %s: %w", p.Netns, err)
		}
		p.h = h
	}
	var out []netip.Addr
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		socks, err := p.h.SocketDiagTCP(fam)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("sockets in netns %s: %w", p.Netns, err)
		}
		for _, s := range socks {
			if s.State != netlink.TCP_ESTABLISHED && s.State != netlink.TCP_SYN_SENT {
				continue
			}
			if !slices.Contains(peerPorts, s.ID.SourcePort) && !slices.Contains(peerPorts, s.ID.DestinationPort) {
				continue
			}
			a, ok := netip.AddrFromSlice(s.ID.Destination)
			if !ok {
				continue
			}
			if a = a.Unmap(); a.IsValid() && !a.IsUnspecified() && !a.IsLoopback() {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out), nil
}

// Close releases the netlink handle.
func (p *Peers) Close() {
	if p.h != nil {
		p.h.Close()
		p.h = nil
	}
}
