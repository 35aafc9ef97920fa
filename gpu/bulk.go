package gpu

import "github.com/gopard/gopard/tensor"

// The nn.Bulker operation: a prompt's prefill through a tiled matrix
// product (linear_bulk.cu) instead of linear.cu's kernels, which read the
// weights once per linearMaxRows rows and keep every row's bits whatever
// the forward's row count. The decoder sends only the rows whose logits
// nobody reads (all of a prompt's rows but the last), which every
// decoding mode computes alike, so speculative decoding still gives the
// target's own tokens. Written on 2026-11-28 without a GPU: off unless
// asked for (GOPARD_GPU_BULK, SetBulk) until a GPU times it.

// The tile linear_bulk.cu's blocks compute (BULK_BM, BULK_BN,
// BULK_THREADS there).
const (
	bulkTileRows = 64
	bulkTileCols = 128
	bulkThreads  = 256
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
// bulkTileCols (linear_bulk.cu).
func (d *Device) LinearBulk(out, x, w, bias *tensor.Tensor) {
	M, K, N, b := d.linearOperands("LinearBulk", out, x, w, bias)
	if M == 0 || N == 0 {
		return
	}
	var vec uint64
	if K%8 == 0 && x.Ptr%16 == 0 && w.Ptr%16 == 0 {
		vec = 1
	}
	if ceilDiv(N, bulkTileCols) >= maxGrid {
		d.badShape("LinearBulk", "%d outputs", N)
	}
	grid := Dim3{uint32(ceilDiv(M, bulkTileRows)), uint32(ceilDiv(N, bulkTileCols)), 1}
	d.launch(bulkNames[w.DType], grid, Dim3{bulkThreads, 1, 1}, ptr(out), ptr(x), ptr(w), b, i32(M), i32(N), i32(K), vec)
}

// bulkNames[dtype] names the linear_bulk kernel for weights of dtype.
var bulkNames = dtypeNames("linear_bulk")
