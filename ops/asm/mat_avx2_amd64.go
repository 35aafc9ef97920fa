//go:build amd64 && !noasm

package asm

import (
	"math"

	"golang.org/x/sys/cpu"
)

// hasAVX2 is whether the AVX2 Mat kernels can run (F16C for the binary16
// ones, which fall back to their twin without it).
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// installAVX2 installs the AVX2/FMA Mat kernels, each tile height one
// kernel used for both the in-order and the cached slots, the one-query
// attention kernels, SiLUMul, ExpSub, Max, Scale and Add; the other vector
// kernels keep their Go twins on these CPUs.
func installAVX2() {
	dotRowsImpl, axpyRowsImpl = dotRowsAVX2, axpyRowsAVX2
	siluMulImpl, expSubImpl = siluMulAVX2Any, expSubAVX2Any
	maxImpl, scaleImpl, addImpl = maxAVX2Any, scaleAVX2Any, addAVX2Any
	// Tiles of up to five rows (VerifyTiles: verifyTilesAVX2); an
	// explicit mt = 6 runs the twin.
	matBF16Impl = [8]matU16{matBF16M1DualAVX2, matBF16M2DualAVX2, matBF16M4DualAVX2, matBF16M1DualAVX2, matBF16M2DualAVX2, matBF16M5DualAVX2, matBF16Impl[6], matBF16M3DualAVX2}
	matF32Impl = [8]matF32{matF32M1DualAVX2, matF32M2DualAVX2, matF32M4DualAVX2, matF32M1DualAVX2, matF32M2DualAVX2, matF32M5DualAVX2, matF32Impl[6], matF32M3DualAVX2}
	verifyTable = &verifyTilesAVX2
	if cpu.X86.HasF16C {
		matF16Impl = [8]matU16{matF16M1DualAVX2, matF16M2DualAVX2, matF16M4DualAVX2, matF16M1DualAVX2, matF16M2DualAVX2, matF16M5DualAVX2, matF16Impl[6], matF16M3DualAVX2}
		dotRowsF16Impl, axpyRowsF16Impl = dotRowsF16AVX2, axpyRowsF16AVX2
	}
}

// The AVX2 Mat kernels (MAT2DUALX in mat_avx2_amd64.s), for mt = 1 to 5:
// the loop of the AVX-512 ones (matBF16Go, matF16Go, matF32Go with its
// mt), the sum running in 8 lanes, two weight rows at a time where k is a
// multiple of 16 and one at a time otherwise; each row's bits are the
// same either way.
//
//go:noescape
func matBF16M1DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M1DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M1DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matBF16M2DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matBF16M4DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M2DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M4DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M2DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matF32M4DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matBF16M3DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matBF16M5DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M3DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M5DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M3DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matF32M5DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)

// The AVX2 attention kernels (vec_avx2_amd64.s): dotRowsGo and axpyRowsGo
// in 8-lane registers, and their binary16 forms (F16C) widening each cache
// element as it is read.

//go:noescape
func dotRowsAVX2(out []float32, q []float32, k []float32, stride int, n int)

//go:noescape
func axpyRowsAVX2(o []float32, p []float32, v []float32, stride int)

//go:noescape
func dotRowsF16AVX2(out []float32, q []float32, k []uint16, stride int, n int)

//go:noescape
func axpyRowsF16AVX2(o []float32, p []float32, v []uint16, stride int)

// siluMulAVX2Any and expSubAVX2Any run the AVX2 kernels (in vec_amd64.s,
// beside the constants of Exp they share with the AVX-512 ones) on the
// whole blocks of 8 and the twin on the rest: every element is computed
// alone, so which of the two computes it depends only on the length.
func siluMulAVX2Any(out, gate, up []float32) {
	n := len(gate) &^ 7
	if n > 0 {
		siluMulAVX2(out[:n], gate[:n], up[:n])
	}
	siluMulGo(out[n:], gate[n:], up[n:])
}

func expSubAVX2Any(x []float32, m float32) float32 {
	n := len(x) &^ 7
	var s float32
	if n > 0 {
		s = expSubAVX2(x[:n], m)
	}
	return s + expSubGo(x[n:], m)
}

//go:noescape
func siluMulAVX2(out []float32, gate []float32, up []float32)

//go:noescape
func expSubAVX2(x []float32, m float32) float32

// maxAVX2Any, scaleAVX2Any and addAVX2Any run the AVX2 kernels of
// map_avx2_amd64.s on the whole blocks of 8 and the twin on the rest: as
// Go twins, Max (the softmax's), Scale and Add had been 4% of a PARD run's
// CPU on the embedded models with GOPARD_ASM=avx2 (eval --cpuprofile).
func maxAVX2Any(x []float32) float32 {
	n := len(x) &^ 7
	m := float32(math.Inf(-1))
	if n > 0 {
		m = maxAVX2(x[:n])
	}
	return max(m, maxGo(x[n:]))
}

func scaleAVX2Any(x []float32, s float32) {
	n := len(x) &^ 7
	if n > 0 {
		scaleAVX2(x[:n], s)
	}
	scaleGo(x[n:], s)
}

func addAVX2Any(dst, src []float32) {
	n := len(src) &^ 7
	if n > 0 {
		addAVX2(dst[:n], src[:n])
	}
	addGo(dst[n:], src[n:])
}

//go:noescape
func maxAVX2(x []float32) float32

//go:noescape
func scaleAVX2(x []float32, s float32)

//go:noescape
func addAVX2(dst []float32, src []float32)
