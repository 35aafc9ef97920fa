//go:build amd64 && !noasm

package asm

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasAVX512 is whether the AVX-512 kernels can run: F for the arithmetic,
// BW for the 16-bit widening, VL for the 128/256-bit forms on zmm16-31.
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// archInit installs the best kernels the CPU runs, at most those of level
// max ("avx2" caps them at AVX2; "" means no cap), and names them.
func archInit(max string) string {
	pauseImpl, evictImpl = pauseAMD64, evictAMD64
	if hasAVX512 && max != "avx2" {
		matBF16Impl = [8]matU16{matBF16M1AVX512, matBF16M2AVX512, matBF16M4AVX512, matBF16M1x4AVX512, matBF16M2x4AVX512, matBF16M5AVX512, matBF16M6AVX512, matBF16M3AVX512}
		matF16Impl = [8]matU16{matF16M1AVX512, matF16M2AVX512, matF16M4AVX512, matF16M1x4AVX512, matF16M2x4AVX512, matF16M5AVX512, matF16M6AVX512, matF16M3AVX512}
		matF32Impl = [8]matF32{matF32M1AVX512, matF32M2AVX512, matF32M4AVX512, matF32M1x4AVX512, matF32M2x4AVX512, matF32M5AVX512, matF32M6AVX512, matF32M3AVX512}
		verifyTable = &verifyTiles
		matBF16NextImpl = func(mt int, out []float32, ldo int, xp []float32, w []uint16, n, k int, next []byte) {
			pf := unsafe.Pointer(unsafe.SliceData(w)) // nothing to bring: the block itself, in cache
			if len(next) > 0 {
				pf = unsafe.Pointer(&next[0])
			}
			// The walk covers 32·n·k/64 steps' worth: pfstep = 128 brings as
			// many bytes as w has, 64 half as many.
			step := 128
			if len(next) <= len(w) { // next holds at most half as many bytes as w
				step = 64
			}
			switch mt {
			case 6:
				matBF16M6NextAVX512(out, ldo, xp, w, n, k, pf, step)
			case 5:
				matBF16M5NextAVX512(out, ldo, xp, w, n, k, pf, step)
			case 3:
				matBF16M3NextAVX512(out, ldo, xp, w, n, k, pf, step)
			default:
				matBF16M4NextAVX512(out, ldo, xp, w, n, k, pf, step)
			}
		}
		installVec()
		installDot()
		return "avx512"
	}
	if hasAVX2 {
		installAVX2()
		return "avx2"
	}
	return "go"
}

// The Mat kernels, for tile heights mt = 1 to 6 (M1, M2: one weight
// row at a time; M3, M4, M5, M6, M1x4, M2x4: four). Each is, with its mt:
//
//	for i := 0; i < n; i++ {
//		for m := 0; m < mt; m++ {
//			var s float32
//			for j := 0; j < k; j++ {
//				s += xp[(j/16*mt+m)*16+j%16] * widen(w[i*k+j])
//			}
//			out[m*ldo+i] = s
//		}
//	}
//
// where widen is the exact bfloat16, binary16 or float32 → float32
// conversion (matBF16Go, matF16Go, matF32Go); the sum runs in 16 lanes.

//go:noescape
func matBF16M1AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matBF16M2AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matBF16M4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M1AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M2AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M1AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matF32M2AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matF32M4AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)

// matBF16M4NextAVX512 is matBF16M4AVX512 that also prefetches into L2 the
// memory from pf on, pfstep bytes (64 or 128) per step of four weight rows:
// with 128 as many bytes as the weights it reads, with 64 half as many.
//
//go:noescape
func matBF16M4NextAVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int, pf unsafe.Pointer, pfstep int)

// matBF16M5NextAVX512 is matBF16M5AVX512 prefetching as matBF16M4NextAVX512.
//
//go:noescape
func matBF16M5NextAVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int, pf unsafe.Pointer, pfstep int)

// matBF16M6NextAVX512 is matBF16M6AVX512 prefetching as matBF16M4NextAVX512.
//
//go:noescape
func matBF16M6NextAVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int, pf unsafe.Pointer, pfstep int)

//go:noescape
func matBF16M6AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M6AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M6AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matBF16M3AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

// matBF16M3NextAVX512 is matBF16M3AVX512 prefetching as matBF16M4NextAVX512.
//
//go:noescape
func matBF16M3NextAVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int, pf unsafe.Pointer, pfstep int)

//go:noescape
func matF16M3AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M3AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matBF16M5AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M5AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M5AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matBF16M1x4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matBF16M2x4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M1x4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF16M2x4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)

//go:noescape
func matF32M1x4AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func matF32M2x4AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)

//go:noescape
func argmaxLanesAVX512(x []float32, vals *[64]float32, idx *[64]int32)

//go:noescape
func ropeRowAVX512(row []float32, c []float32, s []float32, heads int)

// ropeRowAVX512Any runs ropeRowAVX512 on heads whose halves are whole
// 16-lane blocks (head sizes 32, 64, 128, …) and the twin on others.
func ropeRowAVX512Any(row, c, s []float32, heads int) {
	if len(c)%16 != 0 {
		ropeRowGo(row, c, s, heads)
		return
	}
	ropeRowAVX512(row, c, s, heads)
}

// installVec installs the AVX-512 vector kernels (vec_amd64.s).
func installVec() {
	dotImpl, axpyImpl, addImpl, bf16ToF32Impl = dotAVX512, axpyAVX512, addAVX512, bf16ToF32AVX512
	sumSqImpl, scaleMulImpl, scaleImpl, maxImpl = sumSqAVX512, scaleMulAVX512, scaleAVX512, maxAVX512
	sumImpl, fmaLoopImpl = sumAVX512, fmaLoopAVX512
	siluMulImpl, expSubImpl = siluMulAVX512, expSubAVX512
	hasArgmaxLanes, ropeRowImpl = true, ropeRowAVX512Any
	prefetchImpl = prefetchAVX512
	dotRowsImpl, axpyRowsImpl = dotRowsAVX512, axpyRowsAVX512
	dotRowsF16Impl, axpyRowsF16Impl = dotRowsF16AVX512, axpyRowsF16AVX512
	f16ToF32Impl, f32ToF16Impl = f16ToF32AVX512, f32ToF16AVX512
	hasRows4 = true
}

// The vector kernels; each is its twin in vec.go:
//
//	dotAVX512:       for i, v := range a { s += v * b[i] }; return s      (16 lanes)
//	axpyAVX512:      for i, v := range x { y[i] += alpha * v }
//	addAVX512:       for i, v := range src { dst[i] += v }
//	bf16ToF32AVX512: for i, h := range src { dst[i] = math.Float32frombits(uint32(h) << 16) }
//	sumSqAVX512:     for _, v := range x { s += v * v }; return s         (16 lanes)
//	scaleMulAVX512:  for i, v := range x { out[i] = v * s * w[i] }
//	scaleAVX512:     for i := range x { x[i] *= s }
//	maxAVX512:       m := -Inf; for _, v := range x { m = max(m, v) }; return m
//	argmaxLanesAVX512: Argmax's scan, 64 lanes of (max, first index) for Go to reduce
//	ropeRowAVX512:   ropeRowGo: lo, hi = lo·c − hi·s, hi·c + lo·s per head (no FMA)
//	sumAVX512:       for _, v := range x { s += v }; return s             (64 lanes)
//	fmaLoopAVX512:   z := 1; for range n { z = z*0.99999 + 1 }; return 192 * z   (12×16 lanes)
//	siluMulAVX512:   for i, g := range gate { out[i] = g / (1 + Exp(-g)) * up[i] }
//	expSubAVX512:    for i, v := range x { x[i] = Exp(v - m); s += x[i] }; return s   (16 lanes)
//	dotRowsAVX512:   for t := range n { out[t] = Σ_i q[i] * k[t*stride+i] }      (16 lanes)
//	axpyRowsAVX512:  for t, pt := range p { for i := range o { o[i] += pt * v[t*stride+i] } }
//	f16ToF32AVX512:  for i, h := range src { dst[i] = f16ToF32(h) }      (VCVTPH2PS)
//	f32ToF16AVX512:  for i, f := range src { dst[i] = f32ToF16(f) }      (VCVTPS2PH, nearest even)
//	dotRowsF16AVX512, axpyRowsF16AVX512: dotRowsAVX512, axpyRowsAVX512 with k, v widened by VCVTPH2PS

//go:noescape
func dotAVX512(a []float32, b []float32) float32

//go:noescape
func axpyAVX512(alpha float32, x []float32, y []float32)

//go:noescape
func addAVX512(dst []float32, src []float32)

//go:noescape
func bf16ToF32AVX512(dst []float32, src []uint16)

//go:noescape
func sumSqAVX512(x []float32) float32

//go:noescape
func scaleMulAVX512(out []float32, x []float32, s float32, w []float32)

//go:noescape
func scaleAVX512(x []float32, s float32)

//go:noescape
func maxAVX512(x []float32) float32

//go:noescape
func sumAVX512(x []float32) float32

func fmaLoopAVX512(n int) float32

// prefetchAVX512 issues PREFETCHT1 for every 64-byte line of b; its Go
// twin is an empty function (a hint changes no result).
//
//go:noescape
func prefetchAVX512(b []byte)

//go:noescape
func dotRowsAVX512(out []float32, q []float32, k []float32, stride int, n int)

//go:noescape
func axpyRowsAVX512(o []float32, p []float32, v []float32, stride int)

//go:noescape
func f16ToF32AVX512(dst []float32, src []uint16)

//go:noescape
func f32ToF16AVX512(dst []uint16, src []float32)

//go:noescape
func dotRowsF16AVX512(out []float32, q []float32, k []uint16, stride int, n int)

//go:noescape
func axpyRowsF16AVX512(o []float32, p []float32, v []uint16, stride int)

// pauseAMD64 is pauseGo with the PAUSE instruction in the loop (SSE2:
// every amd64 CPU has it).
func pauseAMD64(n int)

// evictAMD64 is Evict: CLFLUSH on each line of b (SSE2 too), then MFENCE
// so that the flushes are done before the caller times anything.
//
//go:noescape
func evictAMD64(b []byte)

// dotRowsQ4AVX512 is DotRows4's kernel: n a multiple of 4, hd of 16.
// It fetches the key rows 16 positions ahead: in a forward the weights
// have evicted the cache, and a stride wider than the row (a cache in rows
// of positions) hides them from the hardware prefetchers. The figures
// below are from such a cache; over ops.CPU's head-major one (stride =
// the row) they matter little, a few µs a layer in whole forwards (README,
// "Long contexts"). The embedded target's forward at position 900
// with bf16 activations, alternating per forward with the kernel without
// it (a throwaway harness): 1 row 986 / 934 µs against 1027 / 1015, 5 rows
// 1491 / 1537 against 1613 / 1619; at position 150, 585 / 603 against
// 579 / 631. Two alternating rounds of go test -run X -bench
// 'Attention/.*/.*/.*/cold=true' ./ops, with and without the prefetches,
// at position 900: verify 82 / 88 against 91 / 99 µs, draft 49 / 52
// against 58 / 54, decode 47 / 56 against 47 / 51 (no gain there). On
// rows in cache it costs 6–9% (go test -bench Rows4). The same in
// axpyRowsQ4AVX512 made that kernel 1.7× slower on rows in cache and the
// forwards no faster than this, so the values are not fetched ahead.
//
//go:noescape
func dotRowsQ4AVX512(outs, qs *[4]*float32, k *float32, stride int, n int, hd int)

// axpyRowsQ4AVX512 is AxpyRows4's kernel: hd a multiple of 64.
//
//go:noescape
func axpyRowsQ4AVX512(os, ps *[4]*float32, v *float32, stride int, n int, hd int)

// dotRowsQ4F16AVX512 and axpyRowsQ4F16AVX512 are the two kernels above
// over binary16 rows (a half-precision KV cache), widened by VCVTPH2PS as
// they are loaded: the same sums in the same order, so the same bits as
// over the widened rows. The keys are fetched 16 rows ahead as above, and
// here the values too (the first 128 bytes of the row: all of a 64-wide
// head): on cached rows it costs nothing measurable (go test -bench
// Rows4/axpyRows4F16: 680 ns either way), and the embedded target's forward
// at position 900 with bf16 activations went from 0.94 / 0.91 of the float32
// cache's time without it to 0.89 / 0.88 with it (1 / 5 rows, alternating
// per forward in one process, a throwaway harness).
//
//go:noescape
func dotRowsQ4F16AVX512(outs, qs *[4]*float32, k *uint16, stride int, n int, hd int)

//go:noescape
func axpyRowsQ4F16AVX512(os, ps *[4]*float32, v *uint16, stride int, n int, hd int)

// dotRowsQ2AVX512 and axpyRowsQ2AVX512 are DotRows2's and AxpyRows2's
// kernels (n a multiple of 8, hd of 16; hd a multiple of 64), and the F16
// ones their binary16 variants; all fetch ahead as the four-query kernels.
//
//go:noescape
func dotRowsQ2AVX512(outs, qs *[2]*float32, k *float32, stride int, n int, hd int)

//go:noescape
func dotRowsQ2F16AVX512(outs, qs *[2]*float32, k *uint16, stride int, n int, hd int)

//go:noescape
func axpyRowsQ2AVX512(os, ps *[2]*float32, v *float32, stride int, n int, hd int)

//go:noescape
func axpyRowsQ2F16AVX512(os, ps *[2]*float32, v *uint16, stride int, n int, hd int)

//go:noescape
func siluMulAVX512(out []float32, gate []float32, up []float32)

//go:noescape
func expSubAVX512(x []float32, m float32) float32

// hasAVX512BF16 is whether the MatDot kernels can run.
var hasAVX512BF16 = hasAVX512 && cpu.X86.HasAVX512BF16

// installDot installs the AVX512-BF16 MatDot kernels and the AVX-512
// bfloat16 packing.
func installDot() {
	packBF16RowImpl = packBF16RowAVX512
	if !hasAVX512BF16 {
		return
	}
	matDotImpl = [3]matDotFunc{matDotM1x4AVX512BF16, matDotM2x4AVX512BF16, matDotM4AVX512BF16}
	matDotDualImpl = [MaxDotTile + 1]matDotFunc{
		1: matDotM1AVX512BF16, 2: matDotM2AVX512BF16, 3: matDotM3DualAVX512BF16, 4: matDotM4DualAVX512BF16,
		5: matDotM5DualAVX512BF16, 6: matDotM6DualAVX512BF16, 7: matDotM7DualAVX512BF16, 8: matDotM8DualAVX512BF16,
		9: matDotM9DualAVX512BF16, 10: matDotM10DualAVX512BF16, 11: matDotM11DualAVX512BF16, 12: matDotM12DualAVX512BF16,
		13: matDotM13DualAVX512BF16,
	}
	dotPrefetch = "l1"
	if l2 := os.Getenv("GOPARD_DOT_PREFETCH"); l2 == "l2" || l2 != "l1" && isZen4() {
		dotPrefetch = "l2"
		for mt := 2; mt <= MaxDotTile; mt++ {
			matDotDualImpl[mt] = matDotDualL2[mt]
		}
		matDotNextImpl[7], matDotNextImpl[8] = matDotM7DualNextAVX512BF16, matDotM8DualNextAVX512BF16
	}
	matDotPanelImpl = matDotPanelAVX512
}

// matDotDualL2 are the in-order MatDot tiles of two rows and more that
// prefetch into L2 (DUALPF2 in mat_amd64.s), for the CPUs where that lets
// memory and arithmetic overlap. On the Zen 4 EPYC the two- and three-row
// tiles (which do not prefetch into L1: no faster there) gained the most:
// go test -run X -bench 'Linear/1408x512/threads=./act=bf16' ./ops, three
// rounds alternating builds, 3 rows 50.3–56.2 → 30.5–36.8 µs on one
// thread and 24.4–31.5 → 16.8–18.7 on two, 2 rows 42.2–45.3 → 30.3–40.3
// and 21.0–24.6 → 16.3–19.3. The one-row tile prefetches nowhere: into L2
// it streamed slower (31.8–32.9 → 38.1–42.4 µs on one thread, 15.8–19.2
// → 19.2–21.2 on two), into L1 too (30.8–34.0 → 40.2–41.7, 12.1–16.9 →
// 19.9–20.5).
var matDotDualL2 = [MaxDotTile + 1]matDotFunc{
	2: matDotM2DualL2AVX512BF16, 3: matDotM3DualL2AVX512BF16, 4: matDotM4DualL2AVX512BF16, 5: matDotM5DualL2AVX512BF16, 6: matDotM6DualL2AVX512BF16, 7: matDotM7DualL2AVX512BF16,
	8: matDotM8DualL2AVX512BF16, 9: matDotM9DualL2AVX512BF16, 10: matDotM10DualL2AVX512BF16, 11: matDotM11DualL2AVX512BF16,
	12: matDotM12DualL2AVX512BF16, 13: matDotM13DualL2AVX512BF16,
}

// isZen4 is whether the CPU is an AMD of family 19h (Zen 3 and Zen 4;
// of those only Zen 4 has AVX-512), where the in-order MatDot tiles
// stream faster prefetching into L2.
func isZen4() bool {
	_, b, c, d := cpuid(0, 0)
	if b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163 { // "AuthenticAMD"
		return false
	}
	a, _, _, _ := cpuid(1, 0)
	family := a >> 8 & 0xf
	if family == 0xf {
		family += a >> 20 & 0xff
	}
	return family == 0x19
}

//go:noescape
func matDotM7DualNextAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM8DualNextAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

// The panel kernels (MATDOTPANEL in mat_amd64.s), by tile height 3 to 13.
var matDotPanelAVX512 = [MaxDotTile + 1]matDotPanelFunc{
	3: matDotPanelM3AVX512BF16, 4: matDotPanelM4AVX512BF16, 5: matDotPanelM5AVX512BF16, 6: matDotPanelM6AVX512BF16,
	7: matDotPanelM7AVX512BF16, 8: matDotPanelM8AVX512BF16, 9: matDotPanelM9AVX512BF16, 10: matDotPanelM10AVX512BF16,
	11: matDotPanelM11AVX512BF16, 12: matDotPanelM12AVX512BF16, 13: matDotPanelM13AVX512BF16,
}

//go:noescape
func matDotPanelM3AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM4AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM5AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM6AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM7AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM8AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM9AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM10AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM11AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM12AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func matDotPanelM13AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)

//go:noescape
func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// The MatDot kernels (M1, M2 and M3Dual-M12Dual: two weight rows at a
// time, one of each half, in address order; M1x4, M2x4, M4: four rows at
// a time); each is matDotGo with its mt:
//
//	for i := 0; i < n; i++ {
//		for m := 0; m < mt; m++ {
//			var s float32
//			for j := 0; j < k; j++ {
//				s += bf16(xp[(j/32*mt+m)*32+j%32]) * bf16(w[i*k+j])
//			}
//			out[m*ldo+i] = s
//		}
//	}

//go:noescape
func matDotM1AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM4AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM1x4AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM2x4AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

// packBF16RowAVX512 is packBF16RowGo (AVX-512 F/BW).
//
//go:noescape
func packBF16RowAVX512(xp []uint16, stride int, x []float32)

//go:noescape
func matDotM3DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM4DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM5DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM6DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM7DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM8DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM9DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM10DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM11DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM12DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM13DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM13DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM2DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM3DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM4DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM5DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM6DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM7DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM8DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM9DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM10DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM11DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)

//go:noescape
func matDotM12DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
