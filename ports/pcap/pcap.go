// Package pcap reads and writes classic libpcap capture files (not
// pcapng), the format of DPDK's net_pcap PMD, tcpdump -w and scapy's
// wrpcap, and builds and parses the test packets that labs and golden
// tests put in them.
//
// A file is a 24-byte global header followed by records, each a 16-byte
// header (seconds, sub-second part, captured length, original length) and
// the captured bytes. The magic number tells the byte order (whichever the
// writer's machine used) and the sub-second unit: 0xa1b2c3d4 for
// microseconds, 0xa1b23c4d for nanoseconds. Reader accepts all four
// combinations; Writer writes microseconds, little-endian.
package pcap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Link types (the global header's network field) used by fibd.
const (
	LinkTypeEthernet = 1   // DLT_EN10MB
	LinkTypeRaw      = 101 // raw IPv4/IPv6, no link header
)

// DefaultSnapLen is the snapshot length NewWriter writes: every frame up
// to 64 KiB is kept whole.
const DefaultSnapLen = 65535

const (
	magicMicro = 0xa1b2c3d4
	magicNano  = 0xa1b23c4d
	magicNG    = 0x0a0d0d0a // pcapng section header block, for a clear error

	fileHeaderLen   = 24
	recordHeaderLen = 16

	// maxRecordLen bounds a record's captured length when the snapshot
	// length does not (some writers put 0 there): far above any frame,
	// far below what a garbage length would make us allocate.
	maxRecordLen = 256 << 10
)

// ErrTruncated is wrapped by the errors for a file that ends inside a
// record (a capture that was cut off, or a file still being written).
var ErrTruncated = errors.New("pcap: truncated record")

// header is a parsed global header.
type header struct {
	order    binary.ByteOrder
	nano     bool
	snapLen  uint32
	linkType uint32
}

func parseHeader(b []byte) (header, error) {
	var h header
	switch magic := binary.LittleEndian.Uint32(b); magic {
	case magicMicro:
		h.order = binary.LittleEndian
	case magicNano:
		h.order, h.nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		h.order = binary.BigEndian
	case 0x4d3cb2a1:
		h.order, h.nano = binary.BigEndian, true
	case magicNG:
		return h, errors.New("pcap: file is pcapng, not classic pcap (convert with editcap -F pcap)")
	default:
		return h, fmt.Errorf("pcap: bad magic number %#08x: not a pcap file", magic)
	}
	if major := h.order.Uint16(b[4:]); major != 2 {
		return h, fmt.Errorf("pcap: unsupported format version %d.%d", major, h.order.Uint16(b[6:]))
	}
	h.snapLen = h.order.Uint32(b[16:])
	// The upper bits of the field carry FCS information in some files;
	// the link type proper is the low 28 bits.
	h.linkType = h.order.Uint32(b[20:]) & 0x0fffffff
	return h, nil
}

// maxCaptured is the largest captured length a record may claim.
func (h *header) maxCaptured() uint32 {
	return max(h.snapLen, maxRecordLen)
}

// Reader reads packets from a pcap file.
type Reader struct {
	r      *bufio.Reader
	h      header
	hdr    [recordHeaderLen]byte
	n      int   // records read
	offset int64 // of the next record
}

// NewReader reads the global header from r and returns a Reader for the
// records that follow.
func NewReader(r io.Reader) (*Reader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	var b [fileHeaderLen]byte
	if _, err := io.ReadFull(br, b[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("pcap: file shorter than the 24-byte header")
		}
		return nil, err
	}
	h, err := parseHeader(b[:])
	if err != nil {
		return nil, err
	}
	return &Reader{r: br, h: h, offset: fileHeaderLen}, nil
}

// LinkType returns the link type of the file (LinkTypeEthernet, ...).
func (r *Reader) LinkType() uint32 { return r.h.linkType }

// SnapLen returns the snapshot length of the file.
func (r *Reader) SnapLen() uint32 { return r.h.snapLen }

// Nanosecond reports whether the file's timestamps have nanosecond
// resolution.
func (r *Reader) Nanosecond() bool { return r.h.nano }

// Next returns the next packet: its timestamp, the captured bytes (a new
// slice the caller owns) and its original length on the wire (more than
// len(data) if the capture cut it). It returns io.EOF after the last
// packet, and an error wrapping ErrTruncated if the file ends inside a
// record.
func (r *Reader) Next() (ts time.Time, data []byte, origLen int, err error) {
	n, err := io.ReadFull(r.r, r.hdr[:])
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return ts, nil, 0, io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return ts, nil, 0, fmt.Errorf("%w: record %d at offset %d: header has %d of %d bytes", ErrTruncated, r.n+1, r.offset, n, recordHeaderLen)
		}
		return ts, nil, 0, err
	}
	o := r.h.order
	sec, frac := o.Uint32(r.hdr[0:]), o.Uint32(r.hdr[4:])
	capLen, wireLen := o.Uint32(r.hdr[8:]), o.Uint32(r.hdr[12:])
	if capLen > r.h.maxCaptured() {
		return ts, nil, 0, fmt.Errorf("pcap: record %d at offset %d: captured length %d exceeds the snapshot length %d: corrupt file", r.n+1, r.offset, capLen, r.h.snapLen)
	}
	data = make([]byte, capLen)
	if n, err := io.ReadFull(r.r, data); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ts, nil, 0, fmt.Errorf("%w: record %d at offset %d: %d of %d bytes of data", ErrTruncated, r.n+1, r.offset, n, capLen)
		}
		return ts, nil, 0, err
	}
	r.n++
	r.offset += recordHeaderLen + int64(capLen)
	nsec := int64(frac)
	if !r.h.nano {
		nsec *= 1000
	}
	return time.Unix(int64(sec), nsec), data, int(wireLen), nil
}

// ReadFrames returns the data of every packet of a pcap file, in order.
func ReadFrames(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out [][]byte
	for {
		_, data, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, bytes.Clone(data))
	}
}

// CountPackets returns the number of packets in a pcap file without
// reading their data: it reads record headers in large blocks and jumps
// over captured bytes, so big packets are never read at all. A file that
// ends inside a record is an error wrapping ErrTruncated.
func CountPackets(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	buf := make([]byte, 256<<10)
	if _, err := f.ReadAt(buf[:fileHeaderLen], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("pcap: %s: file shorter than the 24-byte header", path)
		}
		return 0, err
	}
	h, err := parseHeader(buf)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}

	// buf holds the file from bufStart to bufStart+bufLen; a record header
	// outside it triggers a read at the header's offset (a seek past the
	// data of the previous records).
	var (
		count            int
		off              = int64(fileHeaderLen)
		bufStart, bufLen int64
	)
	for off < size {
		if off+recordHeaderLen > size {
			return count, fmt.Errorf("%w: %s: record %d at offset %d: header has %d of %d bytes", ErrTruncated, path, count+1, off, size-off, recordHeaderLen)
		}
		if off < bufStart || off+recordHeaderLen > bufStart+bufLen {
			n, err := f.ReadAt(buf, off)
			if err != nil && !errors.Is(err, io.EOF) {
				return count, err
			}
			bufStart, bufLen = off, int64(n)
			if bufLen < recordHeaderLen {
				return count, fmt.Errorf("pcap: %s: file shrank while counting", path)
			}
		}
		capLen := h.order.Uint32(buf[off-bufStart+8:])
		if capLen > h.maxCaptured() {
			return count, fmt.Errorf("pcap: %s: record %d at offset %d: captured length %d exceeds the snapshot length %d: corrupt file", path, count+1, off, capLen, h.snapLen)
		}
		next := off + recordHeaderLen + int64(capLen)
		if next > size {
			return count, fmt.Errorf("%w: %s: record %d at offset %d: %d of %d bytes of data", ErrTruncated, path, count+1, off, size-off-recordHeaderLen, capLen)
		}
		count++
		off = next
	}
	return count, nil
}

// Writer writes packets to a pcap file: microsecond timestamps,
// little-endian. It does no buffering of its own beyond one record (each
// packet is one Write call); wrap a file in a bufio.Writer for speed, and
// flush it at the end.
type Writer struct {
	w       io.Writer
	snapLen uint32
	buf     []byte
}

// NewWriter writes a pcap global header for the given link type (usually
// LinkTypeEthernet) with DefaultSnapLen to w and returns a Writer.
func NewWriter(w io.Writer, linkType uint32) (*Writer, error) {
	return NewWriterSnapLen(w, linkType, DefaultSnapLen)
}

// NewWriterSnapLen is NewWriter with a chosen snapshot length: longer
// packets are cut to it (their original length is kept).
func NewWriterSnapLen(w io.Writer, linkType, snapLen uint32) (*Writer, error) {
	if snapLen == 0 {
		return nil, errors.New("pcap: snapshot length 0")
	}
	b := make([]byte, fileHeaderLen, 2048)
	le := binary.LittleEndian
	le.PutUint32(b[0:], magicMicro)
	le.PutUint16(b[4:], 2) // version 2.4
	le.PutUint16(b[6:], 4)
	// b[8:16]: time zone offset and timestamp accuracy, always zero.
	le.PutUint32(b[16:], snapLen)
	le.PutUint32(b[20:], linkType)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	return &Writer{w: w, snapLen: snapLen, buf: b[:0]}, nil
}

// WritePacket writes one packet captured at ts. Timestamps must fall in
// the format's range, 1970 to 2106.
func (w *Writer) WritePacket(ts time.Time, data []byte) error {
	sec := ts.Unix()
	if sec < 0 || sec > 0xffffffff {
		return fmt.Errorf("pcap: timestamp %v outside the pcap range (1970..2106)", ts)
	}
	capLen := min(len(data), int(w.snapLen))
	b := w.buf[:recordHeaderLen]
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(sec))
	le.PutUint32(b[4:], uint32(ts.Nanosecond()/1000))
	le.PutUint32(b[8:], uint32(capLen))
	le.PutUint32(b[12:], uint32(len(data)))
	b = append(b, data[:capLen]...)
	w.buf = b[:0]
	_, err := w.w.Write(b)
	return err
}

// InfiniteRxPackets returns how many packets the DPDK vdev spec (as given
// to --vdev, "net_pcapN,key=value,...") keeps in mbufs for as long as it
// runs, when queues rx queues are set up on it: a net_pcap vdev with
// infinite_rx reads every packet of the rx_pcap file of each queue into
// mbufs of the port's pool at setup, and replays them from there (queue i
// reads the i-th rx_pcap). Any other vdev keeps none. DPDK 22.11's
// net_pcap fails that setup when the pool is short, and then crashes when
// the port is closed, so the pool must be sized for these packets first.
//
// The arguments are read as net_pcap reads them: infinite_rx is on when
// given once with a value above 0, and iface= takes the place of rx_pcap.
// A capture cut off inside a record counts up to its last whole packet,
// as far as net_pcap reads it.
func InfiniteRxPackets(spec string, queues int) (int, error) {
	parts := strings.Split(spec, ",")
	if !strings.HasPrefix(parts[0], "net_pcap") {
		return 0, nil
	}
	var files []string
	nInfinite, on, iface := 0, false, false
	for _, kv := range parts[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "rx_pcap":
			files = append(files, v)
		case "iface":
			iface = true
		case "infinite_rx":
			nInfinite++
			on = leadingInt(v) > 0
		}
	}
	if iface || nInfinite != 1 || !on {
		return 0, nil
	}
	total := 0
	for _, f := range files[:min(queues, len(files))] {
		n, err := CountPackets(f)
		if err != nil && !errors.Is(err, ErrTruncated) {
			return 0, fmt.Errorf("%s: rx_pcap: %w", parts[0], err)
		}
		total += n
	}
	return total, nil
}

// leadingInt is C's atoi: the optionally signed decimal number at the
// start of s, 0 when there is none.
func leadingInt(s string) int {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1<<30; i++ {
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}
