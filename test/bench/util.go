package main

import (
	"net"
	"net/netip"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"fibd/ports/pcap"
)

func eth4(dmac, smac net.HardwareAddr, dst netip.Addr, sport uint16) []byte {
	// 14 + 20 + 8 + 18 = 60 bytes: a 64-byte frame with the FCS.
	return pcap.EthIPv4UDP(dmac, smac, netip.MustParseAddr("100.64.0.1"), dst, 64, sport, 9, make([]byte, 18))
}

func eth6(dmac, smac net.HardwareAddr, dst netip.Addr, sport uint16) []byte {
	// 14 + 40 + 8 = 62 bytes, the smallest IPv6/UDP frame.
	return pcap.EthIPv6UDP(dmac, smac, netip.MustParseAddr("2001:db8::1"), dst, 64, sport, 9, nil)
}

func writePcap(path string, frames [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := pcap.NewWriter(f, pcap.LinkTypeEthernet)
	if err != nil {
		return err
	}
	for _, fr := range frames {
		if err := w.WritePacket(time.Unix(0, 0), fr); err != nil {
			return err
		}
	}
	return f.Close()
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100]
}

// cpuProfileEnv names the variable that asks for CPU profiles of the
// sections that honour it (the netlink mirror, failover): its value is
// the path that each profile's name extends.
const cpuProfileEnv = "FIBD_BENCH_CPUPROFILE"

// startCPUProfile starts a CPU profile into $FIBD_BENCH_CPUPROFILE+suffix
// when the variable is set; the returned function stops it and closes the
// file (nothing to stop when it is not set).
func startCPUProfile(suffix string) (stop func(), err error) {
	base := os.Getenv(cpuProfileEnv)
	if base == "" {
		return func() {}, nil
	}
	f, err := os.Create(base + suffix)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// envStarts is the positive count the environment variable env sets, or
// def.
func envStarts(env string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(env)); err == nil && n > 0 {
		return n
	}
	return def
}
