package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The load benchmark (soak -load-bench, `make bench`): how far fibd's FIB
// is behind the kernel at the end of a full view arriving over BGP in one
// burst. Per FIB kind, a fresh lab: fibd first, then the router's BIRD,
// then the upstream's, whose whole view reaches the router's kernel
// tables as fast as BIRD installs it.
//
//   - the kernel: a netlink subscription in the router netns timestamps
//     every route change BIRD makes (proto bird); the load is complete at
//     the last one (t_kernel). Counting the tables by polling is too dear
//     at a million routes (/proc/net/fib_triestat walks the trie: 130 ms)
//     and would take the CPU fibd needs.
//   - fibd: `router status` every 50 ms, its count of routes held in all
//     FIB tables; fibd is done (t_fib) at the first sample from which on
//     its count holds its final value.
//
// Then the soak's own check (quiet BGP, the full comparison route by
// route, traffic) says whether the FIB equals the kernel: if it does,
// t_fib is when fibd had the kernel's final tables. (The two counts are
// not compared directly: they differ by routes fibd leaves out, and that
// difference moved by a few routes during a load in the lab.)

const (
	loadSample = 50 * time.Millisecond // fibd's count, polled
	loadQuiet  = 5 * time.Second       // no change for this long: the load is over
)

// series is one counter sampled over time.
type series struct {
	at []time.Duration
	v  []int
}

func (s *series) add(at time.Duration, v int) {
	s.at = append(s.at, at)
	s.v = append(s.v, v)
}

// reached is the time of the first sample from which on the counter held
// want to the last sample; false if the last sample is not want.
func (s *series) reached(want int) (time.Duration, bool) {
	i := len(s.v) - 1
	if i < 0 || s.v[i] != want {
		return 0, false
	}
	for i > 0 && s.v[i-1] == want {
		i--
	}
	return s.at[i], true
}

// settled is when the counter took its last value for good.
func (s *series) settled() time.Duration {
	if len(s.v) == 0 {
		return 0
	}
	t, _ := s.reached(s.v[len(s.v)-1])
	return t
}

// steadyFor tells whether the counter has held its last value for d.
func (s *series) steadyFor(d time.Duration) bool {
	return len(s.v) > 0 && s.at[len(s.at)-1]-s.settled() >= d
}

// inNetns runs f on a thread moved into netns name, and moves it back.
// The thread must not end (a goroutine that exits locked ends it): the
// soak's children die with the thread that started them (Pdeathsig), so
// only a failed move back leaves it locked.
func inNetns(name string, f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	h, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	err = netns.Set(h)
	h.Close()
	if err == nil {
		err = f()
		if berr := netns.Set(orig); berr != nil {
			return errors.Join(err, fmt.Errorf("back to the soak's netns: %w", berr))
		}
	}
	runtime.UnlockOSThread()
	return err
}

// routeWatch timestamps the route changes BIRD makes in a netns's kernel
// tables. Its fields are written by its reader goroutine only and read by
// anyone through the atomics; close stops the reader.
type routeWatch struct {
	fd       int
	stop     atomic.Bool
	done     chan struct{}
	first    atomic.Int64 // unix ns of the first change seen, 0 before
	last     atomic.Int64 // of the last
	changes  atomic.Int64 // notifications: adds, replaces, deletes
	overruns atomic.Int64 // ENOBUFS: notifications lost
	err      atomic.Pointer[error]
}

func watchRoutes(ns string) (*routeWatch, error) {
	w := &routeWatch{fd: -1, done: make(chan struct{})}
	err := inNetns(ns, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		w.fd = fd
		// a burst of a million notifications: room for them all, and a
		// timeout so that the reader sees close
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<30); err != nil {
			return fmt.Errorf("SO_RCVBUFFORCE: %w", err)
		}
		tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("SO_RCVTIMEO: %w", err)
		}
		sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
			Groups: 1<<(unix.RTNLGRP_IPV4_ROUTE-1) | 1<<(unix.RTNLGRP_IPV6_ROUTE-1)}
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("netlink bind: %w", err)
		}
		return nil
	})
	if err != nil {
		if w.fd >= 0 {
			unix.Close(w.fd)
		}
		return nil, fmt.Errorf("route watch in %s: %w", ns, err)
	}
	go w.read()
	return w, nil
}

func (w *routeWatch) read() {
	defer close(w.done)
	buf := make([]byte, 1<<20)
	for !w.stop.Load() {
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		switch {
		case errors.Is(err, unix.ENOBUFS):
			w.overruns.Add(1)
			continue
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			w.err.Store(&err)
			return
		}
		if k := birdRouteChanges(buf[:n]); k > 0 {
			now := time.Now().UnixNano()
			w.first.CompareAndSwap(0, now)
			w.last.Store(now)
			w.changes.Add(int64(k))
		}
	}
}

// birdRouteChanges counts the route notifications of BIRD's routes in a
// netlink datagram.
func birdRouteChanges(b []byte) int {
	n := 0
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			break
		}
		typ := binary.NativeEndian.Uint16(b[4:])
		// struct rtmsg: family, dst_len, src_len, tos, table, protocol, ...
		if (typ == unix.RTM_NEWROUTE || typ == unix.RTM_DELROUTE) && l >= unix.NLMSG_HDRLEN+unix.SizeofRtMsg &&
			b[unix.NLMSG_HDRLEN+5] == unix.RTPROT_BIRD {
			n++
		}
		b = b[min((l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b)):]
	}
	return n
}

func (w *routeWatch) close() {
	w.stop.Store(true)
	<-w.done
	unix.Close(w.fd)
}

// fibdStatus is what the load benchmark reads of `router status`.
type fibdStatus struct {
	Mirroring bool   `json:"mirroring"`
	Routes4   int    `json:"routes4"`
	Routes6   int    `json:"routes6"`
	Resyncs   uint64 `json:"resyncs"`
	Overruns  uint64 `json:"overruns"`
}

func (s *soak) fibdStatus() (fibdStatus, error) {
	var st fibdStatus
	err := ctlJSON(s.l.ctlAddr, &st, "router", "status")
	if err != nil && !s.l.fibd.Alive() {
		err = fmt.Errorf("fibd has exited: %w\n%s", err, s.l.fibd.tail(20))
	}
	return st, err
}

// LoadBench runs the load benchmark once per FIB kind and prints one line
// for each to report; progress goes to cfg.Out.
func LoadBench(cfg Config, report io.Writer) error {
	if cfg.Sample == 0 {
		cfg.Sample = 2000
	}
	var errs []error
	for _, kind := range cfg.FIBs {
		line, err := loadOnce(cfg, kind)
		if line != "" {
			fmt.Fprintf(report, "  fibd_fib=%-4s %s\n", kind, line)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("fibd_fib=%s: %w", kind, err))
		}
	}
	return errors.Join(errs...)
}

// loadOnce measures one load; line is the report (also after a failed
// comparison).
func loadOnce(cfg Config, kind string) (line string, err error) {
	s := &soak{cfg: cfg, l: newLab(&cfg), out: cfg.Out, results: map[string]*result{},
		sample: rand.New(rand.NewPCG(uint64(cfg.Seed), 2))}
	s.l.fib = kind
	s.l.bgpTimers = bgpTimersLoad
	defer s.l.teardown()
	s.l.view(cfg.Routes4, cfg.Routes6, cfg.Seed)
	s.logf("load bench, fibd_fib=%s: %d IPv4 + %d IPv6 routes over eBGP (%d + %d into table %d too); logs in %s",
		kind, s.l.want4, s.l.want6, s.l.want200, s.l.want200v6, tableRule, cfg.Dir)
	if err := s.l.setup(); err != nil {
		return "", fmt.Errorf("lab: %w", err)
	}
	if err := s.l.fibdConf(); err != nil {
		return "", err
	}
	if err := s.l.startFibd(); err != nil {
		return "", err
	}
	// fibd has mirrored the empty tables: its count holds still
	var prev fibdStatus
	for deadline := time.Now().Add(60 * time.Second); ; {
		st, err := s.fibdStatus()
		if err == nil && st.Mirroring && st.Routes4+st.Routes6 > 0 && st == prev {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("fibd does not mirror the router netns after 60s (%+v, %v)", st, err)
		}
		prev = st
		time.Sleep(500 * time.Millisecond)
	}
	if err := s.l.startRouterBird(); err != nil {
		return "", err
	}
	w, err := watchRoutes(s.l.rt)
	if err != nil {
		return "", err
	}
	defer w.close()
	st0, err := s.fibdStatus()
	if err != nil {
		return "", err
	}

	tUp := time.Now()
	if err := s.l.startUpstream(); err != nil {
		return "", err
	}
	// BIRD's routes in the kernel: at least one change each
	want := int64(s.l.want4 + s.l.want6 + s.l.want200 + s.l.want200v6)
	var fib series
	deadline := tUp.Add(s.quietTimeout())
	for {
		st, err := s.fibdStatus()
		now := time.Now()
		if err == nil {
			fib.add(now.Sub(tUp), st.Routes4+st.Routes6)
		}
		if !s.l.fibd.Alive() {
			return "", fmt.Errorf("fibd has crashed:\n%s", s.l.fibd.tail(40))
		}
		if e := w.err.Load(); e != nil {
			return "", fmt.Errorf("route watch: %w", *e)
		}
		last := w.last.Load()
		if last != 0 && (w.changes.Load() >= want || w.overruns.Load() > 0) &&
			now.Sub(time.Unix(0, last)) >= loadQuiet && fib.steadyFor(loadQuiet) {
			break
		}
		if now.After(deadline) {
			bgp, _ := s.l.rBird.c("show", "protocols")
			return "", fmt.Errorf("the load did not end within %v: %d of %d route changes seen, fibd holds %d; router BIRD:\n%s",
				s.quietTimeout(), w.changes.Load(), want, fib.v[len(fib.v)-1], bgp)
		}
		time.Sleep(loadSample)
	}
	stEnd, err := s.fibdStatus()
	if err != nil {
		return "", err
	}
	tFirst := time.Unix(0, w.first.Load()).Sub(tUp)
	tKernel := time.Unix(0, w.last.Load()).Sub(tUp)
	tFib := fib.settled()
	note := ""
	if n := w.overruns.Load(); n > 0 {
		note += fmt.Sprintf(" (the kernel's watch lost notifications %d times: its end is approximate)", n)
	}
	s.logf("load: first route in the kernel %.2f s after the upstream started, last %.2f s, fibd done %.2f s%s",
		tFirst.Seconds(), tKernel.Seconds(), tFib.Seconds(), note)

	verdict := "FIB equals the kernel"
	ok := s.settle("bgp load", tUp)
	if !ok {
		verdict = "FIB DIFFERS from the kernel: " + strings.SplitN(strings.Join(s.failed, "; "), "\n", 2)[0]
	}
	line = fmt.Sprintf("%d IPv4 + %d IPv6 routes (and %d + %d in table %d): BGP load %.1f s (first route to kernel complete), "+
		"FIB behind the kernel at the end %.2f s%s, netlink overruns %d, resyncs %d; %s",
		s.l.want4, s.l.want6, s.l.want200, s.l.want200v6, tableRule, (tKernel - tFirst).Seconds(),
		(tFib - tKernel).Seconds(), note, stEnd.Overruns-st0.Overruns, stEnd.Resyncs-st0.Resyncs, verdict)
	if !ok {
		return line, errors.New(strings.Join(s.failed, "\n"))
	}
	if !s.l.fibd.Alive() {
		return line, errors.New("fibd has crashed")
	}
	return line, nil
}
