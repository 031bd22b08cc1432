package ports

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseNamePCI(t *testing.T) {
	tests := []struct{ in, dpdk string }{
		{"41-00.1", "0000:41:00.1"},
		{"0000-41-00.1", "0000:41:00.1"},
		{"0000:41:00.1", "0000:41:00.1"},
		{"41:00.1", "0000:41:00.1"},
		{"0001:41:00.1", "0001:41:00.1"},
		{"0001-41-00.1", "0001:41:00.1"},
		{"ff-1f.7", "0000:ff:1f.7"},
		{"00-00.0", "0000:00:00.0"},
		{"AB:1F.3", "0000:ab:1f.3"},
		{"FFFF:0a:0B.0", "ffff:0a:0b.0"},
	}
	for _, tt := range tests {
		n, err := ParseName(tt.in)
		if err != nil {
			t.Errorf("ParseName(%q): %v", tt.in, err)
			continue
		}
		want := Name{Config: tt.in, Kind: KindPCI, DPDK: tt.dpdk}
		if n != want {
			t.Errorf("ParseName(%q) = %+v, want %+v", tt.in, n, want)
		}
		if n.String() != tt.in {
			t.Errorf("String() = %q, want %q", n.String(), tt.in)
		}
	}
}

func TestParseNameVdev(t *testing.T) {
	tests := []struct{ in, driver string }{
		{"net_pcap0", "net_pcap"},
		{"net_ring1", "net_ring"},
		{"net_af_packet0", "net_af_packet"},
		{"net_af_xdp12", "net_af_xdp"},
		{"net_tap0", "net_tap"},
		{"net_null0", "net_null"},
		{"net_memif0", "net_memif"},
		{"net_bonding0", "net_bonding"},
		{"net_vhost0", "net_vhost"},
		{"net_virtio_user0", "net_virtio_user"},
		{"net_pcap_in0", "net_pcap"},    // DPDK matches driver names as prefixes
		{"net_kni0", "net_kni"},         // unknown driver: accepted, the stem
		{"net_foo_bar7", "net_foo_bar"}, // idem
	}
	for _, tt := range tests {
		n, err := ParseName(tt.in)
		if err != nil {
			t.Errorf("ParseName(%q): %v", tt.in, err)
			continue
		}
		want := Name{Config: tt.in, Kind: KindVdev, DPDK: tt.in, Driver: tt.driver}
		if n != want {
			t.Errorf("ParseName(%q) = %+v, want %+v", tt.in, n, want)
		}
	}
	if !KnownDriver("net_af_xdp") || KnownDriver("net_kni") {
		t.Errorf("KnownDriver is wrong")
	}
}

func TestParseNameErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "no '.'"},
		{"eth0", "no '.'"},
		{"41-00", "no '.'"},
		{"41-00.8", `PCI function "8" is out of range`},
		{"41-20.1", `PCI device "20" is out of range`},
		{"4-00.1", `PCI bus "4": want 2 hex digits`},
		{"041-00.1", `want 2 hex digits`},
		{"4g-00.1", `PCI bus "4g" is not hexadecimal`},
		{"41-00.a", `PCI function "a" is out of range`},
		{"41-00.10", `PCI function "10": want 1 hex digits`},
		{"000-41-00.1", `PCI domain "000": want 4 hex digits`},
		{"0000:41-00.1", `PCI bus "0000:41"`},
		{"1-2-3-4.1", "want bus, device and function"},
		{"41.00.1", "want bus, device and function"},
		{"net_pcap", "no instance number"},
		{"net_0", "no driver after net_"},
		{"net_Pcap0", `character 'P'`},
		{"net_pc-ap0", `character '-'`},
		{"net_pcap0a", "no instance number"},
		{"eth_pcap0", "no '.'"},
		{"net_" + strings.Repeat("a", 60) + "0", "longer than 63"},
	}
	for _, tt := range tests {
		_, err := ParseName(tt.in)
		if err == nil {
			t.Errorf("ParseName(%q): no error", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), `"41-00.1"`) || !strings.Contains(err.Error(), `"net_pcap0"`) {
			t.Errorf("ParseName(%q): %q, want it to contain %q and name the accepted forms", tt.in, err, tt.msg)
		}
	}
}

func mustNames(t *testing.T, ss ...string) []Name {
	t.Helper()
	var ns []Name
	for _, s := range ss {
		n, err := ParseName(s)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	return ns
}

func TestEALDeviceArgs(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		vdevs []string
		want  []string
	}{
		{"none", nil, nil, []string{"--no-pci"}},
		{"pci", []string{"41-00.0", "0000:41:00.1"}, nil, []string{"-a", "0000:41:00.0", "-a", "0000:41:00.1"}},
		{"pci twice", []string{"41-00.0", "0000:41:00.0"}, nil, []string{"-a", "0000:41:00.0"}},
		{
			"vdevs", []string{"net_pcap0", "net_null0", "net_tap1"},
			[]string{"net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", "net_tap1,iface=rib1"},
			[]string{"--no-pci", "--vdev", "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", "--vdev", "net_null0", "--vdev", "net_tap1,iface=rib1"},
		},
		{
			"mixed, unused spec left out", []string{"net_ring0", "41-00.1"},
			[]string{"net_pcap9,rx_pcap=x.pcap"},
			[]string{"-a", "0000:41:00.1", "--vdev", "net_ring0"},
		},
		{
			"spec without arguments", []string{"net_null0"}, []string{"net_null0"},
			[]string{"--no-pci", "--vdev", "net_null0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EALDeviceArgs(mustNames(t, tt.names...), tt.vdevs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEALDeviceArgsErrors(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		vdevs []string
		msg   string
	}{
		{"pcap without spec", []string{"net_pcap0"}, nil, "device net_pcap0: no vdev spec for it (net_pcap needs arguments"},
		{"af_packet without spec", []string{"net_af_packet0"}, []string{"net_af_packet1,iface=x"}, "device net_af_packet0: no vdev spec"},
		{"bad spec", []string{"net_null0"}, []string{"pcap0,rx_pcap=x"}, `vdev spec "pcap0,rx_pcap=x"`},
		{"pci spec", []string{"net_null0"}, []string{"41-00.1,foo=bar"}, "is not a vdev name"},
		{"two specs", []string{"net_pcap0"}, []string{"net_pcap0,rx_pcap=a", "net_pcap0,rx_pcap=b"}, "a second spec for net_pcap0"},
		{"zero Name", nil, nil, "not parsed by ParseName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := mustNames(t, tt.names...)
			if tt.name == "zero Name" {
				names = []Name{{Config: "x"}}
			}
			got, err := EALDeviceArgs(names, tt.vdevs)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, %v; want an error containing %q", got, err, tt.msg)
			}
		})
	}
}
