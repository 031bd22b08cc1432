package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// load parses a testdata file, failing the test on error.
func load(t *testing.T, name string) *Config {
	t.Helper()
	c, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestManualExamples loads every example of the manual's Router chapter
// and checks it means what the manual says.
func TestManualExamples(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, c *Config)
	}{
		{"manual_tap_names.conf", func(t *testing.T, c *Config) {
			want := []RouterDevice{{Device: "41-00.1", Tap: "tap41", Peer: "bgp41", Line: 4}}
			if !reflect.DeepEqual(c.RouterDevices, want) {
				t.Errorf("router devices = %+v, want %+v", c.RouterDevices, want)
			}
			wantDevs := []Device{{"41-00.0", DirSubs, 0}, {"41-00.1", DirInet, 0}}
			if !reflect.DeepEqual(c.Devices, wantDevs) {
				t.Errorf("devices = %+v, want %+v", c.Devices, wantDevs)
			}
		}},
		{"manual_default_names.conf", func(t *testing.T, c *Config) {
			want := []RouterDevice{
				{Device: "41-00.1", Tap: "dpi41-00.1", Peer: "rib41-00.1", Line: 5},
				{Device: "41-00.0", Tap: "dpi41-00.0", Peer: "rib41-00.0", Line: 9},
			}
			if !reflect.DeepEqual(c.RouterDevices, want) {
				t.Errorf("router devices = %+v, want %+v", c.RouterDevices, want)
			}
		}},
		{"manual_subnets.conf", func(t *testing.T, c *Config) {
			rd := c.RouterDevices[0]
			if !reflect.DeepEqual(rd.Subnets, prefixes("10.0.2.0/30", "8.8.8.0/29")) {
				t.Errorf("subnets = %v", rd.Subnets)
			}
			// 2001::1/124 is stored masked.
			if !reflect.DeepEqual(rd.Subnets6, prefixes("2001::/124", "fe80::82d:cff:fe5f:9453/128")) {
				t.Errorf("subnets6 = %v", rd.Subnets6)
			}
		}},
		{"manual_ospf.conf", func(t *testing.T, c *Config) {
			if got := c.RouterDevices[0].Subnets; !reflect.DeepEqual(got, prefixes("224.0.0.5/32", "224.0.0.6/32")) {
				t.Errorf("subnets = %v", got)
			}
		}},
		{"manual_mandatory.conf", func(t *testing.T, c *Config) {
			if !c.Router || c.RouterNetns != "bird" || c.RouterKernelTable != 1 {
				t.Errorf("router=%v netns=%q table=%d", c.Router, c.RouterNetns, c.RouterKernelTable)
			}
			if c.BrasArpMAC.String() != "00:e0:ed:43:84:42" || c.BrasArpIP.String() != "188.227.73.40" ||
				c.BrasIPv6Address.String() != "2098::1" {
				t.Errorf("bras: %v %v %v", c.BrasArpMAC, c.BrasArpIP, c.BrasIPv6Address)
			}
			// Not set: calculated from bras_arp_mac.
			if got := c.BrasIPv6LinkLocal.String(); got != "fe80::2e0:edff:fe43:8442" {
				t.Errorf("link-local = %s", got)
			}
		}},
		{"manual_announce.conf", func(t *testing.T, c *Config) {
			if c.RouterSubsAnnounce != 0 || c.RouterSubsMetrics != 32 || c.AuthAnnounceReject {
				t.Errorf("announce=%d metrics=%d reject=%v", c.RouterSubsAnnounce, c.RouterSubsMetrics, c.AuthAnnounceReject)
			}
		}},
		{"manual_additional.conf", func(t *testing.T, c *Config) {
			if c.RouterMaxIP4Routes != 1000000 || c.RouterMaxIP6Routes != 200000 ||
				c.RouterFIBRefresh != 15*time.Second || c.RouterARPCacheSize != 1024 ||
				c.RouterSchedAddPrio != 0 || c.RouterBindCore != -1 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{"manual_pcap.conf", func(t *testing.T, c *Config) {
			if c.RouterTapPcap != nil || c.RouterTapPcapDir != 0 || c.RouterTapPcapRotate != 0 || c.RouterRtnlPcap {
				t.Errorf("pcap: %+v", c)
			}
			if c.AjbUdpiPath != "/var/dump/dpi" || c.TapPcapRotation() != DefaultAjbUdpiFtimeout {
				t.Errorf("path %q rotation %v", c.AjbUdpiPath, c.TapPcapRotation())
			}
		}},
		{"manual_lag.conf", func(t *testing.T, c *Config) {
			want := []Lag{{Name: "inet", Mode: LagLACP, Devices: []string{"01-00.1", "02-00.1"}, Dir: DirInet, Line: 6}}
			if !reflect.DeepEqual(c.Lags, want) {
				t.Errorf("lags = %+v, want %+v", c.Lags, want)
			}
			// Traffic from both members goes to tap0.
			for _, dev := range []string{"01-00.1", "02-00.1"} {
				rd, ok := c.RouterDeviceFor(dev)
				if !ok || rd.Tap != "tap0" || rd.Peer != "peer0" {
					t.Errorf("RouterDeviceFor(%s) = %+v, %v", dev, rd, ok)
				}
			}
			if _, ok := c.RouterDeviceFor("01-00.0"); ok {
				t.Error("01-00.0 has a router_device")
			}
		}},
		{"manual_two_lags.conf", func(t *testing.T, c *Config) {
			if len(c.Lags) != 2 || c.Lags[0].Dir != DirInet || c.Lags[1].Dir != DirSubs {
				t.Fatalf("lags = %+v", c.Lags)
			}
			for dev, tap := range map[string]string{"01-00.1": "dpi01-00.1", "02-00.1": "dpi01-00.1",
				"01-00.0": "dpi02-00.0", "02-00.0": "dpi02-00.0"} {
				if rd, ok := c.RouterDeviceFor(dev); !ok || rd.Tap != tap {
					t.Errorf("RouterDeviceFor(%s) = %+v, %v; want tap %s", dev, rd, ok, tap)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) { tt.check(t, load(t, tt.file)) })
	}
}

// The manual's template of router_device leaves device= empty: it is not a
// working configuration, and says why.
func TestManualTemplate(t *testing.T) {
	_, err := Load("testdata/manual_template.conf")
	errs := Errors(err)
	if len(errs) != 1 || errs[0].Param != "device" || errs[0].Line != 7 {
		t.Fatalf("errors = %v", err)
	}
}

func TestDefault(t *testing.T) {
	c, err := Parse("empty.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	d.File = "empty.conf"
	if !reflect.DeepEqual(c, d) {
		t.Errorf("empty file = %+v\nDefault() = %+v", c, d)
	}
	if d.RouterSubsMetrics != 32 || d.RouterMaxIP4Routes != 1000000 || d.RouterMaxIP6Routes != 200000 ||
		d.RouterFIBRefresh != 15*time.Second || d.RouterARPCacheSize != 1024 || d.RouterBindCore != -1 ||
		d.AjbUdpiPath != "/var/dump/dpi" || d.LogLevel != "info" || d.Router || d.FIB != FIBOwn {
		t.Errorf("Default() = %+v", d)
	}
}

// TestParams checks the table: unique names, and the manual's hot marks.
func TestParams(t *testing.T) {
	hot := map[string]bool{}
	seen := map[string]bool{}
	for _, p := range Params() {
		key := p.Section + "." + p.Name
		if seen[key] {
			t.Errorf("%s listed twice", key)
		}
		seen[key] = true
		if p.Doc == "" {
			t.Errorf("%s has no doc", key)
		}
		if p.Hot {
			hot[p.Name] = true
		}
	}
	wantHot := []string{
		// [hot] in the manual
		"router_subs_metrics", "router_fib_refresh", "router_tap_pcap", "router_tap_pcap_dir",
		"router_tap_pcap_rotate", "router_rtnl_pcap", "auth_announce_reject",
		// fibd's choice
		"ajb_udpi_path", "ajb_udpi_ftimeout", "fibd_idle_sleep_us", "fibd_log_level",
		"fibd_punt_rate_proto", "fibd_punt_rate_nd", "fibd_punt_rate_other", "fibd_punt_rate_glean",
		// NAT pools announced when NAT profiles change, as the manual says
		"fibd_nat_pool", "fibd_subs_gateway",
		// "hot" in the manual's pcap recording page
		"ajb_save_ip",
	}
	for _, n := range wantHot {
		if !hot[n] {
			t.Errorf("%s is cold", n)
		}
		delete(hot, n)
	}
	for n := range hot {
		t.Errorf("%s is hot", n)
	}
	for _, n := range []string{"router", "router_netns", "router_kernel_table", "router_subs_announce",
		"router_max_ip4_route_count", "router_arp_cache_size", "router_sched_add_prio", "router_bind_core",
		"router_device", "lag", "in_dev", "bras_arp_ip"} {
		if !seen["."+n] {
			t.Errorf("%s missing from Params()", n)
		}
	}
}

func TestSyntax(t *testing.T) {
	src := "\uFEFF# comment\r\n" +
		"  in_dev = 41-00.0 : 0000:41:00.2   # comment after blanks\r\n" +
		"\tout_dev=\"41-00.1\"\n" +
		"router_rtnl_pcap=ON\n" +
		"auth_announce_reject = False # c\n" +
		"router_fib_refresh=20\n" +
		"router_fib_refresh=30\n" + // last one wins
		"ajb_udpi_path=/a#b\n" + // '#' without a blank before it is no comment
		"fibd_eal_args=--no-huge  --no-pci\n" +
		"fibd_eal_args=--file-prefix x\n" + // lists accumulate
		"router_device{\n" +
		"   device = 41-00.1\n" +
		"   subnet=10.1.1.1/24\n" +
		"   subnet=\"10.2.0.0/16\"  # quoted\n" +
		"}   # end\n" +
		"some_dpi_param=1\n" +
		"dpi_block {\n" + // unknown section outside fibd's namespaces
		"  whatever=1\n" +
		"}\n"
	c, err := Parse("syntax.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	wantDevs := []Device{{"41-00.0", DirSubs, 0}, {"0000:41:00.2", DirSubs, 1}, {"41-00.1", DirInet, 0}}
	if !reflect.DeepEqual(c.Devices, wantDevs) {
		t.Errorf("devices = %+v", c.Devices)
	}
	if !c.RouterRtnlPcap || c.AuthAnnounceReject || c.RouterFIBRefresh != 30*time.Second || c.AjbUdpiPath != "/a#b" {
		t.Errorf("scalars: %+v", c)
	}
	if want := []string{"--no-huge", "--no-pci", "--file-prefix", "x"}; !slices.Equal(c.EALArgs, want) {
		t.Errorf("eal args = %q", c.EALArgs)
	}
	if got := c.RouterDevices[0].Subnets; !reflect.DeepEqual(got, prefixes("10.1.1.0/24", "10.2.0.0/16")) {
		t.Errorf("subnets = %v", got)
	}
	if want := []Ignored{{"some_dpi_param", 16}, {"dpi_block", 17}}; !reflect.DeepEqual(c.Ignored, want) {
		t.Errorf("ignored = %+v", c.Ignored)
	}
}

func TestSplitDevices(t *testing.T) {
	tests := map[string][]string{
		"41-00.0":                        {"41-00.0"},
		"01-00.0:02-00.0":                {"01-00.0", "02-00.0"},
		"0000:41:00.1":                   {"0000:41:00.1"},
		"0000:41:00.1:0000:41:00.2":      {"0000:41:00.1", "0000:41:00.2"},
		"net_pcap0:0000:41:00.1:41-00.2": {"net_pcap0", "0000:41:00.1", "41-00.2"},
		"a::b":                           {"a", "", "b"},
		"a:":                             {"a", ""},
		"0000:41:00.1x":                  {"0000", "41", "00.1x"},
	}
	for in, want := range tests {
		if got := splitDevices(in); !slices.Equal(got, want) {
			t.Errorf("splitDevices(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookups(t *testing.T) {
	c := load(t, "full.conf")
	d, ok := c.DeviceByName("0000:01:00.1") // written 01-00.1
	if !ok || d.Name != "01-00.1" || d.Dir != DirInet || d.DPDKName() != "0000:01:00.1" || d.IsVdev() {
		t.Errorf("DeviceByName = %+v, %v", d, ok)
	}
	if d, ok := c.DeviceByName("net_pcap0"); !ok || !d.IsVdev() || d.DPDKName() != "net_pcap0" || d.Index != 2 {
		t.Errorf("DeviceByName(net_pcap0) = %+v, %v", d, ok)
	}
	if _, ok := c.DeviceByName("03-00.0"); ok {
		t.Error("found 03-00.0")
	}
	if l, ok := c.LagOf("02-00.1"); !ok || l.Name != "inet" {
		t.Errorf("LagOf(02-00.1) = %+v, %v", l, ok)
	}
	if l, ok := c.LagOf("01-00.0"); !ok || l.Name != "lag1" || l.Dir != DirSubs {
		t.Errorf("LagOf(01-00.0) = %+v, %v", l, ok)
	}
	if _, ok := c.LagOf("net_pcap0"); ok {
		t.Error("net_pcap0 in a lag")
	}
	if rd, ok := c.RouterDeviceFor("0000:02:00.1"); !ok || rd.Tap != "tapinet" {
		t.Errorf("RouterDeviceFor(0000:02:00.1) = %+v, %v", rd, ok)
	}
	if rd, ok := c.RouterDeviceFor("01-00.0"); !ok || rd.Tap != "dpi02-00.0" {
		t.Errorf("RouterDeviceFor(01-00.0) = %+v, %v", rd, ok)
	}
	if !c.PcapTap("tapinet") || c.PcapTap("dpinet_pcap0") || c.TapPcapRotation() != 5*time.Minute {
		t.Error("pcap helpers")
	}
}

func TestLoad(t *testing.T) {
	_, err := Load("testdata/no-such-file.conf")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, fs.ErrNotExist) || e.File != "testdata/no-such-file.conf" {
		t.Errorf("Load(missing) = %v", err)
	}
	if c := load(t, "full.toml"); c.RouterKernelTable != 100 {
		t.Errorf("full.toml not read as TOML: %+v", c)
	}
}

// normalized returns a copy of c without what depends on the file's layout
// (name, lines), for comparing configurations from different files.
func normalized(c *Config) *Config {
	d := *c
	d.File = ""
	d.RouterDevices = slices.Clone(c.RouterDevices)
	for i := range d.RouterDevices {
		d.RouterDevices[i].Line = 0
	}
	d.Lags = slices.Clone(c.Lags)
	for i := range d.Lags {
		d.Lags[i].Line = 0
	}
	d.Ignored = slices.Clone(c.Ignored)
	for i := range d.Ignored {
		d.Ignored[i].Line = 0
	}
	return &d
}

func TestTOMLEqualsConf(t *testing.T) {
	a, b := normalized(load(t, "full.conf")), normalized(load(t, "full.toml"))
	if !reflect.DeepEqual(a, b) {
		t.Errorf("full.conf = %+v\nfull.toml = %+v", a, b)
	}
}

// Marshal writes what Parse reads back.
func TestMarshalRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*")
	for _, f := range files {
		c, err := Load(f)
		if err != nil {
			continue // the template, which is wrong on purpose
		}
		c2, err := Parse("marshal", c.Marshal())
		if err != nil {
			t.Errorf("%s: %v\n%s", f, err, c.Marshal())
			continue
		}
		a, b := normalized(c), normalized(c2)
		a.Ignored, b.Ignored = nil, nil
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: round trip\n%+v\n%+v", f, a, b)
		}
	}
}

func TestChanged(t *testing.T) {
	src, err := os.ReadFile("testdata/full.conf")
	if err != nil {
		t.Fatal(err)
	}
	old, err := Parse("old", src)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(pairs ...string) *Config {
		t.Helper()
		s := string(src)
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("%q not in full.conf", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		c, err := Parse("new", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name      string
		c         *Config
		hot, cold []string
	}{
		{"same", edit(), nil, nil},
		{"layout only", edit("router_fib_refresh=5", "\n\nrouter_fib_refresh = \"5\" # moved a line down",
			"udr=1", "udr=2"), nil, nil},
		{"hot", edit("router_fib_refresh=5", "router_fib_refresh=6", "fibd_log_level=DEBUG", "fibd_log_level=warn",
			"router_tap_pcap=tapinet;dpi02-00.0", "router_tap_pcap=all"),
			[]string{"router_fib_refresh", "router_tap_pcap", "fibd_log_level"}, nil},
		{"cold", edit("router_kernel_table=100", "router_kernel_table=101", "subnet=8.8.8.0/29", "subnet=8.8.4.0/29",
			"name=inet", "name=uplink"),
			nil, []string{"router_kernel_table", "router_device", "lag"}},
		{"both", edit("router_subs_metrics=64", "router_subs_metrics=65", "in_dev=01-00.0:02-00.0:net_pcap0",
			"in_dev=01-00.0:02-00.0:net_pcap0:03-00.0"),
			[]string{"router_subs_metrics"}, []string{"in_dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hot, cold := tt.c.Changed(old)
			if !slices.Equal(hot, tt.hot) || !slices.Equal(cold, tt.cold) {
				t.Errorf("Changed = hot %q cold %q, want hot %q cold %q", hot, cold, tt.hot, tt.cold)
			}
		})
	}
}

// TestAdvice: a refresh below the manual's 5 s is warned about, and the
// keys fibd skips are listed with their lines.
func TestAdvice(t *testing.T) {
	c, err := Parse("a.conf", []byte("in_dev=net_null0\nout_dev=net_null1\nrouter_fib_refresh=2\nudpi_rate=10\nbras_dhcp_mode=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	adv := c.Advice()
	if len(adv) != 2 || !adv[0].Warn || !strings.Contains(adv[0].Text, "router_fib_refresh=2") ||
		adv[1].Warn || !strings.Contains(adv[1].Text, "udpi_rate (line 4), bras_dhcp_mode (line 5)") {
		t.Errorf("advice: %+v", adv)
	}
	c, _ = Parse("b.conf", []byte("in_dev=net_null0\nout_dev=net_null1\n"))
	if adv := c.Advice(); len(adv) != 0 {
		t.Errorf("advice on a plain configuration: %+v", adv)
	}
}

// TestAnnounceParams: the announcement keys parse (repeatable, masked),
// a change of NAT pools or gateways is hot, of the private ranges cold, and
// an announcement table that is router_kernel_table draws a warning.
func TestAnnounceParams(t *testing.T) {
	base := "router=1\nrouter_netns=bird\nrouter_kernel_table=100\nbras_arp_mac=02:00:00:00:00:01\nbras_arp_ip=192.0.2.254\n" +
		"in_dev=net_null0\nout_dev=net_null1\nrouter_device {\ndevice=net_null0\npeer=rib0\n}\n"
	load := func(extra string) *Config {
		t.Helper()
		c, err := Parse("t.conf", []byte(base+extra))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := load("fibd_nat_pool=203.0.113.130/25\nfibd_nat_pool=198.18.0.0/24\nfibd_subs_gateway=100.64.0.1/32\nfibd_private_range=198.18.0.0/15\n")
	if fmt.Sprint(c.NATPools) != "[203.0.113.128/25 198.18.0.0/24]" || fmt.Sprint(c.SubsGateways) != "[100.64.0.1/32]" ||
		fmt.Sprint(c.PrivateRanges) != "[198.18.0.0/15]" {
		t.Errorf("pools %v gateways %v private %v", c.NATPools, c.SubsGateways, c.PrivateRanges)
	}
	hot, cold := load("fibd_nat_pool=203.0.113.128/26\nfibd_subs_gateway=100.64.0.2/32\nfibd_private_range=198.18.0.0/15\n").Changed(c)
	if fmt.Sprint(hot) != "[fibd_nat_pool fibd_subs_gateway]" || len(cold) != 0 {
		t.Errorf("hot %v cold %v, want the pools and gateways hot", hot, cold)
	}
	if _, cold := load("fibd_nat_pool=203.0.113.128/25\nfibd_nat_pool=198.18.0.0/24\nfibd_subs_gateway=100.64.0.1/32\n").Changed(c); fmt.Sprint(cold) != "[fibd_private_range]" {
		t.Errorf("cold %v, want fibd_private_range", cold)
	}
	warned := func(c *Config) bool {
		for _, a := range c.Advice() {
			if a.Warn && strings.Contains(a.Text, "is router_kernel_table") {
				return true
			}
		}
		return false
	}
	said := false
	for _, a := range load("").Advice() {
		said = said || !a.Warn && strings.Contains(a.Text, "bras_arp_mac and bras_ipv6_link_local are checked as the manual requires and not used")
	}
	if !said {
		t.Error("no word that bras_arp_mac and bras_ipv6_link_local are not used")
	}
	if warned(load("")) || !warned(load("fibd_announce_table_inet=100\n")) || !warned(load("fibd_announce_table_subs=100\n")) {
		t.Error("an announcement table equal to router_kernel_table should warn, and only then")
	}
}

// TestSaveIP: ajb_save_ip takes addresses and CIDRs of both families, in a
// list and repeated, masks them, refuses garbage and more than 16 masks of
// one family, and is hot.
func TestSaveIP(t *testing.T) {
	const base = "in_dev=net_null0\nout_dev=net_null1\n"
	c, err := Parse("t.conf", []byte(base+"ajb_save_ip=192.168.0.0/24;10.1.2.3, 2001:db8::/32\najb_save_ip=::ffff:172.16.1.0/120\najb_save_ip=10.1.2.3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.AjbSaveIP); got != "[192.168.0.0/24 10.1.2.3/32 2001:db8::/32 172.16.1.0/24]" {
		t.Errorf("ajb_save_ip parsed as %s", got)
	}
	for _, bad := range []string{"ajb_save_ip=10.0.0.0/33", "ajb_save_ip=example.com", "ajb_save_ip=fe80::1%eth0", "ajb_save_ip=::ffff:0:0/90"} {
		if _, err := Parse("t.conf", []byte(base+bad+"\n")); err == nil || !strings.Contains(err.Error(), "ajb_save_ip") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
	var many []string
	for i := range 17 {
		many = append(many, fmt.Sprintf("10.0.%d.0/24", i))
	}
	if _, err := Parse("t.conf", []byte(base+"ajb_save_ip="+strings.Join(many, ";")+"\n")); err == nil || !strings.Contains(err.Error(), "more than 16") {
		t.Errorf("17 IPv4 masks: %v", err)
	}
	off, err := Parse("t.conf", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if hot, cold := c.Changed(off); fmt.Sprint(hot) != "[ajb_save_ip]" || len(cold) != 0 {
		t.Errorf("hot %v cold %v, want ajb_save_ip hot", hot, cold)
	}
}
