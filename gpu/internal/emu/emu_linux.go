//go:build cgo && linux

package emu

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef void (*gp_emu_fn)(unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void**);

// gp_emu_launch passes kernel parameter i as a pointer to the 8-byte slot
// args[i], as cuLaunchKernel is given them.
static int gp_emu_launch(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                         uint64_t* args, int nargs) {
	void* params[32];
	if (nargs > 32) return 1;
	for (int i = 0; i < nargs; i++) params[i] = &args[i];
	((gp_emu_fn)f)(gx, gy, gz, bx, by, bz, params);
	return 0;
}

typedef long (*gp_emu_counter)(void);
static long gp_emu_take(void* f) { return ((gp_emu_counter)f)(); }
typedef void (*gp_emu_setter)(int);
static void gp_emu_set(void* f, int v) { ((gp_emu_setter)f)(v); }
typedef long (*gp_emu_prefetch_taker)(uintptr_t*, long);
static long gp_emu_take_prefetches(void* f, uintptr_t* out, long max) { return ((gp_emu_prefetch_taker)f)(out, max); }
static void gp_emu_drop_prefetches(void* f) { static uintptr_t none; ((gp_emu_prefetch_taker)f)(&none, 0); }

// Device memory is host memory, aligned as cuMemAlloc's (256 bytes).
static uintptr_t gp_emu_alloc(size_t n) { return (uintptr_t)aligned_alloc(256, (n + 255) / 256 * 256); }
static void gp_emu_free(uintptr_t p) { free((void*)p); }
static void gp_emu_zero(uintptr_t p, size_t n) { memset((void*)p, 0, n); }
static void gp_emu_upload(uintptr_t dst, const void* src, size_t n) { memcpy((void*)dst, src, n); }
static void gp_emu_download(void* dst, uintptr_t src, size_t n) { memcpy(dst, (const void*)src, n); }
*/
import "C"

import (
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"github.com/gopard/gopard/gpu"
)

// The emulator's state (the fibers of the block it runs, their resume
// order, the kernels' shared memory) is global in its library, so two
// devices can run kernels at once only on two copies of it: Open takes a
// copy no open driver holds, loading another when all are held, and Close
// gives it back. Tests on separate devices may then run in parallel.
var (
	mu   sync.Mutex
	idle = map[int][]unsafe.Pointer{} // copies no open driver holds, by warp size
)

// Open compiles the kernels for an emulated warp of 32 or 64 threads (or
// takes them from the cache of gpu.CacheDir("emu")) and returns a Driver
// that runs them on the CPU, on a copy of the kernels of its own.
func Open(warp int) (gpu.Driver, error) {
	h, err := take(warp)
	if err != nil {
		return nil, err
	}
	d := &driver{lib: h, warp: warp}
	for _, f := range []struct {
		name string
		p    *unsafe.Pointer
	}{{"emu_take_unwaited", &d.unwaited}, {"emu_take_prefetches", &d.prefetches}, {"emu_set_order", &d.setOrder}} {
		cn := C.CString(f.name)
		*f.p = C.dlsym(h, cn)
		C.free(unsafe.Pointer(cn))
		if *f.p == nil {
			give(warp, h)
			return nil, fmt.Errorf("emu: the kernel library lacks %s", f.name)
		}
	}
	// As a fresh copy: the order and prefetches its last driver left are
	// not this one's (Launch takes the unwaited count after every launch).
	d.SetOrder(FirstToLast)
	C.gp_emu_drop_prefetches(d.prefetches)
	return d, nil
}

// take returns an idle copy of the kernel library for warp, loading one
// when none is idle.
func take(warp int) (unsafe.Pointer, error) {
	mu.Lock()
	defer mu.Unlock()
	if n := len(idle[warp]); n > 0 {
		h := idle[warp][n-1]
		idle[warp] = idle[warp][:n-1]
		return h, nil
	}
	path, err := Library(warp)
	if err != nil {
		return nil, err
	}
	// dlopen gives the handle it gave before for a path it has open: each
	// copy is loaded from a file of its own (removed once mapped).
	if path, err = copyFile(path); err != nil {
		return nil, fmt.Errorf("emu: a copy of the kernel library: %w", err)
	}
	defer os.Remove(path)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	h := C.dlopen(cpath, C.RTLD_NOW|C.RTLD_LOCAL)
	if h == nil {
		return nil, fmt.Errorf("emu: dlopen %s: %s", path, C.GoString(C.dlerror()))
	}
	return h, nil
}

// give puts a copy of the kernel library back among the idle ones.
func give(warp int, h unsafe.Pointer) {
	mu.Lock()
	defer mu.Unlock()
	idle[warp] = append(idle[warp], h)
}

// copyFile copies the file at path to a new temporary file and returns
// the new file's path.
func copyFile(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp("", "gopard-emu-*.so")
	if err != nil {
		return "", err
	}
	if _, err = io.Copy(dst, src); err == nil {
		err = dst.Close()
	} else {
		dst.Close()
	}
	if err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	return dst.Name(), nil
}

// emulatedL2 is the L2 cache the emulator reports (L2Bytes), so that the
// Device's weight prefetching runs on it: the size of a small GPU's. The
// emulator has no cache; it records what the kernels ask for.
const emulatedL2 = 4 << 20

// driver is a gpu.Driver whose device is the CPU. Launches run to
// completion before they return, so there is nothing to synchronize.
type driver struct {
	lib   unsafe.Pointer
	warp  int
	fns   []unsafe.Pointer
	names []string
	args  []C.uint64_t

	unwaited   unsafe.Pointer // emu_take_unwaited
	prefetches unsafe.Pointer // emu_take_prefetches
	setOrder   unsafe.Pointer // emu_set_order

	// recording: keep the prefetches the kernels ask for in prefetched
	// (takePrefetches), instead of dropping them after each launch.
	recording  bool
	prefetched []prefetch
}

// prefetch is one the kernels asked for: bytes from addr (prefetch_l2_bulk),
// or the line holding addr (prefetch_l2: bytes 0).
type prefetch struct {
	addr  uintptr
	bytes int
}

// Orders in which the emulator resumes the threads of a block (SetOrder).
const (
	// FirstToLast resumes every ready thread from the first to the last,
	// each until it waits at a barrier (a shuffle's or the block's), round
	// after round: the order the emulator starts in.
	FirstToLast = 0
	// LastToFirst is FirstToLast from the last thread to the first.
	LastToFirst = 1
	// WarpsAhead runs a warp at a time, from the last, each until all its
	// threads wait at a block barrier or end, so that a warp gets far
	// ahead of the others, as on a GPU.
	WarpsAhead = 2
)

// SetOrder sets the order in which the emulator resumes the threads of a
// block on this driver's copy of the kernels (a new driver starts at
// FirstToLast): a kernel that lacks a barrier between a write to shared
// memory and another thread's read of it may pass by luck in one order,
// seldom in all three.
func (d *driver) SetOrder(order int) { C.gp_emu_set(d.setOrder, C.int(order)) }

// L2Bytes implements gpu.L2Cacher.
func (d *driver) L2Bytes() int { return emulatedL2 }

// takePrefetches returns the prefetches the kernels asked for since the
// last call (with recording on), in the order the emulated threads ran.
func (d *driver) takePrefetches() []prefetch {
	p := d.prefetched
	d.prefetched = nil
	return p
}

func (d *driver) Name() string { return fmt.Sprintf("emu:0 CPU emulator (warp %d)", d.warp) }

// TensorCores implements gpu.TensorCorer: prelude/emu.h emulates the mma
// of a CUDA warp of 32.
func (d *driver) TensorCores() bool { return d.warp == 32 }

func (d *driver) Alloc(bytes int) (uintptr, error) {
	p := C.gp_emu_alloc(C.size_t(bytes))
	if p == 0 {
		return 0, fmt.Errorf("emu: out of memory (%d bytes)", bytes)
	}
	return uintptr(p), nil
}

func (d *driver) Free(p uintptr) error { C.gp_emu_free(C.uintptr_t(p)); return nil }

func (d *driver) Zero(p uintptr, bytes int) error {
	C.gp_emu_zero(C.uintptr_t(p), C.size_t(bytes))
	return nil
}

func (d *driver) Upload(dst uintptr, src unsafe.Pointer, bytes int) error {
	C.gp_emu_upload(C.uintptr_t(dst), src, C.size_t(bytes))
	return nil
}

func (d *driver) Download(dst unsafe.Pointer, src uintptr, bytes int) error {
	C.gp_emu_download(dst, C.uintptr_t(src), C.size_t(bytes))
	return nil
}

func (d *driver) Function(name string) (uintptr, error) {
	cn := C.CString("emu_launch_" + name)
	defer C.free(unsafe.Pointer(cn))
	f := C.dlsym(d.lib, cn)
	if f == nil {
		return 0, fmt.Errorf("emu: no kernel %q", name)
	}
	d.fns = append(d.fns, f)
	d.names = append(d.names, name)
	return uintptr(len(d.fns) - 1), nil
}

func (d *driver) Launch(fn uintptr, grid, block gpu.Dim3, args []uint64) error {
	if block.X*block.Y*block.Z%uint32(d.warp) != 0 {
		return fmt.Errorf("emu: block %v is not whole warps of %d", block, d.warp)
	}
	d.args = d.args[:0]
	for _, a := range args {
		d.args = append(d.args, C.uint64_t(a))
	}
	var argp *C.uint64_t
	if len(d.args) > 0 {
		argp = &d.args[0]
	}
	if C.gp_emu_launch(d.fns[fn], C.uint(grid.X), C.uint(grid.Y), C.uint(grid.Z),
		C.uint(block.X), C.uint(block.Y), C.uint(block.Z), argp, C.int(len(args))) != 0 {
		return fmt.Errorf("emu: too many kernel arguments (%d)", len(args))
	}
	// A GPU may run a kernel while the previous one finishes (programmatic
	// dependent launch): each thread must wait for it before touching
	// activations (gpu/kernels/compat.h).
	if n := C.gp_emu_take(d.unwaited); n != 0 {
		return fmt.Errorf("emu: kernel %s: %d threads returned without calling grid_dependency_wait()", d.names[fn], n)
	}
	// Taken after every launch, so that the emulator's list stays short.
	n := int(C.gp_emu_take_prefetches(d.prefetches, nil, 0))
	if n == 0 {
		return nil
	}
	if !d.recording {
		C.gp_emu_drop_prefetches(d.prefetches)
		return nil
	}
	got := make([]C.uintptr_t, 2*n)
	C.gp_emu_take_prefetches(d.prefetches, &got[0], C.long(n))
	for i := 0; i < n; i++ {
		d.prefetched = append(d.prefetched, prefetch{uintptr(got[2*i]), int(got[2*i+1])})
	}
	return nil
}

func (d *driver) Synchronize() error { return nil }

// Close gives the driver's copy of the kernels back for another Open.
func (d *driver) Close() error {
	if d.lib != nil {
		give(d.warp, d.lib)
		d.lib, d.fns, d.names = nil, nil, nil
	}
	return nil
}
