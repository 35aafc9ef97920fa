package gputest

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/ops/asm"
	"github.com/gopard/gopard/tensor"
)

// KVCaching is a Backend that can keep its KV cache in binary16.
type KVCaching interface {
	Backend
	nn.KVStore
	SetF16KVCache(on bool)
}

// KVCacheF16 checks a binary16 KV cache on b: StoreKV rounds as the CPU's
// F32ToF16 does, bit for bit (ties, subnormals, overflow, NaN); attention
// over the binary16 cache gives, bit for bit, what it gives over a float32
// cache of the same (rounded) values; and a decoder with it computes the
// logits of the CPU's decoder with its binary16 cache, with the norms
// folded into the linear layers too where b can. It leaves both settings
// off.
func KVCacheF16(t *testing.T, b KVCaching) {
	b.SetF16KVCache(true)
	defer b.SetF16KVCache(false)
	t.Run("StoreKV", func(t *testing.T) { testStoreKV(t, b) })
	t.Run("Attention", func(t *testing.T) { testAttentionF16(t, b) })
	t.Run("Decoder", func(t *testing.T) { testDecoderF16(t, b) })
	if f, ok := b.(interface{ SetFuseNorm(bool) bool }); ok && f.SetFuseNorm(true) {
		// The folded q/k/v projections write the keys and values that
		// StoreKV then rounds.
		defer f.SetFuseNorm(false)
		t.Run("Decoder/folded", func(t *testing.T) { testDecoderF16(t, b) })
	}
}

// readF16 copies a binary16 device tensor's bits to the host, through an
// F32 tensor holding them two to a float.
func readF16(t *testing.T, b Backend, f16 *tensor.Tensor) []uint16 {
	t.Helper()
	require.Equal(t, tensor.F16, f16.DType)
	n := f16.Len()
	words := b.Alloc((n + 1) / 2)
	b.Copy(words.Ptr, f16.Ptr, 2*n)
	out := make([]uint16, 0, n+1)
	for _, w := range read(b, words) {
		bits := math.Float32bits(w)
		out = append(out, uint16(bits), uint16(bits>>16)) // little-endian
	}
	return out[:n]
}

func testStoreKV(t *testing.T, b KVCaching) {
	const rows, kvHeads, headDim = 8, 2, 16
	width := kvHeads * headDim
	kc, vc := b.AllocKV(rows, kvHeads, headDim), b.AllocKV(rows, kvHeads, headDim)
	require.NotNil(t, kc)
	require.Equal(t, tensor.F16, kc.DType)
	require.Equal(t, []int{rows, width}, kc.Shape)

	// Three rows at positions 2..4: the values rounding must get right, then
	// random ones of every scale.
	const M, start = 3, 2
	f := math.Float32frombits
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -2.5, 65504, 65519.996, 65520, -65520, 1e6,
		float32(math.Inf(1)), float32(math.Inf(-1)), f(0x7fc00001), f(0xff812345), f(0x7f800001), // NaNs
		1 + 1.0/2048, 1 + 3.0/2048, 1 + 1.0/2048 + 1.0/(1<<20), // ties to even, and just past one
		f(0x38800000), f(0x387fffff), f(0x33800000), f(0x33000000), f(0x33000001), f(0x33c00000), // 2^-14, below it, 2^-24, 2^-25, ...
		f(0x34200000), f(0x34400000), f(0x34600000), f(0x37fff000), f(0x387ff000), -f(0x35000000), 1e-10}
	r := rng(21)
	src := make([]float32, M*width)
	for i := range src {
		if i < len(special) {
			src[i] = special[i]
		} else {
			src[i] = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(40)-28)))
		}
	}
	// The values: the keys backwards, halved (other values in the other cache).
	vals := make([]float32, len(src))
	for i := range vals {
		vals[i] = -0.5 * src[len(src)-1-i]
	}
	k, err := b.Load(tensor.FromF32(src, M, width))
	require.NoError(t, err)
	v, err := b.Load(tensor.FromF32(vals, M, width))
	require.NoError(t, err)
	b.StoreKV(kc, vc, start, k, v)

	for _, c := range []struct {
		name  string
		cache *tensor.Tensor
		src   []float32
	}{{"keys", kc, src}, {"values", vc, vals}} {
		want := make([]uint16, rows*width) // the other rows stay zero
		asm.F32ToF16(want[start*width:], c.src)
		got := readF16(t, b, c.cache)
		for i := range want {
			if got[i] != want[i] {
				at := min(max(i-start*width, 0), len(c.src)-1)
				require.Failf(t, "StoreKV", "%s: value %d (%g, bits %#08x): %#04x, want %#04x (the CPU's F32ToF16)",
					c.name, i-start*width, c.src[at], math.Float32bits(c.src[at]), got[i], want[i])
			}
		}
	}
	require.Panics(t, func() { b.StoreKV(kc, vc, rows-M+1, k, v) }, "rows past the cache")
	require.Panics(t, func() { b.StoreKV(kc, vc, start, k, v.RowSlice(0, M-1)) }, "fewer values than keys")
}

func testAttentionF16(t *testing.T, b KVCaching) {
	r := rng(22)
	type shape struct{ heads, kvHeads, headDim int }
	// head_dim 6 takes the one-dimension-per-thread path.
	for _, sh := range []shape{{4, 2, 16}, {8, 1, 64}, {3, 1, 6}} {
		for _, M := range []int{1, 9} {
			for _, start := range []int{0, 150} { // 150+M spans three chunks of 64
				kw := sh.kvHeads * sh.headDim
				capacity := start + M + 3
				hq := random(r, tensor.F32, M, sh.heads*sh.headDim)
				hk, hv := random(r, tensor.F32, capacity, kw), random(r, tensor.F32, capacity, kw)
				q, _ := upload(t, b, hq)
				k16, v16 := b.AllocKV(capacity, sh.kvHeads, sh.headDim), b.AllocKV(capacity, sh.kvHeads, sh.headDim)
				k, _ := upload(t, b, hk)
				v, _ := upload(t, b, hv)
				b.StoreKV(k16, v16, 0, k, v)
				// The float32 cache of the rounded values.
				k32, _ := upload(t, b, tensor.Convert(tensor.Convert(hk, tensor.F16), tensor.F32))
				v32, _ := upload(t, b, tensor.Convert(tensor.Convert(hv, tensor.F16), tensor.F32))

				name := fmt.Sprintf("%+v M=%d start=%d", sh, M, start)
				want := b.Alloc(M, sh.heads*sh.headDim)
				b.Attention(want, q, k32, v32, start, sh.heads, sh.kvHeads, sh.headDim)
				got := b.Alloc(M, sh.heads*sh.headDim)
				b.Attention(got, q, k16, v16, start, sh.heads, sh.kvHeads, sh.headDim)
				require.Equal(t, read(b, want), read(b, got), name)
			}
		}
	}
}

// testDecoderF16 runs a small random decoder with the binary16 cache on b
// and on the CPU (same weights, same rounding) and compares their logits,
// as Decoder does the float32 ones.
func testDecoderF16(t *testing.T, b KVCaching) {
	cfg := smallConfig(2)
	r := rng(23)
	host := ops.NewCPU(1)
	host.SetF16KVCache(true)
	wDev, wHost := randomModel(t, b, rng(24), cfg), randomModel(t, host, rng(24), cfg)
	prompt := make([]int32, 11)
	for i := range prompt {
		prompt[i] = int32(r.IntN(cfg.Vocab))
	}
	steps := []step{{prompt, 2}, {[]int32{7}, 1}, {[]int32{250, 3, 99}, 3}, {[]int32{42}, 1}}
	got, want := decodeLogits(t, b, cfg, wDev, 16, steps), decodeLogits(t, host, cfg, wHost, 16, steps)
	require.Len(t, got, len(want))
	for i := range want {
		// The two sides' keys and values differ in their last float32 bits
		// (sums in other orders), so a few round to neighbouring binary16
		// values: 2⁻¹¹ of a value, not the float32 kernels' Tol.
		Close(t, fmt.Sprintf("logits row %d", i), got[i], want[i], 2e-3)
	}
	d, err := nn.NewDecoder(b, cfg, wDev, 32, 16)
	require.NoError(t, err)
	require.Equal(t, tensor.F16, d.Cache().DType(), "the decoder keeps a binary16 cache")
}
