// Package asm holds gopard's hand-written amd64 kernels and, for every one
// of them, a pure-Go twin that is compiled on every platform and is the
// reference the tests compare the assembly with.
//
// Levels: AVX-512 (F, BW, VL) runs every kernel in assembly — the Mat
// matrix kernels (bf16, f16 and f32 weights times float32 activations,
// tiles of 1 to 6 activation rows), the vector kernels (dot, axpy,
// strided attention dots and sums over float32 or binary16 cache rows,
// for one, two or four queries, RMSNorm halves, softmax and SiLU with a
// vectorized exp, argmax, RoPE, bf16 widening and binary16 conversion) and
// the machine probes cmd/bench uses; on
// CPUs with AVX512-BF16 it adds MatDot (VDPBF16PS, bf16 activations, tiles
// of up to 13 rows read in address order) and its packing, which package
// ops uses only when asked, with two forms of it that have no twin of
// their own because they are MatDot bit for bit (the tests hold them to
// it): MatDotPanel, a panel of columns at a time for rows whose packed
// activations overflow L1, and MatDotNext, a second tile that prefetches
// the next block. Where the MatDot tiles prefetch (L1 or L2) depends on
// the CPU's family (DotPrefetch; GOPARD_DOT_PREFETCH=l1|l2 overrides).
// AVX2/FMA runs the Mat kernels, the one-query attention kernels
// (DotRows, AxpyRows), SiLUMul, ExpSub, Max, Scale and Add in assembly
// and the rest in Go.
// Elsewhere everything is the Go twins.
//
// The exported functions are the only entry points. Each calls through a
// function variable chosen once at start-up from golang.org/x/sys/cpu
// (see Impl); GOPARD_NOASM=1 or the noasm build tag keep the Go twins, and
// GOPARD_ASM=avx2 stops at the AVX2 level. Only package ops imports this
// package.
//
// Layout: <op>_amd64.s holds the assembly, <op>_amd64.go its stubs (each
// stub's comment is its Go loop) and the dispatch, <op>.go the exported
// functions and the twins; the tests compare each kernel with its twin in
// one binary (lengths 0–17, 31–33, 63–65, 127–129, 896, 4864, start
// offsets 0–3, guard values around outputs) and benchmark both.
package asm
