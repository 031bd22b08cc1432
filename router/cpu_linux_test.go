package router

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLeastLoaded(t *testing.T) {
	dir := t.TempDir()
	stat := func(lines string) map[int]cpuBusy {
		p := filepath.Join(dir, "stat")
		os.WriteFile(p, []byte("cpu  10 0 10 100 0 0 0 0 0 0\n"+lines+"intr 1 2 3\n"), 0o644)
		m, err := readCPUStat(p)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := stat("cpu0 100 0 0 100 0 0 0 0 0 0\ncpu1 100 0 0 100 0 0 0 0 0 0\ncpu2 100 0 0 100 0 0 0 0 0 0\n")
	// cpu0 90% busy, cpu1 10%, cpu2 (a worker's, not a candidate) idle
	after := stat("cpu0 190 0 0 110 0 0 0 0 0 0\ncpu1 110 0 0 190 0 0 0 0 0 0\ncpu2 100 0 0 200 0 0 0 0 0 0\n")
	if len(before) != 3 || before[1].total != 200 || before[1].busy != 100 {
		t.Fatalf("parsed %+v", before)
	}
	cpu, load := leastLoaded([]int{0, 1}, before, after)
	if cpu != 1 || load < 0.09 || load > 0.11 {
		t.Errorf("chose cpu %d at load %.2f, want cpu 1 at 0.10", cpu, load)
	}
	if cpu, _ := leastLoaded([]int{0, 1}, before, before); cpu != 0 {
		t.Errorf("no sample: chose %d, want the lowest, 0", cpu)
	}
	if cpu, _ := leastLoaded(nil, before, after); cpu != -1 {
		t.Errorf("no candidate: %d", cpu)
	}
}
