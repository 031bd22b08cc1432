package conf

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// tomlBase is base (errors_test.go) in TOML form.
const tomlBase = `in_dev = ["41-00.0", "42-00.0"]
out_dev = "41-00.1:42-00.1"
router = true
router_netns = "bird"
router_kernel_table = 1
bras_arp_mac = "00:E0:ED:43:84:42"
bras_arp_ip = "188.227.73.40"
bras_ipv6_address = "2098::1"
`

func TestTOMLBase(t *testing.T) {
	a, err := Parse("a", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseTOML("b", []byte(tomlBase))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalized(a), normalized(b)) {
		t.Errorf("conf %+v\ntoml %+v", a, b)
	}
}

// A single [router_device] table is accepted as well as [[router_device]],
// and an inline array of tables.
func TestTOMLTableForms(t *testing.T) {
	for _, src := range []string{
		tomlBase + "[router_device]\ndevice = \"41-00.1\"\nsubnet = \"10.0.0.0/8\"\n",
		tomlBase + "router_device = [{device = \"41-00.1\", subnet = [\"10.0.0.0/8\"]}]\nlag = []\n",
	} {
		c, err := ParseTOML("t.toml", []byte(src))
		if err != nil {
			t.Fatalf("%s\n%v", src, err)
		}
		if len(c.RouterDevices) != 1 || c.RouterDevices[0].Tap != "dpi41-00.1" || len(c.RouterDevices[0].Subnets) != 1 {
			t.Errorf("%+v", c.RouterDevices)
		}
	}
}

func TestTOMLErrors(t *testing.T) {
	L := strings.Count(tomlBase, "\n") + 1
	tests := []errorCase{
		{"syntax", tomlBase + "router_fib_refresh = \n", L, "router_fib_refresh", "TOML: expected value", 1},
		{"duplicate key", tomlBase + "router = false\n", L, "router", "already been defined", 1},
		{"string for integer", tomlBase + "router_fib_refresh = \"15\"\n", L, "router_fib_refresh", "expected an integer", 1},
		{"float for integer", tomlBase + "router_fib_refresh = 1.5\n", L, "router_fib_refresh", "float", 1},
		{"integer for string", tomlBase + "ajb_udpi_path = 1\n", L, "ajb_udpi_path", "expected a string", 1},
		{"bool 2", tomlBase + "router_rtnl_pcap = 2\n", L, "router_rtnl_pcap", "expected a boolean", 1},
		{"array for scalar", tomlBase + "ajb_udpi_path = [\"a\", \"b\"]\n", L, "ajb_udpi_path", "single value", 1},
		{"date", tomlBase + "ajb_udpi_path = 1979-05-27\n", L, "ajb_udpi_path", "date", 1},
		{"out of range", tomlBase + "# comment\n\nrouter_subs_announce = 16\n", L + 2, "router_subs_announce", "out of range", 1},
		{"unknown router key", tomlBase + "router_fib_refrehs = 5\n", L, "router_fib_refrehs", "did you mean", 1},
		{"section not a table", tomlBase + "lag = \"x\"\n", L, "lag", "must be a table", 1},
		{"device not in in_dev", tomlBase + "\n[[router_device]]\n# c\ndevice = \"43-00.1\"\n", L + 3, "device", "not in in_dev", 1},
		{"second table", tomlBase + "[[router_device]]\ndevice = \"41-00.1\"\n\n[[router_device]]\nsubnet = \"10.0.0.0/8\"\ndevice = \"99-00.1\"\n",
			L + 5, "device", "not in in_dev", 1},
		{"lag with one device", tomlBase + "[[lag]]\nname = \"x\"\ndevice = [\"41-00.1\"]\n", L, "lag", "at least two", 1},
		{"unknown key in section", tomlBase + "[[lag]]\ndevice = [\"41-00.1\", \"42-00.1\"]\nsubnet = \"10.0.0.0/8\"\n", L + 2, "subnet", "not a parameter of the lag", 1},
		{"17 subnets", tomlBase + "[[router_device]]\ndevice = \"41-00.1\"\nsubnet = [\n" +
			lines(17, func(i int) string { return fmt.Sprintf("  \"10.%d.0.0/16\",", i) }) + "]\n", L + 2, "subnet", "more than 16", 1},
		{"mixed lag", tomlBase + "[[lag]]\ndevice = [\n  \"41-00.1\",\n  \"42-00.0\",\n]\n", L + 1, "device", "mix directions", 1},
		{"tricky strings", tomlBase + "dpi_text = [\"\"\"a\nb = 1\n[x]\"\"\", '''\n''']\nrouter_bogus = 1\n", L + 4, "router_bogus", "unknown", 1},
		{"bras_arp_ip in subnet", tomlBase + "[[router_device]]\ndevice = \"41-00.1\"\nsubnet = [\"188.227.73.0/24\"]\n", 7, "bras_arp_ip", "inside subnet", 1},
		{"missing with router", "in_dev = \"41-00.0\"\nrouter = 1\n", 2, "router_netns", "required", 4},
	}
	checkErrors(t, ParseTOML, tests)
}

func TestTOMLLines(t *testing.T) {
	src := `a = 1
b = [
  1, # ]
  2,
]
"c.d" = """x
y"""
[t]
k.l = 'v'
[[arr]]
m = { n = 1 }
[[arr]]
  m = "# not a comment"
o = 2
`
	want := map[string]int{"a": 1, "b": 2, "c.d": 6, "t": 8, "t.k.l": 9, "arr[0]": 10, "arr[0].m": 11,
		"arr[1]": 12, "arr[1].m": 13, "arr[1].o": 14}
	if got := tomlLines(src); !reflect.DeepEqual(got, want) {
		t.Errorf("tomlLines = %v\nwant %v", got, want)
	}
}
