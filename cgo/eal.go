package dpdk

/*
#include <stdlib.h>
#include "fp.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// EAL is the initialised DPDK environment. DPDK ties the caller of
// rte_eal_init to the main lcore, and launching or waiting for worker
// lcores must happen there, so Init dedicates one locked OS thread to it
// and Do runs functions on that thread.
type EAL struct {
	calls  chan func()
	done   chan struct{}
	mu     sync.Mutex // serialises Do and Cleanup
	closed bool
}

var initialised bool

// Init runs rte_eal_init with args (args[0] is the program name, as in
// argv) on a dedicated OS thread. It can succeed once per process.
func Init(args []string) (*EAL, error) {
	if initialised {
		return nil, errors.New("EAL already initialised")
	}
	e := &EAL{calls: make(chan func()), done: make(chan struct{})}
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread is the main lcore
		err := ealInit(args)
		res <- err
		if err != nil {
			return // the thread exits with its goroutine
		}
		for f := range e.calls {
			f()
		}
		close(e.done)
	}()
	if err := <-res; err != nil {
		return nil, err
	}
	initialised = true
	return e, nil
}

func ealInit(args []string) error {
	// EAL keeps pointers into argv (e.g. for --file-prefix): never freed.
	argv := C.malloc(C.size_t(len(args)+1) * C.size_t(unsafe.Sizeof(uintptr(0))))
	av := unsafe.Slice((**C.char)(argv), len(args)+1)
	for i, a := range args {
		av[i] = C.CString(a)
	}
	av[len(args)] = nil
	var ebuf [256]C.char
	rc := C.fp_eal_init(C.int(len(args)), (**C.char)(argv), &ebuf[0], C.int(len(ebuf)))
	if rc < 0 {
		return fmt.Errorf("%s (args %q)", C.GoString(&ebuf[0]), args)
	}
	return nil
}

// ErrCleanedUp is returned by Do after Cleanup.
var ErrCleanedUp = errors.New("EAL already cleaned up")

// Do runs f on the main lcore thread and returns its error.
func (e *EAL) Do(f func() error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrCleanedUp
	}
	var err error
	ran := make(chan struct{})
	e.calls <- func() { err = f(); close(ran) }
	<-ran
	return err
}

// MainLcore is the lcore id of the EAL's main thread.
func (e *EAL) MainLcore() uint { return uint(C.fp_main_lcore()) }

// WorkerLcores lists the lcores EAL set aside for workers (-l/-c minus the
// main lcore), in order.
func (e *EAL) WorkerLcores() []uint {
	var ids [1024]C.uint
	n := int(C.fp_worker_lcores(&ids[0], C.int(len(ids))))
	n = min(n, len(ids))
	out := make([]uint, n)
	for i := range n {
		out[i] = uint(ids[i])
	}
	return out
}

// Cleanup releases EAL resources (hugepage files, vdevs). Ports should be
// closed first. The EAL cannot be used afterwards.
func (e *EAL) Cleanup() error {
	err := e.Do(func() error { return errno(C.fp_eal_cleanup(), "rte_eal_cleanup") })
	if errors.Is(err, ErrCleanedUp) {
		return nil
	}
	e.mu.Lock()
	e.closed = true
	close(e.calls)
	e.mu.Unlock()
	<-e.done
	return err
}

// HeapUsed is the number of bytes allocated from DPDK's heap on all sockets.
func HeapUsed() uint64 { return uint64(C.fp_heap_used()) }
