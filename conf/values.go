package conf

// Parsers and checkers of the kinds of values found in the file. Each
// returns an error whose text completes "file:line: param: ".

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// parseBool accepts fastdpi's boolean spellings, in any case.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "on":
		return true, nil
	case "0", "false", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (0, false, off or 1, true, on)", v)
}

// parseInt accepts a decimal integer in [lo, hi]. Only base 10: a leading 0
// is not octal here, so router_kernel_table=010 is table 10.
func parseInt(v string, lo, hi int64) (int64, error) {
	if v == "" {
		return 0, fmt.Errorf("empty value, expected an integer in %s", rangeText(lo, hi))
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) || err == nil && (n < lo || n > hi) {
		return 0, fmt.Errorf("%s is out of range %s", v, rangeText(lo, hi))
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v)
	}
	return n, nil
}

func rangeText(lo, hi int64) string { return fmt.Sprintf("%d..%d", lo, hi) }

// Device names. fastdpi writes a PCI address without its domain and with a
// dash, 41-00.1 for 0000:41:00.1, so that ':' can separate the devices of a
// list; fibd also accepts the full address, and DPDK vdev names.
var (
	pciShortRe = regexp.MustCompile(`^[0-9a-fA-F]{2}-[0-9a-fA-F]{2}\.[0-7]$`)
	pciFullRe  = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]`)
	vdevNameRe = regexp.MustCompile(`^net_[A-Za-z0-9_]+$`)
)

// splitDevices splits an in_dev/out_dev value at ':', keeping full PCI
// addresses (which contain ':' themselves) in one piece. Blanks around the
// names are dropped.
func splitDevices(v string) []string {
	var out []string
	for {
		v = strings.TrimLeft(v, " \t")
		n := 0
		if m := pciFullRe.FindString(v); m != "" && (len(m) == len(v) || strings.IndexByte(": \t", v[len(m)]) >= 0) {
			n = len(m)
		} else if i := strings.IndexByte(v, ':'); i >= 0 {
			n = i
		} else {
			n = len(v)
		}
		out = append(out, strings.TrimSpace(v[:n]))
		v = strings.TrimLeft(v[n:], " \t")
		if v == "" {
			return out
		}
		v = v[1:] // the ':' after the name
		if strings.TrimSpace(v) == "" {
			return append(out, "") // trailing ':'
		}
	}
}

// checkDevice checks the syntax of one device name.
func checkDevice(name string) error {
	switch {
	case name == "":
		return errors.New("empty device name")
	case pciShortRe.MatchString(name), pciFullRe.MatchString(name) && len(name) == len("0000:00:00.0"),
		vdevNameRe.MatchString(name):
		return nil
	}
	return fmt.Errorf("%q is neither a PCI address (41-00.1 or 0000:41:00.1) nor a DPDK vdev name (net_...)", name)
}

// canonicalDevice maps both spellings of a PCI address to DPDK's
// 0000:41:00.1; other names are returned as they are.
func canonicalDevice(name string) string {
	switch {
	case pciShortRe.MatchString(name):
		return "0000:" + strings.ToLower(strings.Replace(name, "-", ":", 1))
	case pciFullRe.MatchString(name) && len(name) == len("0000:00:00.0"):
		return strings.ToLower(name)
	}
	return name
}

// checkIfName applies the kernel's rules for interface names
// (dev_valid_name): 1 to 15 bytes (IFNAMSIZ-1), not "." or "..", no '/',
// ':' or white space. Control characters are refused too.
func checkIfName(s string) error {
	switch {
	case s == "":
		return errors.New("empty interface name")
	case len(s) > 15:
		return fmt.Errorf("%q is %d bytes long, Linux interface names have at most 15", s, len(s))
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a valid interface name", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '/' || c == ':' || c <= ' ' || c == 0x7f {
			return fmt.Errorf("%q contains %q, which Linux does not allow in interface names", s, c)
		}
	}
	return nil
}

// checkNetns checks a network namespace name as iproute2 stores it: a file
// name under /run/netns.
func checkNetns(s string) error {
	if s == "." || s == ".." || strings.ContainsAny(s, "/") || len(s) > 255 {
		return fmt.Errorf("%q is not a valid net namespace name", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return fmt.Errorf("%q contains blanks or control characters", s)
		}
	}
	return nil
}

// parseMAC accepts a unicast EUI-48 address, the source MAC of every packet
// fibd sends.
func parseMAC(v string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(v)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("%q is not a MAC address (like 00:E0:ED:43:84:42)", v)
	}
	if mac[0]&1 != 0 {
		return nil, fmt.Errorf("%s is a multicast MAC address", mac)
	}
	if string(mac) == "\x00\x00\x00\x00\x00\x00" {
		return nil, errors.New("the MAC address is all zeros")
	}
	return mac, nil
}

// parseAddr accepts an address without zone.
func parseAddr(v string) (netip.Addr, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", v)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: a zone is not allowed here", v)
	}
	return a, nil
}

// parseHostIPv4 accepts the IPv4 address of a host (fibd itself).
func parseHostIPv4(v string) (netip.Addr, error) {
	a, err := parseAddr(v)
	switch {
	case err != nil:
		return a, err
	case !a.Is4():
		return netip.Addr{}, fmt.Errorf("%s is not an IPv4 address", v)
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Addr{}, fmt.Errorf("%s cannot be the address of a host", a)
	}
	return a, nil
}

// parseHostIPv6 accepts a global IPv6 unicast address.
func parseHostIPv6(v string) (netip.Addr, error) {
	a, err := parseAddr(v)
	switch {
	case err != nil:
		return a, err
	case !a.Is6() || a.Is4In6():
		return netip.Addr{}, fmt.Errorf("%s is not an IPv6 address", v)
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback():
		return netip.Addr{}, fmt.Errorf("%s cannot be the address of a host", a)
	case a.IsLinkLocalUnicast():
		return netip.Addr{}, fmt.Errorf("%s is link-local; set it with bras_ipv6_link_local", a)
	}
	return a, nil
}

// linkLocalNet is fe80::/10, where bras_ipv6_link_local must lie.
var linkLocalNet = netip.MustParsePrefix("fe80::/10")

// parseLinkLocal accepts an IPv6 link-local unicast address.
func parseLinkLocal(v string) (netip.Addr, error) {
	a, err := parseAddr(v)
	switch {
	case err != nil:
		return a, err
	case !a.Is6() || a.Is4In6():
		return netip.Addr{}, fmt.Errorf("%s is not an IPv6 address", v)
	case !linkLocalNet.Contains(a):
		return netip.Addr{}, fmt.Errorf("%s is not in fe80::/10", a)
	}
	return a, nil
}

// eui64LinkLocal derives the link-local address of an interface from its
// MAC by modified EUI-64 (RFC 4291 appendix A): fe80::/64, then the MAC with
// ff:fe in its middle and the universal/local bit flipped.
func eui64LinkLocal(mac net.HardwareAddr) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	a[8], a[9], a[10] = mac[0]^0x02, mac[1], mac[2]
	a[11], a[12] = 0xff, 0xfe
	a[13], a[14], a[15] = mac[3], mac[4], mac[5]
	return netip.AddrFrom16(a)
}

// parseSubnet accepts a CIDR prefix of the given family (4 or 6). Host bits
// are allowed, as in the manual's subnet6=2001::1/124, and cleared.
func parseSubnet(v string, family int) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix (address/length)", v)
	}
	switch {
	case family == 4 && !p.Addr().Is4():
		return netip.Prefix{}, fmt.Errorf("%s is not an IPv4 prefix (IPv6 goes in subnet6)", v)
	case family == 6 && (!p.Addr().Is6() || p.Addr().Is4In6()):
		return netip.Prefix{}, fmt.Errorf("%s is not an IPv6 prefix (IPv4 goes in subnet)", v)
	}
	return p.Masked(), nil
}

// checkVdev checks a fibd_vdev value, "net_xxxN" followed by ",key=value"
// or ",flag" arguments, and returns the device name. Brackets may group a
// value that contains commas, as DPDK's kvargs allow.
func checkVdev(v string) (string, error) {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, v[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, v[start:])
	name := parts[0]
	if !vdevNameRe.MatchString(name) {
		return "", fmt.Errorf("%q does not start with a DPDK vdev name (net_ followed by letters, digits, '_')", v)
	}
	for _, a := range parts[1:] {
		k, _, _ := strings.Cut(a, "=")
		if !argKeyRe.MatchString(k) {
			return "", fmt.Errorf("argument %q of %s is not key=value", a, name)
		}
	}
	return name, nil
}

var argKeyRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// hasControl reports whether s holds control characters other than tab;
// no value may (they could not be written back to a file).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// editDistance is the Levenshtein distance of a and b, to suggest the
// parameter meant by a misspelt one.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
