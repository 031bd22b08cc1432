package router

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/ports/pcap"
)

// LinkTypeNetlink is pcap's link type for netlink messages (nlmon).
const LinkTypeNetlink = 253

// rtnlGroups are the rtnetlink groups fibd follows.
var rtnlGroups = []int{
	unix.RTNLGRP_LINK, unix.RTNLGRP_NEIGH,
	unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
	unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE,
	unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE,
}

// RecordRtnl writes every rtnetlink notification of netns name (the
// messages fibd mirrors) to pcap files rtnl_<unix seconds>.pcap under dir,
// a new file every rotate, until ctx ends (router_rtnl_pcap). The files
// open in tcpdump and Wireshark (LINKTYPE_NETLINK).
func RecordRtnl(ctx context.Context, log zerolog.Logger, name, dir string, rotate time.Duration) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("router_rtnl_pcap: netns %s: %w", name, err)
	}
	fd, err := socketIn(ns)
	ns.Close()
	if err != nil {
		return fmt.Errorf("router_rtnl_pcap: %w", err)
	}
	defer unix.Close(fd)
	for _, g := range rtnlGroups {
		if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, g); err != nil {
			return fmt.Errorf("router_rtnl_pcap: join group %d: %w", g, err)
		}
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	// wake up now and then to see ctx end
	tv := unix.Timeval{Usec: 200000}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("router_rtnl_pcap: %w", err)
	}

	var f *os.File
	var w *pcap.Writer
	var since time.Time
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	buf := make([]byte, 1<<20)
	for ctx.Err() == nil {
		if now := time.Now(); f == nil || now.Sub(since) >= rotate {
			if f != nil {
				f.Close()
			}
			path := filepath.Join(dir, fmt.Sprintf("rtnl_%d.pcap", now.Unix()))
			if f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); err != nil {
				return fmt.Errorf("router_rtnl_pcap: %w", err)
			}
			if w, err = pcap.NewWriter(f, LinkTypeNetlink); err != nil {
				return fmt.Errorf("router_rtnl_pcap: %s: %w", path, err)
			}
			since = now
			log.Info().Str("file", path).Msg("recording rtnetlink")
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS): // the recording lost some: say so, go on
			log.Warn().Msg("router_rtnl_pcap: notifications lost (ENOBUFS)")
			continue
		case err != nil:
			return fmt.Errorf("router_rtnl_pcap: %w", err)
		}
		ts := time.Now()
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			if err := w.WritePacket(ts, b[:l]); err != nil {
				return fmt.Errorf("router_rtnl_pcap: %w", err)
			}
			b = b[min(nlmAlign(l), len(b)):]
		}
	}
	return nil
}
