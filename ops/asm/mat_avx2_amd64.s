//go:build amd64 && !noasm

#include "textflag.h"

// AVX2/FMA Mat kernels for CPUs without AVX-512: the Mat semantics (see
// mat_amd64.s) in 8-lane ymm registers, one weight row at a time (16 ymm
// registers leave no room for four-row tiles). A 16-element block is two
// halves of 8, both multiplied into the same accumulator. AVX2 has no
// masked 16-bit load, so the k%16 tail of a weight row is copied into a
// zeroed 64-byte buffer on the stack and multiplied from there like a
// full block (the packed activations are zero-padded already).

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

// ACC_m += W_lo · X_m,lo + W_hi · X_m,hi
#define F2x1 VFMADD231PS 0(XPTR), Y8, Y0; VFMADD231PS 32(XPTR), Y9, Y0
#define F2x2 F2x1; VFMADD231PS 64(XPTR), Y8, Y1; VFMADD231PS 96(XPTR), Y9, Y1
#define F2x4 F2x2; VFMADD231PS 128(XPTR), Y8, Y2; VFMADD231PS 160(XPTR), Y9, Y2; VFMADD231PS 192(XPTR), Y8, Y3; VFMADD231PS 224(XPTR), Y9, Y3

// HS leaves the sum of the 8 lanes of Y in the low lane of X.
#define HS(Y, X) \
	VEXTRACTF128 $1, Y, X10; \
	VADDPS       X10, X, X; \
	VPERMILPS    $0x4e, X, X10; \
	VADDPS       X10, X, X; \
	VPERMILPS    $0xb1, X, X10; \
	VADDSS       X10, X, X
#define S2x1 MOVQ OUT, OPTR; HS(Y0, X0); VMOVSS X0, (OPTR)
#define S2x2 S2x1; ADDQ LDO, OPTR; HS(Y1, X1); VMOVSS X1, (OPTR)
#define S2x4 S2x2; ADDQ LDO, OPTR; HS(Y2, X2); VMOVSS X2, (OPTR); ADDQ LDO, OPTR; HS(Y3, X3); VMOVSS X3, (OPTR)

#define MAT2(WSHIFT, XSTEP, LW2, CP, ZERO, FMA, STORE) \
	MOVQ    out_base+0(FP), OUT; \
	MOVQ    ldo+24(FP), LDO; \
	SHLQ    $2, LDO; \
	MOVQ    xp_base+32(FP), XP; \
	MOVQ    w_base+56(FP), W; \
	MOVQ    k+88(FP), KBLK; \
	MOVQ    KBLK, TAILN; \
	SHRQ    $4, KBLK; \
	ANDQ    $15, TAILN; \
	MOVQ    n+80(FP), N; \
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

// func matBF16M1AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M1AVX2(SB), NOSPLIT, $64-96
	MAT2(1, 64, LW2_BF16, CP_U16, Z2x1, F2x1, S2x1)

// func matBF16M2AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M2AVX2(SB), NOSPLIT, $64-96
	MAT2(1, 128, LW2_BF16, CP_U16, Z2x2, F2x2, S2x2)

// func matBF16M4AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M4AVX2(SB), NOSPLIT, $64-96
	MAT2(1, 256, LW2_BF16, CP_U16, Z2x4, F2x4, S2x4)

// func matF16M1AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M1AVX2(SB), NOSPLIT, $64-96
	MAT2(1, 64, LW2_F16, CP_U16, Z2x1, F2x1, S2x1)

// func matF16M2AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M2AVX2(SB), NOSPLIT, $64-96
	MAT2(1, 128, LW2_F16, CP_U16, Z2x2, F2x2, S2x2)

// func matF16M4AVX2(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M4AVX2(SB), NOSPLIT, $64-96
	MAT2(1, 256, LW2_F16, CP_U16, Z2x4, F2x4, S2x4)

// func matF32M1AVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M1AVX2(SB), NOSPLIT, $64-96
	MAT2(2, 64, LW2_F32, CP_F32, Z2x1, F2x1, S2x1)

// func matF32M2AVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M2AVX2(SB), NOSPLIT, $64-96
	MAT2(2, 128, LW2_F32, CP_F32, Z2x2, F2x2, S2x2)

// func matF32M4AVX2(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M4AVX2(SB), NOSPLIT, $64-96
	MAT2(2, 256, LW2_F32, CP_F32, Z2x4, F2x4, S2x4)
