// Package train trains Llama-architecture decoders on the CPU, in Go: from
// scratch (autoregressive, P = 1) and as PARD parallel drafts (spec §3).
//
// Every layer the runtime's decoder uses has its forward pass beside its
// hand-written backward pass (layers.go, attention.go), in the style of
// llm.c; the linear layers run forward and both backward products on ops'
// GEMM. A Workspace keeps the activations of one sequence between Forward
// and Backward; a Trainer samples sequences, lays them out (Layout: the P
// blocks after COD, the chain-mask rule, inputs and labels), accumulates
// gradients over a batch, clips them and takes an AdamW step, and
// checkpoints everything needed to resume bit-exactly.
//
// The attention mask is never materialised: a kept row (i, r) sees the real
// tokens x_0..x_{r−i} and its chain of masks (b, r−i+b), b = 1..i, which the
// attention kernels enumerate directly. Results do not depend on the
// number of threads.
package train
