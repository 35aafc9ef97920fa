//go:build amd64 && !noasm

#include "textflag.h"
#include "hsum8_amd64.h"

// AVX2/FMA Mat kernels for CPUs without AVX-512: the Mat semantics (see
// mat_amd64.s) in 8-lane ymm registers, one or two weight rows at a time
// (16 ymm registers leave no room for four-row tiles of four activation
// rows). A 16-element block is two halves of 8, both multiplied into the
// same accumulator. AVX2 has no masked 16-bit load, so the k%16 tail of a
// weight row is copied into a zeroed 64-byte buffer on the stack and
// multiplied from there like a full block (the packed activations are
// zero-padded already). The kernels (MAT2DUALX) take two
// weight rows at a time where k has no tail: a row's sum waits on its own
// FMAs, and a decode step ran at a third of the memory's speed with one.

#define OUT DI
#define LDO R8
#define XP SI
#define W DX
#define N CX
#define KBLK BX
#define KC R9
#define XPTR R10
#define TAILN R11 // elements in the weight tail (k%16)
#define OPTR R12

// Two halves of a 16-weight block at B, as float32, into Y8 and Y9.
#define LW2_BF16(B) VPMOVZXWD 0(B), Y8; VPMOVZXWD 16(B), Y9; VPSLLD $16, Y8, Y8; VPSLLD $16, Y9, Y9
#define LW2_F16(B) VCVTPH2PS 0(B), Y8; VCVTPH2PS 16(B), Y9
#define LW2_F32(B) VMOVUPS 0(B), Y8; VMOVUPS 32(B), Y9

// Copy one tail weight from W to the buffer at R9.
#define CP_U16 MOVWLZX (W), R13; MOVW R13, (R9); ADDQ $2, W; ADDQ $2, R9
#define CP_F32 MOVL (W), R13; MOVL R13, (R9); ADDQ $4, W; ADDQ $4, R9

#define Z2x1 VXORPS Y0, Y0, Y0
#define Z2x2 Z2x1; VXORPS Y1, Y1, Y1
#define Z2x4 Z2x2; VXORPS Y2, Y2, Y2; VXORPS Y3, Y3, Y3
#define Z2x3 Z2x2; VXORPS Y2, Y2, Y2
#define Z2x5 Z2x4; VXORPS Y4, Y4, Y4

// ACC_m += W_lo · X_m,lo + W_hi · X_m,hi
#define F2x1 VFMADD231PS 0(XPTR), Y8, Y0; VFMADD231PS 32(XPTR), Y9, Y0
#define F2x2 F2x1; VFMADD231PS 64(XPTR), Y8, Y1; VFMADD231PS 96(XPTR), Y9, Y1
#define F2x4 F2x2; VFMADD231PS 128(XPTR), Y8, Y2; VFMADD231PS 160(XPTR), Y9, Y2; VFMADD231PS 192(XPTR), Y8, Y3; VFMADD231PS 224(XPTR), Y9, Y3
#define F2x3 F2x2; VFMADD231PS 128(XPTR), Y8, Y2; VFMADD231PS 160(XPTR), Y9, Y2
#define F2x5 F2x4; VFMADD231PS 256(XPTR), Y8, Y4; VFMADD231PS 288(XPTR), Y9, Y4

// HS leaves the sum of the 8 lanes of Y in the low lane of X.
#define HS(Y, X) HSUM8(Y, X, X10)
#define S2x1 MOVQ OUT, OPTR; HS(Y0, X0); VMOVSS X0, (OPTR)
#define S2x2 S2x1; ADDQ LDO, OPTR; HS(Y1, X1); VMOVSS X1, (OPTR)
#define S2x4 S2x2; ADDQ LDO, OPTR; HS(Y2, X2); VMOVSS X2, (OPTR); ADDQ LDO, OPTR; HS(Y3, X3); VMOVSS X3, (OPTR)
#define S2x3 S2x2; ADDQ LDO, OPTR; HS(Y2, X2); VMOVSS X2, (OPTR)
#define S2x5 S2x4; ADDQ LDO, OPTR; HS(Y4, X4); VMOVSS X4, (OPTR)

// MAT2ARGS loads the arguments: AX gets the bytes of a weight row, KBLK
// the whole 16-element blocks of k and TAILN the rest.
#define MAT2ARGS(WSHIFT) \
	MOVQ    out_base+0(FP), OUT; \
	MOVQ    ldo+24(FP), LDO; \
	SHLQ    $2, LDO; \
	MOVQ    xp_base+32(FP), XP; \
	MOVQ    w_base+56(FP), W; \
	MOVQ    k+88(FP), KBLK; \
	MOVQ    KBLK, AX; \
	SHLQ    $WSHIFT, AX; \
	MOVQ    KBLK, TAILN; \
	SHRQ    $4, KBLK; \
	ANDQ    $15, TAILN; \
	MOVQ    n+80(FP), N

// MAT2ROWS multiplies N weight rows from W, one at a time, with the tile
// packed at XP, the registers set by MAT2ARGS.
#define MAT2ROWS(WSHIFT, XSTEP, LW2, CP, ZERO, FMA, STORE) \
	TESTQ   N, N; \
	JZ      done; \
row: \
	ZERO; \
	MOVQ    XP, XPTR; \
	MOVQ    KBLK, KC; \
	TESTQ   KC, KC; \
	JZ      tail; \
block: \
	LW2(W); \
	FMA; \
	ADDQ    $(16<<WSHIFT), W; \
	ADDQ    $XSTEP, XPTR; \
	DECQ    KC; \
	JNZ     block; \
tail: \
	TESTQ   TAILN, TAILN; \
	JZ      store; \
	VXORPS  Y8, Y8, Y8; \
	VMOVUPS Y8, 0(SP); \
	VMOVUPS Y8, 32(SP); \
	LEAQ    0(SP), R9; \
	MOVQ    TAILN, AX; \
copy: \
	CP; \
	DECQ    AX; \
	JNZ     copy; \
	LEAQ    0(SP), R9; \
	LW2(R9); \
	FMA; \
store: \
	STORE; \
	ADDQ    $4, OUT; \
	DECQ    N; \
	JNZ     row; \
done: \
	VZEROUPPER; \
	RET

// MAT2DUALX is the Mat loop taking two weight rows at a time when k is a multiple
// of 16: row i of the first half of the rows beside row i of the second,
// read as two address-ordered streams (four rows side by side, one stream
// each, left the hardware prefetchers behind: a decode step 1.6× slower).
// A row's sum waits on its own FMAs (two per block into one accumulator),
// and one row at a time could not keep up with the memory; two give the
// FMA units twice as many sums to overlap. Each weight row of the pair
// has its own mt accumulators (the first's in Y0.., the second's in Y4..
// or, for five rows, Y5-Y7, Y12, Y13), the activations read from memory as
// MAT2ROWS's FMAs read them, so each (activation row, weight row) sum is
// MAT2ROWS's chain, bit for bit. An odd last row, and every row when k has
// a tail, go through MAT2ROWS, one weight row at a time.
#define MAT2DUALX(WSHIFT, XSTEP, LW2, LW2B, CP, ZERO, ZEROB, FMA, FMAB, STORE, STOREB) \
	MAT2ARGS(WSHIFT); \
	TESTQ   TAILN, TAILN; \
	JNZ     rows; \
	TESTQ   KBLK, KBLK; \
	JZ      rows; \
	MOVQ    N, R15; \
	SHRQ    $1, R15; \
	JZ      rows; \
	ANDQ    $1, N; \
	MOVQ    R15, R14; \
	SHLQ    $2, R14; \
	IMULQ   R15, AX; \
	LEAQ    (W)(AX*1), R13; \
pair: \
	ZERO; \
	ZEROB; \
	MOVQ    XP, XPTR; \
	MOVQ    KBLK, KC; \
pblock: \
	LW2(W); \
	FMA; \
	LW2B(R13); \
	FMAB; \
	ADDQ    $(16<<WSHIFT), W; \
	ADDQ    $(16<<WSHIFT), R13; \
	ADDQ    $XSTEP, XPTR; \
	DECQ    KC; \
	JNZ     pblock; \
	STORE; \
	STOREB; \
	ADDQ    $4, OUT; \
	DECQ    R15; \
	JNZ     pair; \
	MOVQ    R13, W; \
	ADDQ    R14, OUT; \
rows: \
	MAT2ROWS(WSHIFT, XSTEP, LW2, CP, ZERO, FMA, STORE)

// The second weight row's halves (Y10, Y11), accumulators (Y4..Y7), FMAs
// and stores (R14 bytes after the first row's outputs).
#define LW2B_BF16(B) VPMOVZXWD 0(B), Y10; VPMOVZXWD 16(B), Y11; VPSLLD $16, Y10, Y10; VPSLLD $16, Y11, Y11
#define LW2B_F16(B) VCVTPH2PS 0(B), Y10; VCVTPH2PS 16(B), Y11
#define LW2B_F32(B) VMOVUPS 0(B), Y10; VMOVUPS 32(B), Y11
#define Z2x1B VXORPS Y4, Y4, Y4
#define F2x1B VFMADD231PS 0(XPTR), Y10, Y4; VFMADD231PS 32(XPTR), Y11, Y4
#define S2x1B MOVQ OUT, OPTR; ADDQ R14, OPTR; HS(Y4, X4); VMOVSS X4, (OPTR)
#define Z2x2B VXORPS Y4, Y4, Y4; VXORPS Y5, Y5, Y5
#define Z2x4B Z2x2B; VXORPS Y6, Y6, Y6; VXORPS Y7, Y7, Y7
#define F2x2B VFMADD231PS 0(XPTR), Y10, Y4; VFMADD231PS 32(XPTR), Y11, Y4; VFMADD231PS 64(XPTR), Y10, Y5; VFMADD231PS 96(XPTR), Y11, Y5
#define F2x4B F2x2B; VFMADD231PS 128(XPTR), Y10, Y6; VFMADD231PS 160(XPTR), Y11, Y6; VFMADD231PS 192(XPTR), Y10, Y7; VFMADD231PS 224(XPTR), Y11, Y7
#define S2x2B MOVQ OUT, OPTR; ADDQ R14, OPTR; HS(Y4, X4); VMOVSS X4, (OPTR); ADDQ LDO, OPTR; HS(Y5, X5); VMOVSS X5, (OPTR)
#define S2x4B S2x2B; ADDQ LDO, OPTR; HS(Y6, X6); VMOVSS X6, (OPTR); ADDQ LDO, OPTR; HS(Y7, X7); VMOVSS X7, (OPTR)
#define Z2x3B Z2x2B; VXORPS Y6, Y6, Y6
#define F2x3B F2x2B; VFMADD231PS 128(XPTR), Y10, Y6; VFMADD231PS 160(XPTR), Y11, Y6
#define S2x3B S2x2B; ADDQ LDO, OPTR; HS(Y6, X6); VMOVSS X6, (OPTR)

// Five rows: the first weight row's sums in Y0-Y4, the second's in Y5-Y7,
// Y12, Y13 (Y4 is the first's).
#define Z2x5B VXORPS Y5, Y5, Y5; VXORPS Y6, Y6, Y6; VXORPS Y7, Y7, Y7; VXORPS Y12, Y12, Y12; VXORPS Y13, Y13, Y13
#define F2x5B \
	VFMADD231PS 0(XPTR), Y10, Y5; VFMADD231PS 32(XPTR), Y11, Y5; VFMADD231PS 64(XPTR), Y10, Y6; VFMADD231PS 96(XPTR), Y11, Y6; \
	VFMADD231PS 128(XPTR), Y10, Y7; VFMADD231PS 160(XPTR), Y11, Y7; VFMADD231PS 192(XPTR), Y10, Y12; VFMADD231PS 224(XPTR), Y11, Y12; \
	VFMADD231PS 256(XPTR), Y10, Y13; VFMADD231PS 288(XPTR), Y11, Y13
#define S2x5B \
	MOVQ OUT, OPTR; ADDQ R14, OPTR; HS(Y5, X5); VMOVSS X5, (OPTR); ADDQ LDO, OPTR; HS(Y6, X6); VMOVSS X6, (OPTR); \
	ADDQ LDO, OPTR; HS(Y7, X7); VMOVSS X7, (OPTR); ADDQ LDO, OPTR; HS(Y12, X12); VMOVSS X12, (OPTR); \
	ADDQ LDO, OPTR; HS(Y13, X13); VMOVSS X13, (OPTR)

// func matBF16M1DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M1DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 64, LW2_BF16, LW2B_BF16, CP_U16, Z2x1, Z2x1B, F2x1, F2x1B, S2x1, S2x1B)

// func matF16M1DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M1DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 64, LW2_F16, LW2B_F16, CP_U16, Z2x1, Z2x1B, F2x1, F2x1B, S2x1, S2x1B)

// func matF32M1DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M1DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(2, 64, LW2_F32, LW2B_F32, CP_F32, Z2x1, Z2x1B, F2x1, F2x1B, S2x1, S2x1B)

// func matBF16M2DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M2DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 128, LW2_BF16, LW2B_BF16, CP_U16, Z2x2, Z2x2B, F2x2, F2x2B, S2x2, S2x2B)

// func matBF16M4DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M4DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 256, LW2_BF16, LW2B_BF16, CP_U16, Z2x4, Z2x4B, F2x4, F2x4B, S2x4, S2x4B)

// func matF16M2DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M2DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 128, LW2_F16, LW2B_F16, CP_U16, Z2x2, Z2x2B, F2x2, F2x2B, S2x2, S2x2B)

// func matF16M4DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M4DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 256, LW2_F16, LW2B_F16, CP_U16, Z2x4, Z2x4B, F2x4, F2x4B, S2x4, S2x4B)

// func matF32M2DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M2DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(2, 128, LW2_F32, LW2B_F32, CP_F32, Z2x2, Z2x2B, F2x2, F2x2B, S2x2, S2x2B)

// func matF32M4DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M4DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(2, 256, LW2_F32, LW2B_F32, CP_F32, Z2x4, Z2x4B, F2x4, F2x4B, S2x4, S2x4B)

// func matBF16M3DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M3DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 192, LW2_BF16, LW2B_BF16, CP_U16, Z2x3, Z2x3B, F2x3, F2x3B, S2x3, S2x3B)

// func matBF16M5DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M5DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 320, LW2_BF16, LW2B_BF16, CP_U16, Z2x5, Z2x5B, F2x5, F2x5B, S2x5, S2x5B)

// func matF16M3DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M3DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 192, LW2_F16, LW2B_F16, CP_U16, Z2x3, Z2x3B, F2x3, F2x3B, S2x3, S2x3B)

// func matF16M5DualAVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M5DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(1, 320, LW2_F16, LW2B_F16, CP_U16, Z2x5, Z2x5B, F2x5, F2x5B, S2x5, S2x5B)

// func matF32M3DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M3DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(2, 192, LW2_F32, LW2B_F32, CP_F32, Z2x3, Z2x3B, F2x3, F2x3B, S2x3, S2x3B)

// func matF32M5DualAVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M5DualAVX2(SB), NOSPLIT, $64-96
	MAT2DUALX(2, 320, LW2_F32, LW2B_F32, CP_F32, Z2x5, Z2x5B, F2x5, F2x5B, S2x5, S2x5B)
