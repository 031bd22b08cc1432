// Package rtnl holds fibd's rtnetlink plumbing shared by the netlink
// mirror (router/kernel), the recorder (router/rtnlpcap) and the
// announcements (router/announce): a socket inside a namespace, the one
// way fibd subscribes to notification groups, message alignment, and the
// route protocol of fibd's own routes.
package rtnl

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ProtoFibd is the rtm_protocol of the routes fibd installs in
// router_netns to announce subscribers and NAT pools. The mirror skips
// them (they are announcements, not forwarding state); the routing daemon
// learns them (BIRD 2: a kernel protocol with `learn` and `import where
// krt_source = 252`, one per direction's table; see README).
const ProtoFibd = 252

// Align rounds a netlink message or attribute length up to 4 bytes.
func Align(n int) int { return (n + 3) &^ 3 }

// WakeEvery is how often a subscription's reader returns from a receive
// with nothing (EAGAIN), to see whether it is to stop.
const WakeEvery = 200 * time.Millisecond

// Subscribe opens a rtnetlink socket inside ns that receives the
// notifications of groups (RTNLGRP_*). rcvBuf > 0 forces the receive
// buffer to that many bytes (SO_RCVBUFFORCE, else SO_RCVBUF as far as
// the limits allow): a burst the reader has not drained yet must fit, or
// the kernel drops messages (ENOBUFS). Receives time out after WakeEvery.
// The caller closes the socket.
func Subscribe(ns netns.NsHandle, groups []int, rcvBuf int) (int, error) {
	fd, err := SocketIn(ns)
	if err != nil {
		return -1, err
	}
	if rcvBuf > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
		}
	}
	for _, g := range groups {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("join group %d: %w", g, err)
		}
	}
	tv := unix.NsecToTimeval(int64(WakeEvery))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// SocketIn opens a rtnetlink socket inside ns (a socket stays in the
// namespace it was created in).
func SocketIn(ns netns.NsHandle) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return -1, err
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		return -1, fmt.Errorf("enter netns: %w", err)
	}
	fd, serr := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err := netns.Set(orig); err != nil {
		// This thread is in the wrong namespace now: never reuse it.
		runtime.LockOSThread()
		if serr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("leave netns: %w", err)
	}
	if serr != nil {
		return -1, fmt.Errorf("netlink socket: %w", serr)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// Prefix is a route destination or rule selector in netip terms (nil:
// the family's default route), masked; ok is false for a malformed one.
func Prefix(n *net.IPNet, v6 bool) (netip.Prefix, bool) {
	if n == nil {
		if v6 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones).Masked(), true
}
