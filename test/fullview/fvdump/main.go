// Command fvdump prints the synthetic full view of `make bench` (package
// fullview, the same seeds) one prefix a line, for the C benchmark of the
// LPM tables (cgo/dp/test/bench_lpm.c), which cannot link Go.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"fibd/test/fullview"
)

func main() {
	v4 := flag.Int("v4", 1000000, "IPv4 prefixes")
	v6 := flag.Int("v6", 200000, "IPv6 prefixes")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	for _, p := range fullview.IPv4(1, *v4) {
		fmt.Fprintln(w, p)
	}
	for _, p := range fullview.IPv6(2, *v6) {
		fmt.Fprintln(w, p)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "fvdump:", err)
		os.Exit(1)
	}
}
