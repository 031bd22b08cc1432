package main

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSeriesReached(t *testing.T) {
	var s series
	if _, ok := s.reached(0); ok {
		t.Fatal("an empty series reached 0")
	}
	ms := time.Millisecond
	// the count rises, touches 30 once, falls back, then reaches 30 for good
	for i, v := range []int{0, 10, 30, 20, 30, 30, 30} {
		s.add(time.Duration(i)*50*ms, v)
	}
	if at, ok := s.reached(30); !ok || at != 200*ms {
		t.Errorf("reached(30) = %v, %v; want 200ms, true (from the last rise on, not the first touch)", at, ok)
	}
	if _, ok := s.reached(20); ok {
		t.Error("reached(20) is true, but the last sample is 30")
	}
	if got := s.settled(); got != 200*ms {
		t.Errorf("settled = %v, want 200ms", got)
	}
	if !s.steadyFor(100*ms) || s.steadyFor(150*ms) {
		t.Errorf("steadyFor: held 30 from 200ms to 300ms, want true for 100ms and false for 150ms")
	}
	// a constant series settled at its first sample
	var c series
	c.add(0, 5)
	c.add(time.Second, 5)
	if at, ok := c.reached(5); !ok || at != 0 || !c.steadyFor(time.Second) {
		t.Errorf("constant series: reached(5) = %v, %v", at, ok)
	}
}

// rtnl makes a route notification: an nlmsghdr and a struct rtmsg.
func rtnl(typ uint16, proto byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofRtMsg+8) // + an attribute's room
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	b[unix.NLMSG_HDRLEN+4] = 254
	b[unix.NLMSG_HDRLEN+5] = proto
	return b
}

func TestBirdRouteChanges(t *testing.T) {
	var d []byte
	d = append(d, rtnl(unix.RTM_NEWROUTE, unix.RTPROT_BIRD)...)
	d = append(d, rtnl(unix.RTM_NEWROUTE, unix.RTPROT_KERNEL)...) // a connected route: not BIRD's
	d = append(d, rtnl(unix.RTM_DELROUTE, unix.RTPROT_BIRD)...)
	d = append(d, rtnl(unix.RTM_NEWADDR, unix.RTPROT_BIRD)...) // not a route
	if n := birdRouteChanges(d); n != 2 {
		t.Errorf("birdRouteChanges = %d, want 2", n)
	}
	// a truncated message ends the walk
	if n := birdRouteChanges(d[:unix.NLMSG_HDRLEN+3]); n != 0 {
		t.Errorf("truncated: %d, want 0", n)
	}
	short := rtnl(unix.RTM_NEWROUTE, unix.RTPROT_BIRD)[:unix.NLMSG_HDRLEN+2]
	binary.NativeEndian.PutUint32(short, uint32(len(short)))
	if n := birdRouteChanges(short); n != 0 {
		t.Errorf("a message too short for its rtmsg counted: %d", n)
	}
}
