// Package rtnlpcap records fibd's rtnetlink exchange with the kernel to
// pcap files (router_rtnl_pcap): the notifications of the router netns,
// fibd's own requests and the kernel's answers.
package rtnlpcap

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"fibd/ports/pcap"
	"fibd/router/rtnl"
)

// LinkTypeNetlink is pcap's link type for netlink messages (nlmon). Each
// record is a 16-byte Linux cooked (SLL) header, then one netlink message.
const LinkTypeNetlink = 253

// Who sent a recorded message, in the cooked header's packet type, as the
// kernel's nlmon taps say it (linux/if_packet.h). Wireshark and tshark
// show it as the direction of the message.
const (
	ToUser   = 6 // PACKET_USER: the kernel's answers and notifications to fibd
	ToKernel = 7 // PACKET_KERNEL: fibd's requests
)

// arphrdNetlink is the cooked header's hardware type of netlink (nlmon).
const arphrdNetlink = 824

// rtnlGroups are the rtnetlink groups fibd follows.
var rtnlGroups = []int{
	unix.RTNLGRP_LINK, unix.RTNLGRP_NEIGH,
	unix.RTNLGRP_IPV4_IFADDR, unix.RTNLGRP_IPV6_IFADDR,
	unix.RTNLGRP_IPV4_ROUTE, unix.RTNLGRP_IPV6_ROUTE,
	unix.RTNLGRP_IPV4_RULE, unix.RTNLGRP_IPV6_RULE,
}

// rtnlRecorder writes netlink messages to the current router_rtnl_pcap
// file: the notifications Record reads, and fibd's own exchange with
// the kernel (the route dumps' requests and replies) that Netlink
// hands it.
//
// Concurrency: any goroutine may call record; mu serialises the writes and
// the file's rotation. The recorder in use is published in rtnlRec, nil
// while router_rtnl_pcap is off: a socket reader then pays one atomic load
// per receive buffer, and nothing per message.
type rtnlRecorder struct {
	mu  sync.Mutex
	bw  *bufio.Writer
	w   *pcap.Writer
	rec []byte // cooked header + one message
	err error  // the first write error; the recording stops on it
}

var rtnlRec atomic.Pointer[rtnlRecorder]

// Netlink records the netlink messages in b (a request fibd sends,
// or a buffer it received), towards dir (ToUser, ToKernel), while
// router_rtnl_pcap records.
func Netlink(dir uint16, b []byte) {
	if r := rtnlRec.Load(); r != nil {
		r.record(dir, time.Now(), b)
	}
}

// record writes each message of b as one record.
func (r *rtnlRecorder) record(dir uint16, ts time.Time, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil || r.err != nil {
		return
	}
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return
		}
		// struct sll_header: pkttype, hatype, addr len, addr[8], protocol (big endian)
		var h [16]byte
		binary.BigEndian.PutUint16(h[0:], dir)
		binary.BigEndian.PutUint16(h[2:], arphrdNetlink)
		binary.BigEndian.PutUint16(h[14:], unix.NETLINK_ROUTE)
		r.rec = append(append(r.rec[:0], h[:]...), b[:l]...)
		if err := r.w.WritePacket(ts, r.rec); err != nil {
			r.err = err
			return
		}
		b = b[min(rtnl.Align(l), len(b)):]
	}
}

// open starts a new file at path; the previous one, if any, is flushed
// and closed.
func (r *rtnlRecorder) open(path string, f **os.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeLocked(*f)
	nf, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(nf, 256<<10)
	w, err := pcap.NewWriter(bw, LinkTypeNetlink)
	if err != nil {
		nf.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	*f, r.bw, r.w = nf, bw, w
	return nil
}

// flush writes out what is buffered and returns the first write error.
func (r *rtnlRecorder) flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bw != nil && r.err == nil {
		r.err = r.bw.Flush()
	}
	return r.err
}

func (r *rtnlRecorder) closeLocked(f *os.File) {
	if r.bw != nil && r.err == nil {
		r.err = r.bw.Flush()
	}
	if f != nil {
		f.Close()
	}
	r.bw, r.w = nil, nil
}

// Record writes the data exchange of fibd with the kernel in netns
// name to pcap files rtnl_<unix seconds>.pcap under dir, a new file every
// rotate, until ctx ends (router_rtnl_pcap): every rtnetlink notification
// of the netns (the messages fibd mirrors), and fibd's route dump
// requests and their replies. The files open in tcpdump, tshark and
// Wireshark (LINKTYPE_NETLINK, with the direction in the cooked header:
// ToKernel, ToUser). fibd runs one recording at a time (router_rtnl_pcap).
func Record(ctx context.Context, log zerolog.Logger, name, dir string, rotate time.Duration) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("router_rtnl_pcap: netns %s: %w", name, err)
	}
	// a large buffer: a burst that outruns the file loses messages
	fd, err := rtnl.Subscribe(ns, rtnlGroups, 8<<20)
	ns.Close()
	if err != nil {
		return fmt.Errorf("router_rtnl_pcap: %w", err)
	}
	defer unix.Close(fd)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("router_rtnl_pcap: %w", err)
	}

	// A recording stopped by a reload may still be ending: this one takes
	// over fibd's requests at once, and the old one leaves it in place.
	rec := &rtnlRecorder{}
	rtnlRec.Store(rec)
	var f *os.File
	defer func() {
		rtnlRec.CompareAndSwap(rec, nil)
		rec.mu.Lock()
		rec.closeLocked(f)
		rec.mu.Unlock()
	}()
	var since time.Time
	buf := make([]byte, 1<<20)
	for ctx.Err() == nil {
		if now := time.Now(); f == nil || now.Sub(since) >= rotate {
			path := filepath.Join(dir, fmt.Sprintf("rtnl_%d.pcap", now.Unix()))
			if err := rec.open(path, &f); err != nil {
				return fmt.Errorf("router_rtnl_pcap: %w", err)
			}
			since = now
			log.Info().Str("file", path).Msg("recording rtnetlink")
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			if err := rec.flush(); err != nil {
				return fmt.Errorf("router_rtnl_pcap: %w", err)
			}
			continue
		case errors.Is(err, unix.ENOBUFS): // the recording lost some: say so, go on
			log.Warn().Msg("router_rtnl_pcap: notifications lost (ENOBUFS)")
			continue
		case err != nil:
			return fmt.Errorf("router_rtnl_pcap: %w", err)
		}
		rec.record(ToUser, time.Now(), buf[:n])
		if err := rec.flush(); err != nil {
			return fmt.Errorf("router_rtnl_pcap: %w", err)
		}
	}
	return nil
}

// The requests fibd sends through the netlink library (neighbour
// resolution, announcements) go out on the library's sockets, which the
// recorder cannot reach: while router_rtnl_pcap records, they are recorded
// as the library encodes them (the same message type, flags, header and
// attributes; sequence number and port id 0), followed by the kernel's
// answer as an NLMSG_ERROR (error 0: done).

// request records request m (its length is set here) and the
// kernel's answer err.
func request(m []byte, err error) {
	binary.NativeEndian.PutUint32(m[0:], uint32(len(m)))
	Netlink(ToKernel, m)
	var ack [unix.NLMSG_HDRLEN + 4 + unix.NLMSG_HDRLEN]byte // nlmsgerr: error, the request's header
	binary.NativeEndian.PutUint32(ack[0:], uint32(len(ack)))
	binary.NativeEndian.PutUint16(ack[4:], unix.NLMSG_ERROR)
	var errno unix.Errno
	if err != nil && !errors.As(err, &errno) {
		errno = unix.EIO // not the kernel's answer: the request did not get through
	}
	binary.NativeEndian.PutUint32(ack[16:], uint32(-int32(errno)))
	copy(ack[20:], m[:unix.NLMSG_HDRLEN])
	Netlink(ToUser, ack[:])
}

// nlmsg starts a request of type typ with flags and a fixed header of n
// bytes.
func nlmsg(typ, flags uint16, n int) []byte {
	m := make([]byte, unix.NLMSG_HDRLEN+n, 128)
	binary.NativeEndian.PutUint16(m[4:], typ)
	binary.NativeEndian.PutUint16(m[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	return m
}

// rta appends an attribute.
func rta(m []byte, typ uint16, v []byte) []byte {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:], uint16(4+len(v)))
	binary.NativeEndian.PutUint16(h[2:], typ)
	m = append(append(m, h[:]...), v...)
	return append(m, make([]byte, rtnl.Align(len(m))-len(m))...)
}

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// NeighUse records ResolveNeigh's request, RTM_NEWNEIGH with
// NTF_USE, and the kernel's answer.
func NeighUse(ifindex int, addr netip.Addr, err error) {
	if rtnlRec.Load() == nil {
		return
	}
	// struct ndmsg: family, pad[3], ifindex, state (u16), flags, type
	m := nlmsg(unix.RTM_NEWNEIGH, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, 12)
	m[16] = unix.AF_INET
	if addr.Is6() {
		m[16] = unix.AF_INET6
	}
	binary.NativeEndian.PutUint32(m[20:], uint32(ifindex))
	binary.NativeEndian.PutUint16(m[24:], unix.NUD_NONE)
	m[26] = unix.NTF_USE
	request(rta(m, unix.NDA_DST, addr.AsSlice()), err)
}

// RouteRequest records an announcement's route request (typ
// RTM_NEWROUTE with flags for a replace, RTM_DELROUTE) and the kernel's
// answer.
func RouteRequest(typ, flags uint16, r *netlink.Route, err error) {
	if rtnlRec.Load() == nil || r.Dst == nil {
		return
	}
	// struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32)
	m := nlmsg(typ, flags, 12)
	ones, bits := r.Dst.Mask.Size()
	m[16], m[17] = unix.AF_INET, byte(ones)
	dst := r.Dst.IP.To4()
	if bits == 128 {
		m[16], dst = unix.AF_INET6, r.Dst.IP.To16()
	}
	m[20], m[21], m[22], m[23] = unix.RT_TABLE_UNSPEC, byte(r.Protocol), byte(r.Scope), unix.RTN_UNICAST
	m = rta(m, unix.RTA_DST, dst)
	if r.Table >= 256 {
		m = rta(m, unix.RTA_TABLE, u32(uint32(r.Table)))
	} else {
		m[20] = byte(r.Table)
	}
	if r.Priority > 0 {
		m = rta(m, unix.RTA_PRIORITY, u32(uint32(r.Priority)))
	}
	if r.LinkIndex > 0 {
		m = rta(m, unix.RTA_OIF, u32(uint32(r.LinkIndex)))
	}
	request(m, err)
}
