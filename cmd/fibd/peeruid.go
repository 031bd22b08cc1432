package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// peerUID is the user that owns the other end of a local TCP connection.
// The kernel lists every TCP socket of the network namespace, with its
// owner, in /proc/net/tcp and tcp6: the peer's socket is the one whose
// local address is conn's remote one and the other way round. ok is false
// when the peer is not a socket of this host (another host, another netns).
func peerUID(conn net.Conn) (uid uint32, ok bool) {
	ra, ok1 := conn.RemoteAddr().(*net.TCPAddr)
	la, ok2 := conn.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0, false
	}
	if ra.IP.To4() != nil && la.IP.To4() != nil {
		if uid, ok := findSocketUID("/proc/net/tcp", procAddr4(ra), procAddr4(la)); ok {
			return uid, true
		}
	}
	return findSocketUID("/proc/net/tcp6", procAddr6(ra), procAddr6(la))
}

// procAddr4 writes a as /proc/net/tcp does: the address as the host reads
// the network-order word, then the port.
func procAddr4(a *net.TCPAddr) string {
	return fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(a.IP.To4()), a.Port)
}

// procAddr6 is procAddr4 for /proc/net/tcp6: four words.
func procAddr6(a *net.TCPAddr) string {
	ip := a.IP.To16()
	var b strings.Builder
	for i := 0; i < 16; i += 4 {
		fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(ip[i:i+4]))
	}
	fmt.Fprintf(&b, ":%04X", a.Port)
	return b.String()
}

func findSocketUID(file, local, remote string) (uint32, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid ...
		fs := strings.Fields(sc.Text())
		if len(fs) < 8 || fs[1] != local || fs[2] != remote {
			continue
		}
		u, err := strconv.ParseUint(fs[7], 10, 32)
		return uint32(u), err == nil
	}
	return 0, false
}
