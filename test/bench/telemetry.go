package main

// A minimal client of DPDK's telemetry socket (protocol v2): a unix
// SOCK_SEQPACKET socket at <runtime dir>/<file-prefix>/dpdk_telemetry.v2.
// On connect the server sends one JSON greeting
//
//	{"version": "DPDK 22.11.x", "pid": 1234, "max_output_len": 16384}
//
// and then answers each command message ("/ethdev/stats,1") with one JSON
// message keyed by the command ({"/ethdev/stats": {...}}). Every message is
// one datagram, so one read returns one whole reply.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// telemetryIOTimeout bounds one command round trip.
const telemetryIOTimeout = 3 * time.Second

// Telemetry is a connection to one DPDK process's telemetry socket. Its
// methods may be called from several goroutines; calls are serialised.
type Telemetry struct {
	mu     sync.Mutex
	conn   *net.UnixConn
	buf    []byte
	Path   string // socket path
	PID    int    // pid reported in the greeting
	Server string // version string reported in the greeting
}

// telemetryRuntimeDir is the directory EAL keeps per-prefix runtime files in:
// /var/run/dpdk for root, $XDG_RUNTIME_DIR/dpdk (or /tmp/dpdk) otherwise.
func telemetryRuntimeDir() string {
	if os.Geteuid() == 0 {
		return "/var/run/dpdk"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "dpdk")
	}
	return "/tmp/dpdk"
}

// telemetrySocketPath is the v2 telemetry socket of the EAL instance
// started with --file-prefix filePrefix.
func telemetrySocketPath(filePrefix string) string {
	return filepath.Join(telemetryRuntimeDir(), filePrefix, "dpdk_telemetry.v2")
}

// DialTelemetry connects to the telemetry socket of the DPDK process
// started with --file-prefix filePrefix. It retries until the socket exists
// and answers with its greeting, for up to timeout.
func DialTelemetry(filePrefix string, timeout time.Duration) (*Telemetry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return dialTelemetryCtx(ctx, filePrefix)
}

func dialTelemetryCtx(ctx context.Context, filePrefix string) (*Telemetry, error) {
	path := telemetrySocketPath(filePrefix)
	var lastErr error
	for {
		t, err := dialTelemetryOnce(path)
		if err == nil {
			return t, nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("telemetry %s: %w (last error: %v)", path, ctx.Err(), lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func dialTelemetryOnce(path string) (*Telemetry, error) {
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	t := &Telemetry{conn: conn, buf: make([]byte, 1<<16), Path: path}
	msg, err := t.read()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	var hello struct {
		Version      string `json:"version"`
		PID          int    `json:"pid"`
		MaxOutputLen int    `json:"max_output_len"`
	}
	if err := json.Unmarshal(msg, &hello); err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting %q: %w", msg, err)
	}
	if hello.Version == "" {
		// The server refuses extra clients with a bare error message.
		conn.Close()
		return nil, fmt.Errorf("unexpected greeting %q", msg)
	}
	t.PID, t.Server = hello.PID, hello.Version
	if hello.MaxOutputLen > len(t.buf) {
		t.buf = make([]byte, hello.MaxOutputLen)
	}
	return t, nil
}

func (t *Telemetry) read() ([]byte, error) {
	if err := t.conn.SetReadDeadline(time.Now().Add(telemetryIOTimeout)); err != nil {
		return nil, err
	}
	n, err := t.conn.Read(t.buf)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, errors.New("telemetry socket closed by the server")
	}
	return t.buf[:n], nil
}

// Command sends one command (e.g. "/ethdev/stats,1") and returns the value
// of its reply, the JSON under the command's key.
func (t *Telemetry) Command(cmd string) (json.RawMessage, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return nil, errors.New("telemetry: closed")
	}
	if err := t.conn.SetWriteDeadline(time.Now().Add(telemetryIOTimeout)); err != nil {
		return nil, err
	}
	if _, err := t.conn.Write([]byte(cmd)); err != nil {
		return nil, fmt.Errorf("telemetry %s: %w", cmd, err)
	}
	msg, err := t.read()
	if err != nil {
		return nil, fmt.Errorf("telemetry %s: %w", cmd, err)
	}
	var reply map[string]json.RawMessage
	if err := json.Unmarshal(msg, &reply); err != nil {
		return nil, fmt.Errorf("telemetry %s: reply %q: %w", cmd, msg, err)
	}
	key := cmd
	if i := strings.IndexByte(cmd, ','); i >= 0 {
		key = cmd[:i]
	}
	v, ok := reply[key]
	if !ok {
		return nil, fmt.Errorf("telemetry %s: reply %q has no %q", cmd, msg, key)
	}
	if string(v) == "null" {
		// What the server answers for an unknown command or invalid parameter.
		return nil, fmt.Errorf("telemetry %s: null reply (unknown command or port?)", cmd)
	}
	return v, nil
}

// PortStats returns the basic ethdev counters of port.
func (t *Telemetry) PortStats(port int) (ipackets, opackets, imissed uint64, err error) {
	v, err := t.Command("/ethdev/stats," + strconv.Itoa(port))
	if err != nil {
		return 0, 0, 0, err
	}
	var s struct {
		IPackets *uint64 `json:"ipackets"`
		OPackets *uint64 `json:"opackets"`
		IMissed  *uint64 `json:"imissed"`
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return 0, 0, 0, fmt.Errorf("telemetry /ethdev/stats,%d: %q: %w", port, v, err)
	}
	if s.IPackets == nil || s.OPackets == nil {
		return 0, 0, 0, fmt.Errorf("telemetry /ethdev/stats,%d: no packet counters in %q", port, v)
	}
	if s.IMissed != nil {
		imissed = *s.IMissed
	}
	return *s.IPackets, *s.OPackets, imissed, nil
}

// Close closes the connection.
func (t *Telemetry) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close()
	t.conn = nil
	return err
}

// TxRates measures opackets of port in n consecutive windows of window/n
// each, after warmup, and returns the n rates in packets/s. On a shared
// machine the spread (or the median) says more than one long average.
func (t *Telemetry) TxRates(port int, warmup, window time.Duration, n int) ([]float64, error) {
	return t.txRates(context.Background(), port, warmup, window, n)
}

func (t *Telemetry) txRates(ctx context.Context, port int, warmup, window time.Duration, n int) ([]float64, error) {
	if n < 1 {
		n = 1
	}
	if window <= 0 {
		return nil, errors.New("TxRates: window must be positive")
	}
	if err := telemetrySleep(ctx, warmup); err != nil {
		return nil, err
	}
	_, prev, _, err := t.PortStats(port)
	if err != nil {
		return nil, err
	}
	tprev := time.Now()
	start := tprev
	rates := make([]float64, 0, n)
	for i := 1; i <= n; i++ {
		// Sub-windows end on a fixed schedule so they add up to window.
		if err := telemetrySleep(ctx, time.Until(start.Add(window*time.Duration(i)/time.Duration(n)))); err != nil {
			return nil, err
		}
		_, o, _, err := t.PortStats(port)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		if o < prev {
			return nil, fmt.Errorf("TxRates: port %d opackets went backwards (%d -> %d): stats reset?", port, prev, o)
		}
		rates = append(rates, float64(o-prev)/now.Sub(tprev).Seconds())
		prev, tprev = o, now
	}
	return rates, nil
}

// telemetrySleep sleeps for d or until ctx is done.
func telemetrySleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
