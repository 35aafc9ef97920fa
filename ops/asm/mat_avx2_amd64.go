//go:build amd64 && !noasm

package asm

import "golang.org/x/sys/cpu"

// hasAVX2 is whether the AVX2 Mat kernels can run (F16C for the binary16
// ones, which fall back to their twin without it).
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// installAVX2 installs the AVX2/FMA Mat kernels; each tile height has one
// kernel, used for both the in-order and the cached slots. The vector
// kernels keep their Go twins on these CPUs.
func installAVX2() {
	// No five-row kernel: VerifyTiles keeps to Tiles, and an explicit
	// mt = 5 runs the twin.
	matBF16Impl = [8]matU16{matBF16M1AVX2, matBF16M2AVX2, matBF16M4AVX2, matBF16M1AVX2, matBF16M2AVX2, matBF16Impl[5], matBF16Impl[6], matBF16Impl[7]}
	matF32Impl = [8]matF32{matF32M1AVX2, matF32M2AVX2, matF32M4AVX2, matF32M1AVX2, matF32M2AVX2, matF32Impl[5], matF32Impl[6], matF32Impl[7]}
	if cpu.X86.HasF16C {
		matF16Impl = [8]matU16{matF16M1AVX2, matF16M2AVX2, matF16M4AVX2, matF16M1AVX2, matF16M2AVX2, matF16Impl[5], matF16Impl[6], matF16Impl[7]}
	}
}

// The AVX2 Mat kernels (mat_avx2_amd64.s), for mt = 1, 2, 4; each is the
// loop of the AVX-512 ones (matBF16Go, matF16Go, matF32Go with its mt),
// the sum running in 8 lanes.

//go:noescape
func matBF16M1AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matBF16M2AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matBF16M4AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M1AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M2AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M4AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M1AVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matF32M2AVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matF32M4AVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
