package main

// fibd --check --print KEY[,KEY...]: the values deployment scripts need,
// read by fibd's own parser, so that fibd-prepare never parses the
// configuration by itself (and never disagrees with fibd about it).

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"fibd/ports"
)

// derivedKeys are the --print keys that are not parameters: values fibd
// computes from several of them.
var derivedKeys = map[string]func(d *daemon, eal []string) (string, error){
	// pci: the PCI addresses of the configured devices, in DPDK's form.
	"pci": func(d *daemon, _ []string) (string, error) {
		var out []string
		for _, dev := range d.cfg.Devices {
			n, err := ports.ParseName(dev.Name)
			if err != nil {
				return "", err
			}
			if n.Kind == ports.KindPCI {
				out = append(out, n.DPDK)
			}
		}
		return strings.Join(out, " "), nil
	},
	// hugepages_mb: fibd_hugepages in MiB.
	"hugepages_mb": func(d *daemon, _ []string) (string, error) {
		mb, err := sizeMiB(d.cfg.Hugepages)
		return strconv.FormatUint(mb, 10), err
	},
	// file_prefix: EAL's --file-prefix (its hugepage and runtime files).
	"file_prefix": func(_ *daemon, eal []string) (string, error) {
		return ealOption(eal, "--file-prefix", "rte"), nil
	},
	// huge_dir: EAL's --huge-dir, the hugetlbfs mount fibd uses.
	"huge_dir": func(_ *daemon, eal []string) (string, error) {
		return ealOption(eal, "--huge-dir", "/dev/hugepages"), nil
	},
}

// printValues writes the value of each key on a line of its own, in the
// order asked; a list is written on one line, separated by blanks.
func (d *daemon) printValues(w io.Writer, keys string, eal []string) error {
	var lines []string
	for _, k := range strings.Split(keys, ",") {
		if f, ok := derivedKeys[k]; ok {
			v, err := f(d, eal)
			if err != nil {
				return fmt.Errorf("--print %s: %w", k, err)
			}
			lines = append(lines, v)
			continue
		}
		v, ok := d.cfg.Value(k)
		if !ok {
			return fmt.Errorf("--print %s: not a parameter of fibd nor one of pci, hugepages_mb, file_prefix, huge_dir", k)
		}
		lines = append(lines, strings.Join(v, " "))
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

// ealOption finds "--opt value" or "--opt=value" among EAL arguments.
func ealOption(eal []string, opt, def string) string {
	for i, a := range eal {
		if v, ok := strings.CutPrefix(a, opt+"="); ok {
			return v
		}
		if a == opt && i+1 < len(eal) {
			return eal[i+1]
		}
	}
	return def
}

// sizeMiB converts a size such as 768M or 4G (fibd_hugepages) to MiB.
func sizeMiB(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("no size")
	}
	n, err := strconv.ParseUint(s[:len(s)-1], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	switch s[len(s)-1] {
	case 'K', 'k':
		return (n + 1023) / 1024, nil
	case 'M', 'm':
		return n, nil
	case 'G', 'g':
		return n * 1024, nil
	}
	return 0, fmt.Errorf("size %q: want a unit K, M or G", s)
}
