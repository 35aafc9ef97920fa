//go:build cgo && linux

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
typedef struct CUgraph_st* CUgraph;
typedef struct CUgraphNode_st* CUgraphNode;
typedef struct CUgraphExec_st* CUgraphExec;

// cuLaunchKernelEx's configuration (CUDA 11.8+) with one attribute.
typedef struct {
	int id;
	int pad;
	union {
		char raw[64];
		int programmaticStreamSerializationAllowed;
	} value;
} GP_LAUNCH_ATTRIBUTE;
typedef struct {
	unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
	CUstream hStream;
	GP_LAUNCH_ATTRIBUTE* attrs;
	unsigned numAttrs;
} GP_LAUNCH_CONFIG;

// CUDA_KERNEL_NODE_PARAMS as CUDA 12 defines it (v2); the fields up to
// extra are CUDA 11's (v1), all that the unversioned entry points read.
typedef struct {
	CUfunction func;
	unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
	void** kernelParams;
	void** extra;
	void* kern;    // CUkernel, unused when func is set
	CUcontext ctx; // unused when func is set
} GP_KERNEL_NODE_PARAMS;

// CUgraphEdgeData (CUDA 12.3+).
typedef struct {
	unsigned char from_port, to_port, type, reserved[5];
} GP_EDGE_DATA;

enum {
	GP_CUDA_ERROR_NO_DEVICE = 100,
	GP_CUDA_ERROR_OUT_OF_MEMORY = 2, // CUDA_ERROR_OUT_OF_MEMORY
	GP_ATTR_CC_MAJOR = 75, // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	GP_ATTR_CC_MINOR = 76,
	GP_ATTR_L2_CACHE_SIZE = 38, // CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, bytes
	GP_FUNC_SHARED_SIZE_BYTES = 1, // CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES (static)
	GP_FUNC_LOCAL_SIZE_BYTES = 3, // per thread
	GP_FUNC_NUM_REGS = 4,
	GP_STREAM_NON_BLOCKING = 1,
	GP_MAX_ARGS = 32,
	GP_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6,
	GP_GRAPH_KERNEL_NODE_PORT_PROGRAMMATIC = 1,
	GP_GRAPH_DEPENDENCY_TYPE_PROGRAMMATIC = 1,
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
static CUresult (*p_cuMemGetInfo)(size_t*, size_t*);
static CUresult (*p_cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
static CUresult (*p_cuMemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
static CUresult (*p_cuMemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
static CUresult (*p_cuModuleLoadData)(CUmodule*, const void*);
static CUresult (*p_cuModuleUnload)(CUmodule);
static CUresult (*p_cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
static CUresult (*p_cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                    unsigned, CUstream, void**, void**);
// Optional: programmatic dependent launch and graphs.
static CUresult (*p_cuLaunchKernelEx)(const GP_LAUNCH_CONFIG*, CUfunction, void**, void**);
static CUresult (*p_cuGraphCreate)(CUgraph*, unsigned);
static CUresult (*p_cuGraphDestroy)(CUgraph);
static CUresult (*p_cuGraphAddKernelNode)(CUgraphNode*, CUgraph, const CUgraphNode*, size_t, const GP_KERNEL_NODE_PARAMS*);
static CUresult (*p_cuGraphAddDependencies)(CUgraph, const CUgraphNode*, const CUgraphNode*, const GP_EDGE_DATA*, size_t);
static CUresult (*p_cuGraphInstantiate)(CUgraphExec*, CUgraph, unsigned long long);
static CUresult (*p_cuGraphExecKernelNodeSetParams)(CUgraphExec, CUgraphNode, const GP_KERNEL_NODE_PARAMS*);
static CUresult (*p_cuGraphExecDestroy)(CUgraphExec);
static CUresult (*p_cuGraphLaunch)(CUgraphExec, CUstream);
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
// Optional: what a compiled kernel uses (registers, local memory).
static CUresult (*p_cuFuncGetAttribute)(int*, int, CUfunction);

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
	GP_LOAD(h, p_cuMemGetInfo, "cuMemGetInfo_v2", 0);
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
	GP_LOAD(h, p_cuFuncGetAttribute, "cuFuncGetAttribute", 0);
	GP_LOAD(h, p_cuLaunchKernelEx, "cuLaunchKernelEx", 0);
	GP_LOAD(h, p_cuGraphCreate, "cuGraphCreate", 0);
	GP_LOAD(h, p_cuGraphDestroy, "cuGraphDestroy", 0);
	GP_LOAD(h, p_cuGraphAddKernelNode, "cuGraphAddKernelNode_v2", 0);
	if (!p_cuGraphAddKernelNode) GP_LOAD(h, p_cuGraphAddKernelNode, "cuGraphAddKernelNode", 0);
	GP_LOAD(h, p_cuGraphAddDependencies, "cuGraphAddDependencies_v2", 0);
	GP_LOAD(h, p_cuGraphInstantiate, "cuGraphInstantiateWithFlags", 0);
	GP_LOAD(h, p_cuGraphExecKernelNodeSetParams, "cuGraphExecKernelNodeSetParams_v2", 0);
	if (!p_cuGraphExecKernelNodeSetParams) GP_LOAD(h, p_cuGraphExecKernelNodeSetParams, "cuGraphExecKernelNodeSetParams", 0);
	GP_LOAD(h, p_cuGraphExecDestroy, "cuGraphExecDestroy", 0);
	GP_LOAD(h, p_cuGraphLaunch, "cuGraphLaunch", 0);
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
static int gp_has_func_attributes(void) { return p_cuFuncGetAttribute != 0; }

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
static int gp_has_mem_info(void) { return p_cuMemGetInfo != 0; }
static CUresult gp_cuMemGetInfo(CUcontext c, size_t* free_, size_t* total) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuMemGetInfo(free_, total);
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
static CUresult gp_cuFuncGetAttribute(CUcontext c, int* v, int attr, CUfunction f) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuFuncGetAttribute(v, attr, f);
}
static CUresult gp_cuModuleGetFunction(CUcontext c, CUfunction* f, CUmodule m, const char* name) {
	CUresult r = p_cuCtxSetCurrent(c);
	return r ? r : p_cuModuleGetFunction(f, m, name);
}
static int gp_has_pdl(void) { return p_cuLaunchKernelEx != 0; }
static int gp_has_graphs(void) {
	return p_cuGraphCreate && p_cuGraphDestroy && p_cuGraphAddKernelNode && p_cuGraphInstantiate &&
	       p_cuGraphExecKernelNodeSetParams && p_cuGraphExecDestroy && p_cuGraphLaunch;
}
static int gp_has_graph_pdl(void) { return p_cuGraphAddDependencies != 0; }

// gp_params points params[i] at the 8-byte slot args[i] (the driver copies
// the values before it returns). The list ends with a null pointer, which
// the driver does not read and the fake driver of the tests counts by.
static int gp_params(void** params, uint64_t* args, int nargs) {
	if (nargs > GP_MAX_ARGS) return 1; // CUDA_ERROR_INVALID_VALUE
	for (int i = 0; i < nargs; i++) params[i] = &args[i];
	params[nargs] = 0;
	return 0;
}

// gp_launch launches f; with pdl, it may start while the previous kernel
// in the stream finishes (each kernel waits for it: gpu/kernels/compat.h).
static CUresult gp_launch(CUcontext c, CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                          unsigned bx, unsigned by, unsigned bz, CUstream s, uint64_t* args, int nargs, int pdl) {
	void* params[GP_MAX_ARGS + 1];
	if (gp_params(params, args, nargs)) return 1;
	CUresult r = p_cuCtxSetCurrent(c);
	if (r) return r;
	if (!pdl) return p_cuLaunchKernel(f, gx, gy, gz, bx, by, bz, 0, s, params, 0);
	GP_LAUNCH_ATTRIBUTE attr;
	memset(&attr, 0, sizeof attr);
	attr.id = GP_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
	attr.value.programmaticStreamSerializationAllowed = 1;
	GP_LAUNCH_CONFIG cfg = {gx, gy, gz, bx, by, bz, 0, s, &attr, 1};
	return p_cuLaunchKernelEx(&cfg, f, params, 0);
}

// gp_node fills p for launch i of a recorded run: fns[i], six dims from
// dims[6i], and nargs[i] arguments at args + offs[i].
static int gp_node(GP_KERNEL_NODE_PARAMS* p, void** params, int i, CUfunction* fns, unsigned* dims, int* nargs, int* offs,
                   uint64_t* args) {
	memset(p, 0, sizeof *p);
	if (gp_params(params, args + offs[i], nargs[i])) return 1;
	p->func = fns[i];
	p->gridDimX = dims[6 * i], p->gridDimY = dims[6 * i + 1], p->gridDimZ = dims[6 * i + 2];
	p->blockDimX = dims[6 * i + 3], p->blockDimY = dims[6 * i + 4], p->blockDimZ = dims[6 * i + 5];
	p->kernelParams = params;
	return 0;
}

// gp_graph_build makes and instantiates a graph of n launches that run in
// order: each node depends on the one before, programmatically with pdl
// (as a pdl launch on a stream). nodes receives the n node handles.
static CUresult gp_graph_build(CUcontext c, int n, CUfunction* fns, unsigned* dims, int* nargs, int* offs, uint64_t* args,
                               int pdl, CUgraph* g, CUgraphExec* exec, CUgraphNode* nodes) {
	CUresult r = p_cuCtxSetCurrent(c);
	if (!r) r = p_cuGraphCreate(g, 0);
	if (r) return r;
	for (int i = 0; i < n && !r; i++) {
		void* params[GP_MAX_ARGS + 1];
		GP_KERNEL_NODE_PARAMS p;
		if (gp_node(&p, params, i, fns, dims, nargs, offs, args)) r = 1;
		int after = i > 0 && !pdl;
		if (!r) r = p_cuGraphAddKernelNode(&nodes[i], *g, after ? &nodes[i - 1] : 0, after, &p);
		if (!r && i > 0 && pdl) {
			GP_EDGE_DATA e;
			memset(&e, 0, sizeof e);
			e.from_port = GP_GRAPH_KERNEL_NODE_PORT_PROGRAMMATIC;
			e.type = GP_GRAPH_DEPENDENCY_TYPE_PROGRAMMATIC;
			r = p_cuGraphAddDependencies(*g, &nodes[i - 1], &nodes[i], &e, 1);
		}
	}
	if (!r) r = p_cuGraphInstantiate(exec, *g, 0);
	if (r) {
		p_cuGraphDestroy(*g);
		*g = 0;
	}
	return r;
}

// gp_graph_launch gives node changed[j] the launch j of fns, dims, nargs,
// offs and args (the nchanged launches whose arguments changed), then
// launches the graph on s.
static CUresult gp_graph_launch(CUcontext c, CUstream s, CUgraphExec exec, CUgraphNode* nodes, int nchanged, int* changed,
                                CUfunction* fns, unsigned* dims, int* nargs, int* offs, uint64_t* args) {
	CUresult r = p_cuCtxSetCurrent(c);
	for (int j = 0; j < nchanged && !r; j++) {
		void* params[GP_MAX_ARGS + 1];
		GP_KERNEL_NODE_PARAMS p;
		if (gp_node(&p, params, j, fns, dims, nargs, offs, args)) return 1;
		r = p_cuGraphExecKernelNodeSetParams(exec, nodes[changed[j]], &p);
	}
	return r ? r : p_cuGraphLaunch(exec, s);
}

static CUresult gp_graph_destroy(CUcontext c, CUgraph g, CUgraphExec exec) {
	CUresult r = p_cuCtxSetCurrent(c);
	if (!r) r = p_cuGraphExecDestroy(exec);
	CUresult r2 = p_cuGraphDestroy(g);
	return r ? r : r2;
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
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gopard/gopard/gpu"
	"github.com/gopard/gopard/gpu/kernels"
	"github.com/gopard/gopard/nn"
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
	err := fmt.Errorf("%s: %s (%s)", api, C.GoString(C.gp_error_name(r)), C.GoString(C.gp_error_string(r)))
	if r == C.GP_CUDA_ERROR_OUT_OF_MEMORY {
		return nn.OutOfMemory(err) // --device auto may run the model on the CPU instead
	}
	return err
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

	// pdl: kernels are launched with programmatic stream serialization
	// (sm_90+), so that each one's blocks start while the previous kernel
	// finishes. graphs: launches are held back and issued as CUDA graphs
	// (graph.go); nil when off.
	pdl    bool
	graphs *graphRecorder
	mode   string // LaunchMode's answer
	cc     int    // compute capability, major·10 + minor
	l2     int    // L2 cache bytes
	// untried: the kernels failed to compile or load with the untried
	// PTX, and run without it (loadKernels); nil normally.
	untried error

	// Scratch for passing a held run to C.
	cFns                []C.CUfunction
	cDims               []C.uint
	cNargs, cOffs, cIdx []C.int
	changedLaunches     []heldLaunch
}

// cudaGraph is an instantiated graph and its nodes' handles (C memory).
type cudaGraph struct {
	g     C.CUgraph
	exec  C.CUgraphExec
	nodes *C.CUgraphNode
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
	var major, minor, l2 C.int
	var name [256]C.char
	if err := firstErr(
		check("cuDeviceGet", C.gp_cuDeviceGet(&d.dev, C.int(ordinal))),
		check("cuDeviceGetName", C.gp_cuDeviceGetName(&name[0], C.int(len(name)), d.dev)),
		check("cuDeviceGetAttribute", C.gp_cuDeviceGetAttribute(&major, C.GP_ATTR_CC_MAJOR, d.dev)),
		check("cuDeviceGetAttribute", C.gp_cuDeviceGetAttribute(&minor, C.GP_ATTR_CC_MINOR, d.dev)),
		check("cuDeviceGetAttribute", C.gp_cuDeviceGetAttribute(&l2, C.GP_ATTR_L2_CACHE_SIZE, d.dev)),
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
	d.cc, d.l2 = int(major)*10+int(minor), int(l2)
	d.chooseLaunchMode(d.cc)
	return d, nil
}

// TensorCores implements gpu.TensorCorer: the bf16 mma of the kernels
// needs sm_80 (Ampere) or newer.
func (d *driver) TensorCores() bool { return d.cc >= 80 && d.untried == nil }

// L2Bytes implements gpu.L2Cacher: the L2's size from sm_90 on, where the
// kernels' prefetches are instructions (compat.h); 0 before, and where the
// kernels run without their untried PTX.
func (d *driver) L2Bytes() int {
	if d.cc < 90 || d.untried != nil { // the bulk prefetch is untried PTX
		return 0
	}
	return d.l2
}

// chooseLaunchMode turns on programmatic dependent launch where the GPU
// has it (sm_90+) and CUDA graphs where the driver has them.
// GOPARD_CUDA_PDL and GOPARD_CUDA_GRAPHS = 0 turn either off; = 1 turns
// PDL on below sm_90 too.
func (d *driver) chooseLaunchMode(cc int) {
	pdlEnv, graphsEnv := os.Getenv("GOPARD_CUDA_PDL"), os.Getenv("GOPARD_CUDA_GRAPHS")
	d.pdl = C.gp_has_pdl() != 0 && (pdlEnv == "1" || cc >= 90 && pdlEnv != "0")
	var mode []string
	if C.gp_has_graphs() != 0 && graphsEnv != "0" {
		d.graphs = newGraphRecorder(graphDriver{d})
		mode = append(mode, "graphs")
	}
	if d.pdl {
		mode = append(mode, "programmatic dependent launch")
	}
	if len(mode) == 0 {
		mode = append(mode, "stream")
	}
	d.mode = strings.Join(mode, " + ")
}

// LaunchMode implements gpu.LaunchModer: how kernels are issued, how
// many graphs were built and launched so far, and whether the kernels run
// without their untried PTX (loadKernels).
func (d *driver) LaunchMode() string {
	s := d.mode
	if d.graphs != nil {
		s = fmt.Sprintf("%s (%d graphs built, %d launched, %d kernels outside graphs)", d.mode, d.graphs.built,
			d.graphs.built+d.graphs.relaunched, d.graphs.direct)
		if d.graphs.err != nil {
			s += "; graphs off after: " + d.graphs.err.Error()
		}
	}
	if d.untried != nil {
		msg := d.untried.Error()
		if len(msg) > 400 {
			msg = msg[:400] + "…"
		}
		s += "; kernels built with " + untriedPTXOption + " (no tensor cores, no bulk L2 prefetch) after: " + msg
	}
	return s
}

// flush issues the launches the graph recorder holds back; every call that
// copies, waits or times work calls it first.
func (d *driver) flush() error {
	if d.graphs == nil {
		return nil
	}
	return d.graphs.flush()
}

// graphDriver is the graphOps of a driver.
type graphDriver struct{ d *driver }

func (g graphDriver) direct(l *heldLaunch, args []uint64) error {
	return g.d.launchNow(l.fn, l.grid, l.block, args)
}

// held copies launches into the C scratch arrays, their arguments (from
// args) packed one after the other.
func (d *driver) held(ls []heldLaunch, args []uint64) {
	d.cFns, d.cDims, d.cNargs, d.cOffs, d.args = d.cFns[:0], d.cDims[:0], d.cNargs[:0], d.cOffs[:0], d.args[:0]
	for _, l := range ls {
		d.cFns = append(d.cFns, d.fns[l.fn])
		d.cDims = append(d.cDims, C.uint(l.grid.X), C.uint(l.grid.Y), C.uint(l.grid.Z), C.uint(l.block.X), C.uint(l.block.Y), C.uint(l.block.Z))
		d.cNargs = append(d.cNargs, C.int(l.n))
		d.cOffs = append(d.cOffs, C.int(len(d.args)))
		for _, a := range args[l.off : l.off+l.n] {
			d.args = append(d.args, C.uint64_t(a))
		}
	}
	// So that the first element of each exists to pass to C.
	d.cFns, d.cDims = append(d.cFns, nil), append(d.cDims, 0)
	d.cNargs, d.cOffs, d.args = append(d.cNargs, 0), append(d.cOffs, 0), append(d.args, 0)
}

func (g graphDriver) build(ls []heldLaunch, args []uint64) (graphHandle, error) {
	d := g.d
	d.held(ls, args)
	pdl := C.int(0)
	if d.pdl && C.gp_has_graph_pdl() != 0 {
		pdl = 1
	}
	h := &cudaGraph{nodes: (*C.CUgraphNode)(C.malloc(C.size_t(len(ls)) * C.size_t(unsafe.Sizeof(C.CUgraphNode(nil)))))}
	err := check("cuGraph (build)", C.gp_graph_build(d.ctx, C.int(len(ls)), &d.cFns[0], &d.cDims[0], &d.cNargs[0], &d.cOffs[0],
		&d.args[0], pdl, &h.g, &h.exec, h.nodes))
	if err != nil {
		C.free(unsafe.Pointer(h.nodes))
		return nil, err
	}
	return h, nil
}

func (g graphDriver) launch(gh graphHandle, changed []int, ls []heldLaunch, args []uint64) error {
	d, h := g.d, gh.(*cudaGraph)
	// Only the changed launches go to C: a decode step changes a few.
	d.changedLaunches = d.changedLaunches[:0]
	for _, i := range changed {
		d.changedLaunches = append(d.changedLaunches, ls[i])
	}
	d.held(d.changedLaunches, args)
	d.cIdx = d.cIdx[:0]
	for _, i := range changed {
		d.cIdx = append(d.cIdx, C.int(i))
	}
	d.cIdx = append(d.cIdx, 0) // so that &d.cIdx[0] exists
	return check("cuGraphLaunch", C.gp_graph_launch(d.ctx, d.stream, h.exec, h.nodes, C.int(len(changed)), &d.cIdx[0],
		&d.cFns[0], &d.cDims[0], &d.cNargs[0], &d.cOffs[0], &d.args[0]))
}

func (g graphDriver) destroy(gh graphHandle) {
	d, h := g.d, gh.(*cudaGraph)
	C.gp_cuStreamSynchronize(d.ctx, d.stream) // it may still be running
	C.gp_graph_destroy(d.ctx, h.g, h.exec)
	C.free(unsafe.Pointer(h.nodes))
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
// them from the cache, and loads them. Should that fail, it compiles them
// again without the inline PTX no GPU has compiled yet (untriedPTXOption;
// see compat.h) and, if that works, goes on without those paths
// (TensorCores and L2Bytes then say none), keeping the first error for
// LaunchMode; the failure is cached too, so later opens go straight to
// the fallback.
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
	src, compiler := kernels.Source(), fmt.Sprintf("nvrtc %d.%d", vmaj, vmin)
	path := cachePath(src, compiler, opts, arch, cubin)
	if slices.Contains(opts, untriedPTXOption) { // asked for in GOPARD_NVRTC_OPTIONS
		return d.loadCompiled(src, path, opts, cubin)
	}
	safe := append(slices.Clone(opts), untriedPTXOption)
	safePath, failed := cachePath(src, compiler, safe, arch, cubin), ""
	if path != "" {
		failed = path + ".failed"
		if b, err := os.ReadFile(failed); err == nil {
			d.untried = errors.New(string(b))
			return d.loadCompiled(src, safePath, safe, cubin)
		}
	}
	err := d.loadCompiled(src, path, opts, cubin)
	if err == nil {
		return nil
	}
	if d.loadCompiled(src, safePath, safe, cubin) != nil {
		return err // the fallback failing too: the fault is elsewhere, and the first error says it
	}
	d.untried = err
	// Only the compiler's verdict is kept: it will not change until the
	// source or the compiler does (which changes the path); a failed load
	// might have been the moment's.
	if failed != "" && errors.Is(err, errCompile) {
		_ = os.WriteFile(failed, []byte(err.Error()), 0o644) // the cache is an optimization
	}
	return nil
}

// errCompile marks the errors of nvrtcCompileProgram itself.
var errCompile = errors.New("the kernels do not compile")

// untriedPTXOption compiles the kernels without the inline PTX that was
// written without a GPU to try it on (GP_NO_UNTRIED_PTX in compat.h).
const untriedPTXOption = "-DGP_NO_UNTRIED_PTX"

// cachePath is the cache file of the kernels src compiled with opts (""
// with the cache off).
func cachePath(src, compiler string, opts []string, arch string, cubin bool) string {
	dir := gpu.CacheDir("cuda")
	if dir == "" {
		return ""
	}
	ext := "ptx"
	if cubin {
		ext = "cubin"
	}
	return gpu.CachePath(dir, gpu.CacheKey(src, compiler, opts), arch, ext)
}

// loadCompiled compiles the kernels src with opts, or takes them from the
// cache file path, and loads them.
func (d *driver) loadCompiled(src, path string, opts []string, cubin bool) error {
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
		return nil, fmt.Errorf("%w (%w)\n%s", checkNVRTC("nvrtcCompileProgram("+strings.Join(opts, " ")+")", r), errCompile, nvrtcLog(prog))
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

// MemInfo implements gpu.MemReporter: the device memory free and in all,
// as the driver counts them (other processes' use included).
func (d *driver) MemInfo() (free, total int64, err error) {
	if C.gp_has_mem_info() == 0 {
		return 0, 0, fmt.Errorf("cuMemGetInfo: %w", errors.ErrUnsupported)
	}
	var f, t C.size_t
	if err := check("cuMemGetInfo", C.gp_cuMemGetInfo(d.ctx, &f, &t)); err != nil {
		return 0, 0, err
	}
	return int64(f), int64(t), nil
}

func (d *driver) Free(p uintptr) error {
	if err := d.flush(); err != nil {
		return err
	}
	return check("cuMemFree", C.gp_cuMemFree(d.ctx, C.CUdeviceptr(p)))
}

func (d *driver) Zero(p uintptr, bytes int) error {
	if err := d.flush(); err != nil {
		return err
	}
	return check("cuMemsetD8Async", C.gp_cuMemsetD8Async(d.ctx, C.CUdeviceptr(p), C.size_t(bytes), d.stream))
}

func (d *driver) Upload(dst uintptr, src unsafe.Pointer, bytes int) error {
	if err := d.flush(); err != nil {
		return err
	}
	return check("cuMemcpyHtoDAsync", C.gp_upload(d.ctx, C.CUdeviceptr(dst), src, C.size_t(bytes), d.stream))
}

func (d *driver) Download(dst unsafe.Pointer, src uintptr, bytes int) error {
	if err := d.flush(); err != nil {
		return err
	}
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

// KernelResources implements gpu.ResourceReporter: what the driver says a
// compiled kernel uses (cuFuncGetAttribute).
func (d *driver) KernelResources(fn uintptr) (gpu.KernelResources, error) {
	if C.gp_has_func_attributes() == 0 {
		return gpu.KernelResources{}, fmt.Errorf("%s: the driver has no cuFuncGetAttribute", d.name)
	}
	if fn >= uintptr(len(d.fns)) {
		return gpu.KernelResources{}, fmt.Errorf("%s: no kernel %d", d.name, fn)
	}
	var regs, local, shared C.int
	f := d.fns[fn]
	for _, a := range []struct {
		v    *C.int
		attr C.int
	}{{&regs, C.GP_FUNC_NUM_REGS}, {&local, C.GP_FUNC_LOCAL_SIZE_BYTES}, {&shared, C.GP_FUNC_SHARED_SIZE_BYTES}} {
		if err := check("cuFuncGetAttribute", C.gp_cuFuncGetAttribute(d.ctx, a.v, a.attr, f)); err != nil {
			return gpu.KernelResources{}, err
		}
	}
	return gpu.KernelResources{Registers: int(regs), LocalBytes: int(local), SharedBytes: int(shared)}, nil
}

func (d *driver) Launch(fn uintptr, grid, block gpu.Dim3, args []uint64) error {
	if d.graphs != nil {
		return d.graphs.record(fn, grid, block, args)
	}
	return d.launchNow(fn, grid, block, args)
}

func (d *driver) launchNow(fn uintptr, grid, block gpu.Dim3, args []uint64) error {
	d.args = d.args[:0]
	for _, a := range args {
		d.args = append(d.args, C.uint64_t(a))
	}
	var argp *C.uint64_t
	if len(d.args) > 0 {
		argp = &d.args[0]
	}
	pdl := 0
	if d.pdl {
		pdl = 1
	}
	return check("cuLaunchKernel", C.gp_launch(d.ctx, d.fns[fn], C.uint(grid.X), C.uint(grid.Y), C.uint(grid.Z),
		C.uint(block.X), C.uint(block.Y), C.uint(block.Z), d.stream, argp, C.int(len(args)), C.int(pdl)))
}

func (d *driver) Synchronize() error {
	if err := d.flush(); err != nil {
		return err
	}
	return check("cuStreamSynchronize", C.gp_cuStreamSynchronize(d.ctx, d.stream))
}

// Time implements gpu.Timer with a pair of events around f's work.
func (d *driver) Time(f func()) (time.Duration, error) {
	if err := d.flush(); err != nil {
		return 0, err
	}
	if err := check("cuEventRecord", C.gp_cuEventRecord(d.ctx, d.start, d.stream)); err != nil {
		return 0, err
	}
	f()
	if err := d.flush(); err != nil {
		return 0, err
	}
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
	if d.graphs != nil {
		errs = append(errs, d.flush())
		d.graphs.close()
	}
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
