//go:build cgo && linux

package hip

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

// The few types of hip_runtime_api.h and hiprtc.h this file uses.
typedef int hipError_t;
typedef struct ihipModule_t* hipModule_t;
typedef struct ihipModuleSymbol_t* hipFunction_t;
typedef struct ihipStream_t* hipStream_t;
typedef struct ihipEvent_t* hipEvent_t;
typedef int hiprtcResult;
typedef struct _hiprtcProgram* hiprtcProgram;

enum {
	GP_HIP_ERROR_INSUFFICIENT_DRIVER = 35,
	GP_HIP_ERROR_NO_DEVICE = 100,
	GP_HIP_ERROR_OUT_OF_MEMORY = 2, // hipErrorOutOfMemory
	GP_STREAM_NON_BLOCKING = 1,
	GP_MAX_ARGS = 32,
	GP_PROPS_BYTES = 1 << 16, // more than any hipDeviceProp_t
};

// HIP runtime entry points, resolved with dlsym.
static hipError_t (*p_hipInit)(unsigned);
static hipError_t (*p_hipRuntimeGetVersion)(int*);
static hipError_t (*p_hipGetDeviceCount)(int*);
static hipError_t (*p_hipSetDevice)(int);
static hipError_t (*p_hipDeviceGetName)(char*, int, int);
static hipError_t (*p_hipGetDeviceProperties)(void*, int);
static hipError_t (*p_hipMalloc)(void**, size_t);
static hipError_t (*p_hipFree)(void*);
static hipError_t (*p_hipMemGetInfo)(size_t*, size_t*);
static hipError_t (*p_hipMemsetAsync)(void*, int, size_t, hipStream_t);
static hipError_t (*p_hipMemcpyHtoDAsync)(void*, void*, size_t, hipStream_t);
static hipError_t (*p_hipMemcpyDtoHAsync)(void*, void*, size_t, hipStream_t);
static hipError_t (*p_hipModuleLoadData)(hipModule_t*, const void*);
static hipError_t (*p_hipModuleUnload)(hipModule_t);
static hipError_t (*p_hipModuleGetFunction)(hipFunction_t*, hipModule_t, const char*);
static hipError_t (*p_hipModuleLaunchKernel)(hipFunction_t, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                             unsigned, hipStream_t, void**, void**);
static hipError_t (*p_hipStreamCreateWithFlags)(hipStream_t*, unsigned);
static hipError_t (*p_hipStreamDestroy)(hipStream_t);
static hipError_t (*p_hipStreamSynchronize)(hipStream_t);
static hipError_t (*p_hipEventCreate)(hipEvent_t*);
static hipError_t (*p_hipEventRecord)(hipEvent_t, hipStream_t);
static hipError_t (*p_hipEventSynchronize)(hipEvent_t);
static hipError_t (*p_hipEventElapsedTime)(float*, hipEvent_t, hipEvent_t);
static hipError_t (*p_hipEventDestroy)(hipEvent_t);
static const char* (*p_hipGetErrorName)(hipError_t);
static const char* (*p_hipGetErrorString)(hipError_t);

// hiprtc entry points.
static hiprtcResult (*p_hiprtcVersion)(int*, int*);
static hiprtcResult (*p_hiprtcCreateProgram)(hiprtcProgram*, const char*, const char*, int, const char**, const char**);
static hiprtcResult (*p_hiprtcCompileProgram)(hiprtcProgram, int, const char**);
static hiprtcResult (*p_hiprtcGetProgramLogSize)(hiprtcProgram, size_t*);
static hiprtcResult (*p_hiprtcGetProgramLog)(hiprtcProgram, char*);
static hiprtcResult (*p_hiprtcGetCodeSize)(hiprtcProgram, size_t*);
static hiprtcResult (*p_hiprtcGetCode)(hiprtcProgram, char*);
static hiprtcResult (*p_hiprtcDestroyProgram)(hiprtcProgram*);
static const char* (*p_hiprtcGetErrorString)(hiprtcResult);

static void* gp_sym(void* h, const char* name, int required, const char** missing) {
	void* p = dlsym(h, name);
	if (!p && required && !*missing) *missing = name;
	return p;
}
#define GP_LOAD(h, var, name, required) *(void**)(&var) = gp_sym(h, name, required, &missing)

// gp_load_hip resolves the runtime in h; it returns the first missing
// symbol, or NULL.
static const char* gp_load_hip(void* h) {
	const char* missing = 0;
	GP_LOAD(h, p_hipInit, "hipInit", 1);
	GP_LOAD(h, p_hipRuntimeGetVersion, "hipRuntimeGetVersion", 1);
	GP_LOAD(h, p_hipGetDeviceCount, "hipGetDeviceCount", 1);
	GP_LOAD(h, p_hipSetDevice, "hipSetDevice", 1);
	GP_LOAD(h, p_hipDeviceGetName, "hipDeviceGetName", 1);
	// ROCm 6 renamed the call whose struct grew; either holds gcnArchName.
	GP_LOAD(h, p_hipGetDeviceProperties, "hipGetDevicePropertiesR0600", 0);
	if (!p_hipGetDeviceProperties) GP_LOAD(h, p_hipGetDeviceProperties, "hipGetDeviceProperties", 0);
	GP_LOAD(h, p_hipMalloc, "hipMalloc", 1);
	GP_LOAD(h, p_hipFree, "hipFree", 1);
	GP_LOAD(h, p_hipMemGetInfo, "hipMemGetInfo", 0);
	GP_LOAD(h, p_hipMemsetAsync, "hipMemsetAsync", 1);
	GP_LOAD(h, p_hipMemcpyHtoDAsync, "hipMemcpyHtoDAsync", 1);
	GP_LOAD(h, p_hipMemcpyDtoHAsync, "hipMemcpyDtoHAsync", 1);
	GP_LOAD(h, p_hipModuleLoadData, "hipModuleLoadData", 1);
	GP_LOAD(h, p_hipModuleUnload, "hipModuleUnload", 1);
	GP_LOAD(h, p_hipModuleGetFunction, "hipModuleGetFunction", 1);
	GP_LOAD(h, p_hipModuleLaunchKernel, "hipModuleLaunchKernel", 1);
	GP_LOAD(h, p_hipStreamCreateWithFlags, "hipStreamCreateWithFlags", 1);
	GP_LOAD(h, p_hipStreamDestroy, "hipStreamDestroy", 1);
	GP_LOAD(h, p_hipStreamSynchronize, "hipStreamSynchronize", 1);
	GP_LOAD(h, p_hipEventCreate, "hipEventCreate", 1);
	GP_LOAD(h, p_hipEventRecord, "hipEventRecord", 1);
	GP_LOAD(h, p_hipEventSynchronize, "hipEventSynchronize", 1);
	GP_LOAD(h, p_hipEventElapsedTime, "hipEventElapsedTime", 1);
	GP_LOAD(h, p_hipEventDestroy, "hipEventDestroy", 1);
	GP_LOAD(h, p_hipGetErrorName, "hipGetErrorName", 1);
	GP_LOAD(h, p_hipGetErrorString, "hipGetErrorString", 1);
	return missing;
}

static const char* gp_load_hiprtc(void* h) {
	const char* missing = 0;
	GP_LOAD(h, p_hiprtcVersion, "hiprtcVersion", 1);
	GP_LOAD(h, p_hiprtcCreateProgram, "hiprtcCreateProgram", 1);
	GP_LOAD(h, p_hiprtcCompileProgram, "hiprtcCompileProgram", 1);
	GP_LOAD(h, p_hiprtcGetProgramLogSize, "hiprtcGetProgramLogSize", 1);
	GP_LOAD(h, p_hiprtcGetProgramLog, "hiprtcGetProgramLog", 1);
	GP_LOAD(h, p_hiprtcGetCodeSize, "hiprtcGetCodeSize", 1);
	GP_LOAD(h, p_hiprtcGetCode, "hiprtcGetCode", 1);
	GP_LOAD(h, p_hiprtcDestroyProgram, "hiprtcDestroyProgram", 1);
	GP_LOAD(h, p_hiprtcGetErrorString, "hiprtcGetErrorString", 1);
	return missing;
}

static const char* gp_error_name(hipError_t r) {
	const char* s = p_hipGetErrorName ? p_hipGetErrorName(r) : 0;
	return s ? s : "hipErrorUnknown";
}
static const char* gp_error_string(hipError_t r) {
	const char* s = p_hipGetErrorString ? p_hipGetErrorString(r) : 0;
	return s ? s : "unknown error";
}

static hipError_t gp_hipInit(void) { return p_hipInit(0); }
static hipError_t gp_hipGetDeviceCount(int* n) { return p_hipGetDeviceCount(n); }
static hipError_t gp_hipDeviceGetName(char* name, int len, int dev) { return p_hipDeviceGetName(name, len, dev); }
// gp_arch_props fills buf (GP_PROPS_BYTES, zeroed) with the device's
// properties; 0 when the runtime has no such call.
static int gp_arch_props(int dev, void* buf) {
	return p_hipGetDeviceProperties && p_hipSetDevice(dev) == 0 && p_hipGetDeviceProperties(buf, dev) == 0;
}

// The calls that work on the device first make it current on the calling
// thread: goroutines move between threads.
static hipError_t gp_hipStreamCreate(int dev, hipStream_t* s) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipStreamCreateWithFlags(s, GP_STREAM_NON_BLOCKING);
}
static hipError_t gp_hipStreamDestroy(int dev, hipStream_t s) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipStreamDestroy(s);
}
static hipError_t gp_hipStreamSynchronize(int dev, hipStream_t s) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipStreamSynchronize(s);
}
static hipError_t gp_hipMalloc(int dev, uintptr_t* p, size_t n) {
	void* q = 0;
	hipError_t r = p_hipSetDevice(dev);
	if (!r) r = p_hipMalloc(&q, n);
	*p = (uintptr_t)q;
	return r;
}
static hipError_t gp_hipFree(int dev, uintptr_t p) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipFree((void*)p);
}
static int gp_has_mem_info(void) { return p_hipMemGetInfo != 0; }
static hipError_t gp_hipMemGetInfo(int dev, size_t* free_, size_t* total) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipMemGetInfo(free_, total);
}
static hipError_t gp_hipMemsetAsync(int dev, uintptr_t p, size_t n, hipStream_t s) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipMemsetAsync((void*)p, 0, n, s);
}
// Copies are queued on the stream, after the kernels, and waited for, so
// the host memory is not used after the call returns.
static hipError_t gp_upload(int dev, uintptr_t dst, void* src, size_t n, hipStream_t s) {
	hipError_t r = p_hipSetDevice(dev);
	if (!r) r = p_hipMemcpyHtoDAsync((void*)dst, src, n, s);
	return r ? r : p_hipStreamSynchronize(s);
}
static hipError_t gp_download(int dev, void* dst, uintptr_t src, size_t n, hipStream_t s) {
	hipError_t r = p_hipSetDevice(dev);
	if (!r) r = p_hipMemcpyDtoHAsync(dst, (void*)src, n, s);
	return r ? r : p_hipStreamSynchronize(s);
}
static hipError_t gp_hipModuleLoadData(int dev, hipModule_t* m, const void* image) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipModuleLoadData(m, image);
}
static hipError_t gp_hipModuleUnload(int dev, hipModule_t m) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipModuleUnload(m);
}
static hipError_t gp_hipModuleGetFunction(int dev, hipFunction_t* f, hipModule_t m, const char* name) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipModuleGetFunction(f, m, name);
}
// gp_launch passes kernel parameter i as a pointer to the 8-byte slot
// args[i]; hipModuleLaunchKernel copies them before it returns.
static hipError_t gp_launch(int dev, hipFunction_t f, unsigned gx, unsigned gy, unsigned gz,
                            unsigned bx, unsigned by, unsigned bz, hipStream_t s, uint64_t* args, int nargs) {
	void* params[GP_MAX_ARGS];
	if (nargs > GP_MAX_ARGS) return 1; // hipErrorInvalidValue
	for (int i = 0; i < nargs; i++) params[i] = &args[i];
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipModuleLaunchKernel(f, gx, gy, gz, bx, by, bz, 0, s, params, 0);
}
static hipError_t gp_hipEventCreate(int dev, hipEvent_t* e) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipEventCreate(e);
}
static hipError_t gp_hipEventDestroy(int dev, hipEvent_t e) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipEventDestroy(e);
}
static hipError_t gp_hipEventRecord(int dev, hipEvent_t e, hipStream_t s) {
	hipError_t r = p_hipSetDevice(dev);
	return r ? r : p_hipEventRecord(e, s);
}
static hipError_t gp_elapsed(int dev, float* ms, hipEvent_t start, hipEvent_t stop) {
	hipError_t r = p_hipSetDevice(dev);
	if (!r) r = p_hipEventSynchronize(stop);
	return r ? r : p_hipEventElapsedTime(ms, start, stop);
}

static const char* gp_hiprtc_error(hiprtcResult r) { return p_hiprtcGetErrorString(r); }
static hiprtcResult gp_hiprtcVersion(int* major, int* minor) { return p_hiprtcVersion(major, minor); }
static hiprtcResult gp_hiprtc_compile(hiprtcProgram* prog, const char* src, int nopts, const char** opts) {
	hiprtcResult r = p_hiprtcCreateProgram(prog, src, "gopard_kernels.hip", 0, 0, 0);
	return r ? r : p_hiprtcCompileProgram(*prog, nopts, opts);
}
static hiprtcResult gp_hiprtc_log_size(hiprtcProgram p, size_t* n) { return p_hiprtcGetProgramLogSize(p, n); }
static hiprtcResult gp_hiprtc_log(hiprtcProgram p, char* buf) { return p_hiprtcGetProgramLog(p, buf); }
static hiprtcResult gp_hiprtc_code_size(hiprtcProgram p, size_t* n) { return p_hiprtcGetCodeSize(p, n); }
static hiprtcResult gp_hiprtc_code(hiprtcProgram p, char* buf) { return p_hiprtcGetCode(p, buf); }
static hiprtcResult gp_hiprtc_destroy(hiprtcProgram* p) { return p_hiprtcDestroyProgram(p); }
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/kernels"
	"github.com/gopard/gopard/nn"
)

var (
	loadOnce sync.Once
	loadErr  error
)

// dlopen opens the first library of names that loads, returning what the
// loader said about each one that did not.
func dlopen(names []string) (unsafe.Pointer, []string) {
	var why []string
	for _, n := range names {
		cn := C.CString(n)
		h := C.dlopen(cn, C.RTLD_NOW|C.RTLD_LOCAL)
		C.free(unsafe.Pointer(cn))
		if h != nil {
			return h, nil
		}
		why = append(why, C.GoString(C.dlerror()))
	}
	return nil, why
}

func load() error {
	loadOnce.Do(func() {
		h, _ := dlopen(runtimeLibs())
		if h == nil {
			loadErr = gpu.NoDevice("hip: libamdhip64.so not found: no ROCm runtime on this machine")
			return
		}
		if m := C.gp_load_hip(h); m != nil {
			loadErr = fmt.Errorf("hip: libamdhip64.so lacks %s: the ROCm runtime is too old", C.GoString(m))
			return
		}
		libs := hiprtcLibs()
		rtc, why := dlopen(libs)
		if rtc == nil {
			rtc = h // ROCm before 6 exported hiprtc from libamdhip64
		}
		if m := C.gp_load_hiprtc(rtc); m != nil && why != nil {
			loadErr = fmt.Errorf("hip: libhiprtc.so not found (tried %s; %s): install hiprtc (the hip-runtime-amd package of ROCm) or set GOPARD_HIPRTC to its path",
				strings.Join(libs, ", "), why[0])
		} else if m != nil {
			loadErr = fmt.Errorf("hip: libhiprtc.so lacks %s", C.GoString(m))
		}
	})
	return loadErr
}

// check turns a HIP result into an error naming the call.
func check(api string, r C.hipError_t) error {
	if r == 0 {
		return nil
	}
	err := fmt.Errorf("%s: %s (%s)", api, C.GoString(C.gp_error_name(r)), C.GoString(C.gp_error_string(r)))
	if r == C.GP_HIP_ERROR_OUT_OF_MEMORY {
		return nn.OutOfMemory(err) // --device auto may run the model on the CPU instead
	}
	return err
}

func checkRTC(api string, r C.hiprtcResult) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", api, C.GoString(C.gp_hiprtc_error(r)))
}

// driver is a gpu.Driver over the HIP runtime: one device, one stream and
// the module of compiled kernels.
type driver struct {
	name        string
	dev         C.int
	stream      C.hipStream_t
	module      C.hipModule_t
	start, stop C.hipEvent_t
	fns         []C.hipFunction_t // Function's handles index this
	args        []C.uint64_t
}

func openDriver(ordinal int) (gpu.Driver, error) {
	if err := load(); err != nil {
		return nil, err
	}
	if r := C.gp_hipInit(); r == C.GP_HIP_ERROR_NO_DEVICE || r == C.GP_HIP_ERROR_INSUFFICIENT_DRIVER {
		return nil, gpu.NoDevice("hip: no AMD GPU on this machine (hipInit: " + C.GoString(C.gp_error_string(r)) + ")")
	} else if err := check("hipInit", r); err != nil {
		return nil, fmt.Errorf("hip: %w", err)
	}
	var count C.int
	if r := C.gp_hipGetDeviceCount(&count); r == C.GP_HIP_ERROR_NO_DEVICE || (r == 0 && count == 0) {
		return nil, gpu.NoDevice("hip: no AMD GPU on this machine")
	} else if err := check("hipGetDeviceCount", r); err != nil {
		return nil, fmt.Errorf("hip: %w", err)
	}
	if ordinal < 0 || ordinal >= int(count) {
		return nil, fmt.Errorf("hip: no device %d (this machine has %d)", ordinal, count)
	}
	d := &driver{dev: C.int(ordinal)}
	var name [256]C.char
	if err := check("hipDeviceGetName", C.gp_hipDeviceGetName(&name[0], C.int(len(name)), d.dev)); err != nil {
		return nil, fmt.Errorf("hip: device %d: %w", ordinal, err)
	}
	arch := ""
	props := C.calloc(1, C.GP_PROPS_BYTES)
	if C.gp_arch_props(d.dev, props) != 0 {
		arch = findArch(C.GoBytes(props, C.GP_PROPS_BYTES))
	}
	C.free(props)
	d.name = fmt.Sprintf("hip:%d %s", ordinal, C.GoString(&name[0]))
	if arch != "" {
		d.name += " (" + strings.SplitN(arch, ":", 2)[0] + ")"
	}
	err := firstErr(
		check("hipStreamCreateWithFlags", C.gp_hipStreamCreate(d.dev, &d.stream)),
		check("hipEventCreate", C.gp_hipEventCreate(d.dev, &d.start)),
		check("hipEventCreate", C.gp_hipEventCreate(d.dev, &d.stop)),
	)
	if err == nil {
		err = d.loadKernels(arch)
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	return d, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// loadKernels compiles the kernels for arch, or takes them from the cache,
// and loads them.
func (d *driver) loadKernels(arch string) error {
	var vmaj, vmin C.int
	if err := checkRTC("hiprtcVersion", C.gp_hiprtcVersion(&vmaj, &vmin)); err != nil {
		return err
	}
	opts := options(arch)
	src := kernels.Source()
	path := ""
	if dir := gpu.CacheDir("hip"); dir != "" && arch != "" {
		path = gpu.CachePath(dir, gpu.CacheKey(src, fmt.Sprintf("hiprtc %d.%d", vmaj, vmin), opts), arch, "hsaco")
	}
	compile := func() ([]byte, error) { return hiprtcCompile(src, opts) }
	image, hit, err := gpu.Cached(path, compile)
	if err != nil {
		return err
	}
	err = d.loadModule(image)
	if err != nil && hit { // a damaged cache file: compile afresh
		if image, err = compile(); err == nil {
			err = d.loadModule(image)
		}
	}
	return err
}

func (d *driver) loadModule(image []byte) error {
	if len(image) == 0 {
		return fmt.Errorf("hiprtc produced no code")
	}
	cimg := C.CBytes(image)
	defer C.free(cimg)
	return check("hipModuleLoadData", C.gp_hipModuleLoadData(d.dev, &d.module, cimg))
}

// hiprtcCompile compiles src with hiprtc into a code object.
func hiprtcCompile(src string, opts []string) ([]byte, error) {
	csrc := C.CString(src)
	defer C.free(unsafe.Pointer(csrc))
	copts := make([]*C.char, len(opts))
	for i, o := range opts {
		copts[i] = C.CString(o)
		defer C.free(unsafe.Pointer(copts[i]))
	}
	// The option array is passed to C, so it must live in C memory.
	arr := (**C.char)(C.malloc(C.size_t(len(copts)) * C.size_t(unsafe.Sizeof(copts[0]))))
	defer C.free(unsafe.Pointer(arr))
	copy(unsafe.Slice(arr, len(copts)), copts)

	var prog C.hiprtcProgram
	r := C.gp_hiprtc_compile(&prog, csrc, C.int(len(opts)), arr)
	if prog != nil {
		defer C.gp_hiprtc_destroy(&prog)
	}
	if r != 0 {
		return nil, fmt.Errorf("%w\n%s", checkRTC("hiprtcCompileProgram("+strings.Join(opts, " ")+")", r), hiprtcLog(prog))
	}
	var n C.size_t
	if err := checkRTC("hiprtcGetCodeSize", C.gp_hiprtc_code_size(prog, &n)); err != nil {
		return nil, err
	}
	buf := C.malloc(n)
	defer C.free(buf)
	if err := checkRTC("hiprtcGetCode", C.gp_hiprtc_code(prog, (*C.char)(buf))); err != nil {
		return nil, err
	}
	return C.GoBytes(buf, C.int(n)), nil
}

func hiprtcLog(prog C.hiprtcProgram) string {
	var n C.size_t
	if prog == nil || C.gp_hiprtc_log_size(prog, &n) != 0 || n <= 1 {
		return ""
	}
	buf := C.malloc(n)
	defer C.free(buf)
	if C.gp_hiprtc_log(prog, (*C.char)(buf)) != 0 {
		return ""
	}
	return C.GoString((*C.char)(buf))
}

func (d *driver) Name() string { return d.name }

func (d *driver) Alloc(bytes int) (uintptr, error) {
	var p C.uintptr_t
	if err := check("hipMalloc", C.gp_hipMalloc(d.dev, &p, C.size_t(bytes))); err != nil {
		return 0, err
	}
	return uintptr(p), nil
}

// MemInfo implements gpu.MemReporter: the device memory free and in all,
// as the runtime counts them.
func (d *driver) MemInfo() (free, total int64, err error) {
	if C.gp_has_mem_info() == 0 {
		return 0, 0, fmt.Errorf("hipMemGetInfo: %w", errors.ErrUnsupported)
	}
	var f, t C.size_t
	if err := check("hipMemGetInfo", C.gp_hipMemGetInfo(d.dev, &f, &t)); err != nil {
		return 0, 0, err
	}
	return int64(f), int64(t), nil
}

func (d *driver) Free(p uintptr) error {
	return check("hipFree", C.gp_hipFree(d.dev, C.uintptr_t(p)))
}

func (d *driver) Zero(p uintptr, bytes int) error {
	return check("hipMemsetAsync", C.gp_hipMemsetAsync(d.dev, C.uintptr_t(p), C.size_t(bytes), d.stream))
}

func (d *driver) Upload(dst uintptr, src unsafe.Pointer, bytes int) error {
	return check("hipMemcpyHtoDAsync", C.gp_upload(d.dev, C.uintptr_t(dst), src, C.size_t(bytes), d.stream))
}

func (d *driver) Download(dst unsafe.Pointer, src uintptr, bytes int) error {
	return check("hipMemcpyDtoHAsync", C.gp_download(d.dev, dst, C.uintptr_t(src), C.size_t(bytes), d.stream))
}

func (d *driver) Function(name string) (uintptr, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var f C.hipFunction_t
	if err := check("hipModuleGetFunction("+name+")", C.gp_hipModuleGetFunction(d.dev, &f, d.module, cn)); err != nil {
		return 0, err
	}
	d.fns = append(d.fns, f)
	return uintptr(len(d.fns) - 1), nil
}

func (d *driver) Launch(fn uintptr, grid, block gpu.Dim3, args []uint64) error {
	d.args = d.args[:0]
	for _, a := range args {
		d.args = append(d.args, C.uint64_t(a))
	}
	var argp *C.uint64_t
	if len(d.args) > 0 {
		argp = &d.args[0]
	}
	return check("hipModuleLaunchKernel", C.gp_launch(d.dev, d.fns[fn], C.uint(grid.X), C.uint(grid.Y), C.uint(grid.Z),
		C.uint(block.X), C.uint(block.Y), C.uint(block.Z), d.stream, argp, C.int(len(args))))
}

func (d *driver) Synchronize() error {
	return check("hipStreamSynchronize", C.gp_hipStreamSynchronize(d.dev, d.stream))
}

// Time implements gpu.Timer with a pair of events around f's work.
func (d *driver) Time(f func()) (time.Duration, error) {
	if err := check("hipEventRecord", C.gp_hipEventRecord(d.dev, d.start, d.stream)); err != nil {
		return 0, err
	}
	f()
	if err := check("hipEventRecord", C.gp_hipEventRecord(d.dev, d.stop, d.stream)); err != nil {
		return 0, err
	}
	var ms C.float
	if err := check("hipEventElapsedTime", C.gp_elapsed(d.dev, &ms, d.start, d.stop)); err != nil {
		return 0, err
	}
	return time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

func (d *driver) Close() error {
	var errs []error
	if d.module != nil {
		errs = append(errs, check("hipModuleUnload", C.gp_hipModuleUnload(d.dev, d.module)))
	}
	for _, e := range []C.hipEvent_t{d.start, d.stop} {
		if e != nil {
			errs = append(errs, check("hipEventDestroy", C.gp_hipEventDestroy(d.dev, e)))
		}
	}
	if d.stream != nil {
		errs = append(errs, check("hipStreamDestroy", C.gp_hipStreamDestroy(d.dev, d.stream)))
	}
	*d = driver{name: d.name, dev: d.dev}
	return firstErr(errs...)
}
