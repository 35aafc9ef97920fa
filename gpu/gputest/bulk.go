package gputest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/tensor"
)

// bulkSetter is a backend whose prefills may take a tiled product for the
// rows only the cache needs (gpu.Device: nn.Bulker, SetBulk).
type bulkSetter interface {
	nn.Bulker
	SetBulk(bool) bool
}

// testLinearBulk checks the Bulker's product against the CPU's Linear for
// every weight dtype, partial and whole tiles of rows, columns and k, the
// 16-byte loads and the one-element ones, and that a row's bits do not
// depend on the rows beside it.
func testLinearBulk(t *testing.T, b Backend) {
	bk, ok := b.(nn.Bulker)
	if !ok {
		t.Skipf("%s has no bulk product", b.Name())
	}
	r := rng(41)
	for _, dt := range dtypes {
		// K = 96: whole tiles of 16; 1288: a half tile last (16-byte
		// loads); 70: one element at a time (K % 8 ≠ 0); 8: half a tile.
		// N = 67, 130, 20: partial tiles of 128 columns, 130 two of them.
		for _, nk := range [][2]int{{67, 96}, {130, 1288}, {40, 70}, {20, 8}} {
			N, K := nk[0], nk[1]
			w, hw := upload(t, b, random(r, dt, N, K))
			bias, hbias := upload(t, b, random(r, tensor.F32, N))
			// Partial and whole tiles of 64 rows.
			for _, M := range []int{1, 37, 64, 65, 130} {
				checkProduct(t, b, r, bk.LinearBulk, w, hw, bias, hbias, M, false, M%2 == 1)
			}
		}
	}
	// Each output sums k in one order whatever M: a row alone has the bits
	// it has among 130 (as the decoder needs, a prefill's rows being cut
	// into chunks).
	const K = 264
	w, _ := upload(t, b, random(r, tensor.BF16, 67, K))
	x, _ := upload(t, b, random(r, tensor.F32, 130, K))
	rowsAlone(t, b, bk.LinearBulk, x, w, [][2]int{{0, 1}, {63, 1}, {64, 1}, {100, 1}, {129, 1}})
	all := b.Alloc(130, 67)
	// Operands checked as Linear's, the message naming LinearBulk.
	require.PanicsWithValue(t, b.Name()+": LinearBulk: x [130 264], w [67 264], out [130 66]",
		func() { bk.LinearBulk(b.Alloc(130, 66), x, w, nil) })
	require.Panics(t, func() { bk.LinearBulk(all, tensor.New(tensor.F32, 130, K), w, nil) }, "x on the host")
}
