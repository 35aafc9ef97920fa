//go:build cgo && linux

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

// The few types of cuda.h and nvrtc.h this file uses. Handles are opaque
// pointers; CUdeviceptr is a 64-bit device address.
typedef int CUresult;
typedef int CUdevice;
typedef struct CUctx_st* CUcontext;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUstream_st* CUstream;
typedef struct CUevent_st* CUevent;
typedef unsigned long long CUdeviceptr;
typedef int nvrtcResult;
typedef struct _nvrtcProgram* nvrtcProgram;

enum {
	GP_CUDA_ERROR_NO_DEVICE = 100,
	GP_ATTR_CC_MAJOR = 75, // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	GP_ATTR_CC_MINOR = 76,
	GP_STREAM_NON_BLOCKING = 1,
	GP_MAX_ARGS = 32,
};

// Driver API entry points, resolved with dlsym. Where cuda.h maps a name
// to a versioned symbol (cuMemAlloc → cuMemAlloc_v2), the versioned one.
static CUresult (*p_cuInit)(unsigned);
static CUresult (*p_cuDriverGetVersion)(int*);
static CUresult (*p_cuDeviceGetCount)(int*);
static CUresult (*p_cuDeviceGet)(CUdevice*, int);
static CUresult (*p_cuDeviceGetName)(char*, int, CUdevice);
static CUresult (*p_cuDeviceGetAttribute)(int*, int, CUdevice);
static CUresult (*p_cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
static CUresult (*p_cuDevicePrimaryCtxRelease)(CUdevice);
static CUresult (*p_cuCtxSetCurrent)(CUcontext);
static CUresult (*p_cuMemAlloc)(CUdeviceptr*, size_t);
static CUresult (*p_cuMemFree)(CUdeviceptr);
static CUresult (*p_cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
static CUresult (*p_cuMemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
static CUresult (*p_cuMemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
static CUresult (*p_cuModuleLoadData)(CUmodule*, const void*);
static CUresult (*p_cuModuleUnload)(CUmodule);
static CUresult (*p_cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
static CUresult (*p_cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                    unsigned, CUstream, void**, void**);
static CUresult (*p_cuStreamCreate)(CUstream*, unsigned);
static CUresult (*p_cuStreamDestroy)(CUstream);
static CUresult (*p_cuStreamSynchronize)(CUstream);
static CUresult (*p_cuEventCreate)(CUevent*, unsigned);
static CUresult (*p_cuEventRecord)(CUevent, CUstream);
static CUresult (*p_cuEventSynchronize)(CUevent);
static CUresult (*p_cuEventElapsedTime)(float*, CUevent, CUevent);
static CUresult (*p_cuEventDestroy)(CUevent);
static CUresult (*p_cuGetErrorName)(CUresult, const char**);
static CUresult (*p_cuGetErrorString)(CUresult, const char**);

// NVRTC entry points; the CUBIN and architecture queries are optional
// (NVRTC 11.1 and 11.2 added them).
static nvrtcResult (*p_nvrtcVersion)(int*, int*);
static nvrtcResult (*p_nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*);
static nvrtcResult (*p_nvrtcCompileProgram)(nvrtcProgram, int, const char* const*);
static nvrtcResult (*p_nvrtcGetProgramLogSize)(nvrtcProgram, size_t*);
static nvrtcResult (*p_nvrtcGetProgramLog)(nvrtcProgram, char*);
static nvrtcResult (*p_nvrtcGetPTXSize)(nvrtcProgram, size_t*);
static nvrtcResult (*p_nvrtcGetPTX)(nvrtcProgram, char*);
static nvrtcResult (*p_nvrtcGetCUBINSize)(nvrtcProgram, size_t*);
static nvrtcResult (*p_nvrtcGetCUBIN)(nvrtcProgram, char*);
static nvrtcResult (*p_nvrtcGetNumSupportedArchs)(int*);
static nvrtcResult (*p_nvrtcGetSupportedArchs)(int*);
static nvrtcResult (*p_nvrtcDestroyProgram)(nvrtcProgram*);
static const char* (*p_nvrtcGetErrorString)(nvrtcResult);

// gp_sym resolves name in h, remembering the first required one missing.
static void* gp_sym(void* h, const char* name, int required, const char** missing) {
	void* p = dlsym(h, name);
	if (!p && required && !*missing) *missing = name;
	return p;
}
#define GP_LOAD(h, var, name, required) *(void**)(&var) = gp_sym(h, name, required, &missing)

// gp_load_cuda resolves the driver API in h; it returns the first missing
// symbol, or NULL.
static const char* gp_load_cuda(void* h) {
	const char* missing = 0;
	GP_LOAD(h, p_cuInit, "cuInit", 1);
	GP_LOAD(h, p_cuDriverGetVersion, "cuDriverGetVersion", 1);
	GP_LOAD(h, p_cuDeviceGetCount, "cuDeviceGetCount", 1);
	GP_LOAD(h, p_cuDeviceGet, "cuDeviceGet", 1);
	GP_LOAD(h, p_cuDeviceGetName, "cuDeviceGetName", 1);
	GP_LOAD(h, p_cuDeviceGetAttribute, "cuDeviceGetAttribute", 1);
	GP_LOAD(h, p_cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 1);
	GP_LOAD(h, p_cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", 0); // CUDA 11
	if (!p_cuDevicePrimaryCtxRelease) GP_LOAD(h, p_cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 1);
	GP_LOAD(h, p_cuCtxSetCurrent, "cuCtxSetCurrent", 1);
	GP_LOAD(h, p_cuMemAlloc, "cuMemAlloc_v2", 1);
	GP_LOAD(h, p_cuMemFree, "cuMemFree_v2", 1);
	GP_LOAD(h, p_cuMemsetD8Async, "cuMemsetD8Async", 1);
	GP_LOAD(h, p_cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", 1);
	GP_LOAD(h, p_cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", 1);
	GP_LOAD(h, p_cuModuleLoadData, "cuModuleLoadData", 1);
	GP_LOAD(h, p_cuModuleUnload, "cuModuleUnload", 1);
	GP_LOAD(h, p_cuModuleGetFunction, "cuModuleGetFunction", 1);
	GP_LOAD(h, p_cuLaunchKernel, "cuLaunchKernel", 1);
	GP_LOAD(h, p_cuStreamCreate, "cuStreamCreate", 1);
	GP_LOAD(h, p_cuStreamDestroy, "cuStreamDestroy_v2", 1);
	GP_LOAD(h, p_cuStreamSynchronize, "cuStreamSynchronize", 1);
	GP_LOAD(h, p_cuEventCreate, "cuEventCreate", 1);
	GP_LOAD(h, p_cuEventRecord, "cuEventRecord", 1);
	GP_LOAD(h, p_cuEventSynchronize, "cuEventSynchronize", 1);
	GP_LOAD(h, p_cuEventElapsedTime, "cuEventElapsedTime", 1);
	GP_LOAD(h, p_cuEventDestroy, "cuEventDestroy_v2", 1);
	GP_LOAD(h, p_cuGetErrorName, "cuGetErrorName", 1);
	GP_LOAD(h, p_cuGetErrorString, "cuGetErrorString", 1);
	return missing;
}

static const char* gp_load_nvrtc(void* h) {
	const char* missing = 0;
	GP_LOAD(h, p_nvrtcVersion, "nvrtcVersion", 1);
	GP_LOAD(h, p_nvrtcCreateProgram, "nvrtcCreateProgram", 1);
	GP_LOAD(h, p_nvrtcCompileProgram, "nvrtcCompileProgram", 1);
	GP_LOAD(h, p_nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", 1);
	GP_LOAD(h, p_nvrtcGetProgramLog, "nvrtcGetProgramLog", 1);
	GP_LOAD(h, p_nvrtcGetPTXSize, "nvrtcGetPTXSize", 1);
	GP_LOAD(h, p_nvrtcGetPTX, "nvrtcGetPTX", 1);
	GP_LOAD(h, p_nvrtcGetCUBINSize, "nvrtcGetCUBINSize", 0);
	GP_LOAD(h, p_nvrtcGetCUBIN, "nvrtcGetCUBIN", 0);
	GP_LOAD(h, p_nvrtcGetNumSupportedArchs, "nvrtcGetNumSupportedArchs", 0);
	GP_LOAD(h, p_nvrtcGetSupportedArchs, "nvrtcGetSupportedArchs", 0);
	GP_LOAD(h, p_nvrtcDestroyProgram, "nvrtcDestroyProgram", 1);
	GP_LOAD(h, p_nvrtcGetErrorString, "nvrtcGetErrorString", 1);
	return missing;
}

static const char* gp_error_name(CUresult r) {
	const char* s = 0;
	if (p_cuGetErrorName) p_cuGetErrorName(r, &s);
	return s ? s : "CUDA_ERROR_UNKNOWN";
}
static const char* gp_error_string(CUresult r) {
	const char* s = 0;
	if (p_cuGetErrorString) p_cuGetErrorString(r, &s);
	return s ? s : "unknown error";
}

// Plain calls through the pointers.
static CUresult gp_cuInit(void) { return p_cuInit(0); }
static CUresult gp_cuDriverGetVersion(int* v) { return p_cuDriverGetVersion(v); }
static CUresult gp_cuDeviceGetCount(int* n) { return p_cuDeviceGetCount(n); }
static CUresult gp_cuDeviceGet(CUdevice* d, int ordinal) { return p_cuDeviceGet(d, ordinal); }
static CUresult gp_cuDeviceGetName(char* name, int len, CUdevice d) { return p_cuDeviceGetName(name, len, d); }
static CUresult gp_cuDeviceGetAttribute(int* v, int attr, CUdevice d) { return p_cuDeviceGetAttribute(v, attr, d); }
static CUresult gp_cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) { return p_cuDevicePrimaryCtxRetain(c, d); }
static CUresult gp_cuDevicePrimaryCtxRelease(CUdevice d) { return p_cuDevicePrimaryCtxRelease(d); }

// The calls that work on the device first make its context current on the
// calling thread: goroutines move between threads, a context does not.
static CUresult gp_cuStreamCreate(CUcontext c, CUstream* s) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuStreamCreate(s, GP_STREAM_NON_BLOCKING);
}
static CUresult gp_cuStreamDestroy(CUcontext c, CUstream s) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuStreamDestroy(s);
}
static CUresult gp_cuStreamSynchronize(CUcontext c, CUstream s) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuStreamSynchronize(s);
}
static CUresult gp_cuMemAlloc(CUcontext c, CUdeviceptr* p, size_t n) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuMemAlloc(p, n);
}
static CUresult gp_cuMemFree(CUcontext c, CUdeviceptr p) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuMemFree(p);
}
static CUresult gp_cuMemsetD8Async(CUcontext c, CUdeviceptr p, size_t n, CUstream s) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuMemsetD8Async(p, 0, n, s);
}
// Copies are queued on the stream, after the kernels, and waited for, so
// the host memory is not used after the call returns.
static CUresult gp_upload(CUcontext c, CUdeviceptr dst, const void* src, size_t n, CUstream s) {
	CUresult r = p_cuCtxSetCurrent(c);
	if (!r) r = p_cuMemcpyHtoDAsync(dst, src, n, s);
	return r ? r : p_cuStreamSynchronize(s);
}
static CUresult gp_download(CUcontext c, void* dst, CUdeviceptr src, size_t n, CUstream s) {
	CUresult r = p_cuCtxSetCurrent(c);
	if (!r) r = p_cuMemcpyDtoHAsync(dst, src, n, s);
	return r ? r : p_cuStreamSynchronize(s);
}
static CUresult gp_cuModuleLoadData(CUcontext c, CUmodule* m, const void* image) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuModuleLoadData(m, image);
}
static CUresult gp_cuModuleUnload(CUcontext c, CUmodule m) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuModuleUnload(m);
}
static CUresult gp_cuModuleGetFunction(CUcontext c, CUfunction* f, CUmodule m, const char* name) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuModuleGetFunction(f, m, name);
}
// gp_launch passes kernel parameter i as a pointer to the 8-byte slot
// args[i]; cuLaunchKernel copies them before it returns.
static CUresult gp_launch(CUcontext c, CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                          unsigned bx, unsigned by, unsigned bz, CUstream s, uint64_t* args, int nargs) {
	void* params[GP_MAX_ARGS];
	if (nargs > GP_MAX_ARGS) return 1; // CUDA_ERROR_INVALID_VALUE
	for (int i = 0; i < nargs; i++) params[i] = &args[i];
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuLaunchKernel(f, gx, gy, gz, bx, by, bz, 0, s, params, 0);
}
static CUresult gp_cuEventCreate(CUcontext c, CUevent* e) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuEventCreate(e, 0);
}
static CUresult gp_cuEventDestroy(CUcontext c, CUevent e) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuEventDestroy(e);
}
static CUresult gp_cuEventRecord(CUcontext c, CUevent e, CUstream s) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuEventRecord(e, s);
}
static CUresult gp_elapsed(CUcontext c, float* ms, CUevent start, CUevent stop) {
	CUresult r = p_cuCtxSetCurrent(c);
	if (!r) r = p_cuEventSynchronize(stop);
	return r ? r : p_cuEventElapsedTime(ms, start, stop);
}

static const char* gp_nvrtc_error(nvrtcResult r) { return p_nvrtcGetErrorString(r); }
static nvrtcResult gp_nvrtcVersion(int* major, int* minor) { return p_nvrtcVersion(major, minor); }
static int gp_nvrtc_has_cubin(void) { return p_nvrtcGetCUBIN != 0 && p_nvrtcGetCUBINSize != 0; }
// gp_nvrtc_archs writes up to n supported architectures (major·10 + minor)
// and returns how many there are, or -1 when NVRTC cannot tell.
static int gp_nvrtc_archs(int* archs, int n) {
	int count = 0;
	if (!p_nvrtcGetNumSupportedArchs || !p_nvrtcGetSupportedArchs) return -1;
	if (p_nvrtcGetNumSupportedArchs(&count) || count > n) return -1;
	if (p_nvrtcGetSupportedArchs(archs)) return -1;
	return count;
}
static nvrtcResult gp_nvrtc_compile(nvrtcProgram* prog, const char* src, int nopts, const char** opts) {
	nvrtcResult r = p_nvrtcCreateProgram(prog, src, "gopard_kernels.cu", 0, 0, 0);
	return r ? r : p_nvrtcCompileProgram(*prog, nopts, opts);
}
static nvrtcResult gp_nvrtc_log_size(nvrtcProgram p, size_t* n) { return p_nvrtcGetProgramLogSize(p, n); }
static nvrtcResult gp_nvrtc_log(nvrtcProgram p, char* buf) { return p_nvrtcGetProgramLog(p, buf); }
static nvrtcResult gp_nvrtc_code_size(nvrtcProgram p, int cubin, size_t* n) {
	return cubin ? p_nvrtcGetCUBINSize(p, n) : p_nvrtcGetPTXSize(p, n);
}
static nvrtcResult gp_nvrtc_code(nvrtcProgram p, int cubin, char* buf) {
	return cubin ? p_nvrtcGetCUBIN(p, buf) : p_nvrtcGetPTX(p, buf);
}
static nvrtcResult gp_nvrtc_destroy(nvrtcProgram* p) { return p_nvrtcDestroyProgram(p); }
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/kernels"
)

// The libraries are opened once per process; their function pointers are
// C globals.
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
		h, _ := dlopen(driverLibs())
		if h == nil {
			loadErr = gpu.NoDevice("cuda: libcuda.so.1 not found: no NVIDIA driver on this machine")
			return
		}
		if m := C.gp_load_cuda(h); m != nil {
			loadErr = fmt.Errorf("cuda: libcuda.so.1 lacks %s: the NVIDIA driver is too old", C.GoString(m))
			return
		}
		libs := nvrtcLibs()
		h, why := dlopen(libs)
		if h == nil {
			loadErr = fmt.Errorf("cuda: libnvrtc.so not found (tried %s; %s): install NVRTC (the cuda-nvrtc package of the CUDA toolkit) or set GOPARD_NVRTC to its path",
				strings.Join(libs, ", "), why[0])
			return
		}
		if m := C.gp_load_nvrtc(h); m != nil {
			loadErr = fmt.Errorf("cuda: libnvrtc.so lacks %s", C.GoString(m))
		}
	})
	return loadErr
}

// check turns a driver API result into an error naming the call.
func check(api string, r C.CUresult) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s (%s)", api, C.GoString(C.gp_error_name(r)), C.GoString(C.gp_error_string(r)))
}

func checkNVRTC(api string, r C.nvrtcResult) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", api, C.GoString(C.gp_nvrtc_error(r)))
}

// driver is a gpu.Driver over the CUDA driver API: one device, its primary
// context, one stream and the module of compiled kernels.
type driver struct {
	name        string
	dev         C.CUdevice
	ctx         C.CUcontext
	stream      C.CUstream
	module      C.CUmodule
	start, stop C.CUevent
	fns         []C.CUfunction // Function's handles index this
	args        []C.uint64_t
}

func openDriver(ordinal int) (gpu.Driver, error) {
	if err := load(); err != nil {
		return nil, err
	}
	if r := C.gp_cuInit(); r == C.GP_CUDA_ERROR_NO_DEVICE {
		return nil, gpu.NoDevice("cuda: no CUDA device on this machine (cuInit: " + C.GoString(C.gp_error_string(r)) + ")")
	} else if err := check("cuInit", r); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	var count C.int
	if err := check("cuDeviceGetCount", C.gp_cuDeviceGetCount(&count)); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if count == 0 {
		return nil, gpu.NoDevice("cuda: no CUDA device on this machine")
	}
	if ordinal < 0 || ordinal >= int(count) {
		return nil, fmt.Errorf("cuda: no device %d (this machine has %d)", ordinal, count)
	}
	d := &driver{}
	var major, minor C.int
	var name [256]C.char
	if err := firstErr(
		check("cuDeviceGet", C.gp_cuDeviceGet(&d.dev, C.int(ordinal))),
		check("cuDeviceGetName", C.gp_cuDeviceGetName(&name[0], C.int(len(name)), d.dev)),
		check("cuDeviceGetAttribute", C.gp_cuDeviceGetAttribute(&major, C.GP_ATTR_CC_MAJOR, d.dev)),
		check("cuDeviceGetAttribute", C.gp_cuDeviceGetAttribute(&minor, C.GP_ATTR_CC_MINOR, d.dev)),
	); err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", ordinal, err)
	}
	d.name = fmt.Sprintf("cuda:%d %s", ordinal, C.GoString(&name[0]))
	if err := check("cuDevicePrimaryCtxRetain", C.gp_cuDevicePrimaryCtxRetain(&d.ctx, d.dev)); err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	err := firstErr(
		check("cuStreamCreate", C.gp_cuStreamCreate(d.ctx, &d.stream)),
		check("cuEventCreate", C.gp_cuEventCreate(d.ctx, &d.start)),
		check("cuEventCreate", C.gp_cuEventCreate(d.ctx, &d.stop)),
	)
	if err == nil {
		err = d.loadKernels(int(major)*10 + int(minor))
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

// loadKernels compiles the kernels for compute capability cc, or takes
// them from the cache, and loads them.
func (d *driver) loadKernels(cc int) error {
	var vmaj, vmin C.int
	if err := checkNVRTC("nvrtcVersion", C.gp_nvrtcVersion(&vmaj, &vmin)); err != nil {
		return err
	}
	var supported []int
	archs := make([]C.int, 256)
	if n := C.gp_nvrtc_archs(&archs[0], C.int(len(archs))); n >= 0 {
		supported = make([]int, n)
		for i := range supported {
			supported[i] = int(archs[i])
		}
	}
	arch, cubin := target(cc, supported, C.gp_nvrtc_has_cubin() != 0)
	opts := options(arch)
	src := kernels.Source()
	ext := "ptx"
	if cubin {
		ext = "cubin"
	}
	path := ""
	if dir := gpu.CacheDir("cuda"); dir != "" {
		path = gpu.CachePath(dir, gpu.CacheKey(src, fmt.Sprintf("nvrtc %d.%d", vmaj, vmin), opts), arch, ext)
	}
	compile := func() ([]byte, error) { return nvrtcCompile(src, opts, cubin) }
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
	if len(image) == 0 || image[len(image)-1] != 0 {
		image = append(image, 0) // PTX must be NUL-terminated; a CUBIN does not mind
	}
	cimg := C.CBytes(image)
	defer C.free(cimg)
	return check("cuModuleLoadData", C.gp_cuModuleLoadData(d.ctx, &d.module, cimg))
}

// nvrtcCompile compiles src with NVRTC into a CUBIN or PTX image.
func nvrtcCompile(src string, opts []string, cubin bool) ([]byte, error) {
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

	var prog C.nvrtcProgram
	r := C.gp_nvrtc_compile(&prog, csrc, C.int(len(opts)), arr)
	if prog != nil {
		defer C.gp_nvrtc_destroy(&prog)
	}
	if r != 0 {
		return nil, fmt.Errorf("%w\n%s", checkNVRTC("nvrtcCompileProgram("+strings.Join(opts, " ")+")", r), nvrtcLog(prog))
	}
	c := C.int(0)
	if cubin {
		c = 1
	}
	var n C.size_t
	if err := checkNVRTC("nvrtcGetCode size", C.gp_nvrtc_code_size(prog, c, &n)); err != nil {
		return nil, err
	}
	buf := C.malloc(n)
	defer C.free(buf)
	if err := checkNVRTC("nvrtcGetCode", C.gp_nvrtc_code(prog, c, (*C.char)(buf))); err != nil {
		return nil, err
	}
	return C.GoBytes(buf, C.int(n)), nil
}

func nvrtcLog(prog C.nvrtcProgram) string {
	var n C.size_t
	if prog == nil || C.gp_nvrtc_log_size(prog, &n) != 0 || n <= 1 {
		return ""
	}
	buf := C.malloc(n)
	defer C.free(buf)
	if C.gp_nvrtc_log(prog, (*C.char)(buf)) != 0 {
		return ""
	}
	return C.GoString((*C.char)(buf))
}

func (d *driver) Name() string { return d.name }

func (d *driver) Alloc(bytes int) (uintptr, error) {
	var p C.CUdeviceptr
	if err := check("cuMemAlloc", C.gp_cuMemAlloc(d.ctx, &p, C.size_t(bytes))); err != nil {
		return 0, err
	}
	return uintptr(p), nil
}

func (d *driver) Free(p uintptr) error {
	return check("cuMemFree", C.gp_cuMemFree(d.ctx, C.CUdeviceptr(p)))
}

func (d *driver) Zero(p uintptr, bytes int) error {
	return check("cuMemsetD8Async", C.gp_cuMemsetD8Async(d.ctx, C.CUdeviceptr(p), C.size_t(bytes), d.stream))
}

func (d *driver) Upload(dst uintptr, src unsafe.Pointer, bytes int) error {
	return check("cuMemcpyHtoDAsync", C.gp_upload(d.ctx, C.CUdeviceptr(dst), src, C.size_t(bytes), d.stream))
}

func (d *driver) Download(dst unsafe.Pointer, src uintptr, bytes int) error {
	return check("cuMemcpyDtoHAsync", C.gp_download(d.ctx, dst, C.CUdeviceptr(src), C.size_t(bytes), d.stream))
}

func (d *driver) Function(name string) (uintptr, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var f C.CUfunction
	if err := check("cuModuleGetFunction("+name+")", C.gp_cuModuleGetFunction(d.ctx, &f, d.module, cn)); err != nil {
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
	return check("cuLaunchKernel", C.gp_launch(d.ctx, d.fns[fn], C.uint(grid.X), C.uint(grid.Y), C.uint(grid.Z),
		C.uint(block.X), C.uint(block.Y), C.uint(block.Z), d.stream, argp, C.int(len(args))))
}

func (d *driver) Synchronize() error {
	return check("cuStreamSynchronize", C.gp_cuStreamSynchronize(d.ctx, d.stream))
}

// Time implements gpu.Timer with a pair of events around f's work.
func (d *driver) Time(f func()) (time.Duration, error) {
	if err := check("cuEventRecord", C.gp_cuEventRecord(d.ctx, d.start, d.stream)); err != nil {
		return 0, err
	}
	f()
	if err := check("cuEventRecord", C.gp_cuEventRecord(d.ctx, d.stop, d.stream)); err != nil {
		return 0, err
	}
	var ms C.float
	if err := check("cuEventElapsedTime", C.gp_elapsed(d.ctx, &ms, d.start, d.stop)); err != nil {
		return 0, err
	}
	return time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

func (d *driver) Close() error {
	var errs []error
	if d.module != nil {
		errs = append(errs, check("cuModuleUnload", C.gp_cuModuleUnload(d.ctx, d.module)))
	}
	for _, e := range []C.CUevent{d.start, d.stop} {
		if e != nil {
			errs = append(errs, check("cuEventDestroy", C.gp_cuEventDestroy(d.ctx, e)))
		}
	}
	if d.stream != nil {
		errs = append(errs, check("cuStreamDestroy", C.gp_cuStreamDestroy(d.ctx, d.stream)))
	}
	if d.ctx != nil {
		errs = append(errs, check("cuDevicePrimaryCtxRelease", C.gp_cuDevicePrimaryCtxRelease(d.dev)))
	}
	*d = driver{name: d.name}
	return firstErr(errs...)
}
