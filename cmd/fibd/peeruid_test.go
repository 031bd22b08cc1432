package main

import (
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
)

// dialAs connects to addr from a socket owned by uid: the socket is made
// on a thread whose effective uid alone is changed (Linux credentials are
// per thread; the thread ends with its goroutine).
func dialAs(uid int, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
			ch <- result{nil, e}
			return
		}
		c, err := net.Dial("tcp", addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// TestPeerUID: the owner of the other end of a loopback connection, found
// in /proc, in both families.
func TestPeerUID(t *testing.T) {
	uid := os.Geteuid()
	if uid == 0 {
		uid = 65534 // nobody: a user other than the server's
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Logf("%s: %v", addr, err)
			continue
		}
		c, err := dialAs(uid, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		got, ok := peerUID(s)
		if !ok || got != uint32(uid) {
			t.Errorf("%s: peer uid %d %v, want %d", addr, got, ok, uid)
		}
		c.Close()
		s.Close()
		ln.Close()
	}
}
