// Package fastpath tests the C fast path in-process: the worker's packet
// pipeline over crafted frames (no ports involved), and the FIB against a
// naive reference after batches of changes. The EAL runs on no hugepages
// with net_null ports standing in for NICs.
package fastpath

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
	"fibd/lpm"
	"fibd/router"
)

const nPorts = 3

var env struct {
	skip   string
	ports  [nPorts]dpdk.PortID
	macs   [nPorts]net.HardwareAddr
	fib    *lpm.FIB
	prog   *router.Programmer
	table  *lpm.Table
	prefix string
}

// testPorts resolves the interface names tests use: p0, p1, p2.
type testPorts struct{}

func (testPorts) PortOf(dev string) (dpdk.PortID, bool) {
	var i int
	if _, err := fmt.Sscanf(dev, "p%d", &i); err != nil || i < 0 || i >= nPorts {
		return 0, false
	}
	return env.ports[i], true
}

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		env.skip = "needs root for the DPDK EAL"
		os.Exit(m.Run())
	}
	env.prefix = fmt.Sprintf("fibdtest%d", os.Getpid())
	code := 1
	func() {
		defer os.RemoveAll(filepath.Join("/var/run/dpdk", env.prefix))
		args := []string{"fastpath.test", "--no-huge", "-m", "4096", "--no-pci", "-l", "0",
			"--file-prefix", env.prefix, "--log-level", "lib.eal:warning", "--log-level", "lib.fib:error"}
		for i := range nPorts {
			args = append(args, "--vdev", fmt.Sprintf("net_null%d,no-rx=1", i))
		}
		eal, err := dpdk.Init(args)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		defer eal.Cleanup()
		if err := setup(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		code = m.Run()
		for _, p := range env.ports {
			p.Close()
		}
	}()
	os.Exit(code)
}

func setup() error {
	if err := dpdk.CreatePool("test_mbufs", 4096, -1); err != nil {
		return err
	}
	for i := range nPorts {
		id, err := dpdk.PortByName(fmt.Sprintf("net_null%d", i))
		if err != nil {
			return err
		}
		if err := id.Setup(dpdk.PortConfig{RxQueues: 1, TxQueues: 1, RxDesc: 128, TxDesc: 128}); err != nil {
			return err
		}
		info, err := id.Info()
		if err != nil {
			return err
		}
		env.ports[i], env.macs[i] = id, info.MAC
	}
	// fibd's own FIB structure, as fibd's default; FIBD_TEST_FIB=dpdk
	// runs the package on rte_fib
	env.fib = lpm.New(zerolog.Nop(), lpm.Config{MaxRoutes4: 100000, MaxRoutes6: 50000,
		Own: os.Getenv("FIBD_TEST_FIB") != "dpdk"})
	t, err := env.fib.Table(router.MainTable, 0)
	if err != nil {
		return err
	}
	env.table = t
	env.prog = router.NewProgrammer(zerolog.Nop(), env.fib)
	return nil
}

func need(t testing.TB) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
}

// program replaces the FIB content with st.
func program(t testing.TB, st *router.State) router.Desired {
	t.Helper()
	want, problems := router.Resolve(st, testPorts{}, router.MainTable)
	for _, p := range problems {
		t.Fatalf("resolve: %v", p)
	}
	if _, err := env.prog.Sync(want); err != nil {
		t.Fatalf("sync: %v", err)
	}
	return want
}

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

var (
	nbrA = mac("02:00:00:00:00:0a")
	nbrB = mac("02:00:00:00:00:0b")
	nbrC = mac("02:00:00:00:00:0c")
)

// baseState: three ports with a neighbour each, defaults via p0.
func baseState() *router.State {
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	return &router.State{
		Addrs: []router.Addr{
			{Prefix: pfx("192.0.2.1/24"), Dev: "p0"},
			{Prefix: pfx("198.51.100.1/24"), Dev: "p1"},
			{Prefix: pfx("203.0.113.1/24"), Dev: "p2"},
			{Prefix: pfx("2001:db8:0::1/64"), Dev: "p0"},
			{Prefix: pfx("2001:db8:1::1/64"), Dev: "p1"},
		},
		Neighs: []router.Neigh{
			{Addr: addr("192.0.2.2"), MAC: nbrA, Dev: "p0"},
			{Addr: addr("198.51.100.2"), MAC: nbrB, Dev: "p1"},
			{Addr: addr("203.0.113.2"), MAC: nbrC, Dev: "p2"},
			{Addr: addr("2001:db8::2"), MAC: nbrA, Dev: "p0"},
			{Addr: addr("2001:db8:1::2"), MAC: nbrB, Dev: "p1"},
		},
		Routes: []router.Route{
			{Table: router.MainTable, Prefix: pfx("0.0.0.0/0"), Nexthops: []router.Nexthop{{Gateway: addr("192.0.2.2"), Dev: "p0"}}},
			{Table: router.MainTable, Prefix: pfx("::/0"), Nexthops: []router.Nexthop{{Gateway: addr("2001:db8::2"), Dev: "p0"}}},
			{Table: router.MainTable, Prefix: pfx("10.0.0.0/8"), Nexthops: []router.Nexthop{
				{Gateway: addr("198.51.100.2"), Dev: "p1"}, {Gateway: addr("203.0.113.2"), Dev: "p2"}}},
		},
	}
}
