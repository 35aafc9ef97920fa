// fakegpu.c: a stand-in for libcuda.so.1 + libnvrtc.so and libamdhip64.so
// + libhiprtc.so, so that the dlopen layers of gpu/cuda and gpu/hip run in
// tests on machines without a GPU. It implements just what they call:
// memory is host memory, launches are synchronous, and the "compiled
// module" is the CPU emulator's library (gpu/internal/emu), whose path the
// compiler returns as its code (FAKE_MODULE) and the module loader dlopens;
// kernel name runs as emu_launch_<name>.
//
// Every call that takes a context or device checks it is the one handed
// out, so a mix-up in the Go layer fails. Environment knobs, read at each
// call: FAKE_NO_DEVICE (init reports no device), FAKE_COMPILE_ERROR (the
// compiler fails with a log).
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*emu_fn)(unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void**);

static void* const the_ctx = (void*)0xc0;
static int current_device = -1;
static long live_allocs;

long fake_live_allocs(void) { return live_allocs; }

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void* alloc(size_t n) {
  live_allocs++;
  return aligned_alloc(256, (n + 255) / 256 * 256);
}

static void* load_module(const void* image) { return dlopen((const char*)image, RTLD_NOW | RTLD_LOCAL); }

static void* function(void* module, const char* name) {
  char sym[256];
  snprintf(sym, sizeof sym, "emu_launch_%s", name);
  return dlsym(module, sym);
}

// ---- the compiler (NVRTC and hiprtc share the program object)

struct program {
  int compiled;
  char log[256];
};

static int compile(struct program* p, int n, const char* const* opts, const char* want_arch) {
  // FAKE_COMPILE_ERROR_WITHOUT=OPTION fails every compile without that
  // option, as a kernel source whose untried PTX a real compiler rejects.
  const char* need = getenv("FAKE_COMPILE_ERROR_WITHOUT");
  int arch = 0, needed = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(opts[i], want_arch) == 0) arch = 1;
    if (need && strcmp(opts[i], need) == 0) needed = 1;
  }
  if (need && !needed) {
    snprintf(p->log, sizeof p->log, "fake: ptxas error: unknown instruction (compile with %s)", need);
    return 6;
  }
  if (getenv("FAKE_COMPILE_ERROR") || !arch) {
    snprintf(p->log, sizeof p->log, "fake: compilation failed (want option %s)", want_arch);
    return 6; // NVRTC_ERROR_COMPILATION, HIPRTC_ERROR_COMPILATION
  }
  p->compiled = 1;
  return 0;
}

static int code_size(struct program* p, size_t* n) {
  const char* m = getenv("FAKE_MODULE");
  if (!p->compiled || !m) return 7;
  *n = strlen(m) + 1;
  return 0;
}

static int code(struct program* p, char* buf) {
  const char* m = getenv("FAKE_MODULE");
  if (!p->compiled || !m) return 7;
  memcpy(buf, m, strlen(m) + 1);
  return 0;
}

static int create(struct program** p, const char* src) {
  if (!strstr(src, "KERNEL void linear_bf16_m1(")) return 4; // not our kernels
  *p = calloc(1, sizeof **p);
  return 0;
}

// ---- CUDA driver API

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

#define CTX(c) \
  if ((c) != the_ctx) return 201 // CUDA_ERROR_INVALID_CONTEXT
static void* current_ctx;

CUresult cuInit(unsigned flags) { return getenv("FAKE_NO_DEVICE") ? 100 : 0; }
CUresult cuDriverGetVersion(int* v) { *v = 12040; return 0; }
CUresult cuDeviceGetCount(int* n) { *n = 1; return 0; }
CUresult cuDeviceGet(int* d, int ordinal) { if (ordinal != 0) return 101; *d = 0; return 0; }
CUresult cuDeviceGetName(char* name, int len, int d) { snprintf(name, len, "Fake GPU"); return 0; }
// The device is an sm_86 with a 4 MiB L2, or the compute capability in
// FAKE_CC ("90").
CUresult cuDeviceGetAttribute(int* v, int attr, int d) {
  int cc = getenv("FAKE_CC") ? atoi(getenv("FAKE_CC")) : 86;
  *v = attr == 75 ? cc / 10 : attr == 76 ? cc % 10 : attr == 38 ? 4 << 20 : 0;
  return 0;
}
CUresult cuDevicePrimaryCtxRetain(void** c, int d) { *c = the_ctx; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int d) { return 0; }
CUresult cuCtxSetCurrent(void* c) { current_ctx = c; return 0; }
// The device has 16 GiB, FAKE_MEM_FREE bytes of them free (8 GiB unset);
// an allocation larger than that fails as a real one would (out of memory).
static size_t fake_free(void) { return getenv("FAKE_MEM_FREE") ? (size_t)atoll(getenv("FAKE_MEM_FREE")) : (size_t)8 << 30; }
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  CTX(current_ctx);
  if (n > fake_free()) return 2; // CUDA_ERROR_OUT_OF_MEMORY
  *p = (uintptr_t)alloc(n);
  return 0;
}
CUresult cuMemFree_v2(CUdeviceptr p) { CTX(current_ctx); live_allocs--; free((void*)(uintptr_t)p); return 0; }
CUresult cuMemGetInfo_v2(size_t* free_, size_t* total) { CTX(current_ctx); *free_ = fake_free(), *total = (size_t)16 << 30; return 0; }
CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, void* s) { CTX(current_ctx); memset((void*)(uintptr_t)p, v, n); return 0; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n, void* st) { CTX(current_ctx); memcpy((void*)(uintptr_t)d, s, n); return 0; }
CUresult cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, void* st) { CTX(current_ctx); memcpy(d, (void*)(uintptr_t)s, n); return 0; }
CUresult cuModuleLoadData(void** m, const void* image) { CTX(current_ctx); return (*m = load_module(image)) ? 0 : 200; }
CUresult cuModuleUnload(void* m) { CTX(current_ctx); return 0; }
CUresult cuModuleGetFunction(void** f, void* m, const char* name) { CTX(current_ctx); return (*f = function(m, name)) ? 0 : 500; }
// Every kernel uses 40 registers and FAKE_LOCAL_BYTES of local memory (0).
CUresult cuFuncGetAttribute(int* v, int attr, void* f) {
  CTX(current_ctx);
  if (!f) return 400; // CUDA_ERROR_INVALID_HANDLE
  *v = attr == 4 ? 40 : attr == 3 && getenv("FAKE_LOCAL_BYTES") ? atoi(getenv("FAKE_LOCAL_BYTES")) : 0;
  return 0;
}
CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void* stream, void** params, void** extra) {
  CTX(current_ctx);
  ((emu_fn)f)(gx, gy, gz, bx, by, bz, params);
  return 0;
}

// cuLaunchKernelEx, as gpu/cuda uses it: one attribute, programmatic
// stream serialization (id 6) on.
struct launch_attr { int id, pad; union { char raw[64]; int on; } value; };
struct launch_config { unsigned g[3], b[3], shmem; void* stream; struct launch_attr* attrs; unsigned nattrs; };
static int pdl_launches;
int fake_pdl_launches(void) { return pdl_launches; }
CUresult cuLaunchKernelEx(const struct launch_config* c, void* f, void** params, void** extra) {
  CTX(current_ctx);
  if (c->nattrs != 1 || c->attrs[0].id != 6 || c->attrs[0].value.on != 1) return 1;
  pdl_launches++;
  ((emu_fn)f)(c->g[0], c->g[1], c->g[2], c->b[0], c->b[1], c->b[2], params);
  return 0;
}

// Graphs: kernel nodes in a chain, each depending on the one before it
// (by a full or a programmatic edge); launching runs them in order. The
// parameter list ends with a null pointer (gpu/cuda's gp_params) and every
// argument is an 8-byte slot.
struct node_params { void* f; unsigned g[3], b[3], shmem; void** params; void** extra; void* kern; void* ctx; };
struct node { void* f; unsigned dims[6]; int nargs, deps; uint64_t args[32]; void* ptrs[32]; struct graph* owner; };
struct graph { struct node** nodes; int n; int programmatic; };
static int graph_launches, node_updates;
int fake_graph_launches(void) { return graph_launches; }
int fake_node_updates(void) { return node_updates; }

static int set_node(struct node* nd, const struct node_params* p) {
  int n = 0;
  while (p->params[n]) {
    if (n == 32) return 1;
    memcpy(&nd->args[n], p->params[n], 8);
    nd->ptrs[n] = &nd->args[n];
    n++;
  }
  nd->f = p->f, nd->nargs = n;
  memcpy(nd->dims, p->g, 3 * sizeof(unsigned));
  memcpy(nd->dims + 3, p->b, 3 * sizeof(unsigned));
  return 0;
}
CUresult cuGraphCreate(struct graph** g, unsigned flags) { CTX(current_ctx); *g = calloc(1, sizeof **g); return 0; }
CUresult cuGraphAddKernelNode_v2(struct node** out, struct graph* g, struct node** deps, size_t ndeps, const struct node_params* p) {
  CTX(current_ctx);
  if (ndeps > 1 || (ndeps == 1 && (g->n == 0 || deps[0] != g->nodes[g->n - 1]))) return 1; // not a chain
  struct node* nd = calloc(1, sizeof *nd);
  if (set_node(nd, p)) return 1;
  nd->deps = (int)ndeps, nd->owner = g;
  g->nodes = realloc(g->nodes, (g->n + 1) * sizeof *g->nodes);
  g->nodes[g->n++] = nd;
  *out = nd;
  return 0;
}
struct edge { unsigned char from_port, to_port, type, reserved[5]; };
CUresult cuGraphAddDependencies_v2(struct graph* g, struct node** from, struct node** to, const struct edge* e, size_t n) {
  CTX(current_ctx);
  if (n != 1 || e->from_port != 1 || e->to_port != 0 || e->type != 1) return 1;
  if (g->n < 2 || from[0] != g->nodes[g->n - 2] || to[0] != g->nodes[g->n - 1]) return 1;
  to[0]->deps++;
  g->programmatic++;
  return 0;
}
CUresult cuGraphInstantiateWithFlags(struct graph** exec, struct graph* g, unsigned long long flags) {
  CTX(current_ctx);
  for (int i = 1; i < g->n; i++)
    if (g->nodes[i]->deps != 1) return 1; // every node after the first waits for the one before
  *exec = g;
  return 0;
}
CUresult cuGraphExecKernelNodeSetParams_v2(struct graph* exec, struct node* nd, const struct node_params* p) {
  CTX(current_ctx);
  if (nd->owner != exec) return 400;
  node_updates++;
  return set_node(nd, p);
}
CUresult cuGraphLaunch(struct graph* exec, void* stream) {
  CTX(current_ctx);
  graph_launches++;
  for (int i = 0; i < exec->n; i++) {
    struct node* nd = exec->nodes[i];
    ((emu_fn)nd->f)(nd->dims[0], nd->dims[1], nd->dims[2], nd->dims[3], nd->dims[4], nd->dims[5], nd->ptrs);
  }
  return 0;
}
CUresult cuGraphExecDestroy(struct graph* exec) { CTX(current_ctx); return 0; }
CUresult cuGraphDestroy(struct graph* g) {
  for (int i = 0; i < g->n; i++) free(g->nodes[i]);
  free(g->nodes);
  free(g);
  return 0;
}

CUresult cuStreamCreate(void** s, unsigned flags) { CTX(current_ctx); *s = (void*)0x5; return 0; }
CUresult cuStreamDestroy_v2(void* s) { CTX(current_ctx); return 0; }
CUresult cuStreamSynchronize(void* s) { CTX(current_ctx); return s == (void*)0x5 ? 0 : 400; }
CUresult cuEventCreate(void** e, unsigned flags) { CTX(current_ctx); *e = calloc(1, sizeof(double)); return 0; }
CUresult cuEventRecord(void* e, void* s) { CTX(current_ctx); *(double*)e = now_ms(); return 0; }
CUresult cuEventSynchronize(void* e) { CTX(current_ctx); return 0; }
CUresult cuEventElapsedTime(float* ms, void* a, void* b) { CTX(current_ctx); *ms = *(double*)b - *(double*)a; return 0; }
CUresult cuEventDestroy_v2(void* e) { CTX(current_ctx); free(e); return 0; }
CUresult cuGetErrorName(CUresult r, const char** s) {
  *s = r == 100 ? "CUDA_ERROR_NO_DEVICE" : r == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_FAKE";
  return 0;
}
CUresult cuGetErrorString(CUresult r, const char** s) {
  *s = r == 100 ? "no CUDA-capable device is detected" : r == 2 ? "out of memory" : "fake error";
  return 0;
}

int nvrtcVersion(int* major, int* minor) { *major = 12, *minor = 4; return 0; }
int nvrtcCreateProgram(struct program** p, const char* src, const char* name, int nh, const char* const* h, const char* const* in) { return create(p, src); }
int nvrtcCompileProgram(struct program* p, int n, const char* const* opts) {
  char want[64];
  snprintf(want, sizeof want, "--gpu-architecture=sm_%s", getenv("FAKE_CC") ? getenv("FAKE_CC") : "86");
  return compile(p, n, opts, want);
}
int nvrtcGetProgramLogSize(struct program* p, size_t* n) { *n = strlen(p->log) + 1; return 0; }
int nvrtcGetProgramLog(struct program* p, char* buf) { strcpy(buf, p->log); return 0; }
int nvrtcGetPTXSize(struct program* p, size_t* n) { return code_size(p, n); }
int nvrtcGetPTX(struct program* p, char* buf) { return code(p, buf); }
int nvrtcGetCUBINSize(struct program* p, size_t* n) { return code_size(p, n); }
int nvrtcGetCUBIN(struct program* p, char* buf) { return code(p, buf); }
int nvrtcGetNumSupportedArchs(int* n) { *n = 5; return 0; }
int nvrtcGetSupportedArchs(int* a) { int v[] = {75, 80, 86, 89, 90}; memcpy(a, v, sizeof v); return 0; }
int nvrtcDestroyProgram(struct program** p) { free(*p); *p = 0; return 0; }
const char* nvrtcGetErrorString(int r) { return r == 6 ? "NVRTC_ERROR_COMPILATION" : "NVRTC_ERROR_FAKE"; }

// ---- HIP runtime

typedef int hipError_t;

#define DEV() \
  if (current_device != 0) return 101 // hipErrorInvalidDevice

hipError_t hipInit(unsigned flags) { return getenv("FAKE_NO_DEVICE") ? 100 : 0; }
hipError_t hipRuntimeGetVersion(int* v) { *v = 60200000; return 0; }
hipError_t hipGetDeviceCount(int* n) { *n = 1; return 0; }
hipError_t hipSetDevice(int d) { if (d != 0) return 101; current_device = d; return 0; }
hipError_t hipDeviceGetName(char* name, int len, int d) { snprintf(name, len, "Fake Instinct"); return 0; }
hipError_t hipGetDevicePropertiesR0600(char* props, int d) {
  strcpy(props, "Fake Instinct");
  strcpy(props + 1160, "gfx90a:sramecc+:xnack-"); // somewhere past the name
  return 0;
}
hipError_t hipMalloc(void** p, size_t n) {
  DEV();
  if (n > fake_free()) return 2; // hipErrorOutOfMemory
  *p = alloc(n);
  return 0;
}
hipError_t hipMemGetInfo(size_t* free_, size_t* total) { DEV(); *free_ = fake_free(), *total = (size_t)16 << 30; return 0; }
hipError_t hipFree(void* p) { DEV(); live_allocs--; free(p); return 0; }
hipError_t hipMemsetAsync(void* p, int v, size_t n, void* s) { DEV(); memset(p, v, n); return 0; }
hipError_t hipMemcpyHtoDAsync(void* d, void* s, size_t n, void* st) { DEV(); memcpy(d, s, n); return 0; }
hipError_t hipMemcpyDtoHAsync(void* d, void* s, size_t n, void* st) { DEV(); memcpy(d, s, n); return 0; }
hipError_t hipModuleLoadData(void** m, const void* image) { DEV(); return (*m = load_module(image)) ? 0 : 200; }
hipError_t hipModuleUnload(void* m) { DEV(); return 0; }
hipError_t hipModuleGetFunction(void** f, void* m, const char* name) { DEV(); return (*f = function(m, name)) ? 0 : 500; }
hipError_t hipModuleLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                 unsigned shmem, void* stream, void** params, void** extra) {
  DEV();
  ((emu_fn)f)(gx, gy, gz, bx, by, bz, params);
  return 0;
}
hipError_t hipStreamCreateWithFlags(void** s, unsigned flags) { DEV(); *s = (void*)0x5; return 0; }
hipError_t hipStreamDestroy(void* s) { DEV(); return 0; }
hipError_t hipStreamSynchronize(void* s) { DEV(); return s == (void*)0x5 ? 0 : 400; }
hipError_t hipEventCreate(void** e) { DEV(); *e = calloc(1, sizeof(double)); return 0; }
hipError_t hipEventRecord(void* e, void* s) { DEV(); *(double*)e = now_ms(); return 0; }
hipError_t hipEventSynchronize(void* e) { DEV(); return 0; }
hipError_t hipEventElapsedTime(float* ms, void* a, void* b) { DEV(); *ms = *(double*)b - *(double*)a; return 0; }
hipError_t hipEventDestroy(void* e) { DEV(); free(e); return 0; }
const char* hipGetErrorName(hipError_t r) { return r == 100 ? "hipErrorNoDevice" : r == 2 ? "hipErrorOutOfMemory" : "hipErrorFake"; }
const char* hipGetErrorString(hipError_t r) { return r == 100 ? "no ROCm-capable device is detected" : r == 2 ? "out of memory" : "fake error"; }

int hiprtcVersion(int* major, int* minor) { *major = 6, *minor = 2; return 0; }
int hiprtcCreateProgram(struct program** p, const char* src, const char* name, int nh, const char** h, const char** in) { return create(p, src); }
int hiprtcCompileProgram(struct program* p, int n, const char** opts) { return compile(p, n, opts, "--gpu-architecture=gfx90a:sramecc+:xnack-"); }
int hiprtcGetProgramLogSize(struct program* p, size_t* n) { *n = strlen(p->log) + 1; return 0; }
int hiprtcGetProgramLog(struct program* p, char* buf) { strcpy(buf, p->log); return 0; }
int hiprtcGetCodeSize(struct program* p, size_t* n) { return code_size(p, n); }
int hiprtcGetCode(struct program* p, char* buf) { return code(p, buf); }
int hiprtcDestroyProgram(struct program** p) { free(*p); *p = 0; return 0; }
const char* hiprtcGetErrorString(int r) { return r == 6 ? "HIPRTC_ERROR_COMPILATION" : "HIPRTC_ERROR_FAKE"; }
