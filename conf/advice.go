package conf

import (
	"fmt"
	"strings"
	"time"
)

// Advice is a remark on a valid configuration: something the manual
// advises against, or what fibd skipped.
type Advice struct {
	Warn bool // a warning; otherwise information
	Text string
}

// minFIBRefresh is the manual's advice for router_fib_refresh: below it the
// router does its periodic work more often than any use needs.
const minFIBRefresh = 5 * time.Second

// Advice returns the remarks on c, for the log at start and reload and for
// fibd --check.
func (c *Config) Advice() []Advice {
	var out []Advice
	if c.RouterFIBRefresh < minFIBRefresh {
		out = append(out, Advice{Warn: true, Text: fmt.Sprintf(
			"router_fib_refresh=%d: the manual advises at least %d s (each refresh compares the whole RIB with the FIB)",
			int(c.RouterFIBRefresh/time.Second), int(minFIBRefresh/time.Second))})
	}
	if c.Router {
		for _, t := range []struct {
			key string
			v   uint32
		}{{"fibd_announce_table_inet", c.AnnounceTableInet}, {"fibd_announce_table_subs", c.AnnounceTableSubs}} {
			if t.v == c.RouterKernelTable {
				out = append(out, Advice{Warn: true, Text: fmt.Sprintf(
					"%s=%d is router_kernel_table: BIRD 2 starts one kernel protocol per kernel table (\"Kernel table N already registered\"), so it cannot both export its routes there and learn the announcements; leave it unset (router_kernel_table + 1 or + 2)",
					t.key, t.v)})
			}
		}
		if c.AnnounceTableInet != 0 && c.AnnounceTableInet == c.AnnounceTableSubs {
			out = append(out, Advice{Warn: true, Text: "fibd_announce_table_inet and fibd_announce_table_subs are one table: a prefix announced both ways is then one route, and the routing daemon cannot tell the directions apart"})
		}
	}
	if c.BrasArpMAC != nil {
		out = append(out, Advice{Text: "bras_arp_mac and bras_ipv6_link_local are checked as the manual requires and not used: " +
			"fibd answers no ARP or NDP itself (the kernel in router_netns does, through the exception interfaces) and each port sends from its own MAC; " +
			"bras_arp_ip and bras_ipv6_address are the source of ICMP errors from interfaces without an address"})
	}
	if len(c.Ignored) > 0 {
		keys := make([]string, len(c.Ignored))
		for i, ig := range c.Ignored {
			keys[i] = fmt.Sprintf("%s (line %d)", ig.Key, ig.Line)
		}
		out = append(out, Advice{Text: "not router parameters, ignored by fibd: " + strings.Join(keys, ", ")})
	}
	return out
}
