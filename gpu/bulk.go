package gpu

import (
	"math"

	"github.com/gopard/gopard/tensor"
)

// The nn.Bulker operations: a prompt's prefill through a tiled matrix
// product (linear_bulk.cu) instead of linear.cu's kernels, which read the
// weights once per linearMaxRows rows and keep every row's bits whatever
// the forward's row count, and through attention by tiles of the cache
// shared across rows and heads (attention_bulk.cu) instead of
// attention.cu's blocks of one row and head each. The decoder sends only
// the rows whose logits nobody reads (all of a prompt's rows but the
// last), which every decoding mode computes alike, so speculative
// decoding still gives the target's own tokens. Written on 2026-11-28
// without a GPU: off unless asked for (GOPARD_GPU_BULK, SetBulk) until a
// GPU times it.

// The tile linear_bulk.cu's blocks compute (BULK_BM, BULK_BN,
// BULK_THREADS there).
const (
	bulkTileRows = 64
	bulkTileCols = 128
	bulkThreads  = 256
)

// The tiles of attention_bulk.cu (ATTB_Q, ATTB_SUB, ATTB_MAX_HEAD_DIM
// there): query vectors a block, threads a query vector, the widest head.
const (
	attnBulkQ          = 32
	attnBulkSub        = 8
	attnBulkMaxHeadDim = 128
)

// bulkMinRows is the fewest rows BulkRows lets the decoder send: below
// two of linear.cu's launches the tiles would be mostly padding.
const bulkMinRows = 2 * linearMaxRows

// SetBulk turns the tiled product for a prefill's rows on or off and
// returns the setting.
func (d *Device) SetBulk(on bool) bool {
	d.bulk = on
	return on
}

// BulkSetting is what SetBulk last set.
func (d *Device) BulkSetting() bool { return d.bulk }

// BulkRows implements nn.Bulker: the fewest rows worth a LinearBulk with
// SetBulk on, 0 (none) with it off.
func (d *Device) BulkRows() int {
	if !d.bulk {
		return 0
	}
	return bulkMinRows
}

// BulkFromEnv reads GOPARD_GPU_BULK, the setting NewDevice gives SetBulk:
// unset, "0" or "off", or "1" or "on".
func BulkFromEnv() (bool, error) { return onOffFromEnv("GOPARD_GPU_BULK") }

// LinearBulk implements nn.Bulker: out = x·wᵀ + bias as Linear computes
// it, up to the order of each sum, by tiles of bulkTileRows ×
// bulkTileCols (linear_bulk.cu); on tensor cores where Linear takes them
// (bf16 activations, mma), else on the CUDA cores in float32.
func (d *Device) LinearBulk(out, x, w, bias *tensor.Tensor) {
	M, K, N, b := d.linearOperands("LinearBulk", out, x, w, bias)
	if M == 0 || N == 0 {
		return
	}
	if ceilDiv(N, bulkTileCols) >= maxGrid {
		d.badShape("LinearBulk", "%d outputs", N)
	}
	grid := Dim3{uint32(ceilDiv(M, bulkTileRows)), uint32(ceilDiv(N, bulkTileCols)), 1}
	if d.mma(x, w) { // bf16 activations: tensor cores, as Linear's
		d.launch("linear_bulk_mma_bf16", grid, Dim3{bulkThreads, 1, 1}, ptr(out), ptr(x), ptr(w), b, i32(M), i32(N), i32(K))
		return
	}
	var vec uint64
	if K%8 == 0 && x.Ptr%16 == 0 && w.Ptr%16 == 0 {
		vec = 1
	}
	d.launch(bulkNames[w.DType], grid, Dim3{bulkThreads, 1, 1}, ptr(out), ptr(x), ptr(w), b, i32(M), i32(N), i32(K), vec)
}

// bulkNames[dtype] names the linear_bulk kernel for weights of dtype.
var bulkNames = dtypeNames("linear_bulk")

// AttentionBulk implements nn.Bulker: Attention as attention_bulk.cu
// computes it, up to the order of each sum: blocks of attnBulkQ (row,
// head) pairs of one key/value head walk the cache in tiles they share,
// where attention.cu reads each position again for every row and head.
// Heads wider than attnBulkMaxHeadDim take Attention's kernels.
func (d *Device) AttentionBulk(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	M := d.attentionOperands("AttentionBulk", out, q, k, v, start, heads, kvHeads, headDim)
	if M == 0 {
		return
	}
	if headDim > attnBulkMaxHeadDim {
		d.attentionChunks("AttentionBulk", out, q, k, v, start, heads, kvHeads, headDim)
		return
	}
	blocks := ceilDiv(M*(heads/kvHeads), attnBulkQ)
	if !(blocks < maxGrid && kvHeads < maxGrid) {
		d.badShape("AttentionBulk", "%d rows of %d heads", M, heads)
	}
	name := "attention_bulk"
	if k.DType == tensor.F16 {
		name = "attention_bulk_f16"
	}
	scale := float32(1 / math.Sqrt(float64(headDim)))
	d.launch(name, Dim3{uint32(blocks), uint32(kvHeads), 1}, Dim3{attnBulkQ * attnBulkSub, 1, 1},
		ptr(out), ptr(q), ptr(k), ptr(v), i32(M), i32(start), i32(heads), i32(kvHeads), i32(headDim), f32(scale))
}
