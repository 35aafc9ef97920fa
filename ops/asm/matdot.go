package asm

import (
	"fmt"
	"math"
	"math/bits"
)

// DotBlock is the number of k elements in one block of PackBF16.
const DotBlock = 32

// PackedBF16Len is the number of bfloat16 values PackBF16 writes for mt
// rows of length k (k padded with zeros to a multiple of DotBlock).
func PackedBF16Len(mt, k int) int { return mt * ((k + DotBlock - 1) / DotBlock * DotBlock) }

// PackBF16 rounds mt rows of x (row m is x[m*ldx : m*ldx+k]) to bfloat16,
// to nearest even, and interleaves them in blocks of 32 columns for the
// MatDot kernels:
//
//	xp[(j/32·mt + m)·32 + j%32] = bf16(x[m·ldx + j])     (0 past k)
func PackBF16(xp []uint16, x []float32, mt, k, ldx int) {
	kp := (k + DotBlock - 1) / DotBlock * DotBlock
	xp = xp[:mt*kp]
	for m := 0; m < mt && kp > 0; m++ {
		packBF16RowImpl(xp[m*DotBlock:], mt*DotBlock, x[m*ldx:m*ldx+k])
	}
}

// packBF16RowImpl packs one row: packBF16RowGo or its assembly.
var packBF16RowImpl = packBF16RowGo

// packBF16RowGo writes block b of 32 rounded values of x (zeros past
// len(x)) to xp[b·stride:], for b < ceil(len(x)/32).
func packBF16RowGo(xp []uint16, stride int, x []float32) {
	for j0 := 0; j0 < len(x); j0 += DotBlock {
		dst := xp[j0/DotBlock*stride:][:DotBlock]
		src := x[j0:min(j0+DotBlock, len(x))]
		for j, f := range src {
			dst[j] = roundBF16(f)
		}
		clear(dst[len(src):])
	}
}

// roundBF16 rounds to the nearest bfloat16, ties to even (NaN stays NaN).
func roundBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// matDotImpl holds the MatDot kernels that read four weight rows at once,
// by log2 of the tile height (1, 2, 4); nil unless the CPU has AVX512-BF16
// (see HasMatDot).
var matDotImpl [3]matDotFunc

// matDotFunc is the signature of one MatDot kernel.
type matDotFunc func(out []float32, ldo int, xp []uint16, w []uint16, n, k int)

// HasMatDot reports whether the MatDot kernels run in hardware. When they
// do, package ops can multiply bfloat16 weights with activations rounded
// to bfloat16 (as llama.cpp does for bf16 models), at twice the FMA rate;
// otherwise it uses MatBF16, which keeps the activations in float32.
func HasMatDot() bool { return matDotImpl[0] != nil }

// dotPrefetch is where the in-order MatDot tiles of four rows and more
// prefetch the weights ahead of their loads: "l1" (2 KB ahead) or "l2" (8
// KB ahead, and there the tiles of two and three rows too), set with the
// kernels; "" without them.
var dotPrefetch string

// DotPrefetch reports where the in-order MatDot tiles of four rows and
// more prefetch: "l1" (2 KB ahead, the default), "l2" (8 KB ahead, the
// default on AMD Zen 4, where it measured faster from memory; there the
// tiles of two and three rows prefetch too, and the one-row tile never),
// or "" when there are no MatDot kernels. GOPARD_DOT_PREFETCH=l1 or l2
// overrides the default, to measure either on any CPU.
func DotPrefetch() string { return dotPrefetch }

// matDotNextImpl holds, by tile height, the in-order MatDot kernels that
// prefetch the block after theirs into L2 (installed with the L2
// prefetching, for the heights two-tile splits use); nil elsewhere.
var matDotNextImpl [MaxDotTile + 1]matDotFunc

// MatDotNext is MatDot in order for the second tile of two over a block
// of n weight rows, which the first tile has just brought into cache: it
// also asks for the next n rows (the next block, w's n·k elements after
// its end) to come into L2, so that the memory streams while this tile
// computes from cache. It is MatDot in order, bit for bit; without a
// kernel for mt it is MatDot.
func MatDotNext(mt int, out []float32, ldo int, xp []uint16, w []uint16, n, k int) {
	if n == 0 {
		return
	}
	if mt < 1 || mt > MaxDotTile || matDotNextImpl[mt] == nil {
		MatDot(mt, true, out, ldo, xp, w, n, k)
		return
	}
	checkDot(mt, out, ldo, xp, len(w), n, k)
	matDotNextImpl[mt](out, ldo, xp, w, n, k)
}

// matDotPanelFunc is the signature of the MatDotPanel kernels.
type matDotPanelFunc func(out []float32, ldo int, xp []uint16, w []uint16, n, k, rs int, acc *float32, mode int)

// matDotPanelImpl holds the MatDotPanel kernels by tile height (3 to
// MaxDotTile) once installed; nil entries elsewhere and before.
var matDotPanelImpl [MaxDotTile + 1]matDotPanelFunc

// hasDotPanel is whether a MatDotPanel kernel of mt rows is installed.
func hasDotPanel(mt int) bool { return mt >= 1 && mt <= MaxDotTile && matDotPanelImpl[mt] != nil }

// DotPanelBytes is how many bytes of packed bf16 activations a panel of
// MatDotPanel holds at most: they stay in L1 (32 KB on AMD Zen 4, 48 KB on
// Zen 5 and recent Intel) while the weight rows stream by.
const DotPanelBytes = 24 << 10

// UseDotPanels reports whether an in-order MatDot tile of mt rows of
// length k should run as MatDotPanel panels: its packed rows (2·mt·k
// bytes) overflow DotPanelBytes, so MatDot would read them from L2 again
// for every pair of weight rows, and the panel kernels are installed.
func UseDotPanels(mt, k int) bool {
	return hasDotPanel(mt) && 2*mt*k > DotPanelBytes
}

// DotPanel is the panel width, in columns (a multiple of DotBlock), of a
// tile of mt rows: as many as DotPanelBytes holds.
func DotPanel(mt int) int { return max(DotBlock, DotPanelBytes/(2*mt)/DotBlock*DotBlock) }

// MatDotPanel is MatDot in order over the columns [k0, k0+kp) of n weight
// rows of length k (w from row 0's column k0; xp from the packed
// activations' column k0, which is element k0·mt of a PackBF16 packing),
// for one panel of a sequence the caller runs in order, k0 = 0, P, 2P, …
// (P = DotPanel(mt)), each panel's width a multiple of DotBlock but the
// last's. acc carries the rows' sixteen-lane accumulators from one panel
// to the next (at least n·mt·16 floats, the same for every panel); the
// last panel writes out. The results are MatDot's, bit for bit: every lane
// adds the same products in the same order. It panics unless
// UseDotPanels would allow it for some k.
func MatDotPanel(mt int, out []float32, ldo int, xp, w []uint16, n, k, k0, kp int, acc []float32) {
	if n == 0 {
		return
	}
	if !hasDotPanel(mt) {
		panic(fmt.Sprintf("asm: MatDotPanel of a %d-row tile (3 to %d, with AVX512-BF16)", mt, MaxDotTile))
	}
	last := k0+kp == k
	if k0 < 0 || kp <= 0 || k0+kp > k || k0%DotBlock != 0 || !last && kp%DotBlock != 0 || len(acc) < n*mt*16 ||
		len(w) < (n-1)*k+kp || len(xp) < PackedBF16Len(mt, kp) || ldo < n || len(out) < (mt-1)*ldo+n {
		panic(fmt.Sprintf("asm: MatDotPanel mt %d n %d k %d panel [%d, %d) ldo %d: out %d xp %d w %d acc %d", mt, n, k, k0, k0+kp, ldo, len(out), len(xp), len(w), len(acc)))
	}
	mode := 0
	if k0 == 0 {
		mode |= 1
	}
	if last {
		mode |= 2
	}
	matDotPanelImpl[mt](out, ldo, xp, w, n, kp, k, &acc[0], mode)
}

// MaxDotTile is the tallest tile MatDot multiplies in address order.
const MaxDotTile = 13

// dotTiles[M] is DotTiles(M), built once: a forward must not allocate.
var dotTiles = func() (t [2*MaxDotTile + 1][]int) {
	for M := 1; M < len(t); M++ {
		if M <= MaxDotTile {
			t[M] = []int{M}
		} else {
			t[M] = []int{(M + 1) / 2, M / 2}
		}
	}
	return t
}()

// DotTiles returns the tile heights MatDot splits M ≤ 2·MaxDotTile rows
// into, in address order: one tile up to MaxDotTile rows (a single pass
// over the weights, which streams them at the memory's pace while the
// VDPBF16PS units keep up), else two halves. The result is shared: do not
// modify it.
func DotTiles(M int) []int {
	if M < 1 || M >= len(dotTiles) {
		panic(fmt.Sprintf("asm: DotTiles(%d): 1 to %d rows", M, len(dotTiles)-1))
	}
	return dotTiles[M]
}

// matDotDualImpl holds, by tile height 1 to MaxDotTile, the MatDot
// kernels that read the weights in address order, two rows (one of each
// half of the n rows) at a time: two long streams that the hardware
// prefetchers follow, whatever the tile height.
var matDotDualImpl [MaxDotTile + 1]matDotFunc

// MatDot is MatBF16 with activations packed by PackBF16:
//
//	out[m·ldo + i] = Σ_j bf16(x[m][j]) · w[i·k + j]      i < n, m < mt
//
// where each product is exact and the sum runs in 16 float32 lanes, two
// products per lane and step. inOrder asks for the kernels that read the
// weights in address order, two rows (one of each half) at a time, for any
// mt from 1 to MaxDotTile (best when the weights come from memory);
// otherwise four weight rows are read at once, for mt 1, 2 or 4 (prefill's
// tiles, whose weights are in cache). Every kernel computes a row bit for
// bit the same way, whatever the tile. It panics unless HasMatDot.
func MatDot(mt int, inOrder bool, out []float32, ldo int, xp []uint16, w []uint16, n, k int) {
	if n == 0 {
		return
	}
	if inOrder {
		if mt < 1 || mt > MaxDotTile {
			panic(fmt.Sprintf("asm: MatDot in order of a %d-row tile (1 to %d)", mt, MaxDotTile))
		}
		checkDot(mt, out, ldo, xp, len(w), n, k)
		matDotDualImpl[mt](out, ldo, xp, w, n, k)
		return
	}
	if mt != 1 && mt != 2 && mt != 4 {
		panic(fmt.Sprintf("asm: MatDot of a %d-row tile four weight rows at a time (1, 2 or 4)", mt))
	}
	checkDot(mt, out, ldo, xp, len(w), n, k)
	matDotImpl[bits.TrailingZeros(uint(mt))](out, ldo, xp, w, n, k)
}

// checkDot panics unless a MatDot call's slices hold what it reads and writes.
func checkDot(mt int, out []float32, ldo int, xp []uint16, wlen, n, k int) {
	if n < 0 || k < 0 || wlen < n*k || len(xp) < PackedBF16Len(mt, k) || n > 0 && (ldo < n || len(out) < (mt-1)*ldo+n) {
		panic(fmt.Sprintf("asm: MatDot slices too short: mt %d n %d k %d ldo %d: out %d xp %d w %d", mt, n, k, ldo, len(out), len(xp), wlen))
	}
}

// matDotGo is the twin of the matDotM*AVX512BF16 kernels, lane by lane:
// lane l of a 32-element block accumulates the pair (2l, 2l+1), the odd
// product first, as VDPBF16PS does; the 16 lanes are summed at the end.
func matDotGo(mt int, out []float32, ldo int, xp []uint16, w []uint16, n, k int) {
	bf := func(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
	for i := 0; i < n; i++ {
		row := w[i*k : (i+1)*k]
		for m := 0; m < mt; m++ {
			var lanes [16]float32
			for j0 := 0; j0 < k; j0 += DotBlock {
				xb := xp[(j0/DotBlock*mt+m)*DotBlock:][:DotBlock]
				var wb [DotBlock]uint16
				copy(wb[:], row[j0:min(j0+DotBlock, k)])
				for l := range lanes {
					lanes[l] += bf(wb[2*l+1]) * bf(xb[2*l+1])
					lanes[l] += bf(wb[2*l]) * bf(xb[2*l])
				}
			}
			var s float32
			for _, v := range lanes {
				s += v
			}
			out[m*ldo+i] = s
		}
	}
}
