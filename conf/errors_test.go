package conf

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// base is a valid router configuration that the error cases extend.
const base = `in_dev=41-00.0:42-00.0
out_dev=41-00.1:42-00.1
router=1
router_netns=bird
router_kernel_table=1
bras_arp_mac=00:E0:ED:43:84:42
bras_arp_ip=188.227.73.40
bras_ipv6_address=2098::1
`

// baseLines is the number of lines of base: the first line a case adds is
// baseLines+1.
var baseLines = strings.Count(base, "\n")

// errorCase expects, among the errors of src, one at line with param
// whose message contains msg; n > 0 also checks the number of errors.
type errorCase struct {
	name  string
	src   string
	line  int
	param string
	msg   string
	n     int
}

// checkErrors runs the cases against parse.
func checkErrors(t *testing.T, parse func(string, []byte) (*Config, error), tests []errorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse("t.conf", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Error("a Config was returned with the error")
			}
			var first *Error
			if !errors.As(err, &first) {
				t.Fatalf("no *Error in %v", err)
			}
			errs := Errors(err)
			if tt.n > 0 && len(errs) != tt.n {
				t.Errorf("%d errors, want %d:\n%v", len(errs), tt.n, err)
			}
			for _, e := range errs {
				if e.File == "t.conf" && e.Line == tt.line && e.Param == tt.param && strings.Contains(e.Msg, tt.msg) {
					want := fmt.Sprintf("t.conf:%d: %s: ", tt.line, tt.param)
					if tt.param == "" {
						want = fmt.Sprintf("t.conf:%d: ", tt.line)
					}
					if !strings.HasPrefix(e.Error(), want) {
						t.Errorf("Error() = %q, want prefix %q", e.Error(), want)
					}
					return
				}
			}
			t.Errorf("no error at line %d for %q containing %q in:\n%v", tt.line, tt.param, tt.msg, err)
		})
	}
}

// lines returns n lines made by f(i), i from 0.
func lines(n int, f func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(f(i) + "\n")
	}
	return b.String()
}

func TestParseErrors(t *testing.T) {
	L := baseLines + 1 // the first line after base
	// 22 devices, enough for 11 lags.
	var devs []string
	for i := range 22 {
		devs = append(devs, fmt.Sprintf("%02x-00.0", i+1))
	}
	manyIn := "in_dev=" + strings.Join(devs, ":") + "\n"
	tests := []errorCase{
		// Sections.
		{"table size shape", base + "fibd_table_size=20000:4096\n", L, "fibd_table_size", "TABLE:IPV4_ROUTES:IPV6_ROUTES", 1},
		{"table size zero", base + "fibd_table_size=20000:0:10\n", L, "fibd_table_size", "20000:0:10", 1},
		{"table sized twice", base + "fibd_table_size=20000:1:1\nfibd_table_size=20000:2:2\n", L + 1, "fibd_table_size", "sized twice", 1},
		{"lag mode", base + "lag {\nmode=lacp\ndevice=41-00.0\ndevice=42-00.0\n}\n", L + 1, "mode", "802.3ad or balance", 1},
		{"exception mode", base + "fibd_exception=kni\n", L, "fibd_exception", "auto, tap, veth or none", 1},
		{"fib structure", base + "fibd_fib=lpm\n", L, "fibd_fib", "want dpdk or own", 1},
		{"brace on next line", base + "router_device\n{\ndevice=41-00.1\n}\n", L, "router_device", "same line", 1},
		{"brace alone", base + "{\n", L, "", "without a section name", 1},
		{"close brace not alone", base + "router_device {\ndevice=41-00.1 }\n", L + 1, "device", "alone", 1},
		{"text after close brace", base + "router_device {\ndevice=41-00.1\n} x\n", L + 2, "router_device", "alone", 1},
		{"text after open brace", base + "router_device { device=41-00.1\n}\n", L, "router_device", "nothing may follow", 0},
		{"unclosed section", base + "router_device {\ndevice=41-00.1\n", L, "router_device", "not closed", 1},
		{"nested sections", base + "router_device {\ndevice=41-00.1\nlag {\n}\n", L + 2, "lag", "cannot be nested", 0},
		{"stray close brace", base + "}\n", L, "", "without an open section", 1},
		{"unknown key in section", base + "router_device {\ndevice=41-00.1\nname=x\n}\n", L + 2, "name", "not a parameter of the router_device section", 1},
		{"section key at top level", base + "subnet=10.0.0.0/8\n", L, "subnet", "only inside", 1},
		{"section name as key", base + "lag=1\n", L, "lag", "is a section", 1},
		{"unknown fibd section", base + "fibd_ports {\n}\n", L, "fibd_ports", "unknown section", 1},

		// Lines and values.
		{"no equals sign", base + "router_netns bird\n", L, "", "expected key=value", 1},
		{"bad key", base + "router netns=bird\n", L, "", "not a parameter name", 1},
		{"unterminated quote", base + "router_netns=\"bird\n", L, "router_netns", "unterminated", 1},
		{"text after quote", base + "router_netns=\"bird\" x\n", L, "router_netns", "after the closing quote", 1},
		{"control character", base + "router_netns=bi\x01rd\n", L, "router_netns", "control", 1},
		{"control character in section", base + "lag {\nname=a\x02\n}\n", L + 1, "name", "control", 0},
		{"unknown router key", base + "router_fib_refresh_s=5\n", L, "router_fib_refresh_s", "did you mean router_fib_refresh?", 1},
		{"unknown fibd key", base + "fibd_burst=32\n", L, "fibd_burst", "unknown parameter", 1},
		{"bad boolean", base + "router_rtnl_pcap=yes\n", L, "router_rtnl_pcap", "not a boolean", 1},
		{"not an integer", base + "router_fib_refresh=15s\n", L, "router_fib_refresh", "not an integer", 1},
		{"empty integer", base + "router_fib_refresh=\n", L, "router_fib_refresh", "empty value", 1},
		{"announce 16", base + "router_subs_announce=16\n", L, "router_subs_announce", "out of range 0..15", 1},
		{"arp cache 0", base + "router_arp_cache_size=0\n", L, "router_arp_cache_size", "out of range 1..32768", 1},
		{"arp cache 32K+1", base + "router_arp_cache_size=32769\n", L, "router_arp_cache_size", "out of range", 1},
		{"pcap dir 4", base + "router_tap_pcap_dir=4\n", L, "router_tap_pcap_dir", "out of range 0..3", 1},
		{"kernel table 0", base + "router_kernel_table=0\n", L, "router_kernel_table", "out of range", 0},
		{"kernel table 255", base + "router_kernel_table=255\n", L, "router_kernel_table", "local table", 1},
		{"kernel table 2^32", base + "router_kernel_table=4294967296\n", L, "router_kernel_table", "out of range", 1},
		{"fib refresh 0", base + "router_fib_refresh=0\n", L, "router_fib_refresh", "out of range", 1},
		{"bind core -2", base + "router_bind_core=-2\n", L, "router_bind_core", "out of range -1..", 1},
		{"ip4 routes 0", base + "router_max_ip4_route_count=0\n", L, "router_max_ip4_route_count", "out of range", 1},
		{"ip6 routes huge", base + "router_max_ip6_route_count=99999999999999999999\n", L, "router_max_ip6_route_count", "out of range", 1},
		{"sched prio", base + "router_sched_add_prio=21\n", L, "router_sched_add_prio", "out of range -19..20", 1},
		{"log level", base + "fibd_log_level=verbose\n", L, "fibd_log_level", "not a log level", 1},
		{"bad MAC", base + "bras_arp_mac=00:E0:ED:43:84\n", L, "bras_arp_mac", "not a MAC", 1},
		{"multicast MAC", base + "bras_arp_mac=01:00:5e:00:00:01\n", L, "bras_arp_mac", "multicast", 1},
		{"IPv6 as arp ip", base + "bras_arp_ip=2001::1\n", L, "bras_arp_ip", "not an IPv4", 1},
		{"link-local elsewhere", base + "bras_ipv6_link_local=2001::1\n", L, "bras_ipv6_link_local", "not in fe80::/10", 1},
		{"link-local as global", base + "bras_ipv6_address=fe80::1\n", L, "bras_ipv6_address", "link-local", 1},
		{"pcap all and names", base + "router_tap_pcap=all;tap0\n", L, "router_tap_pcap", "cannot be combined", 1},
		{"pcap unknown tap", base + "router_tap_pcap=tap0\n", L, "router_tap_pcap", "no router_device has the TAP tap0", 1},

		// Devices.
		{"bad device name", "in_dev=eth0\n", 1, "in_dev", "neither a PCI address", 1},
		{"empty device name", "in_dev=41-00.0::41-00.1\n", 1, "in_dev", "empty device name", 1},
		{"device twice in list", "in_dev=41-00.0:0000:41:00.0\n", 1, "in_dev", "listed twice", 1},
		{"device in and out", "in_dev=41-00.0\nout_dev=41-00.1:41-00.0\n", 2, "out_dev", "in in_dev too", 1},
		{"bad vdev", "fibd_vdev=pcap0,rx_pcap=a\n", 1, "fibd_vdev", "vdev name", 1},
		{"bad vdev argument", "fibd_vdev=net_pcap0,=a\n", 1, "fibd_vdev", "not key=value", 1},
		{"vdev twice", "fibd_vdev=net_null0\nfibd_vdev=net_null0,size=64\n", 2, "fibd_vdev", "already defined at line 1", 1},

		// router_device.
		{"no device", base + "router_device {\ntap=x\n}\n", L, "device", "no device=", 1},
		{"device not in in_dev/out_dev", base + "router_device {\ndevice=43-00.1\n}\n", L + 1, "device", "not in in_dev or out_dev", 1},
		{"17th subnet", base + "router_device {\ndevice=41-00.1\n" +
			lines(17, func(i int) string { return fmt.Sprintf("subnet=10.0.%d.0/24", i) }) + "}\n",
			L + 18, "subnet", "more than 16 subnet", 1},
		{"17th subnet6", base + "router_device {\ndevice=41-00.1\n" +
			lines(17, func(i int) string { return fmt.Sprintf("subnet6=2001:%x::/32", i) }) + "}\n",
			L + 18, "subnet6", "more than 16 subnet6", 1},
		{"subnet twice", base + "router_device {\ndevice=41-00.1\nsubnet=10.0.0.1/8\nsubnet=10.0.0.0/8\n}\n", L + 3, "subnet", "listed twice", 1},
		{"bad prefix length", base + "router_device {\ndevice=41-00.1\nsubnet=10.0.0.0/33\n}\n", L + 2, "subnet", "not a CIDR", 1},
		{"address without length", base + "router_device {\ndevice=41-00.1\nsubnet=10.0.0.1\n}\n", L + 2, "subnet", "not a CIDR", 1},
		{"IPv6 in subnet", base + "router_device {\ndevice=41-00.1\nsubnet=2001::/64\n}\n", L + 2, "subnet", "goes in subnet6", 1},
		{"IPv4 in subnet6", base + "router_device {\ndevice=41-00.1\nsubnet6=10.0.0.0/8\n}\n", L + 2, "subnet6", "goes in subnet", 1},
		{"default tap name too long", base + "fibd_vdev=net_af_packet0,iface=eth0\nin_dev=net_af_packet0\n" +
			"router_device {\ndevice=net_af_packet0\n}\n", L + 3, "tap", "set tap=", 0},
		{"default name invalid", "out_dev=0000:41:00.1\nrouter_device {\ndevice=0000:41:00.1\ntap=t\n}\n", 3, "peer", "set peer=", 1},
		{"given tap too long", base + "router_device {\ndevice=41-00.1\ntap=averylongtapname\n}\n", L + 2, "tap", "at most 15", 1},
		{"tap with slash", base + "router_device {\ndevice=41-00.1\npeer=a/b\n}\n", L + 2, "peer", "does not allow", 1},
		{"two router_devices for a device", base + "router_device {\ndevice=41-00.1\n}\nrouter_device {\ndevice=0000:41:00.1\ntap=t2\npeer=p2\n}\n",
			L + 4, "device", "already has a router_device (line 9)", 1},
		{"two router_devices for a lag", base + "lag {\ndevice=41-00.1\ndevice=42-00.1\n}\nrouter_device {\ndevice=41-00.1\n}\nrouter_device {\ndevice=42-00.1\n}\n",
			L + 8, "device", "one router_device serves the whole lag", 1},
		{"tap name twice", base + "router_device {\ndevice=41-00.1\ntap=t\n}\nrouter_device {\ndevice=41-00.0\ntap=t\n}\n",
			L + 6, "tap", "already the name of a TAP or peer (router_device at line 9)", 1},
		{"tap named like a peer", base + "router_device {\ndevice=41-00.1\n}\nrouter_device {\ndevice=41-00.0\ntap=rib41-00.1\n}\n",
			L + 5, "tap", "already the name", 1},
		{"peer named like its tap", base + "router_device {\ndevice=41-00.1\ntap=x\npeer=x\n}\n", L + 3, "peer", "already the name", 1},
		{"bras_arp_ip in a subnet", base + "router_device {\ndevice=41-00.1\nsubnet=188.227.73.0/24\n}\n", 7, "bras_arp_ip", "inside subnet 188.227.73.0/24", 1},
		{"bras_ipv6_address in a subnet6", base + "router_device {\ndevice=41-00.1\nsubnet6=2098::/124\n}\n", 8, "bras_ipv6_address", "inside subnet6", 1},

		// lag.
		{"lag with one device", base + "lag {\ndevice=41-00.1\n}\n", L, "lag", "at least two devices, this one has 1", 1},
		{"lag mixing directions", base + "lag {\ndevice=41-00.1\ndevice=42-00.0\n}\n", L + 2, "device", "cannot mix directions", 1},
		{"device in two lags", base + "lag {\ndevice=41-00.1\ndevice=42-00.1\n}\nlag {\ndevice=41-00.0\ndevice=42-00.1\n}\n",
			L + 6, "device", "already in lag lag0 (line 9)", 1},
		{"device twice in a lag", base + "lag {\ndevice=41-00.1\ndevice=0000:41:00.1\n}\n", L + 2, "device", "twice in this lag", 0},
		{"lag device unknown", base + "lag {\ndevice=41-00.1\ndevice=43-00.1\n}\n", L + 2, "device", "not in in_dev or out_dev", 1},
		{"lag names twice", base + "lag {\nname=x\ndevice=41-00.1\ndevice=42-00.1\n}\nlag {\nname=x\ndevice=41-00.0\ndevice=42-00.0\n}\n",
			L + 6, "name", "already used", 1},
		{"11th lag", manyIn + lines(11, func(i int) string {
			return fmt.Sprintf("lag {\ndevice=%02x-00.0\ndevice=%02x-00.0\n}", 2*i+1, 2*i+2)
		}), 2 + 40, "lag", "at most 10", 1},

		// router=1.
		{"router without netns", "in_dev=41-00.0\nrouter=1\nrouter_kernel_table=1\nbras_arp_mac=00:E0:ED:43:84:42\nbras_arp_ip=1.2.3.4\n",
			2, "router_netns", "required with router=1", 1},
		{"router without table", "in_dev=41-00.0\nrouter=1\nrouter_netns=bird\nbras_arp_mac=00:E0:ED:43:84:42\nbras_arp_ip=1.2.3.4\n",
			2, "router_kernel_table", "required with router=1", 1},
		{"router without mac", "in_dev=41-00.0\nrouter=1\nrouter_netns=bird\nrouter_kernel_table=1\nbras_arp_ip=1.2.3.4\nbras_arp_Mac=00:E0:ED:43:84:42\n",
			2, "bras_arp_mac", "bras_arp_Mac at line 6 was ignored", 1},
		{"router without ip", "in_dev=41-00.0\nrouter=1\nrouter_netns=bird\nrouter_kernel_table=1\nbras_arp_mac=00:E0:ED:43:84:42\n",
			2, "bras_arp_ip", "required with router=1", 1},
		{"router alone", "router=1\n", 1, "router", "no devices", 5},
		{"router with subnet6 but no IPv6", "in_dev=41-00.0\nrouter=1\nrouter_netns=bird\nrouter_kernel_table=1\nbras_arp_mac=00:E0:ED:43:84:42\nbras_arp_ip=1.2.3.4\n" +
			"router_device {\ndevice=41-00.0\nsubnet6=2001::/64\n}\n", 2, "bras_ipv6_address", "has subnet6", 1},
	}
	checkErrors(t, Parse, tests)
}

// All errors are reported, in line order, not just the first.
func TestAllErrors(t *testing.T) {
	src := "router_fib_refresh=0\nrouter_arp_cache_size=0\nrouter_device {\ndevice=99-00.0\n}\nrouter_bogus=1\n"
	_, err := Parse("t.conf", []byte(src))
	var got []string
	for _, e := range Errors(err) {
		got = append(got, fmt.Sprintf("%d:%s", e.Line, e.Param))
	}
	want := "1:router_fib_refresh 2:router_arp_cache_size 4:device 6:router_bogus"
	if strings.Join(got, " ") != want {
		t.Errorf("errors = %q, want %q\n%v", got, want, err)
	}
}
