// Package ops holds gopard's CPU kernels: plain functions on float32 slices
// and tensors, named after the math they do, plus the worker pool that
// splits them across cores and the CPU implementation of nn.Backend.
//
// Weights stay in their stored dtype (F32, BF16 or F16, usually a slice of
// a memory-mapped file) and are widened to float32 inside the kernels, one
// row at a time; activations, the KV cache and all accumulation are float32
// (norm statistics and softmax sums in float64, which costs nothing at
// these sizes and keeps us close to a float64 reference).
package ops
