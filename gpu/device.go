package gpu

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"time"
	"unsafe"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// Dim3 is a grid or block size.
type Dim3 struct{ X, Y, Z uint32 }

// Driver is a vendor runtime as a Device uses it: device memory, one
// in-order stream of work, and the kernels of package kernels, compiled
// for the device and looked up by name. gpu/cuda and gpu/hip implement it.
// A Driver is used by one goroutine at a time.
type Driver interface {
	// Name identifies the device ("cuda:0 NVIDIA H100 80GB HBM3").
	Name() string
	// Alloc returns bytes (> 0) of uninitialized device memory.
	Alloc(bytes int) (uintptr, error)
	// Free releases memory from Alloc.
	Free(ptr uintptr) error
	// Zero queues the clearing of bytes at ptr.
	Zero(ptr uintptr, bytes int) error
	// Upload copies host memory to the device after the queued work,
	// and returns once it is copied.
	Upload(dst uintptr, src unsafe.Pointer, bytes int) error
	// Download waits for the queued work and copies device memory to the host.
	Download(dst unsafe.Pointer, src uintptr, bytes int) error
	// Function returns the handle of a kernel entry point.
	Function(name string) (uintptr, error)
	// Launch queues a kernel. args holds one 8-byte slot per parameter:
	// a device address, or an int32 or float32 in its low 4 bytes; the
	// Device reuses it after the call returns.
	Launch(fn uintptr, grid, block Dim3, args []uint64) error
	// Synchronize waits for the queued work and reports its errors.
	Synchronize() error
	// Close releases the device; memory from Alloc must be freed first.
	Close() error
}

// Timer is implemented by drivers that time work on the device (events).
type Timer interface {
	// Time returns the device time of the work f queues.
	Time(f func()) (time.Duration, error)
}

// TensorCorer is implemented by drivers whose devices run the kernels'
// tensor-core multiply-add (mma_bf16_16816 in compat.h): CUDA sm_80 and
// newer, and the emulator with a warp of 32.
type TensorCorer interface {
	TensorCores() bool
}

// ResourceReporter is implemented by drivers that can say what a compiled
// kernel uses (CUDA's cuFuncGetAttribute); fn is a handle from Function.
type ResourceReporter interface {
	KernelResources(fn uintptr) (KernelResources, error)
}

// KernelResources is what one compiled kernel uses per thread and block.
// A kernel that streams weights should have no local memory: arrays the
// compiler could not keep in registers live there, and each access is a
// round trip through the cache.
type KernelResources struct {
	Registers   int // per thread
	LocalBytes  int // per thread: spills and arrays indexed by a variable
	SharedBytes int // static, per block
}

// MemReporter is implemented by drivers that can say how much device
// memory is free and how much there is (cuMemGetInfo, hipMemGetInfo).
type MemReporter interface {
	MemInfo() (free, total int64, err error)
}

// LaunchModer is implemented by drivers that can say how they issue
// kernels (CUDA: graphs, programmatic dependent launch).
type LaunchModer interface {
	LaunchMode() string
}

// Launch geometry shared with the kernels (see gpu/kernels).
const (
	blockThreads       = 256 // a multiple of every warp size
	linearMaxRows      = 16  // LINEAR_MAX_ROWS in linear.cu
	linearTile         = 512 // LINEAR_TILE in linear.cu
	attnChunk          = 64  // ATTN_CHUNK in attention.cu
	embeddingInlineIDs = 16  // EMBEDDING_INLINE_IDS in embedding.cu
	// Embedding passes up to this many launches' worth of ids in their
	// arguments before it uploads them instead (an upload waits for the
	// device): 64 ids, a PARD draft's input up to K = 32.
	embeddingInlineLaunches = 4
	attnMaxHeadDim          = 512 // ATTN_MAX_HEAD_DIM in attention.cu
	maxGrid                 = 1 << 16
)

// Device is the nn.Backend of a GPU: it checks shapes, sizes grids and
// launches the kernels of package kernels through a Driver, and owns every
// allocation it makes (Close frees them). Activations are F32 device
// tensors; weights are uploaded in their stored dtype. Methods panic on a
// shape mismatch or a driver error, as nn.Backend methods do not return
// errors. A Device is not safe for concurrent use.
type Device struct {
	drv  Driver
	warp int                // threads per warp of the compiled kernels
	fns  map[string]uintptr // kernel handles by name
	mem  map[uintptr]int    // live allocations: address → bytes
	used int64

	ids, part, result buffer // scratch: Embedding's ids, attention partials, Argmax's results
	hostIDs           []int32

	// The nn.IDChainer list: ids kept on the device (kept, nKept of them)
	// under generation keptGen, and the host copy of the last list read
	// (keptClosed: read, the next KeepArgmax starts a new list).
	kept       buffer
	nKept      int
	keptGen    uint64
	keptClosed bool
	keptHost   []int32
	// Beside it, the distributions of the ids KeepSample drew (dists[i]
	// says where id i's is in keptDist, the first distEnd floats in use),
	// and KeepVerdict's uniform numbers.
	keptDist buffer
	dists    []distRow
	distEnd  int
	uniforms buffer

	// waits counts the times the host waited for the device (HostWaits);
	// busy: work was launched since the last wait.
	waits int64
	busy  bool
	// launchArgs holds a launch's arguments (see launch).
	launchArgs []uint64

	// linearRegister keeps 16-row linear layers on the kernel that reads x
	// from cache instead of shared memory (SetTiledLinear).
	linearRegister bool
	// tensorCores: the driver runs the mma kernels; bf16Act: the linear
	// layers with bf16 weights use them (SetBF16Activations).
	tensorCores, bf16Act bool
	// prefetchBudget: the bytes PrefetchWeights may ask L2 for per call
	// (0: off; SetPrefetch); prefetched: the bytes it has asked for.
	prefetchBudget int
	prefetched     int64
	// fuseNorm: the nn.NormFuser forms are used (SetFuseNorm); norm and
	// normedX: the scratch where they write a norm the kernels do not fold.
	fuseNorm bool
	norm     buffer
	normedX  tensor.Tensor
	// f16KV: AllocKV hands out binary16 caches (SetF16KVCache).
	f16KV bool
	// bulk: BulkRows lets the decoder send a prefill's rows to LinearBulk
	// (SetBulk).
	bulk bool
}

// buffer is scratch device memory that grows on demand.
type buffer struct {
	ptr   uintptr
	bytes int
}

// NewDevice makes a Device on an open Driver. It runs a first kernel (to
// learn the warp size the kernels were compiled with) so that a device
// that cannot run them fails here.
func NewDevice(drv Driver) (*Device, error) {
	d := &Device{drv: drv, fns: map[string]uintptr{}, mem: map[uintptr]int{}, linearRegister: os.Getenv("GOPARD_GPU_LINEAR") == "register"}
	warp, err := d.warpSize()
	if err != nil {
		d.freeAll()
		return nil, fmt.Errorf("%s: %w", drv.Name(), err)
	}
	if warp != 32 && warp != 64 {
		d.freeAll()
		return nil, fmt.Errorf("%s: kernels report a warp size of %d", drv.Name(), warp)
	}
	d.warp = warp
	if tc, ok := drv.(TensorCorer); ok && warp == 32 {
		d.tensorCores = tc.TensorCores()
	}
	env, err := SettingsFromEnv()
	if err != nil {
		d.freeAll()
		return nil, fmt.Errorf("%s: %w", drv.Name(), err)
	}
	d.SetPrefetch(env.PrefetchBytes)
	d.SetFuseNorm(env.FuseNorm)
	d.SetBulk(env.Bulk)
	return d, nil
}

func (d *Device) warpSize() (int, error) {
	fn, err := d.drv.Function("warp_size")
	if err != nil {
		return 0, err
	}
	p, err := d.drv.Alloc(4)
	if err != nil {
		return 0, err
	}
	d.track(p, 4)
	d.busy = true
	if err := d.drv.Launch(fn, Dim3{1, 1, 1}, Dim3{64, 1, 1}, []uint64{uint64(p)}); err != nil {
		return 0, err
	}
	var w int32
	if err := d.download(unsafe.Pointer(&w), p, 4); err != nil {
		return 0, err
	}
	d.free(p)
	return int(w), nil
}

// Name implements nn.Backend.
func (d *Device) Name() string { return d.drv.Name() }

// SetTiledLinear chooses the linear kernel for 13 to 16 rows: the one that
// stages x in shared memory (on, the default) or the one that reads it
// from cache (off; also GOPARD_GPU_LINEAR=register at NewDevice), to
// compare them.
func (d *Device) SetTiledLinear(on bool) { d.linearRegister = !on }

// SetBF16Activations makes Linear, LinearQKV and LinearSwiGLU round their
// activations to bf16 and multiply on tensor cores (linear_mma.cu) where
// the weights are bf16 and K a multiple of 32, for every row count, so
// that a decode step and a verify compute each row alike; it reports
// whether the device has tensor cores (CUDA sm_80+), without which it
// changes nothing. As ops.CPU's SetBF16Activations: logits move within
// ~2e-2 of the float32 path, and every mode computes the same way.
func (d *Device) SetBF16Activations(on bool) bool {
	d.bf16Act = on && d.tensorCores
	return d.tensorCores
}

// BF16Activations reports whether SetBF16Activations turned them on.
func (d *Device) BF16Activations() bool { return d.bf16Act }

// LaunchMode says how kernels are issued to the device: "stream" (one
// launch each, in order) unless the driver says more.
func (d *Device) LaunchMode() string {
	if m, ok := d.drv.(LaunchModer); ok {
		return m.LaunchMode()
	}
	return "stream"
}

// WarpSize is the number of threads per warp (wavefront) of the kernels.
func (d *Device) WarpSize() int { return d.warp }

// Allocated is the device memory the Device holds, in bytes.
func (d *Device) Allocated() int64 { return d.used }

// MemInfo reports the device memory free and in all, where the driver can
// say (a MemReporter); otherwise an error matching errors.ErrUnsupported.
// llama.Open checks a model against it before uploading any weight.
func (d *Device) MemInfo() (free, total int64, err error) {
	r, ok := d.drv.(MemReporter)
	if !ok {
		return 0, 0, fmt.Errorf("%s: the driver cannot report its memory: %w", d.Name(), errors.ErrUnsupported)
	}
	return r.MemInfo()
}

// Time returns the device time of the work f queues, when the driver can
// measure it (CUDA and HIP events).
func (d *Device) Time(f func()) (time.Duration, error) {
	t, ok := d.drv.(Timer)
	if !ok {
		return 0, fmt.Errorf("%s: the driver has no timer", d.Name())
	}
	d.waits, d.busy = d.waits+1, false
	return t.Time(f)
}

// Synchronize waits for the queued work and reports its errors.
func (d *Device) Synchronize() error { return d.sync() }

// download, upload and sync are the driver's calls that make the host
// wait for the device's queued work, counted for HostWaits when there is
// some (a copy from an idle device waits for the copy alone).
func (d *Device) download(dst unsafe.Pointer, src uintptr, bytes int) error {
	d.waited()
	return d.drv.Download(dst, src, bytes)
}

func (d *Device) upload(dst uintptr, src unsafe.Pointer, bytes int) error {
	d.waited()
	return d.drv.Upload(dst, src, bytes)
}

func (d *Device) sync() error {
	d.waited()
	return d.drv.Synchronize()
}

func (d *Device) waited() {
	if d.busy {
		d.waits, d.busy = d.waits+1, false
	}
}

// HostWaits is the number of times the Device has made the host wait for
// work it had queued: copies to the host (Read, Argmax, ReadKept),
// copies to the device (Load; Embedding of more than 64 ids),
// synchronizations and buffer growth, each after a launch; and timings.
// A PARD iteration whose models chain their drafts (nn.IDChainer, and
// nn.SampleChainer when sampling) costs one.
func (d *Device) HostWaits() int64 { return d.waits }

// Close frees every allocation and releases the device. The Device and its
// tensors must not be used afterwards.
func (d *Device) Close() error {
	if d.drv == nil {
		return nil
	}
	err := d.drv.Synchronize()
	d.freeAll()
	if cerr := d.drv.Close(); err == nil {
		err = cerr
	}
	d.drv = nil
	return err
}

func (d *Device) freeAll() {
	for p := range d.mem {
		d.free(p)
	}
	d.ids, d.part, d.result, d.kept, d.keptDist, d.uniforms = buffer{}, buffer{}, buffer{}, buffer{}, buffer{}, buffer{}
	d.nKept, d.keptClosed, d.dists, d.distEnd = 0, false, d.dists[:0], 0
}

func (d *Device) track(p uintptr, bytes int) {
	d.mem[p] = bytes
	d.used += int64(bytes)
}

func (d *Device) free(p uintptr) {
	if n, ok := d.mem[p]; ok {
		d.drv.Free(p)
		delete(d.mem, p)
		d.used -= int64(n)
	}
}

// Free releases a tensor made by Alloc or Load before Close, once the work
// queued on the device (which may still read it: launches held back for a
// graph, a pending argmax) is done; views of it must not be used
// afterwards. Tensors the Device does not own are ignored.
func (d *Device) Free(t *tensor.Tensor) {
	if t == nil || t.Place != tensor.Device {
		return
	}
	if _, ok := d.mem[t.Ptr]; ok {
		if err := d.sync(); err != nil {
			d.fail("synchronize", err)
		}
		d.free(t.Ptr)
	}
}

// fail panics with a Failure naming the device, the operation and the
// error.
func (d *Device) fail(op string, err error) {
	panic(&Failure{fmt.Errorf("%s: %s: %w", d.Name(), op, err)})
}

func (d *Device) alloc(bytes int) uintptr {
	p, err := d.drv.Alloc(bytes)
	if err != nil {
		d.fail(fmt.Sprintf("allocating %d bytes (%d held)", bytes, d.used), err)
	}
	d.track(p, bytes)
	return p
}

// grow makes b hold at least bytes, dropping its contents.
func (d *Device) grow(b *buffer, bytes int) uintptr { return d.growKeeping(b, bytes, 0) }

// growKeeping makes b hold at least bytes (at least twice its old size,
// in whole 16-byte words, when it must grow), keeping its first keep
// bytes (a multiple of 16, within the old size) and dropping the rest.
func (d *Device) growKeeping(b *buffer, bytes, keep int) uintptr {
	if b.bytes >= bytes {
		return b.ptr
	}
	old := *b
	size := ceilDiv(max(bytes, 2*old.bytes), 16) * 16
	*b = buffer{ptr: d.alloc(size), bytes: size}
	if old.ptr != 0 {
		if keep > 0 {
			d.Copy(b.ptr, old.ptr, keep)
		}
		// Queued kernels (and the copy) may still read the old buffer.
		if err := d.sync(); err != nil {
			d.fail("synchronize", err)
		}
		d.free(old.ptr)
	}
	return b.ptr
}

// Alloc implements nn.Backend: a zeroed F32 device tensor. It panics
// (with a Failure) when the device cannot give the memory; TryAlloc
// returns that as an error.
func (d *Device) Alloc(shape ...int) *tensor.Tensor {
	t, err := d.TryAlloc(shape...)
	if err != nil {
		panic(&Failure{err})
	}
	return t
}

// TryAlloc implements nn.Allocator: Alloc with a failure returned as an
// error that names the device, the bytes asked for and those it holds.
func (d *Device) TryAlloc(shape ...int) (*tensor.Tensor, error) {
	return d.tryAlloc(tensor.F32, shape...)
}

// tryAlloc makes a zeroed device tensor of dtype dt.
func (d *Device) tryAlloc(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	t := &tensor.Tensor{DType: dt, Shape: append([]int(nil), shape...), Place: tensor.Device}
	if n := t.Len() * dt.Size(); n > 0 {
		p, err := d.drv.Alloc(n)
		if err != nil {
			return nil, fmt.Errorf("%s: allocating %.1f MB (%.1f MB held): %w", d.Name(), float64(n)/1e6, float64(d.used)/1e6, err)
		}
		d.track(p, n)
		if err := d.drv.Zero(p, n); err != nil {
			d.free(p)
			return nil, fmt.Errorf("%s: zero: %w", d.Name(), err)
		}
		t.Ptr = p
	}
	return t, nil
}

// Load implements nn.Backend: it uploads a host weight in its stored
// dtype; vectors (norm weights, biases) are widened to F32 first, as the
// elementwise kernels read float32. A tensor already on the device is
// returned as it is.
func (d *Device) Load(w *tensor.Tensor) (*tensor.Tensor, error) {
	if w.Place == tensor.Device {
		return w, nil
	}
	switch w.DType {
	case tensor.F32, tensor.BF16, tensor.F16:
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", d.Name(), w.DType)
	}
	if len(w.Shape) <= 1 && w.DType != tensor.F32 {
		w = tensor.FromF32(w.ToF32(), w.Shape...)
	}
	if len(w.Data) != w.Len()*w.DType.Size() {
		return nil, fmt.Errorf("%s: tensor %v holds %d bytes", d.Name(), w, len(w.Data))
	}
	t := &tensor.Tensor{DType: w.DType, Shape: append([]int(nil), w.Shape...), Place: tensor.Device}
	if n := len(w.Data); n > 0 {
		p, err := d.drv.Alloc(n)
		if err != nil {
			return nil, fmt.Errorf("%s: allocating %d bytes for %v (%d held): %w", d.Name(), n, w, d.used, err)
		}
		d.track(p, n)
		if err := d.upload(p, unsafe.Pointer(&w.Data[0]), n); err != nil {
			d.free(p)
			return nil, fmt.Errorf("%s: uploading %v: %w", d.Name(), w, err)
		}
		t.Ptr = p
	}
	return t, nil
}

// Read implements nn.Backend: it waits for the queued work and copies
// min(len(dst), src.Len()) values to the host.
func (d *Device) Read(dst []float32, src *tensor.Tensor) {
	d.operand("Read", src, tensor.F32)
	n := min(len(dst), src.Len())
	if n == 0 {
		return
	}
	if err := d.download(unsafe.Pointer(&dst[0]), src.Ptr, n*4); err != nil {
		d.fail("Read", err)
	}
}

// operand panics unless t is a device tensor of one of the dtypes.
func (d *Device) operand(op string, t *tensor.Tensor, dtypes ...tensor.DType) {
	if t == nil || t.Place != tensor.Device {
		panic(fmt.Sprintf("%s: %s: operand %v is not in device memory", d.Name(), op, t))
	}
	for _, dt := range dtypes {
		if t.DType == dt {
			return
		}
	}
	// A copy: dtypes itself must not escape, or every call would allocate it.
	panic(fmt.Sprintf("%s: %s: operand %v has dtype %v, want one of %v", d.Name(), op, t, t.DType, slices.Clone(dtypes)))
}

// badShape panics with a shape message. Callers test the shapes first and
// call it only when they fail: passed to a check on every call, the
// message's arguments would be boxed, allocations on every launch.
func (d *Device) badShape(op, format string, args ...any) {
	panic(fmt.Sprintf("%s: %s: ", d.Name(), op) + fmt.Sprintf(format, args...))
}

// KernelResources reports what kernel name uses, as compiled for this
// device, where the driver can say (CUDA).
func (d *Device) KernelResources(name string) (KernelResources, error) {
	r, ok := d.drv.(ResourceReporter)
	if !ok {
		return KernelResources{}, fmt.Errorf("%s: the driver cannot report kernel resources", d.Name())
	}
	fn, err := d.function(name)
	if err != nil {
		return KernelResources{}, err
	}
	return r.KernelResources(fn)
}

// function returns kernel name's handle, looking it up once.
func (d *Device) function(name string) (uintptr, error) {
	if fn, ok := d.fns[name]; ok {
		return fn, nil
	}
	fn, err := d.drv.Function(name)
	if err != nil {
		return 0, err
	}
	d.fns[name] = fn
	return fn, nil
}

// launch queues kernel name.
func (d *Device) launch(name string, grid, block Dim3, args ...uint64) {
	fn, err := d.function(name)
	if err != nil {
		d.fail("kernel "+name, err)
	}
	// Copied, so that the variadic args stay on the caller's stack: passed
	// on through the Driver interface they would be a heap allocation per
	// launch, hundreds a token.
	d.launchArgs = append(d.launchArgs[:0], args...)
	d.busy = true
	if err := d.drv.Launch(fn, grid, block, d.launchArgs); err != nil {
		d.fail("launch "+name, err)
	}
}

// Kernel arguments, one 8-byte slot each.
func ptr(t *tensor.Tensor) uint64 { return uint64(t.Ptr) }
func i32(v int) uint64            { return uint64(uint32(int32(v))) }
func f32(v float32) uint64        { return uint64(math.Float32bits(v)) }

// suffix names a kernel's weight dtype variant.
func suffix(dt tensor.DType) string {
	switch dt {
	case tensor.F32:
		return "f32"
	case tensor.BF16:
		return "bf16"
	case tensor.F16:
		return "f16"
	}
	panic(fmt.Sprintf("gpu: no kernel for dtype %v", dt))
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// threadsFor is a block size for rows of n values: n rounded up to 64
// (a multiple of every warp size), at most blockThreads.
func threadsFor(n int) uint32 { return uint32(min(blockThreads, max(64, ceilDiv(n, 64)*64))) }

// elementwiseGrid covers n elements with blocks of blockThreads threads,
// the kernels striding over what a capped grid leaves.
func elementwiseGrid(n int) Dim3 {
	return Dim3{uint32(max(1, min(ceilDiv(n, blockThreads), maxGrid))), 1, 1}
}

var _ nn.Backend = (*Device)(nil)
var _ nn.Fused = (*Device)(nil)
var _ nn.Argmaxer = (*Device)(nil)
var _ nn.IDChainer = (*Device)(nil)
var _ nn.SampleChainer = (*Device)(nil)
var _ nn.Prefetcher = (*Device)(nil)
var _ nn.NormFuser = (*Device)(nil)
var _ nn.Allocator = (*Device)(nil)
var _ nn.KVStore = (*Device)(nil)
