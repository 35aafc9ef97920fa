package asm

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/x448/float16"
)

// Block is the number of k elements in one packed block of activations.
const Block = 16

// Tiles are the activation-tile heights every family of kernels (Mat and
// MatDot) exists for. A caller splits M rows greedily into tiles of 4, 2
// and 1 (13 = 4+4+4+1), or, up to 16 rows, as VerifyTiles (Mat) or
// DotTiles (MatDot) says.
var Tiles = [...]int{4, 2, 1}

// PackedLen is the number of floats Pack writes for mt rows of length k:
// k is padded with zeros to a multiple of Block.
func PackedLen(mt, k int) int { return mt * ((k + Block - 1) / Block * Block) }

// Pack interleaves mt rows of x (row m is x[m*ldx : m*ldx+k]) into xp in
// blocks of 16 columns, so that a Mat kernel reads one block of every row
// from consecutive memory:
//
//	xp[(j/16·mt + m)·16 + j%16] = x[m·ldx + j]     (0 past k)
func Pack(xp, x []float32, mt, k, ldx int) {
	kp := (k + Block - 1) / Block * Block
	xp = xp[:mt*kp]
	full := k / Block
	for m := 0; m < mt; m++ {
		row := x[m*ldx : m*ldx+k]
		// Whole blocks as 64-byte array assignments, which the compiler
		// inlines: a copy call per block cost as much as the data.
		for b := 0; b < full; b++ {
			*(*[Block]float32)(xp[(b*mt+m)*Block:]) = *(*[Block]float32)(row[b*Block:])
		}
		if full*Block < k {
			dst := xp[(full*mt+m)*Block:][:Block]
			clear(dst[copy(dst, row[full*Block:]):])
		}
	}
}

// verifyTiles[M] is VerifyTiles(M) with the five- and six-row kernels: as
// few passes over the weights as tiles of at most six rows allow, ones and
// twos avoided (a one-row tile costs nearly half a four-row one).
var verifyTiles = [17][]int{
	1: {1}, 2: {2}, 3: {3}, 4: {4}, 5: {5}, 6: {6}, 7: {5, 2}, 8: {4, 4},
	9: {5, 4}, 10: {5, 5}, 11: {6, 5}, 12: {6, 6}, 13: {5, 4, 4}, 14: {5, 5, 4}, 15: {5, 5, 5}, 16: {6, 5, 5},
}

// verifyTilesAVX2 is verifyTiles for the AVX2 kernels, which go up to five
// rows (two weight rows by five activation rows: ten accumulators of the
// sixteen ymm registers): a K = 4 verify is one pass over the weights
// instead of two (4+1).
var verifyTilesAVX2 = [17][]int{
	1: {1}, 2: {2}, 3: {3}, 4: {4}, 5: {5}, 6: {3, 3}, 7: {4, 3}, 8: {4, 4},
	9: {5, 4}, 10: {5, 5}, 11: {4, 4, 3}, 12: {4, 4, 4}, 13: {5, 4, 4}, 14: {5, 5, 4}, 15: {5, 5, 5}, 16: {4, 4, 4, 4},
}

// VerifyTiles returns the tile heights to split M ≤ 16 rows into (the
// verify shapes of speculative decoding), largest first: with the AVX-512
// kernels from verifyTiles, where tiles of five and six rows (four weight
// rows by five or six activation rows, 20 or 24 accumulators) make 9 rows
// two passes over the weights (5+4) instead of three (4+4+1), and 6 one;
// with the AVX2 ones from verifyTilesAVX2 (up to five rows); otherwise the
// greedy split into Tiles. Every tile height computes a row bit for bit
// the same way, so the split never changes a result.
// The result is shared: do not modify it.
func VerifyTiles(M int) []int {
	if M < 1 || M > 16 {
		return greedyTiles(M)
	}
	return verifyTable[M]
}

// verifyTable is the split VerifyTiles returns, set with the Mat kernels:
// verifyTiles with AVX-512's, verifyTilesAVX2 with AVX2's, the greedy one
// otherwise.
var verifyTable = &greedyVerifyTiles

// greedyVerifyTiles[M] is greedyTiles(M), built once: a forward must not
// allocate.
var greedyVerifyTiles = func() (t [17][]int) {
	for M := range t {
		t[M] = greedyTiles(M)
	}
	return t
}()

// greedyTiles splits M rows greedily into Tiles.
func greedyTiles(M int) []int {
	var t []int
	for M > 0 {
		for _, h := range Tiles {
			if h <= M {
				t, M = append(t, h), M-h
				break
			}
		}
	}
	return t
}

// matU16 and matF32 are the signatures of one Mat kernel for a fixed tile height.
type (
	matU16 func(out []float32, ldo int, xp []float32, w []uint16, n, k int)
	matF32 func(out []float32, ldo int, xp []float32, w []float32, n, k int)
)

// The kernels in use, indexed by tileIndex (log2 of the tile height, then
// 3 + log2 for the four-row kernels of heights 1 and 2, then 5 and 6 for
// the five- and six-row kernels, 7 for the three-row one): the twins until
// init (dispatch.go) installs the assembly. Package-level initializers run
// before any init function, whatever the file order.
var (
	matBF16Impl = twinsU16(matBF16Go)
	matF16Impl  = twinsU16(matF16Go)
	matF32Impl  = [8]matF32{
		func(out []float32, ldo int, xp []float32, w []float32, n, k int) { matF32Go(1, out, ldo, xp, w, n, k) },
		func(out []float32, ldo int, xp []float32, w []float32, n, k int) { matF32Go(2, out, ldo, xp, w, n, k) },
		func(out []float32, ldo int, xp []float32, w []float32, n, k int) { matF32Go(4, out, ldo, xp, w, n, k) },
		func(out []float32, ldo int, xp []float32, w []float32, n, k int) { matF32Go(1, out, ldo, xp, w, n, k) },
		func(out []float32, ldo int, xp []float32, w []float32, n, k int) { matF32Go(2, out, ldo, xp, w, n, k) },
		func(out []float32, ldo int, xp []float32, w []float32, n, k int) { matF32Go(5, out, ldo, xp, w, n, k) },
		func(out []float32, ldo int, xp []float32, w []float32, n, k int) { matF32Go(6, out, ldo, xp, w, n, k) },
		func(out []float32, ldo int, xp []float32, w []float32, n, k int) { matF32Go(3, out, ldo, xp, w, n, k) },
	}
)

// twinsU16 binds a generic Mat twin to the kernel indices' tile heights.
func twinsU16(f func(mt int, out []float32, ldo int, xp []float32, w []uint16, n, k int)) (t [8]matU16) {
	for i := range t {
		mt := [8]int{1, 2, 4, 1, 2, 5, 6, 3}[i]
		t[i] = func(out []float32, ldo int, xp []float32, w []uint16, n, k int) { f(mt, out, ldo, xp, w, n, k) }
	}
	return t
}

// tileIndex checks a Mat call's slices and returns the kernel index of mt.
func tileIndex(mt int, inOrder bool, out []float32, ldo int, xp []float32, wlen, n, k int) int {
	if mt < 1 || mt > 6 {
		panic(fmt.Sprintf("asm: tile height %d is not 1 to 6", mt))
	}
	if n < 0 || k < 0 || wlen < n*k || len(xp) < PackedLen(mt, k) || n > 0 && (ldo < n || len(out) < (mt-1)*ldo+n) {
		panic(fmt.Sprintf("asm: Mat slices too short: mt %d n %d k %d ldo %d: out %d xp %d w %d", mt, n, k, ldo, len(out), len(xp), wlen))
	}
	if mt >= 5 {
		return mt
	}
	if mt == 3 {
		return 7 // one kernel, in order or not (AVX-512: four weight rows at a time)
	}
	if !inOrder && mt < 4 {
		return 3 + bits.TrailingZeros(uint(mt))
	}
	return bits.TrailingZeros(uint(mt))
}

// MatBF16 multiplies n bfloat16 weight rows (w, row length k) with a tile
// of mt ∈ 1..6 activation rows packed by Pack (see VerifyTiles):
//
//	out[m·ldo + i] = Σ_j x[m][j] · w[i·k + j]      i < n, m < mt
//
// inOrder asks, for mt ≤ 2, for the kernel that reads the weights strictly
// in address order (best when they come from memory, as in decode);
// otherwise four rows are read at once (best when they are in cache, or
// for mt ≥ 3 always). Both compute every output bit for bit the same.
func MatBF16(mt int, inOrder bool, out []float32, ldo int, xp []float32, w []uint16, n, k int) {
	if n == 0 {
		return
	}
	matBF16Impl[tileIndex(mt, inOrder, out, ldo, xp, len(w), n, k)](out, ldo, xp, w, n, k)
}

// matBF16NextImpl is MatBF16Next's kernel where one exists (AVX-512).
var matBF16NextImpl func(mt int, out []float32, ldo int, xp []float32, w []uint16, n, k int, next []byte)

// MatBF16Next is MatBF16 for a tile of three to six rows (the four-row
// kernels) that also brings next, weights the caller multiplies after
// these, into L2 while it computes: the memory then streams while the FMA
// units work, where a Prefetch before each block would wait for it first.
// next may be up to as many bytes as w (2·len(w)). The results are
// MatBF16's, bit for bit. Without the kernel it is MatBF16 followed by
// Prefetch(next).
func MatBF16Next(mt int, out []float32, ldo int, xp []float32, w []uint16, n, k int, next []byte) {
	if n == 0 {
		return
	}
	if mt < 3 || mt > 6 {
		panic(fmt.Sprintf("asm: MatBF16Next of a %d-row tile (3 to 6)", mt))
	}
	tileIndex(mt, false, out, ldo, xp, len(w), n, k)
	if matBF16NextImpl == nil {
		MatBF16(mt, false, out, ldo, xp, w, n, k)
		Prefetch(next)
		return
	}
	matBF16NextImpl(mt, out, ldo, xp, w, n, k, next)
}

// MatF16 is MatBF16 for IEEE binary16 weights.
func MatF16(mt int, inOrder bool, out []float32, ldo int, xp []float32, w []uint16, n, k int) {
	if n == 0 {
		return
	}
	matF16Impl[tileIndex(mt, inOrder, out, ldo, xp, len(w), n, k)](out, ldo, xp, w, n, k)
}

// MatF32 is MatBF16 for float32 weights.
func MatF32(mt int, inOrder bool, out []float32, ldo int, xp []float32, w []float32, n, k int) {
	if n == 0 {
		return
	}
	matF32Impl[tileIndex(mt, inOrder, out, ldo, xp, len(w), n, k)](out, ldo, xp, w, n, k)
}

// matGo is the loop all Mat twins share: each 16-element block of weight
// row i is widened once into wb (zeros past k) and multiplied with the
// block of every activation row of the tile. Exactly one of w16 and w32
// is non-nil; f16 says how w16 is encoded. It is also the kernel wherever
// there is no assembly (arm64, GOPARD_NOASM), hence dot16's four chains.
func matGo(mt int, out []float32, ldo int, xp []float32, w16 []uint16, w32 []float32, f16 bool, n, k int) {
	var wb [Block]float32
	whole := k / Block * Block // the blocks without a tail
	for i := 0; i < n; i++ {
		var s [6]float32
		for j0 := 0; j0 < k; j0 += Block {
			if mt == 1 && j0 < whole && w16 != nil && !f16 { // decode: widen as it multiplies
				s[0] += dot16BF16((*[Block]float32)(xp[j0:]), (*[Block]uint16)(w16[i*k+j0:]))
				continue
			}
			switch {
			case j0 < whole && w32 != nil:
				wb = [Block]float32(w32[i*k+j0:])
			case j0 < whole && !f16:
				for j, h := range (*[Block]uint16)(w16[i*k+j0:]) {
					wb[j] = math.Float32frombits(uint32(h) << 16)
				}
			default:
				j1 := min(j0+Block, k)
				wb = [Block]float32{}
				switch {
				case w32 != nil:
					copy(wb[:], w32[i*k+j0:i*k+j1])
				case f16:
					for j, h := range w16[i*k+j0 : i*k+j1] {
						wb[j] = float16.Frombits(h).Float32()
					}
				default:
					for j, h := range w16[i*k+j0 : i*k+j1] {
						wb[j] = math.Float32frombits(uint32(h) << 16)
					}
				}
			}
			for m := 0; m < mt; m++ {
				s[m] += dot16((*[Block]float32)(xp[(j0/Block*mt+m)*Block:]), &wb)
			}
		}
		for m := 0; m < mt; m++ {
			out[m*ldo+i] = s[m]
		}
	}
}

// dot16BF16 is dot16 with w's bfloat16 elements widened as it reads them.
func dot16BF16(x *[Block]float32, w *[Block]uint16) float32 {
	bf := func(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
	s0, s1, s2, s3 := x[0]*bf(w[0]), x[1]*bf(w[1]), x[2]*bf(w[2]), x[3]*bf(w[3])
	s0 += x[4] * bf(w[4])
	s1 += x[5] * bf(w[5])
	s2 += x[6] * bf(w[6])
	s3 += x[7] * bf(w[7])
	s0 += x[8] * bf(w[8])
	s1 += x[9] * bf(w[9])
	s2 += x[10] * bf(w[10])
	s3 += x[11] * bf(w[11])
	s0 += x[12] * bf(w[12])
	s1 += x[13] * bf(w[13])
	s2 += x[14] * bf(w[14])
	s3 += x[15] * bf(w[15])
	return (s0 + s1) + (s2 + s3)
}

// dot16 is the dot product of two blocks, summed in four independent
// chains (elements j ≡ 0, 1, 2, 3 mod 4) so that the additions overlap
// instead of each waiting for the one before: about four times the rate
// of one running sum in compiled Go (BenchmarkMat's impl=go cases).
func dot16(x, w *[Block]float32) float32 {
	s0, s1, s2, s3 := x[0]*w[0], x[1]*w[1], x[2]*w[2], x[3]*w[3]
	s0 += x[4] * w[4]
	s1 += x[5] * w[5]
	s2 += x[6] * w[6]
	s3 += x[7] * w[7]
	s0 += x[8] * w[8]
	s1 += x[9] * w[9]
	s2 += x[10] * w[10]
	s3 += x[11] * w[11]
	s0 += x[12] * w[12]
	s1 += x[13] * w[13]
	s2 += x[14] * w[14]
	s3 += x[15] * w[15]
	return (s0 + s1) + (s2 + s3)
}

// matBF16Go is the twin of the matBF16M*AVX512 kernels.
func matBF16Go(mt int, out []float32, ldo int, xp []float32, w []uint16, n, k int) {
	matGo(mt, out, ldo, xp, w, nil, false, n, k)
}

// matF16Go is the twin of the matF16M*AVX512 kernels.
func matF16Go(mt int, out []float32, ldo int, xp []float32, w []uint16, n, k int) {
	matGo(mt, out, ldo, xp, w, nil, true, n, k)
}

// matF32Go is the twin of the matF32M*AVX512 kernels.
func matF32Go(mt int, out []float32, ldo int, xp []float32, w []float32, n, k int) {
	if w == nil {
		w = []float32{}
	}
	matGo(mt, out, ldo, xp, nil, w, false, n, k)
}
