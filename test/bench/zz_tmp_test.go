package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestZZCancel(t *testing.T) {
	bin, err := BuildL3fwd(l3fwdTestDir(t))
	if err != nil {
		t.Fatal(err)
	}
	d := t.TempDir()
	pcap := filepath.Join(d, "in.pcap")
	l3fwdTestPcap(pcap, []netip.Addr{netip.MustParseAddr("198.18.0.1")})
	r4, r6 := filepath.Join(d, "r4"), filepath.Join(d, "r6")
	WriteL3fwdRules(r4, r6, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/16")}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(3)*time.Second)
	defer cancel()
	w := 30 * time.Second
	if os.Getenv("ZZ_LONG") != "" {
		ctx = context.Background()
	}
	start := time.Now()
	_, err = L3fwdRun{Bin: bin, Pcap: pcap, Rules4: r4, Rules6: r6, Window: w, FilePrefix: "zzcancel"}.Run(ctx)
	t.Logf("after %v: %v", time.Since(start), err)
	// unrouted
	WriteL3fwdRules(r4, r6, []netip.Prefix{netip.MustParsePrefix("198.19.0.0/16")}, nil)
	_, err = L3fwdRun{Bin: bin, Pcap: pcap, Rules4: r4, Rules6: r6, Window: time.Second, FilePrefix: "zzcancel"}.Run(context.Background())
	t.Logf("unrouted: %v", err)
}
