// Package ops holds gopard's CPU kernels: plain functions on float32 slices
// and tensors, named after the math they do, plus the worker pool that
// splits them across cores and the CPU implementation of nn.Backend.
//
// The inner loops live in ops/asm: AVX-512 (or AVX2) assembly on amd64 CPUs that have
// it, each kernel with a pure-Go twin that runs everywhere else, under the
// noasm build tag, or with GOPARD_NOASM=1 (Impl says which). Outside ops
// only pard/train calls ops/asm directly (its attention, forward and
// backward, reuses the row kernels).
//
// Weights stay in their stored dtype (F32, BF16 or F16, usually a slice of
// a memory-mapped file) and are widened to float32 inside the kernels, in
// registers; activations and all accumulation are float32, the KV cache
// float32 or binary16 (CPU.SetF16KVCache) with each key/value head's
// positions together (CPU.AllocKV).
// MatMul packs the M activation rows into tiles (of 4, 2 and 1, and up to
// 16 rows of 5 and 6 with AVX-512) and streams
// each weight row once for all of them: tile height 1 and 2 read the
// weights strictly in order (decode is bound by memory bandwidth), tile
// height 4 reads four weight rows at once so that two FMAs need one load
// (verification and prefill are bound by the FMA units). A row's result
// does not depend on the tile that computed it, so chunking never changes
// a bit. CPU.SetBF16Activations optionally trades accuracy for speed on
// AVX512-BF16 CPUs.
//
// The per-token path does not allocate: kernels run on the Pool as
// preallocated Task structs, and the Pool publishes a loop through atomics
// to workers that spin (with PAUSE) briefly before parking.
package ops
