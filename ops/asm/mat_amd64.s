//go:build amd64 && !noasm

#include "textflag.h"

// The Mat kernels compute, for n consecutive weight rows and a tile of mt
// packed activation rows (see Pack), out[m*ldo+i] = Σ_j x[m][j]·w[i*k+j].
// Four weight rows at a time are loaded (and widened to float32) 16
// elements at a time into Z16-Z19; each 16-element block of an activation
// row is loaded once into Z20 and multiplied with the four, into 4·mt
// accumulators (row r, activation m in Z(r·mt+m)). So a weight element is
// read from memory once for the whole tile, and for mt = 4 every two FMAs
// need one load, which keeps the FMA units busy. The last n%4 rows go one
// at a time. The packed activations are padded with zeros to a multiple of
// 16, and the weight tail is loaded under the mask K1, so no load runs past
// the end of either slice.

#define OUT DI // output column pointer: out[0*ldo + i]
#define LDO R8 // output row stride in bytes
#define XP SI // packed activations
#define W DX // current weight element
#define N CX // weight rows left
#define KBLK BX // full 16-element blocks per row
#define KC R9 // blocks left in this row
#define XPTR R10 // packed activations of the current block
#define TAILB R11 // bytes of the weight tail (k%16 elements)
#define OPTR R12 // store pointer: out[m*ldo + i]
#define RS R13 // weight row stride in bytes
#define W2 AX // weight row i+2 (rows i+1 and i+3 are W, W2 + RS)

// Loads of 16 weights as float32: one row into Z16, or four rows into
// Z16-Z19; a full block, or (T) the tail under K1.
#define LOADW_BF16 VPMOVZXWD (W), Z16; VPSLLD $16, Z16, Z16
#define LOADT_BF16 VPMOVZXWD.Z (W), K1, Z16; VPSLLD $16, Z16, Z16
#define LOADW_F16 VCVTPH2PS (W), Z16
#define LOADT_F16 VCVTPH2PS.Z (W), K1, Z16
#define LOADW_F32 VMOVUPS (W), Z16
#define LOADT_F32 VMOVUPS.Z (W), K1, Z16

#define LOAD4_BF16 \
	VPMOVZXWD (W), Z16; VPMOVZXWD (W)(RS*1), Z17; VPMOVZXWD (W2), Z18; VPMOVZXWD (W2)(RS*1), Z19; \
	VPSLLD $16, Z16, Z16; VPSLLD $16, Z17, Z17; VPSLLD $16, Z18, Z18; VPSLLD $16, Z19, Z19
#define LOAD4T_BF16 \
	VPMOVZXWD.Z (W), K1, Z16; VPMOVZXWD.Z (W)(RS*1), K1, Z17; VPMOVZXWD.Z (W2), K1, Z18; VPMOVZXWD.Z (W2)(RS*1), K1, Z19; \
	VPSLLD $16, Z16, Z16; VPSLLD $16, Z17, Z17; VPSLLD $16, Z18, Z18; VPSLLD $16, Z19, Z19
#define LOAD4_F16 VCVTPH2PS (W), Z16; VCVTPH2PS (W)(RS*1), Z17; VCVTPH2PS (W2), Z18; VCVTPH2PS (W2)(RS*1), Z19
#define LOAD4T_F16 VCVTPH2PS.Z (W), K1, Z16; VCVTPH2PS.Z (W)(RS*1), K1, Z17; VCVTPH2PS.Z (W2), K1, Z18; VCVTPH2PS.Z (W2)(RS*1), K1, Z19
#define LOAD4_F32 VMOVUPS (W), Z16; VMOVUPS (W)(RS*1), Z17; VMOVUPS (W2), Z18; VMOVUPS (W2)(RS*1), Z19
#define LOAD4T_F32 VMOVUPS.Z (W), K1, Z16; VMOVUPS.Z (W)(RS*1), K1, Z17; VMOVUPS.Z (W2), K1, Z18; VMOVUPS.Z (W2)(RS*1), K1, Z19

#define ZERO1 VXORPS Z0, Z0, Z0
#define ZERO2 ZERO1; VXORPS Z1, Z1, Z1
#define ZERO3 ZERO2; VXORPS Z2, Z2, Z2
#define ZERO4 ZERO3; VXORPS Z3, Z3, Z3
#define ZERO8 ZERO4; VXORPS Z4, Z4, Z4; VXORPS Z5, Z5, Z5; VXORPS Z6, Z6, Z6; VXORPS Z7, Z7, Z7
#define ZERO16 ZERO8; VXORPS Z8, Z8, Z8; VXORPS Z9, Z9, Z9; VXORPS Z10, Z10, Z10; VXORPS Z11, Z11, Z11; VXORPS Z12, Z12, Z12; VXORPS Z13, Z13, Z13; VXORPS Z14, Z14, Z14; VXORPS Z15, Z15, Z15

// One row: ACC_m += W · X_m for the mt activation rows of the block at XPTR.
#define FMA1 VFMADD231PS (XPTR), Z16, Z0
#define FMA2 FMA1; VFMADD231PS 64(XPTR), Z16, Z1
#define FMA3 FMA2; VFMADD231PS 128(XPTR), Z16, Z2
#define FMA4 FMA3; VFMADD231PS 192(XPTR), Z16, Z3

// Four rows: X_m is loaded once into Z20; ACC(r, m) += W_r · X_m.
#define XFMA(OFF, A0, A1, A2, A3) \
	VMOVUPS OFF(XPTR), Z20; VFMADD231PS Z20, Z16, A0; VFMADD231PS Z20, Z17, A1; VFMADD231PS Z20, Z18, A2; VFMADD231PS Z20, Z19, A3
#define FMA4x1 XFMA(0, Z0, Z1, Z2, Z3)
#define FMA4x2 XFMA(0, Z0, Z2, Z4, Z6); XFMA(64, Z1, Z3, Z5, Z7)
#define FMA4x3 XFMA(0, Z0, Z4, Z8, Z12); XFMA(64, Z1, Z5, Z9, Z13); XFMA(128, Z2, Z6, Z10, Z14)
#define FMA4x4 FMA4x3; XFMA(192, Z3, Z7, Z11, Z15)

// Five activation rows (the tile that makes 9 = 5+4 and 13 = 5+4+4 rows
// two and three passes over the weights): ACC(r, 4) of four weight rows in
// Z25-Z28 (Z16-Z20 hold the weights and X_m, Z21 is HSUM's scratch), or
// ACC_4 of one row in Z4.
#define ZERO5 ZERO4; VXORPS Z4, Z4, Z4
#define ZERO20 ZERO16; VXORPS Z25, Z25, Z25; VXORPS Z26, Z26, Z26; VXORPS Z27, Z27, Z27; VXORPS Z28, Z28, Z28
#define FMA5 FMA4; VFMADD231PS 256(XPTR), Z16, Z4
#define FMA4x5 FMA4x4; XFMA(256, Z25, Z26, Z27, Z28)

// HSUM leaves the sum of the 16 lanes of Z in the low lane of X.
#define HSUM(Z, Y, X) \
	VEXTRACTF64X4 $1, Z, Y21; \
	VADDPS        Y21, Y, Y; \
	VEXTRACTF32X4 $1, Y, X21; \
	VADDPS        X21, X, X; \
	VPERMILPS     $0x4e, X, X21; \
	VADDPS        X21, X, X; \
	VPERMILPS     $0xb1, X, X21; \
	VADDSS        X21, X, X
#define ST(Z, Y, X, OFF) HSUM(Z, Y, X); VMOVSS X, OFF(OPTR)

// One row: out[m*ldo + i] = Σ lanes of ACC_m.
#define STORE1 MOVQ OUT, OPTR; ST(Z0, Y0, X0, 0)
#define STORE2 STORE1; ADDQ LDO, OPTR; ST(Z1, Y1, X1, 0)
#define STORE3 STORE2; ADDQ LDO, OPTR; ST(Z2, Y2, X2, 0)
#define STORE4 STORE3; ADDQ LDO, OPTR; ST(Z3, Y3, X3, 0)

// Four rows: out[m*ldo + i + r] = Σ lanes of ACC(r, m).
#define STORE4x1 MOVQ OUT, OPTR; ST(Z0, Y0, X0, 0); ST(Z1, Y1, X1, 4); ST(Z2, Y2, X2, 8); ST(Z3, Y3, X3, 12)
#define STORE4x2 \
	MOVQ OUT, OPTR; ST(Z0, Y0, X0, 0); ST(Z2, Y2, X2, 4); ST(Z4, Y4, X4, 8); ST(Z6, Y6, X6, 12); \
	ADDQ LDO, OPTR; ST(Z1, Y1, X1, 0); ST(Z3, Y3, X3, 4); ST(Z5, Y5, X5, 8); ST(Z7, Y7, X7, 12)
// STORE4x4 reduces the sixteen accumulators four at a time and stores
// each activation row's four outputs with one 16-byte move: REDUCE4S
// folds four accumulators down to their 128-bit quarters (quarter j from
// the j-th), TRANS4 finishes each within its quarter, so that quarter m
// holds, in element r, the sum of ACC(r, m). These are HSUM's additions in
// HSUM's order (the tiles that still use HSUM give the same bits: go test
// -run Bitwise ./ops/asm); the weights' registers Z16-Z19 are the scratch.
#define STORE4x4 STORE4x3; VEXTRACTF32X4 $3, Z19, X16; ADDQ LDO, OPTR; VMOVUPS X16, (OPTR)
// STORE4x3 is STORE4x4 for three activation rows (FMA4x3 leaves the
// fourth's accumulators Z3, Z7, Z11, Z15 at zero, ZERO16): quarter 3 is
// not stored.
#define STORE4x3 \
	REDUCE4S(Z0, Z1, Z2, Z3, Z0, Z16, Z17, Z18); REDUCE4S(Z4, Z5, Z6, Z7, Z4, Z16, Z17, Z18); \
	REDUCE4S(Z8, Z9, Z10, Z11, Z8, Z16, Z17, Z18); REDUCE4S(Z12, Z13, Z14, Z15, Z12, Z16, Z17, Z18); \
	TRANS4(Z0, Z4, Z8, Z12, Z19, Z16, Z17, Z18); \
	MOVQ OUT, OPTR; VMOVUPS X19, (OPTR); \
	VEXTRACTF32X4 $1, Z19, X16; ADDQ LDO, OPTR; VMOVUPS X16, (OPTR); \
	VEXTRACTF32X4 $2, Z19, X16; ADDQ LDO, OPTR; VMOVUPS X16, (OPTR)

// REDUCE4S(A0, A1, A2, A3, S, T0, T1, T2) leaves in S's 128-bit quarter j
// the four partial sums of Aj, HSUM's first two steps (the 256-bit halves,
// then the 128-bit quarters); S may be A0.
#define REDUCE4S(A0, A1, A2, A3, S, T0, T1, T2) \
	VSHUFF64X2 $0x44, A1, A0, T0; VSHUFF64X2 $0xEE, A1, A0, T1; VADDPS T1, T0, T0; \
	VSHUFF64X2 $0x44, A3, A2, T1; VSHUFF64X2 $0xEE, A3, A2, T2; VADDPS T2, T1, T1; \
	VSHUFF64X2 $0x88, T1, T0, T2; VSHUFF64X2 $0xDD, T1, T0, S; VADDPS S, T2, S

// TRANS4(S0, S1, S2, S3, D, T0, T1, T2) leaves in element u of D's quarter
// c the sum (x0+x2) + (x1+x3) of quarter c of Su: HSUM's last two steps.
#define TRANS4(S0, S1, S2, S3, D, T0, T1, T2) \
	VSHUFPS $0x44, S1, S0, T0; VSHUFPS $0xEE, S1, S0, T1; VADDPS T1, T0, T0; \
	VSHUFPS $0x44, S3, S2, T1; VSHUFPS $0xEE, S3, S2, T2; VADDPS T2, T1, T1; \
	VSHUFPS $0x88, T1, T0, D; VSHUFPS $0xDD, T1, T0, T2; VADDPS T2, D, D

#define STORE5 STORE4; ADDQ LDO, OPTR; ST(Z4, Y4, X4, 0)
#define STORE4x5 STORE4x4; ADDQ LDO, OPTR; ST(Z25, Y25, X25, 0); ST(Z26, Y26, X26, 4); ST(Z27, Y27, X27, 8); ST(Z28, Y28, X28, 12)

// Six activation rows (a PARD draft's usual input, and 12 = 6+6 or 16 =
// 6+5+5 rows in fewer passes): ACC(r, 5) in Z22-Z24 and Z29, or ACC_5 of
// one row in Z5. 24 accumulators, four weights, X_m and HSUM's scratch
// take 30 of the 32 registers.
#define ZERO6 ZERO5; VXORPS Z5, Z5, Z5
#define ZERO24 ZERO20; VXORPS Z22, Z22, Z22; VXORPS Z23, Z23, Z23; VXORPS Z24, Z24, Z24; VXORPS Z29, Z29, Z29
#define FMA6 FMA5; VFMADD231PS 320(XPTR), Z16, Z5
#define FMA4x6 FMA4x5; XFMA(320, Z22, Z23, Z24, Z29)
#define STORE6 STORE5; ADDQ LDO, OPTR; ST(Z5, Y5, X5, 0)
#define STORE4x6 STORE4x5; ADDQ LDO, OPTR; ST(Z22, Y22, X22, 0); ST(Z23, Y23, X23, 4); ST(Z24, Y24, X24, 8); ST(Z29, Y29, X29, 12)

// KSPLIT16(WSHIFT) splits k (in CX) for the Mat kernels' 16-element
// blocks: KBLK whole blocks, TAILB the bytes of the k%16 left (elements of
// 1 << WSHIFT bytes), K1 the mask of their lanes. KSPLIT32 is the same for
// MatDot's 32-element blocks of bf16 (K1 a mask of 32 words).
#define KSPLIT16(WSHIFT) \
	MOVQ  CX, KBLK; \
	SHRQ  $4, KBLK; \
	ANDQ  $15, CX; \
	MOVQ  CX, TAILB; \
	SHLQ  $WSHIFT, TAILB; \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX; \
	KMOVW AX, K1
#define KSPLIT32 \
	MOVQ  CX, KBLK; \
	SHRQ  $5, KBLK; \
	ANDQ  $31, CX; \
	MOVQ  CX, TAILB; \
	SHLQ  $1, TAILB; \
	MOVQ  $1, AX; \
	SHLQ  CX, AX; \
	DECQ  AX; \
	KMOVD AX, K1

// HALVES splits the n weight rows (in N) of a dual kernel in two: N pairs
// of rows, W2 at the second half's first row (RS bytes a row), R14 the
// byte offset of its outputs.
#define HALVES \
	SHRQ  $1, N; \
	MOVQ  N, W2; \
	IMULQ RS, W2; \
	ADDQ  W, W2; \
	MOVQ  N, R14; \
	SHLQ  $2, R14

// MATDUAL is the kernel of tile heights 1 and 2 that reads the weights in
// address order (decode, bound by memory). One accumulator chain per
// output, as in MAT, caps a single row's pace (on Zen 5, 44 GB/s per core
// from L2, and less where the memory's latency varies), and four rows at
// once are four short streams that the hardware prefetchers follow poorly
// (17 GB/s per core from memory). So the n rows are split in two halves,
// each one long stream in address order, and a row of each half is
// multiplied at a time: two chains, two streams (Zen 5: 31 GB/s per core
// from memory, as fast as a plain sum of the same bytes, against 27 for
// one row at a time). With n odd, the last row goes alone. The arithmetic
// of each row is the same as in MAT, so a row's result never depends on
// the kernel that computed it.
//
// The second half's weights are at W2, its outputs R14 bytes after the
// first half's.
#define MATDUAL(WSHIFT, XSTEP, LOAD2, LOAD2T, ZERO2R, FMA2R, STORE2R, LOADW, LOADT, ZERO, FMA, STORE) \
	MOVQ  out_base+0(FP), OUT; \
	MOVQ  ldo+24(FP), LDO; \
	SHLQ  $2, LDO; \
	MOVQ  xp_base+32(FP), XP; \
	MOVQ  w_base+56(FP), W; \
	MOVQ  k+88(FP), CX; \
	MOVQ  CX, RS; \
	SHLQ  $WSHIFT, RS; \
	KSPLIT16(WSHIFT); \
	MOVQ  n+80(FP), N; \
	HALVES; \
	TESTQ N, N; \
	JZ    rest; \
pair: \
	ZERO2R; \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    tail2; \
block2: \
	LOAD2; \
	FMA2R; \
	ADDQ  $(16<<WSHIFT), W; \
	ADDQ  $(16<<WSHIFT), W2; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   block2; \
tail2: \
	TESTQ TAILB, TAILB; \
	JZ    store2; \
	LOAD2T; \
	FMA2R; \
	ADDQ  TAILB, W; \
	ADDQ  TAILB, W2; \
store2: \
	STORE2R; \
	ADDQ  $4, OUT; \
	DECQ  N; \
	JNZ   pair; \
rest: \
	MOVQ  n+80(FP), N; \
	ANDQ  $1, N; \
	JZ    done; \
	MOVQ  W2, W; \
	ADDQ  R14, OUT; \
	ZERO; \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    tail; \
block: \
	LOADW; \
	FMA; \
	ADDQ  $(16<<WSHIFT), W; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   block; \
tail: \
	TESTQ TAILB, TAILB; \
	JZ    store; \
	LOADT; \
	FMA; \
store: \
	STORE; \
done: \
	VZEROUPPER; \
	RET

// Two rows, one of each half: weights into Z16 (first half) and Z17.
#define LOAD2_BF16 VPMOVZXWD (W), Z16; VPMOVZXWD (W2), Z17; VPSLLD $16, Z16, Z16; VPSLLD $16, Z17, Z17
#define LOAD2T_BF16 VPMOVZXWD.Z (W), K1, Z16; VPMOVZXWD.Z (W2), K1, Z17; VPSLLD $16, Z16, Z16; VPSLLD $16, Z17, Z17
#define LOAD2_F16 VCVTPH2PS (W), Z16; VCVTPH2PS (W2), Z17
#define LOAD2T_F16 VCVTPH2PS.Z (W), K1, Z16; VCVTPH2PS.Z (W2), K1, Z17
#define LOAD2_F32 VMOVUPS (W), Z16; VMOVUPS (W2), Z17
#define LOAD2T_F32 VMOVUPS.Z (W), K1, Z16; VMOVUPS.Z (W2), K1, Z17

// ACC(half, m) += W_half · X_m: the first half's in Z0 (m = 0) and Z1, the
// second's in Z1 (one activation row) or Z2 and Z3 (two).
#define FMA2x1 VMOVUPS (XPTR), Z20; VFMADD231PS Z20, Z16, Z0; VFMADD231PS Z20, Z17, Z1
#define FMA2x2 \
	VMOVUPS (XPTR), Z20; VFMADD231PS Z20, Z16, Z0; VFMADD231PS Z20, Z17, Z2; \
	VMOVUPS 64(XPTR), Z20; VFMADD231PS Z20, Z16, Z1; VFMADD231PS Z20, Z17, Z3
#define STORE2x1 MOVQ OUT, OPTR; ST(Z0, Y0, X0, 0); ADDQ R14, OPTR; ST(Z1, Y1, X1, 0)
#define STORE2x2 \
	MOVQ OUT, OPTR; ST(Z0, Y0, X0, 0); ADDQ LDO, OPTR; ST(Z1, Y1, X1, 0); \
	MOVQ OUT, OPTR; ADDQ R14, OPTR; ST(Z2, Y2, X2, 0); ADDQ LDO, OPTR; ST(Z3, Y3, X3, 0)

// Prefetching the next block while computing this one (MatBF16Next): the
// pointer in R15 walks the memory from pf by pfstep bytes (64 or 128) per
// step of four rows (4 × 32 bytes of bf16), so that the memory streams
// while the FMA units work. A prefetch never faults, so the walk needs no
// bound. (R14 is free in ABI0 assembly: the wrappers restore g.)
#define NOPF
#define PFINIT_ARG MOVQ pf+96(FP), R15; MOVQ pfstep+104(FP), R14
#define PFBLOCK_BF16 PREFETCHT1 (R15); PREFETCHT1 64(R15); ADDQ R14, R15

// MAT is the body shared by every dtype and tile height: WSHIFT is log2 of
// the weight element size, XSTEP the bytes of one packed block (mt·64);
// the *4 macros handle four weight rows, the others one.
#define MAT(WSHIFT, XSTEP, LOAD4, LOAD4T, ZERO4R, FMA4R, STORE4R, LOADW, LOADT, ZERO, FMA, STORE, PFINIT, PFBLOCK) \
	MOVQ  out_base+0(FP), OUT; \
	MOVQ  ldo+24(FP), LDO; \
	SHLQ  $2, LDO; \
	MOVQ  xp_base+32(FP), XP; \
	MOVQ  w_base+56(FP), W; \
	MOVQ  k+88(FP), CX; \
	MOVQ  CX, RS; \
	SHLQ  $WSHIFT, RS; \
	KSPLIT16(WSHIFT); \
	PFINIT; \
	MOVQ  n+80(FP), N; \
	SHRQ  $2, N; \
	JZ    rows1; \
rows4: \
	ZERO4R; \
	LEAQ  (W)(RS*2), W2; \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    tail4; \
block4: \
	LOAD4; \
	FMA4R; \
	PFBLOCK; \
	ADDQ  $(16<<WSHIFT), W; \
	ADDQ  $(16<<WSHIFT), W2; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   block4; \
tail4: \
	TESTQ TAILB, TAILB; \
	JZ    store4; \
	LOAD4T; \
	FMA4R; \
	ADDQ  TAILB, W; \
store4: \
	STORE4R; \
	ADDQ  $16, OUT; \
	LEAQ  (W)(RS*2), W; \
	ADDQ  RS, W; \
	DECQ  N; \
	JNZ   rows4; \
rows1: \
	MOVQ  n+80(FP), N; \
	ANDQ  $3, N; \
	JZ    done; \
row: \
	ZERO; \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    tail; \
block: \
	LOADW; \
	FMA; \
	ADDQ  $(16<<WSHIFT), W; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   block; \
tail: \
	TESTQ TAILB, TAILB; \
	JZ    store; \
	LOADT; \
	FMA; \
	ADDQ  TAILB, W; \
store: \
	STORE; \
	ADDQ  $4, OUT; \
	DECQ  N; \
	JNZ   row; \
done: \
	VZEROUPPER; \
	RET

// func matBF16M1AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M1AVX512(SB), NOSPLIT, $0-96
	MATDUAL(1, 64, LOAD2_BF16, LOAD2T_BF16, ZERO2, FMA2x1, STORE2x1, LOADW_BF16, LOADT_BF16, ZERO1, FMA1, STORE1)

// func matBF16M2AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M2AVX512(SB), NOSPLIT, $0-96
	MATDUAL(1, 128, LOAD2_BF16, LOAD2T_BF16, ZERO4, FMA2x2, STORE2x2, LOADW_BF16, LOADT_BF16, ZERO2, FMA2, STORE2)

// func matBF16M4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M4AVX512(SB), NOSPLIT, $0-96
	MAT(1, 256, LOAD4_BF16, LOAD4T_BF16, ZERO16, FMA4x4, STORE4x4, LOADW_BF16, LOADT_BF16, ZERO4, FMA4, STORE4, NOPF, NOPF)

// func matBF16M4NextAVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int, pf unsafe.Pointer, pfstep int)
TEXT ·matBF16M4NextAVX512(SB), NOSPLIT, $0-112
	MAT(1, 256, LOAD4_BF16, LOAD4T_BF16, ZERO16, FMA4x4, STORE4x4, LOADW_BF16, LOADT_BF16, ZERO4, FMA4, STORE4, PFINIT_ARG, PFBLOCK_BF16)

// The three-row tile (a PARD K = 2 verify): four weight rows by three
// activation rows, a fourth of STORE4x4's accumulators left at zero.

// func matBF16M3AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M3AVX512(SB), NOSPLIT, $0-96
	MAT(1, 192, LOAD4_BF16, LOAD4T_BF16, ZERO16, FMA4x3, STORE4x3, LOADW_BF16, LOADT_BF16, ZERO3, FMA3, STORE3, NOPF, NOPF)

// func matBF16M3NextAVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int, pf unsafe.Pointer, pfstep int)
TEXT ·matBF16M3NextAVX512(SB), NOSPLIT, $0-112
	MAT(1, 192, LOAD4_BF16, LOAD4T_BF16, ZERO16, FMA4x3, STORE4x3, LOADW_BF16, LOADT_BF16, ZERO3, FMA3, STORE3, PFINIT_ARG, PFBLOCK_BF16)

// func matF16M3AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M3AVX512(SB), NOSPLIT, $0-96
	MAT(1, 192, LOAD4_F16, LOAD4T_F16, ZERO16, FMA4x3, STORE4x3, LOADW_F16, LOADT_F16, ZERO3, FMA3, STORE3, NOPF, NOPF)

// func matF32M3AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M3AVX512(SB), NOSPLIT, $0-96
	MAT(2, 192, LOAD4_F32, LOAD4T_F32, ZERO16, FMA4x3, STORE4x3, LOADW_F32, LOADT_F32, ZERO3, FMA3, STORE3, NOPF, NOPF)

// func matBF16M5AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M5AVX512(SB), NOSPLIT, $0-96
	MAT(1, 320, LOAD4_BF16, LOAD4T_BF16, ZERO20, FMA4x5, STORE4x5, LOADW_BF16, LOADT_BF16, ZERO5, FMA5, STORE5, NOPF, NOPF)

// func matBF16M5NextAVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int, pf unsafe.Pointer, pfstep int)
TEXT ·matBF16M5NextAVX512(SB), NOSPLIT, $0-112
	MAT(1, 320, LOAD4_BF16, LOAD4T_BF16, ZERO20, FMA4x5, STORE4x5, LOADW_BF16, LOADT_BF16, ZERO5, FMA5, STORE5, PFINIT_ARG, PFBLOCK_BF16)

// func matBF16M6AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M6AVX512(SB), NOSPLIT, $0-96
	MAT(1, 384, LOAD4_BF16, LOAD4T_BF16, ZERO24, FMA4x6, STORE4x6, LOADW_BF16, LOADT_BF16, ZERO6, FMA6, STORE6, NOPF, NOPF)

// func matBF16M6NextAVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int, pf unsafe.Pointer, pfstep int)
TEXT ·matBF16M6NextAVX512(SB), NOSPLIT, $0-112
	MAT(1, 384, LOAD4_BF16, LOAD4T_BF16, ZERO24, FMA4x6, STORE4x6, LOADW_BF16, LOADT_BF16, ZERO6, FMA6, STORE6, PFINIT_ARG, PFBLOCK_BF16)

// func matF16M6AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M6AVX512(SB), NOSPLIT, $0-96
	MAT(1, 384, LOAD4_F16, LOAD4T_F16, ZERO24, FMA4x6, STORE4x6, LOADW_F16, LOADT_F16, ZERO6, FMA6, STORE6, NOPF, NOPF)

// func matF32M6AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M6AVX512(SB), NOSPLIT, $0-96
	MAT(2, 384, LOAD4_F32, LOAD4T_F32, ZERO24, FMA4x6, STORE4x6, LOADW_F32, LOADT_F32, ZERO6, FMA6, STORE6, NOPF, NOPF)

// func matF16M5AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M5AVX512(SB), NOSPLIT, $0-96
	MAT(1, 320, LOAD4_F16, LOAD4T_F16, ZERO20, FMA4x5, STORE4x5, LOADW_F16, LOADT_F16, ZERO5, FMA5, STORE5, NOPF, NOPF)

// func matF32M5AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M5AVX512(SB), NOSPLIT, $0-96
	MAT(2, 320, LOAD4_F32, LOAD4T_F32, ZERO20, FMA4x5, STORE4x5, LOADW_F32, LOADT_F32, ZERO5, FMA5, STORE5, NOPF, NOPF)

// func matF16M1AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M1AVX512(SB), NOSPLIT, $0-96
	MATDUAL(1, 64, LOAD2_F16, LOAD2T_F16, ZERO2, FMA2x1, STORE2x1, LOADW_F16, LOADT_F16, ZERO1, FMA1, STORE1)

// func matF16M2AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M2AVX512(SB), NOSPLIT, $0-96
	MATDUAL(1, 128, LOAD2_F16, LOAD2T_F16, ZERO4, FMA2x2, STORE2x2, LOADW_F16, LOADT_F16, ZERO2, FMA2, STORE2)

// func matF16M4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M4AVX512(SB), NOSPLIT, $0-96
	MAT(1, 256, LOAD4_F16, LOAD4T_F16, ZERO16, FMA4x4, STORE4x4, LOADW_F16, LOADT_F16, ZERO4, FMA4, STORE4, NOPF, NOPF)

// func matF32M1AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M1AVX512(SB), NOSPLIT, $0-96
	MATDUAL(2, 64, LOAD2_F32, LOAD2T_F32, ZERO2, FMA2x1, STORE2x1, LOADW_F32, LOADT_F32, ZERO1, FMA1, STORE1)

// func matF32M2AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M2AVX512(SB), NOSPLIT, $0-96
	MATDUAL(2, 128, LOAD2_F32, LOAD2T_F32, ZERO4, FMA2x2, STORE2x2, LOADW_F32, LOADT_F32, ZERO2, FMA2, STORE2)

// func matF32M4AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M4AVX512(SB), NOSPLIT, $0-96
	MAT(2, 256, LOAD4_F32, LOAD4T_F32, ZERO16, FMA4x4, STORE4x4, LOADW_F32, LOADT_F32, ZERO4, FMA4, STORE4, NOPF, NOPF)

// The four-row kernels of tile heights 1 and 2, for weight blocks that are
// already in cache (MATDUAL's two accumulator chains are then the limit).

// func matBF16M1x4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M1x4AVX512(SB), NOSPLIT, $0-96
	MAT(1, 64, LOAD4_BF16, LOAD4T_BF16, ZERO4, FMA4x1, STORE4x1, LOADW_BF16, LOADT_BF16, ZERO1, FMA1, STORE1, NOPF, NOPF)

// func matBF16M2x4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matBF16M2x4AVX512(SB), NOSPLIT, $0-96
	MAT(1, 128, LOAD4_BF16, LOAD4T_BF16, ZERO8, FMA4x2, STORE4x2, LOADW_BF16, LOADT_BF16, ZERO2, FMA2, STORE2, NOPF, NOPF)

// func matF16M1x4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M1x4AVX512(SB), NOSPLIT, $0-96
	MAT(1, 64, LOAD4_F16, LOAD4T_F16, ZERO4, FMA4x1, STORE4x1, LOADW_F16, LOADT_F16, ZERO1, FMA1, STORE1, NOPF, NOPF)

// func matF16M2x4AVX512(out []float32, ldo int, xp []float32, w []uint16, n int, k int)
TEXT ·matF16M2x4AVX512(SB), NOSPLIT, $0-96
	MAT(1, 128, LOAD4_F16, LOAD4T_F16, ZERO8, FMA4x2, STORE4x2, LOADW_F16, LOADT_F16, ZERO2, FMA2, STORE2, NOPF, NOPF)

// func matF32M1x4AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M1x4AVX512(SB), NOSPLIT, $0-96
	MAT(2, 64, LOAD4_F32, LOAD4T_F32, ZERO4, FMA4x1, STORE4x1, LOADW_F32, LOADT_F32, ZERO1, FMA1, STORE1, NOPF, NOPF)

// func matF32M2x4AVX512(out []float32, ldo int, xp []float32, w []float32, n int, k int)
TEXT ·matF32M2x4AVX512(SB), NOSPLIT, $0-96
	MAT(2, 128, LOAD4_F32, LOAD4T_F32, ZERO8, FMA4x2, STORE4x2, LOADW_F32, LOADT_F32, ZERO2, FMA2, STORE2, NOPF, NOPF)

// The MatDot kernels are the Mat kernels for bfloat16 weights and
// activations rounded to bfloat16 (PackBF16), on AVX512-BF16: VDPBF16PS
// multiplies 32 pairs of bfloat16 (exactly, in float32) and adds them into
// 16 float32 lanes, twice the work of an FMA per instruction. A block is
// 32 elements (64 bytes of either operand); the tail is loaded under the
// 32-bit mask K1.
//
// The Go assembler has no AVX512-BF16 mnemonics, so DPBF16 encodes the
// register form VDPBF16PS zmm(dst), zmm(src1), zmm(src2) (Intel operand
// order: dst += src1·src2 pairwise) from its EVEX fields:
// 62 | R X B R' 0 0 1 0 | W=0 vvvv 1 pp=10 (F3) | z L'L=10 b V' aaa | 52 | ModRM.
// dst, src1 and src2 are register numbers 0-31; checked by the tests and,
// once, by objdump (vdpbf16ps %zmm16,%zmm20,%zmm0 for DPBF16(0, 20, 16)).
#define DPBF16(dst, src1, src2) \
	BYTE $0x62; \
	BYTE $(((~(dst>>3)&1)<<7) | ((~(src2>>4)&1)<<6) | ((~(src2>>3)&1)<<5) | ((~(dst>>4)&1)<<4) | 2); \
	BYTE $(((~src1&15)<<3) | 6); \
	BYTE $(0x40 | ((~(src1>>4)&1)<<3)); \
	BYTE $0x52; \
	BYTE $(0xC0 | ((dst&7)<<3) | (src2&7))

// Four rows: X_m (32 bf16) is loaded once into Z20; ACC(r, m) += W_r · X_m.
#define XDP(OFF, A0, A1, A2, A3) VMOVUPS OFF(XPTR), Z20; DPBF16(A0, 20, 16); DPBF16(A1, 20, 17); DPBF16(A2, 20, 18); DPBF16(A3, 20, 19)
#define DP4x1 XDP(0, 0, 1, 2, 3)
#define DP4x2 XDP(0, 0, 2, 4, 6); XDP(64, 1, 3, 5, 7)
#define DP4x4 XDP(0, 0, 4, 8, 12); XDP(64, 1, 5, 9, 13); XDP(128, 2, 6, 10, 14); XDP(192, 3, 7, 11, 15)

// One row: ACC_m += W · X_m.
#define DP1 VMOVUPS (XPTR), Z20; DPBF16(0, 20, 16)
#define DP2 DP1; VMOVUPS 64(XPTR), Z20; DPBF16(1, 20, 16)
#define DP4 DP2; VMOVUPS 128(XPTR), Z20; DPBF16(2, 20, 16); VMOVUPS 192(XPTR), Z20; DPBF16(3, 20, 16)

// Two rows, one of each half (MATDOTDUAL): the accumulators of FMA2x1
// and FMA2x2.
#define LOAD2_DOT VMOVDQU16 (W), Z16; VMOVDQU16 (W2), Z17
#define LOAD2T_DOT VMOVDQU16.Z (W), K1, Z16; VMOVDQU16.Z (W2), K1, Z17
#define DP2x1 VMOVUPS (XPTR), Z20; DPBF16(0, 20, 16); DPBF16(1, 20, 17)
#define DP2x2 \
	VMOVUPS (XPTR), Z20; DPBF16(0, 20, 16); DPBF16(2, 20, 17); \
	VMOVUPS 64(XPTR), Z20; DPBF16(1, 20, 16); DPBF16(3, 20, 17)

#define LOAD4_DOT VMOVDQU16 (W), Z16; VMOVDQU16 (W)(RS*1), Z17; VMOVDQU16 (W2), Z18; VMOVDQU16 (W2)(RS*1), Z19
#define LOAD4T_DOT VMOVDQU16.Z (W), K1, Z16; VMOVDQU16.Z (W)(RS*1), K1, Z17; VMOVDQU16.Z (W2), K1, Z18; VMOVDQU16.Z (W2)(RS*1), K1, Z19
#define LOADW_DOT VMOVDQU16 (W), Z16
#define LOADT_DOT VMOVDQU16.Z (W), K1, Z16

// MATDOT is MAT with 32-element blocks of bfloat16 on both sides.
#define MATDOT(XSTEP, ZERO4R, DP4R, STORE4R, ZERO, DP, STORE) \
	MOVQ  out_base+0(FP), OUT; \
	MOVQ  ldo+24(FP), LDO; \
	SHLQ  $2, LDO; \
	MOVQ  xp_base+32(FP), XP; \
	MOVQ  w_base+56(FP), W; \
	MOVQ  k+88(FP), CX; \
	MOVQ  CX, RS; \
	SHLQ  $1, RS; \
	KSPLIT32; \
	MOVQ  n+80(FP), N; \
	SHRQ  $2, N; \
	JZ    rows1; \
rows4: \
	ZERO4R; \
	LEAQ  (W)(RS*2), W2; \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    tail4; \
block4: \
	LOAD4_DOT; \
	DP4R; \
	ADDQ  $64, W; \
	ADDQ  $64, W2; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   block4; \
tail4: \
	TESTQ TAILB, TAILB; \
	JZ    store4; \
	LOAD4T_DOT; \
	DP4R; \
	ADDQ  TAILB, W; \
store4: \
	STORE4R; \
	ADDQ  $16, OUT; \
	LEAQ  (W)(RS*2), W; \
	ADDQ  RS, W; \
	DECQ  N; \
	JNZ   rows4; \
rows1: \
	MOVQ  n+80(FP), N; \
	ANDQ  $3, N; \
	JZ    done; \
row: \
	ZERO; \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    tail; \
block: \
	LOADW_DOT; \
	DP; \
	ADDQ  $64, W; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   block; \
tail: \
	TESTQ TAILB, TAILB; \
	JZ    store; \
	LOADT_DOT; \
	DP; \
	ADDQ  TAILB, W; \
store: \
	STORE; \
	ADDQ  $4, OUT; \
	DECQ  N; \
	JNZ   row; \
done: \
	VZEROUPPER; \
	RET

// func matDotM1x4AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM1x4AVX512BF16(SB), NOSPLIT, $0-96
	MATDOT(64, ZERO4, DP4x1, STORE4x1, ZERO1, DP1, STORE1)

// func matDotM2x4AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM2x4AVX512BF16(SB), NOSPLIT, $0-96
	MATDOT(128, ZERO8, DP4x2, STORE4x2, ZERO2, DP2, STORE2)

// func matDotM4AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM4AVX512BF16(SB), NOSPLIT, $0-96
	MATDOT(256, ZERO16, DP4x4, STORE4x4, ZERO4, DP4, STORE4)

// MATDOTDUAL is MATDUAL with 32-element blocks of bfloat16 on both sides,
// for tiles of 1 to 13 activation rows (MatDot in order): the weights are
// read as two long streams in address order, one row of each half at a
// time, which the hardware prefetchers follow at the memory's pace (a
// 4-row forward of the Qwen2.5-0.5B shape streamed 46-49 GB/s this way,
// 30-31 with four rows at a time and software prefetching of the next
// block).
// VDPBF16PS keeps up with that up to about twelve rows. From four rows on,
// the arithmetic between two cache lines outlasts what the prefetchers run
// ahead, so PF (DUALPF) asks for the lines 2 KB ahead on both streams: a
// 9-row forward of that shape 36 → 29 ms; 512 B ahead was no faster, and
// it slowed one- and two-row tiles, which pass NOPF. The four-row tile
// went without it until a Zen 4 EPYC streamed it slower than five rows,
// which made PARD's K = 3 verify with bf16 activations slower than K =
// 4's (a 1408×512 product from memory on two threads, go test -run X
// -bench 'Linear/1408x512/threads=2/act=bf16' ./ops, seven rounds
// alternating builds: 4 rows 44.5–74.7 µs without, 22.4–37.0 with; 3 rows,
// without it, 23.6–42.5 either way, and no faster with it in a throwaway
// trial).
#define DUALPF PREFETCHT0 2048(W); PREFETCHT0 2048(W2)
// DUALPF2 asks for the lines 8 KB ahead into L2 instead (the DualL2
// kernels, chosen by installDot): on a Zen 4 EPYC the L1 prefetch left
// the memory and the arithmetic adding up, 2 or 4 KB ahead alike, where
// this let them overlap (the 9-row forward of the Qwen2.5-0.5B shape
// 46.5-50.4 -> 35.5-37.3 ms, 4 KB and 16 KB ahead the same); on a Zen 5
// the L1 prefetch 2 KB ahead streamed 15-20% faster than L2 ones 4-8 KB
// ahead (one core, 5 and 9 rows).
#define DUALPF2 PREFETCHT1 8192(W); PREFETCHT1 8192(W2)
// DUALPFN asks for the line one block ahead into L2 (R15 = n·2k bytes,
// DUALPFNINIT), for the second tile of two over a block (the DualNext
// kernels): the memory then streams the next block while that tile works
// from L2, where it would otherwise idle.
#define DUALPFNINIT \
	MOVQ  n+80(FP), R15; \
	IMULQ RS, R15
#define DUALPFN PREFETCHT1 (W)(R15*1); PREFETCHT1 (W2)(R15*1)

#define MATDOTDUAL(XSTEP, ZERO2R, DP2R, STORE2R, ZERO, DP, STORE, PF, PFINIT) \
	MOVQ  out_base+0(FP), OUT; \
	MOVQ  ldo+24(FP), LDO; \
	SHLQ  $2, LDO; \
	MOVQ  xp_base+32(FP), XP; \
	MOVQ  w_base+56(FP), W; \
	MOVQ  k+88(FP), CX; \
	MOVQ  CX, RS; \
	SHLQ  $1, RS; \
	KSPLIT32; \
	PFINIT; \
	MOVQ  n+80(FP), N; \
	HALVES; \
	TESTQ N, N; \
	JZ    rest; \
pair: \
	ZERO2R; \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    tail2; \
block2: \
	LOAD2_DOT; \
	PF; \
	DP2R; \
	ADDQ  $64, W; \
	ADDQ  $64, W2; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   block2; \
tail2: \
	TESTQ TAILB, TAILB; \
	JZ    store2; \
	LOAD2T_DOT; \
	DP2R; \
	ADDQ  TAILB, W; \
	ADDQ  TAILB, W2; \
store2: \
	STORE2R; \
	ADDQ  $4, OUT; \
	DECQ  N; \
	JNZ   pair; \
rest: \
	MOVQ  n+80(FP), N; \
	ANDQ  $1, N; \
	JZ    done; \
	MOVQ  W2, W; \
	ADDQ  R14, OUT; \
	ZERO; \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    tail; \
block: \
	LOADW_DOT; \
	DP; \
	ADDQ  $64, W; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   block; \
tail: \
	TESTQ TAILB, TAILB; \
	JZ    store; \
	LOADT_DOT; \
	DP; \
store: \
	STORE; \
done: \
	VZEROUPPER; \
	RET

// The dual tiles store two activation rows at a time: RED4 reduces four
// accumulators at once, with the very additions of HSUM in the same order
// (so every output keeps its bits, which the four-row and MATDUAL kernels
// still compute with HSUM): the 256-bit halves of each, then the 128-bit
// quarters, leaving accumulator j's four partial sums in quarter j of S,
// then within each quarter (x0+x2) + (x1+x3) into its element 0. HSUM
// one accumulator at a time cost about a fifth of a 5-row tile's time at
// k = 512 (a throwaway build without the HSUMs, wrong sums and all, ran
// 28% faster); this takes 13 instructions for four where HSUM takes 32,
// and took that tile from 276–278 to 314–326 GFLOP/s on one core from L2
// (go test -run X -bench 'MatDotTiles/size=512x512/mt=5$' -cpu 1, three
// alternating runs against the build before). T0 and T1 are scratch.
#define RED4(A, B, C, D, S, T0, T1) \
	VSHUFF64X2 $0x44, B, A, T0; VSHUFF64X2 $0xEE, B, A, T1; VADDPS T1, T0, T0; \
	VSHUFF64X2 $0x44, D, C, T1; VSHUFF64X2 $0xEE, D, C, S; VADDPS S, T1, T1; \
	VSHUFF64X2 $0x88, T1, T0, S; VSHUFF64X2 $0xDD, T1, T0, T0; VADDPS T0, S, S; \
	VPERMILPS  $0x4e, S, T0; VADDPS T0, S, S; VPERMILPS $0xb1, S, T0; VADDPS T0, S, S

// ST2ROWS stores rows m and m+1 (OPTR at row m's first-half column): F*
// are the first half's accumulators, B* the second half's (R14 bytes on).
// Z30, Z31 and Z21 are free in every dual tile.
#define ST2ROWS(F0, B0, F1, B1) \
	RED4(F0, B0, F1, B1, Z30, Z31, Z21); \
	VMOVSS X30, (OPTR); VEXTRACTF32X4 $1, Z30, X31; VMOVSS X31, (OPTR)(R14*1); ADDQ LDO, OPTR; \
	VEXTRACTF32X4 $2, Z30, X31; VMOVSS X31, (OPTR); VEXTRACTF32X4 $3, Z30, X31; VMOVSS X31, (OPTR)(R14*1); ADDQ LDO, OPTR

// ST1ROW stores the last row of an odd tile, one HSUM each.
#define ST1ROW(F, FY, FX, B, BY, BX) \
	HSUM(F, FY, FX); VMOVSS FX, (OPTR); HSUM(B, BY, BX); VMOVSS BX, (OPTR)(R14*1)

#define STOREP1 MOVQ OUT, OPTR; ST1ROW(Z0, Y0, X0, Z1, Y1, X1)
#define STOREP2 MOVQ OUT, OPTR; ST2ROWS(Z0, Z2, Z1, Z3)
#define SP2 MOVQ OUT, OPTR; ST2ROWS(Z0, Z12, Z1, Z13)
#define SP4 SP2; ST2ROWS(Z2, Z14, Z3, Z15)
#define SP6 SP4; ST2ROWS(Z4, Z22, Z5, Z23)
#define SP8 SP6; ST2ROWS(Z6, Z24, Z7, Z25)
#define SP10 SP8; ST2ROWS(Z8, Z26, Z9, Z27)
#define STOREP3 SP2; ST1ROW(Z2, Y2, X2, Z14, Y14, X14)
#define STOREP4 SP4
#define STOREP5 SP4; ST1ROW(Z4, Y4, X4, Z22, Y22, X22)
#define STOREP6 SP6
#define STOREP7 SP6; ST1ROW(Z6, Y6, X6, Z24, Y24, X24)
#define STOREP8 SP8
#define STOREP9 SP8; ST1ROW(Z8, Y8, X8, Z26, Y26, X26)
#define STOREP10 SP10
#define STOREP11 SP10; ST1ROW(Z10, Y10, X10, Z28, Y28, X28)
#define STOREP12 SP10; ST2ROWS(Z10, Z28, Z11, Z29)
#define STOREP13 STOREP12; ST1ROW(Z18, Y18, X18, Z19, Y19, X19)

// func matDotM1AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM1AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(64, ZERO2, DP2x1, STOREP1, ZERO1, DP1, STORE1, NOPF, NOPF)

// func matDotM2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(128, ZERO4, DP2x2, STOREP2, ZERO2, DP2, STORE2, NOPF, NOPF)

// ROUNDBF16 rounds the 16 float32 of Z (as bits) to bfloat16 in the low
// halves of its lanes, to nearest even, NaNs kept quiet: as roundBF16,
//
//	(b + 0x7fff + (b>>16)&1) >> 16,  or  b>>16 | 0x40  if b is a NaN,
//
// with Z26 = 0x40, Z27 = 0x7f800000, Z28 = 0x7fffffff, Z29 = 1 and
// Z30 = 0x7fff in every lane; Z2-Z5 and K3 are scratch. (VCVTNEPS2BF16
// would flush denormals to zero, which roundBF16 does not.)
#define ROUNDBF16(Z) \
	VPSRLD   $16, Z, Z2; \
	VPANDD   Z29, Z2, Z3; \
	VPADDD   Z30, Z, Z4; \
	VPADDD   Z3, Z4, Z4; \
	VPSRLD   $16, Z4, Z4; \
	VPANDD   Z28, Z, Z5; \
	VPCMPGTD Z27, Z5, K3; \
	VPORD    Z26, Z2, K3, Z4; \
	VMOVDQA32 Z4, Z

// func packBF16RowAVX512(xp []uint16, stride int, x []float32)
//
// One row of PackBF16: block b of 32 rounded values (zeros past len(x))
// goes to xp[b*stride:], for b < ceil(len(x)/32).
TEXT ·packBF16RowAVX512(SB), NOSPLIT, $0-56
	MOVQ xp_base+0(FP), DI
	MOVQ stride+24(FP), R8
	SHLQ $1, R8
	MOVQ x_base+32(FP), SI
	MOVQ x_len+40(FP), CX
	MOVL $0x40, AX
	VPBROADCASTD AX, Z26
	MOVL $0x7f800000, AX
	VPBROADCASTD AX, Z27
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z28
	MOVL $1, AX
	VPBROADCASTD AX, Z29
	MOVL $0x7fff, AX
	VPBROADCASTD AX, Z30

packblock:
	CMPQ CX, $32
	JLT  packtail
	VMOVDQU32 (SI), Z0
	VMOVDQU32 64(SI), Z1
	ROUNDBF16(Z0)
	ROUNDBF16(Z1)
	VPMOVDW Z0, (DI)
	VPMOVDW Z1, 32(DI)
	ADDQ $128, SI
	ADDQ R8, DI
	SUBQ $32, CX
	JMP  packblock

packtail:
	TESTQ CX, CX
	JZ    packdone
	// K1: the first min(CX, 16) lanes; K2: the next CX-16 (if any).
	MOVQ  $1, AX
	SHLQ  CX, AX
	DECQ  AX
	KMOVW AX, K1
	SHRQ  $16, AX
	KMOVW AX, K2
	VMOVDQU32.Z (SI), K1, Z0
	VMOVDQU32.Z 64(SI), K2, Z1
	ROUNDBF16(Z0)
	ROUNDBF16(Z1)
	VPMOVDW Z0, (DI)
	VPMOVDW Z1, 32(DI)

packdone:
	VZEROUPPER
	RET

// MATDOTDUAL's tiles of three to thirteen activation rows: two weight rows
// (one of each half, in Z16 and Z17) by mt activation rows. The first
// half's accumulator of row m is Z(m), as for one row (ZERO*, DP*, STORE*
// with mt rows); the second half's is the m-th of Z12-Z15, Z22-Z29 (ZEROB*,
// DPB*, STOREB*). Z20 holds X_m, Z21 is HSUM's scratch.
#define ZERO7 ZERO6; VXORPS Z6, Z6, Z6
#define ZERO9 ZERO8; VXORPS Z8, Z8, Z8
#define ZERO10 ZERO9; VXORPS Z9, Z9, Z9
#define ZERO11 ZERO10; VXORPS Z10, Z10, Z10
#define ZERO12 ZERO11; VXORPS Z11, Z11, Z11
#define ZERO13 ZERO12; VXORPS Z12, Z12, Z12
#define DP3 DP2; VMOVUPS 128(XPTR), Z20; DPBF16(2, 20, 16)
#define DP5 DP4; VMOVUPS 256(XPTR), Z20; DPBF16(4, 20, 16)
#define DP6 DP5; VMOVUPS 320(XPTR), Z20; DPBF16(5, 20, 16)
#define DP7 DP6; VMOVUPS 384(XPTR), Z20; DPBF16(6, 20, 16)
#define DP8 DP7; VMOVUPS 448(XPTR), Z20; DPBF16(7, 20, 16)
#define DP9 DP8; VMOVUPS 512(XPTR), Z20; DPBF16(8, 20, 16)
#define DP10 DP9; VMOVUPS 576(XPTR), Z20; DPBF16(9, 20, 16)
#define DP11 DP10; VMOVUPS 640(XPTR), Z20; DPBF16(10, 20, 16)
#define DP12 DP11; VMOVUPS 704(XPTR), Z20; DPBF16(11, 20, 16)
#define DP13 DP12; VMOVUPS 768(XPTR), Z20; DPBF16(12, 20, 16)
#define STORE7 STORE6; ADDQ LDO, OPTR; ST(Z6, Y6, X6, 0)
#define STORE8 STORE7; ADDQ LDO, OPTR; ST(Z7, Y7, X7, 0)
#define STORE9 STORE8; ADDQ LDO, OPTR; ST(Z8, Y8, X8, 0)
#define STORE10 STORE9; ADDQ LDO, OPTR; ST(Z9, Y9, X9, 0)
#define STORE11 STORE10; ADDQ LDO, OPTR; ST(Z10, Y10, X10, 0)
#define STORE12 STORE11; ADDQ LDO, OPTR; ST(Z11, Y11, X11, 0)
#define STORE13 STORE12; ADDQ LDO, OPTR; ST(Z12, Y12, X12, 0)

#define ZEROB3 VXORPS Z12, Z12, Z12; VXORPS Z13, Z13, Z13; VXORPS Z14, Z14, Z14
#define ZEROB4 ZEROB3; VXORPS Z15, Z15, Z15
#define ZEROB5 ZEROB4; VXORPS Z22, Z22, Z22
#define ZEROB6 ZEROB5; VXORPS Z23, Z23, Z23
#define ZEROB7 ZEROB6; VXORPS Z24, Z24, Z24
#define ZEROB8 ZEROB7; VXORPS Z25, Z25, Z25
#define ZEROB9 ZEROB8; VXORPS Z26, Z26, Z26
#define ZEROB10 ZEROB9; VXORPS Z27, Z27, Z27
#define ZEROB11 ZEROB10; VXORPS Z28, Z28, Z28
#define ZEROB12 ZEROB11; VXORPS Z29, Z29, Z29
// The thirteenth row's pair of accumulators are Z18 and Z19, which the two
// weight rows (Z16, Z17) leave free; a lone row's is Z12, as above.
#define ZEROB13 ZEROB12; VXORPS Z18, Z18, Z18; VXORPS Z19, Z19, Z19
#define DPBROW(OFF, A, B) VMOVUPS OFF(XPTR), Z20; DPBF16(A, 20, 16); DPBF16(B, 20, 17)
#define DPB3 DPBROW(0, 0, 12); DPBROW(64, 1, 13); DPBROW(128, 2, 14)
#define DPB4 DPB3; DPBROW(192, 3, 15)
#define DPB5 DPB4; DPBROW(256, 4, 22)
#define DPB6 DPB5; DPBROW(320, 5, 23)
#define DPB7 DPB6; DPBROW(384, 6, 24)
#define DPB8 DPB7; DPBROW(448, 7, 25)
#define DPB9 DPB8; DPBROW(512, 8, 26)
#define DPB10 DPB9; DPBROW(576, 9, 27)
#define DPB11 DPB10; DPBROW(640, 10, 28)
#define DPB12 DPB11; DPBROW(704, 11, 29)
#define DPB13 DPB12; DPBROW(768, 18, 19)
#define STOREB3 MOVQ OUT, OPTR; ADDQ R14, OPTR; ST(Z12, Y12, X12, 0); ADDQ LDO, OPTR; ST(Z13, Y13, X13, 0); ADDQ LDO, OPTR; ST(Z14, Y14, X14, 0)
#define STOREB4 STOREB3; ADDQ LDO, OPTR; ST(Z15, Y15, X15, 0)
#define STOREB5 STOREB4; ADDQ LDO, OPTR; ST(Z22, Y22, X22, 0)
#define STOREB6 STOREB5; ADDQ LDO, OPTR; ST(Z23, Y23, X23, 0)
#define STOREB7 STOREB6; ADDQ LDO, OPTR; ST(Z24, Y24, X24, 0)
#define STOREB8 STOREB7; ADDQ LDO, OPTR; ST(Z25, Y25, X25, 0)
#define STOREB9 STOREB8; ADDQ LDO, OPTR; ST(Z26, Y26, X26, 0)
#define STOREB10 STOREB9; ADDQ LDO, OPTR; ST(Z27, Y27, X27, 0)
#define STOREB11 STOREB10; ADDQ LDO, OPTR; ST(Z28, Y28, X28, 0)
#define STOREB12 STOREB11; ADDQ LDO, OPTR; ST(Z29, Y29, X29, 0)

// func matDotM3DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM3DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(192, ZERO3; ZEROB3, DPB3, STOREP3, ZERO3, DP3, STORE3, NOPF, NOPF)

// func matDotM4DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM4DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(256, ZERO4; ZEROB4, DPB4, STOREP4, ZERO4, DP4, STORE4, DUALPF, NOPF)

// func matDotM5DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM5DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(320, ZERO5; ZEROB5, DPB5, STOREP5, ZERO5, DP5, STORE5, DUALPF, NOPF)

// func matDotM6DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM6DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(384, ZERO6; ZEROB6, DPB6, STOREP6, ZERO6, DP6, STORE6, DUALPF, NOPF)

// func matDotM7DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM7DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(448, ZERO7; ZEROB7, DPB7, STOREP7, ZERO7, DP7, STORE7, DUALPF, NOPF)

// func matDotM8DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM8DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(512, ZERO8; ZEROB8, DPB8, STOREP8, ZERO8, DP8, STORE8, DUALPF, NOPF)

// func matDotM9DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM9DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(576, ZERO9; ZEROB9, DPB9, STOREP9, ZERO9, DP9, STORE9, DUALPF, NOPF)

// func matDotM10DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM10DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(640, ZERO10; ZEROB10, DPB10, STOREP10, ZERO10, DP10, STORE10, DUALPF, NOPF)

// func matDotM11DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM11DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(704, ZERO11; ZEROB11, DPB11, STOREP11, ZERO11, DP11, STORE11, DUALPF, NOPF)

// func matDotM12DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM12DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(768, ZERO12; ZEROB12, DPB12, STOREP12, ZERO12, DP12, STORE12, DUALPF, NOPF)

// func matDotM13DualAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM13DualAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(832, ZERO13; ZEROB13, DPB13, STOREP13, ZERO13, DP13, STORE13, DUALPF, NOPF)

// The same tiles prefetching into L2 (DUALPF2).

// func matDotM2DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM2DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(128, ZERO4, DP2x2, STOREP2, ZERO2, DP2, STORE2, DUALPF2, NOPF)

// func matDotM3DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM3DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(192, ZERO3; ZEROB3, DPB3, STOREP3, ZERO3, DP3, STORE3, DUALPF2, NOPF)

// func matDotM4DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM4DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(256, ZERO4; ZEROB4, DPB4, STOREP4, ZERO4, DP4, STORE4, DUALPF2, NOPF)

// func matDotM5DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM5DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(320, ZERO5; ZEROB5, DPB5, STOREP5, ZERO5, DP5, STORE5, DUALPF2, NOPF)

// func matDotM6DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM6DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(384, ZERO6; ZEROB6, DPB6, STOREP6, ZERO6, DP6, STORE6, DUALPF2, NOPF)

// func matDotM7DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM7DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(448, ZERO7; ZEROB7, DPB7, STOREP7, ZERO7, DP7, STORE7, DUALPF2, NOPF)

// func matDotM8DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM8DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(512, ZERO8; ZEROB8, DPB8, STOREP8, ZERO8, DP8, STORE8, DUALPF2, NOPF)

// func matDotM9DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM9DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(576, ZERO9; ZEROB9, DPB9, STOREP9, ZERO9, DP9, STORE9, DUALPF2, NOPF)

// func matDotM10DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM10DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(640, ZERO10; ZEROB10, DPB10, STOREP10, ZERO10, DP10, STORE10, DUALPF2, NOPF)

// func matDotM11DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM11DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(704, ZERO11; ZEROB11, DPB11, STOREP11, ZERO11, DP11, STORE11, DUALPF2, NOPF)

// func matDotM12DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM12DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(768, ZERO12; ZEROB12, DPB12, STOREP12, ZERO12, DP12, STORE12, DUALPF2, NOPF)

// func matDotM13DualL2AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM13DualL2AVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(832, ZERO13; ZEROB13, DPB13, STOREP13, ZERO13, DP13, STORE13, DUALPF2, NOPF)

// The tiles that prefetch the next block (DUALPFN): the heights of
// DotTiles' two-tile splits (14 to 16 rows).

// func matDotM7DualNextAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM7DualNextAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(448, ZERO7; ZEROB7, DPB7, STOREP7, ZERO7, DP7, STORE7, DUALPFN, DUALPFNINIT)

// func matDotM8DualNextAVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int)
TEXT ·matDotM8DualNextAVX512BF16(SB), NOSPLIT, $0-96
	MATDOTDUAL(512, ZERO8; ZEROB8, DPB8, STOREP8, ZERO8, DP8, STORE8, DUALPFN, DUALPFNINIT)

// MATDOTPANEL is MATDOTDUAL over a panel of k columns of n weight rows
// rs elements apart (w at row 0's first column of the panel, xp at the
// panel's packed activations), for rows too long for mt rows of x to stay
// in L1 (asm.MatDotPanel): the caller runs the panels in order over the
// same rows, and the sixteen-lane accumulators of each row (pair) are
// kept in acc between panels (mode bit 0: the first panel, they start at
// zero; bit 1: the last, they are reduced and stored to out, otherwise
// saved). Each kernel loads rs into RS, acc into R15 and mode into K2
// before it (named there, for go vet). Each lane sums the same products in the same order as in
// MATDOTDUAL, so the results are its bits. R15 walks acc; the weights of
// the next row's panel are prefetched into L2 as this one's stream by.
#define MATDOTPANEL(XSTEP, ACCB, ZERO2R, DP2R, STORE2R, ZERO, DP, STORE, LOAD2R, SAVE2R, LOAD1, SAVE1) \
	MOVQ  out_base+0(FP), OUT; \
	MOVQ  ldo+24(FP), LDO; \
	SHLQ  $2, LDO; \
	MOVQ  xp_base+32(FP), XP; \
	MOVQ  w_base+56(FP), W; \
	SHLQ  $1, RS; \
	MOVQ  k+88(FP), CX; \
	KSPLIT32; \
	MOVQ  n+80(FP), N; \
	HALVES; \
	TESTQ N, N; \
	JZ    prest; \
ppair: \
	KMOVQ K2, OPTR; \
	TESTQ $1, OPTR; \
	JNZ   pzero2; \
	LOAD2R; \
	JMP   pgo2; \
pzero2: \
	ZERO2R; \
pgo2: \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    ptail2; \
pblock2: \
	LOAD2_DOT; \
	PREFETCHT1 (W)(RS*1); \
	PREFETCHT1 (W2)(RS*1); \
	DP2R; \
	ADDQ  $64, W; \
	ADDQ  $64, W2; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   pblock2; \
ptail2: \
	TESTQ TAILB, TAILB; \
	JZ    pstore2; \
	LOAD2T_DOT; \
	DP2R; \
	ADDQ  TAILB, W; \
	ADDQ  TAILB, W2; \
pstore2: \
	KMOVQ K2, OPTR; \
	TESTQ $2, OPTR; \
	JZ    psave2; \
	STORE2R; \
	JMP   pnext2; \
psave2: \
	SAVE2R; \
pnext2: \
	ADDQ  $ACCB, R15; \
	ADDQ  $4, OUT; \
	MOVQ  KBLK, OPTR; \
	SHLQ  $6, OPTR; \
	ADDQ  TAILB, OPTR; \
	SUBQ  OPTR, W; \
	ADDQ  RS, W; \
	SUBQ  OPTR, W2; \
	ADDQ  RS, W2; \
	DECQ  N; \
	JNZ   ppair; \
prest: \
	MOVQ  n+80(FP), N; \
	ANDQ  $1, N; \
	JZ    pdone; \
	MOVQ  W2, W; \
	ADDQ  R14, OUT; \
	KMOVQ K2, OPTR; \
	TESTQ $1, OPTR; \
	JNZ   pzero1; \
	LOAD1; \
	JMP   pgo1; \
pzero1: \
	ZERO; \
pgo1: \
	MOVQ  XP, XPTR; \
	MOVQ  KBLK, KC; \
	TESTQ KC, KC; \
	JZ    ptail; \
pblock: \
	LOADW_DOT; \
	DP; \
	ADDQ  $64, W; \
	ADDQ  $XSTEP, XPTR; \
	DECQ  KC; \
	JNZ   pblock; \
ptail: \
	TESTQ TAILB, TAILB; \
	JZ    pstore; \
	LOADT_DOT; \
	DP; \
pstore: \
	KMOVQ K2, OPTR; \
	TESTQ $2, OPTR; \
	JZ    psave; \
	STORE; \
	JMP   pdone; \
psave: \
	SAVE1; \
pdone: \
	VZEROUPPER; \
	RET
#define PSAVE2_3 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z12, 192(R15); VMOVUPS Z13, 256(R15); VMOVUPS Z14, 320(R15)
#define PLOAD2_3 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z12; VMOVUPS 256(R15), Z13; VMOVUPS 320(R15), Z14
#define PSAVE1_3 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15)
#define PLOAD1_3 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2
#define PSAVE2_4 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z12, 256(R15); VMOVUPS Z13, 320(R15); VMOVUPS Z14, 384(R15); VMOVUPS Z15, 448(R15)
#define PLOAD2_4 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z12; VMOVUPS 320(R15), Z13; VMOVUPS 384(R15), Z14; VMOVUPS 448(R15), Z15
#define PSAVE1_4 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15)
#define PLOAD1_4 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3
#define PSAVE2_5 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z12, 320(R15); VMOVUPS Z13, 384(R15); VMOVUPS Z14, 448(R15); VMOVUPS Z15, 512(R15); VMOVUPS Z22, 576(R15)
#define PLOAD2_5 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z12; VMOVUPS 384(R15), Z13; VMOVUPS 448(R15), Z14; VMOVUPS 512(R15), Z15; VMOVUPS 576(R15), Z22
#define PSAVE1_5 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15)
#define PLOAD1_5 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4
#define PSAVE2_6 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z12, 384(R15); VMOVUPS Z13, 448(R15); VMOVUPS Z14, 512(R15); VMOVUPS Z15, 576(R15); VMOVUPS Z22, 640(R15); VMOVUPS Z23, 704(R15)
#define PLOAD2_6 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z12; VMOVUPS 448(R15), Z13; VMOVUPS 512(R15), Z14; VMOVUPS 576(R15), Z15; VMOVUPS 640(R15), Z22; VMOVUPS 704(R15), Z23
#define PSAVE1_6 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15)
#define PLOAD1_6 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5
#define PSAVE2_7 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z12, 448(R15); VMOVUPS Z13, 512(R15); VMOVUPS Z14, 576(R15); VMOVUPS Z15, 640(R15); VMOVUPS Z22, 704(R15); VMOVUPS Z23, 768(R15); VMOVUPS Z24, 832(R15)
#define PLOAD2_7 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z12; VMOVUPS 512(R15), Z13; VMOVUPS 576(R15), Z14; VMOVUPS 640(R15), Z15; VMOVUPS 704(R15), Z22; VMOVUPS 768(R15), Z23; VMOVUPS 832(R15), Z24
#define PSAVE1_7 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15)
#define PLOAD1_7 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6
#define PSAVE2_8 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z12, 512(R15); VMOVUPS Z13, 576(R15); VMOVUPS Z14, 640(R15); VMOVUPS Z15, 704(R15); VMOVUPS Z22, 768(R15); VMOVUPS Z23, 832(R15); VMOVUPS Z24, 896(R15); VMOVUPS Z25, 960(R15)
#define PLOAD2_8 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z12; VMOVUPS 576(R15), Z13; VMOVUPS 640(R15), Z14; VMOVUPS 704(R15), Z15; VMOVUPS 768(R15), Z22; VMOVUPS 832(R15), Z23; VMOVUPS 896(R15), Z24; VMOVUPS 960(R15), Z25
#define PSAVE1_8 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15)
#define PLOAD1_8 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7
#define PSAVE2_9 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z12, 576(R15); VMOVUPS Z13, 640(R15); VMOVUPS Z14, 704(R15); VMOVUPS Z15, 768(R15); VMOVUPS Z22, 832(R15); VMOVUPS Z23, 896(R15); VMOVUPS Z24, 960(R15); VMOVUPS Z25, 1024(R15); VMOVUPS Z26, 1088(R15)
#define PLOAD2_9 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z12; VMOVUPS 640(R15), Z13; VMOVUPS 704(R15), Z14; VMOVUPS 768(R15), Z15; VMOVUPS 832(R15), Z22; VMOVUPS 896(R15), Z23; VMOVUPS 960(R15), Z24; VMOVUPS 1024(R15), Z25; VMOVUPS 1088(R15), Z26
#define PSAVE1_9 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15)
#define PLOAD1_9 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8
#define PSAVE2_10 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z9, 576(R15); VMOVUPS Z12, 640(R15); VMOVUPS Z13, 704(R15); VMOVUPS Z14, 768(R15); VMOVUPS Z15, 832(R15); VMOVUPS Z22, 896(R15); VMOVUPS Z23, 960(R15); VMOVUPS Z24, 1024(R15); VMOVUPS Z25, 1088(R15); VMOVUPS Z26, 1152(R15); VMOVUPS Z27, 1216(R15)
#define PLOAD2_10 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z9; VMOVUPS 640(R15), Z12; VMOVUPS 704(R15), Z13; VMOVUPS 768(R15), Z14; VMOVUPS 832(R15), Z15; VMOVUPS 896(R15), Z22; VMOVUPS 960(R15), Z23; VMOVUPS 1024(R15), Z24; VMOVUPS 1088(R15), Z25; VMOVUPS 1152(R15), Z26; VMOVUPS 1216(R15), Z27
#define PSAVE1_10 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z9, 576(R15)
#define PLOAD1_10 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z9
#define PSAVE2_11 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z9, 576(R15); VMOVUPS Z10, 640(R15); VMOVUPS Z12, 704(R15); VMOVUPS Z13, 768(R15); VMOVUPS Z14, 832(R15); VMOVUPS Z15, 896(R15); VMOVUPS Z22, 960(R15); VMOVUPS Z23, 1024(R15); VMOVUPS Z24, 1088(R15); VMOVUPS Z25, 1152(R15); VMOVUPS Z26, 1216(R15); VMOVUPS Z27, 1280(R15); VMOVUPS Z28, 1344(R15)
#define PLOAD2_11 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z9; VMOVUPS 640(R15), Z10; VMOVUPS 704(R15), Z12; VMOVUPS 768(R15), Z13; VMOVUPS 832(R15), Z14; VMOVUPS 896(R15), Z15; VMOVUPS 960(R15), Z22; VMOVUPS 1024(R15), Z23; VMOVUPS 1088(R15), Z24; VMOVUPS 1152(R15), Z25; VMOVUPS 1216(R15), Z26; VMOVUPS 1280(R15), Z27; VMOVUPS 1344(R15), Z28
#define PSAVE1_11 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z9, 576(R15); VMOVUPS Z10, 640(R15)
#define PLOAD1_11 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z9; VMOVUPS 640(R15), Z10
#define PSAVE2_12 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z9, 576(R15); VMOVUPS Z10, 640(R15); VMOVUPS Z11, 704(R15); VMOVUPS Z12, 768(R15); VMOVUPS Z13, 832(R15); VMOVUPS Z14, 896(R15); VMOVUPS Z15, 960(R15); VMOVUPS Z22, 1024(R15); VMOVUPS Z23, 1088(R15); VMOVUPS Z24, 1152(R15); VMOVUPS Z25, 1216(R15); VMOVUPS Z26, 1280(R15); VMOVUPS Z27, 1344(R15); VMOVUPS Z28, 1408(R15); VMOVUPS Z29, 1472(R15)
#define PLOAD2_12 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z9; VMOVUPS 640(R15), Z10; VMOVUPS 704(R15), Z11; VMOVUPS 768(R15), Z12; VMOVUPS 832(R15), Z13; VMOVUPS 896(R15), Z14; VMOVUPS 960(R15), Z15; VMOVUPS 1024(R15), Z22; VMOVUPS 1088(R15), Z23; VMOVUPS 1152(R15), Z24; VMOVUPS 1216(R15), Z25; VMOVUPS 1280(R15), Z26; VMOVUPS 1344(R15), Z27; VMOVUPS 1408(R15), Z28; VMOVUPS 1472(R15), Z29
#define PSAVE1_12 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z9, 576(R15); VMOVUPS Z10, 640(R15); VMOVUPS Z11, 704(R15)
#define PLOAD1_12 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z9; VMOVUPS 640(R15), Z10; VMOVUPS 704(R15), Z11
#define PSAVE2_13 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z9, 576(R15); VMOVUPS Z10, 640(R15); VMOVUPS Z11, 704(R15); VMOVUPS Z18, 768(R15); VMOVUPS Z12, 832(R15); VMOVUPS Z13, 896(R15); VMOVUPS Z14, 960(R15); VMOVUPS Z15, 1024(R15); VMOVUPS Z22, 1088(R15); VMOVUPS Z23, 1152(R15); VMOVUPS Z24, 1216(R15); VMOVUPS Z25, 1280(R15); VMOVUPS Z26, 1344(R15); VMOVUPS Z27, 1408(R15); VMOVUPS Z28, 1472(R15); VMOVUPS Z29, 1536(R15); VMOVUPS Z19, 1600(R15)
#define PLOAD2_13 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z9; VMOVUPS 640(R15), Z10; VMOVUPS 704(R15), Z11; VMOVUPS 768(R15), Z18; VMOVUPS 832(R15), Z12; VMOVUPS 896(R15), Z13; VMOVUPS 960(R15), Z14; VMOVUPS 1024(R15), Z15; VMOVUPS 1088(R15), Z22; VMOVUPS 1152(R15), Z23; VMOVUPS 1216(R15), Z24; VMOVUPS 1280(R15), Z25; VMOVUPS 1344(R15), Z26; VMOVUPS 1408(R15), Z27; VMOVUPS 1472(R15), Z28; VMOVUPS 1536(R15), Z29; VMOVUPS 1600(R15), Z19
#define PSAVE1_13 VMOVUPS Z0, 0(R15); VMOVUPS Z1, 64(R15); VMOVUPS Z2, 128(R15); VMOVUPS Z3, 192(R15); VMOVUPS Z4, 256(R15); VMOVUPS Z5, 320(R15); VMOVUPS Z6, 384(R15); VMOVUPS Z7, 448(R15); VMOVUPS Z8, 512(R15); VMOVUPS Z9, 576(R15); VMOVUPS Z10, 640(R15); VMOVUPS Z11, 704(R15); VMOVUPS Z12, 768(R15)
#define PLOAD1_13 VMOVUPS 0(R15), Z0; VMOVUPS 64(R15), Z1; VMOVUPS 128(R15), Z2; VMOVUPS 192(R15), Z3; VMOVUPS 256(R15), Z4; VMOVUPS 320(R15), Z5; VMOVUPS 384(R15), Z6; VMOVUPS 448(R15), Z7; VMOVUPS 512(R15), Z8; VMOVUPS 576(R15), Z9; VMOVUPS 640(R15), Z10; VMOVUPS 704(R15), Z11; VMOVUPS 768(R15), Z12


// func matDotPanelM3AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM3AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(192, 384, ZERO3; ZEROB3, DPB3, STOREP3, ZERO3, DP3, STORE3, PLOAD2_3, PSAVE2_3, PLOAD1_3, PSAVE1_3)

// func matDotPanelM4AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM4AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(256, 512, ZERO4; ZEROB4, DPB4, STOREP4, ZERO4, DP4, STORE4, PLOAD2_4, PSAVE2_4, PLOAD1_4, PSAVE1_4)

// func matDotPanelM5AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM5AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(320, 640, ZERO5; ZEROB5, DPB5, STOREP5, ZERO5, DP5, STORE5, PLOAD2_5, PSAVE2_5, PLOAD1_5, PSAVE1_5)

// func matDotPanelM6AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM6AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(384, 768, ZERO6; ZEROB6, DPB6, STOREP6, ZERO6, DP6, STORE6, PLOAD2_6, PSAVE2_6, PLOAD1_6, PSAVE1_6)

// func matDotPanelM7AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM7AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(448, 896, ZERO7; ZEROB7, DPB7, STOREP7, ZERO7, DP7, STORE7, PLOAD2_7, PSAVE2_7, PLOAD1_7, PSAVE1_7)

// func matDotPanelM8AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM8AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(512, 1024, ZERO8; ZEROB8, DPB8, STOREP8, ZERO8, DP8, STORE8, PLOAD2_8, PSAVE2_8, PLOAD1_8, PSAVE1_8)

// func matDotPanelM9AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM9AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(576, 1152, ZERO9; ZEROB9, DPB9, STOREP9, ZERO9, DP9, STORE9, PLOAD2_9, PSAVE2_9, PLOAD1_9, PSAVE1_9)

// func matDotPanelM10AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM10AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(640, 1280, ZERO10; ZEROB10, DPB10, STOREP10, ZERO10, DP10, STORE10, PLOAD2_10, PSAVE2_10, PLOAD1_10, PSAVE1_10)

// func matDotPanelM11AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM11AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(704, 1408, ZERO11; ZEROB11, DPB11, STOREP11, ZERO11, DP11, STORE11, PLOAD2_11, PSAVE2_11, PLOAD1_11, PSAVE1_11)

// func matDotPanelM12AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM12AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(768, 1536, ZERO12; ZEROB12, DPB12, STOREP12, ZERO12, DP12, STORE12, PLOAD2_12, PSAVE2_12, PLOAD1_12, PSAVE1_12)

// func matDotPanelM13AVX512BF16(out []float32, ldo int, xp []uint16, w []uint16, n int, k int, rs int, acc *float32, mode int)
TEXT ·matDotPanelM13AVX512BF16(SB), NOSPLIT, $0-120
	MOVQ  rs+96(FP), RS
	MOVQ  acc+104(FP), R15
	MOVQ  mode+112(FP), AX
	KMOVQ AX, K2
	MATDOTPANEL(832, 1664, ZERO13; ZEROB13, DPB13, STOREP13, ZERO13, DP13, STORE13, PLOAD2_13, PSAVE2_13, PLOAD1_13, PSAVE1_13)

// func cpuid(leaf, sub uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET
