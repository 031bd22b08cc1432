package lpm

import (
	"sync"
	"testing"

	"github.com/rs/zerolog"

	dpdk "fibd/cgo"
)

// TestTablesWhileTheWriterAddsTables: the control server, metrics and the
// report read the table map while the router adds a table (an ip rule that
// looks up a new one) or removes one. Readers must never see the map
// change under them: the Go runtime aborts the daemon on a concurrent map
// read and write (and -race reports it).
func TestTablesWhileTheWriterAddsTables(t *testing.T) {
	f := New(zerolog.Nop(), Config{MaxRoutes4: 16, MaxRoutes6: 16})
	f.createTable = func(uint16, dpdk.TableConfig) error { return nil }
	f.destroyTable = func(uint16) error { return nil }
	f.heapUsed = func() uint64 { return 0 }
	if _, err := f.Table(254, 0); err != nil {
		t.Fatal(err)
	}
	n := min(dpdk.MaxTables, 16)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				seen := 0
				for id, tb := range f.Tables() {
					if tb.ID != id {
						t.Errorf("table %d under id %d", tb.ID, id)
					}
					seen++
				}
				if _, ok := f.Tables()[254]; !ok || seen == 0 {
					t.Error("the kernel table vanished from a snapshot")
				}
				_ = f.NH.Live()
			}
		}()
	}
	for round := range 300 {
		var made []*Table
		for id := range uint32(n - 1) {
			tb, err := f.Table(1000+id, -1)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			made = append(made, tb)
		}
		if i, err := f.NH.Alloc(); err == nil {
			f.NH.Unalloc(i)
		}
		for _, tb := range made {
			if err := f.Destroy(tb); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if got := len(f.Tables()); got != 1 {
		t.Errorf("%d tables left, want the kernel table alone", got)
	}
}
