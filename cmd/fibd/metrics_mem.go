package main

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	dpdk "fibd/cgo"
)

// Memory, so that growth over weeks shows (the soak compares these after
// its first and its last cycle): the process's RSS and the Go heap come
// from Prometheus's standard collectors (process_resident_memory_bytes,
// go_memstats_heap_alloc_bytes, go_gc_heap_live_bytes), the DPDK heap from
// rte_malloc's statistics.
var mDPDKHeap = desc("dpdk_heap_bytes", "Bytes allocated from DPDK's heap: FIB tables, nexthops, rings, mempools.")

type memMetrics struct{}

func (memMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- mDPDKHeap }

func (memMetrics) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(mDPDKHeap, prometheus.GaugeValue, float64(dpdk.HeapUsed()))
}

func registerMemory(reg *prometheus.Registry) {
	reg.MustRegister(memMetrics{},
		// the heap the last GC found live: steadier than the allocated
		// heap, which moves with garbage not yet collected
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}
