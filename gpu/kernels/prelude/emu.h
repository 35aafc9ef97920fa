// emu.h: a CPU emulator of the GPU execution model, so that the kernels
// of gpu/kernels, compiled as C++ by the host compiler, run on machines
// without a GPU (gpu/internal/emu; the tests of every kernel use it).
//
// A launch runs its blocks one after the other; the threads of a block are
// fibers scheduled cooperatively, one at a time, that switch only at
// barriers (a few instructions on x86-64, ucontext elsewhere):
// __syncthreads waits for the block, a shuffle for its warp (each lane
// posts its value, waits, reads its partner's, waits). __shared__
// variables are static, which is shared memory when one block runs at a
// time. EMU_WARP is the warp size; compile with -D__HIPCC__
// -DEMU_WARP=64 to emulate an AMD wavefront with HIP's spellings.
#ifndef GOPARD_EMU_PRELUDE_H
#define GOPARD_EMU_PRELUDE_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <ucontext.h>
#include <utility>
#include <vector>

#ifndef EMU_WARP
#define EMU_WARP 32
#endif

#define __global__
#define __device__
#define __shared__ static

struct dim3 {
  unsigned x, y, z;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};

// The built-in variables; the scheduler sets threadIdx whenever it resumes a fiber.
static dim3 threadIdx, blockIdx, blockDim, gridDim;
static const int warpSize = EMU_WARP;

static inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
static inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}

namespace emu {

// A fiber's saved context. On x86-64 it is a stack pointer, and
// emu_switch saves the callee-saved registers and the floating-point
// control words on the old stack and restores them from the new one; no
// system call (ucontext saves the signal mask, which costs one per switch).
#if defined(__x86_64__)
extern "C" void emu_switch(void** from_sp, void* to_sp);
asm(R"(
.text
.p2align 4
.hidden emu_switch
.globl emu_switch
.type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size emu_switch, .-emu_switch
)");
struct Context {
  void* sp;
};
// start prepares ctx to run entry on the stack [base, base+size); entry must not return.
static void start(Context& ctx, char* base, size_t size, void (*entry)()) {
  uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
  uint64_t* sp = (uint64_t*)top;
  *--sp = 0;                  // entry's (never used) return address: rsp ≡ 8 mod 16 at entry
  *--sp = (uint64_t)entry;    // where emu_switch's ret goes
  for (int i = 0; i < 6; i++) *--sp = 0; // rbp rbx r12 r13 r14 r15
  *--sp = 0x037f00001f80ull;  // mxcsr (low half) and the x87 control word: their defaults
  ctx.sp = sp;
}
static void swap(Context& from, Context& to) { emu_switch(&from.sp, to.sp); }
#else
struct Context {
  ucontext_t uc;
};
static void start(Context& ctx, char* base, size_t size, void (*entry)()) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = base;
  ctx.uc.uc_stack.ss_size = size;
  ctx.uc.uc_link = nullptr;
  makecontext(&ctx.uc, entry, 0);
}
static void swap(Context& from, Context& to) { swapcontext(&from.uc, &to.uc); }
#endif

struct Barrier {
  int arrived = 0;
  unsigned gen = 0;
};

struct Fiber {
  Context ctx;
  dim3 tid;
  bool done;
  Barrier* waiting; // the barrier it waits at, until its generation moves on
  unsigned wait_gen;
  bool waited; // called grid_dependency_wait
  std::vector<char> stack;
};

static const size_t stack_bytes = 64 << 10;
static std::vector<Fiber> fibers;
static std::vector<Barrier> warp_barriers;
static std::vector<int> warp_live; // live fibers per warp
static std::vector<uint64_t> slots; // shuffle mailboxes, one per thread
static std::vector<uint32_t> mma_slots; // mma fragments, six words per thread
static Barrier block_barrier;
static int live, current;
static Context scheduler;
static std::function<void()> body;

static int linear_tid() { return (int)(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)); }

// wait blocks the current fiber until participants fibers reached b.
static void wait(Barrier& b, int participants) {
  unsigned gen = b.gen;
  if (++b.arrived >= participants) {
    b.arrived = 0;
    b.gen++;
    return;
  }
  Fiber& f = fibers[current];
  f.waiting = &b, f.wait_gen = gen;
  swap(f.ctx, scheduler);
}

// unwaited counts the threads that returned without calling
// grid_dependency_wait, which on a GPU with programmatic dependent launch
// could race the previous kernel (compat.h).
static long unwaited;

static void fiber_main() {
  body();
  Fiber& f = fibers[current];
  if (!f.waited) unwaited++;
  f.done = true;
  live--;
  int w = linear_tid() / EMU_WARP;
  warp_live[w]--;
  // Threads that exited no longer hold their barriers up.
  if (block_barrier.arrived > 0 && block_barrier.arrived >= live) block_barrier.arrived = 0, block_barrier.gen++;
  if (warp_barriers[w].arrived > 0 && warp_barriers[w].arrived >= warp_live[w]) warp_barriers[w].arrived = 0, warp_barriers[w].gen++;
  swap(f.ctx, scheduler); // never resumed
}

// order is how run_block resumes the ready threads of a block
// (emu_set_order): 0 from the first to the last, each until it waits at
// a barrier (a shuffle's or the block's), round after round; 1 the same
// from the last to the first; 2 a warp at a time, from the last, each
// running until all its threads wait at a block barrier or end. A kernel
// that lacks a barrier between a write to shared memory and another
// thread's read of it may pass by luck in one order, seldom in all three:
// 2 lets a warp run far ahead of the others, as a GPU's warps can.
static int order;

// ready reports whether fiber i can be resumed.
static bool ready(int i) {
  Fiber& f = fibers[i];
  return !f.done && !(f.waiting && f.waiting->gen == f.wait_gen);
}

// resume runs fiber i until it waits or ends.
static void resume(int i) {
  Fiber& f = fibers[i];
  f.waiting = nullptr;
  current = i;
  threadIdx = f.tid;
  swap(scheduler, f.ctx);
}

static void run_block(int n) {
  if ((int)fibers.size() < n) fibers.resize(n);
  int warps = (n + EMU_WARP - 1) / EMU_WARP;
  warp_barriers.assign(warps, Barrier{});
  warp_live.assign(warps, 0);
  slots.assign(n, 0);
  mma_slots.assign(6 * (size_t)n, 0);
  block_barrier = Barrier{};
  for (int i = 0; i < n; i++) {
    Fiber& f = fibers[i];
    if (f.stack.empty()) f.stack.resize(stack_bytes);
    start(f.ctx, f.stack.data(), f.stack.size(), fiber_main);
    f.tid = dim3{i % blockDim.x, i / blockDim.x % blockDim.y, i / (blockDim.x * blockDim.y)};
    f.done = false, f.waiting = nullptr, f.waited = false;
    warp_live[i / EMU_WARP]++;
  }
  live = n;
  while (live > 0) {
    if (order == 2) {
      for (int w = warps - 1; w >= 0; w--) {
        int lo = w * EMU_WARP, hi = lo + EMU_WARP < n ? lo + EMU_WARP : n;
        for (bool progress = true; progress;) {
          progress = false;
          for (int i = lo; i < hi; i++) {
            if (ready(i)) resume(i), progress = true;
          }
        }
      }
      continue;
    }
    for (int j = 0; j < n; j++) {
      int i = order == 1 ? n - 1 - j : j;
      if (ready(i)) resume(i);
    }
  }
}

template <typename T>
static T shfl_xor(T v, int mask) {
  int t = linear_tid(), w = t / EMU_WARP, lane = t % EMU_WARP;
  std::memcpy(&slots[t], &v, sizeof v);
  wait(warp_barriers[w], warp_live[w]);
  T r;
  std::memcpy(&r, &slots[w * EMU_WARP + (lane ^ mask)], sizeof r);
  wait(warp_barriers[w], warp_live[w]);
  return r;
}

#if EMU_WARP == 32
// mma_bf16_16816 computes compat.h's warp-wide tensor-core multiply-add
// from the fragments every lane posts, in the PTX layout, so that the
// kernels' fragment indexing is tested: each lane sums its four outputs
// over k in order (the hardware's order is unspecified; products of two
// bf16 are exact in f32 either way).
static float mma_elem(int lane, int reg, int half) {
  uint32_t w = mma_slots[6 * (size_t)(linear_tid() / EMU_WARP * EMU_WARP + lane) + reg];
  return __uint_as_float(half ? (w & 0xffff0000u) : (w << 16));
}
static void mma_bf16_16816(float d[4], const unsigned a[4], const unsigned b[2]) {
  int t = linear_tid(), w = t / EMU_WARP, lane = t % EMU_WARP;
  uint32_t* mine = &mma_slots[6 * (size_t)t];
  for (int i = 0; i < 4; i++) mine[i] = a[i];
  mine[4] = b[0], mine[5] = b[1];
  wait(warp_barriers[w], warp_live[w]);
  int g = lane / 4, tig = lane % 4;
  float r[4];
  for (int i = 0; i < 4; i++) {
    int row = g + 8 * (i / 2), col = 2 * tig + i % 2;
    float sum = d[i];
    for (int k = 0; k < 16; k++) {
      float av = mma_elem((row % 8) * 4 + (k % 8) / 2, row / 8 + 2 * (k / 8), k % 2);
      float bv = mma_elem(col * 4 + (k % 8) / 2, 4 + k / 8, k % 2);
      sum += av * bv;
    }
    r[i] = sum;
  }
  wait(warp_barriers[w], warp_live[w]);
  for (int i = 0; i < 4; i++) d[i] = r[i];
}
#endif

template <typename... A, size_t... I>
static void call(void (*k)(A...), void** p, std::index_sequence<I...>) {
  k(*static_cast<A*>(p[I])...);
}

// launch runs kernel k over the grid; params[i] points at argument i.
template <typename... A>
static void launch(void (*k)(A...), unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   void** params) {
  body = [=] { call(k, params, std::index_sequence_for<A...>{}); };
  gridDim = dim3{gx, gy, gz};
  blockDim = dim3{bx, by, bz};
  for (unsigned z = 0; z < gz; z++)
    for (unsigned y = 0; y < gy; y++)
      for (unsigned x = 0; x < gx; x++) {
        blockIdx = dim3{x, y, z};
        run_block((int)(bx * by * bz));
      }
  body = nullptr;
}

} // namespace emu

// The emulator runs one kernel at a time, so there is nothing to wait
// for; it records that the thread asked (see emu_take_unwaited).
#define GP_HAVE_GRID_DEPENDENCY 1
static inline void grid_dependency_wait() { emu::fibers[emu::current].waited = true; }
static inline void grid_launch_dependents() {}

// The emulator has no cache to warm; it records the prefetches asked for,
// so that a test can check what a kernel prefetches (emu_take_prefetches):
// an address and a byte count, 0 for prefetch_l2's line.
static std::vector<uintptr_t> emu_prefetched;
static inline void prefetch_l2(const void* p) { emu_prefetched.insert(emu_prefetched.end(), {(uintptr_t)p, 0}); }
static inline void prefetch_l2_bulk(const void* p, unsigned bytes) {
  emu_prefetched.insert(emu_prefetched.end(), {(uintptr_t)p, bytes});
}

// emu_take_prefetches returns how many prefetches were asked for since
// they were last taken; with out set it also copies up to max of them
// there (address, bytes: two words each) and forgets them all.
extern "C" long emu_take_prefetches(uintptr_t* out, long max) {
  long n = (long)emu_prefetched.size() / 2;
  if (!out) return n;
  for (long i = 0; i < 2 * n && i < 2 * max; i++) out[i] = emu_prefetched[i];
  emu_prefetched.clear();
  return n;
}

// emu_set_order sets the order in which run_block resumes the threads of
// a block (emu::order; 0 is the default).
extern "C" void emu_set_order(int o) { emu::order = o; }

// emu_take_unwaited returns, and resets, the number of threads since the
// last call that returned without calling grid_dependency_wait.
extern "C" long emu_take_unwaited(void) {
  long n = emu::unwaited;
  emu::unwaited = 0;
  return n;
}

static inline void __syncthreads() { emu::wait(emu::block_barrier, emu::live); }
#if EMU_WARP == 32
#define GP_HAVE_MMA 1
static inline void mma_bf16_16816(float d[4], const unsigned a[4], const unsigned b[2]) { emu::mma_bf16_16816(d, a, b); }
#endif
template <typename T>
static inline T __shfl_xor_sync(unsigned, T v, int mask) { return emu::shfl_xor(v, mask); }
template <typename T>
static inline T __shfl_xor(T v, int mask) { return emu::shfl_xor(v, mask); }

#endif
