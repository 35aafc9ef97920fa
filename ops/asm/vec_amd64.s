//go:build amd64 && !noasm

#include "textflag.h"
#include "hsum8_amd64.h"

// Vector kernels: 16 float32 lanes per zmm, the loop body on whole
// 16-element blocks and the last n%16 elements under the mask K1 (masked
// loads do not fault past the end of a slice, masked stores write nothing
// there). Each has a Go twin in vec.go.

// TAILMASK sets K1 to the low n%16 bits, given n in CX; clobbers AX, CX.
#define TAILMASK ANDQ $15, CX; MOVL $1, AX; SHLL CX, AX; DECL AX; KMOVW AX, K1

// HSUM0 leaves the sum of the 16 lanes of Z0 in the low lane of X0.
#define HSUM0 \
	VEXTRACTF64X4 $1, Z0, Y17; \
	VADDPS        Y17, Y0, Y0; \
	VEXTRACTF32X4 $1, Y0, X17; \
	VADDPS        X17, X0, X0; \
	VPERMILPS     $0x4e, X0, X17; \
	VADDPS        X17, X0, X0; \
	VPERMILPS     $0xb1, X0, X17; \
	VADDSS        X17, X0, X0

#define X_PTR SI
#define Y_PTR DI
#define LEN BX

// The one-query attention kernels, over cache rows of float32 or of
// binary16 (2 bytes an element, widened exactly as they are loaded): SH is
// log2 of the element size, KB the bytes of a 16-element block, LOADK and
// LOADKT load (widen) a block, or the tail under K1, into a zmm.
#define LOADK_F32(M, R) VMOVUPS M, R
#define LOADKT_F32(M, R) VMOVUPS.Z M, K1, R
#define LOADK_F16(M, R) VCVTPH2PS M, R
#define LOADKT_F16(M, R) VCVTPH2PS.Z M, K1, R

// DOTROWS: out[t] = Σ_i q[i]·k[t·stride+i], one FMA chain of 16 lanes per
// row, summed by HSUM0.
#define DOTROWS(SH, KB, LOADK, LOADKT) \
	MOVQ  out_base+0(FP), DI; \
	MOVQ  q_base+24(FP), SI; \
	MOVQ  q_len+32(FP), BX; \
	MOVQ  k_base+48(FP), DX; \
	MOVQ  stride+72(FP), R8; \
	SHLQ  $SH, R8; \
	MOVQ  n+80(FP), R9; \
	MOVQ  BX, CX; \
	TAILMASK; \
	SHRQ  $4, BX; \
	TESTQ R9, R9; \
	JZ    done; \
row: \
	VXORPS Z0, Z0, Z0; \
	MOVQ   SI, R10; \
	MOVQ   DX, R11; \
	MOVQ   BX, R12; \
	TESTQ  R12, R12; \
	JZ     tail; \
block: \
	VMOVUPS     (R10), Z1; \
	LOADK((R11), Z2); \
	VFMADD231PS Z2, Z1, Z0; \
	ADDQ        $64, R10; \
	ADDQ        $KB, R11; \
	DECQ        R12; \
	JNZ         block; \
tail: \
	KTESTW      K1, K1; \
	JZ          sum; \
	VMOVUPS.Z   (R10), K1, Z1; \
	LOADKT((R11), Z2); \
	VFMADD231PS Z2, Z1, Z0; \
sum: \
	HSUM0; \
	VMOVSS X0, (DI); \
	ADDQ   $4, DI; \
	ADDQ   R8, DX; \
	DECQ   R9; \
	JNZ    row; \
done: \
	VZEROUPPER; \
	RET

// AXPYROWS: o[i] += Σ_t p[t]·v[t·stride+i], 64 columns at a time (their
// blocks at 0, G1, G2, G3 bytes of a row, GB in all), then 16, then the
// tail under K1; each output an FMA chain over t.
#define AXPYROWS(SH, KB, G1, G2, G3, GB, LOADK, LOADKT) \
	MOVQ  o_base+0(FP), DI; \
	MOVQ  o_len+8(FP), BX; \
	MOVQ  p_base+24(FP), SI; \
	MOVQ  p_len+32(FP), R9; \
	MOVQ  v_base+48(FP), DX; \
	MOVQ  stride+72(FP), R8; \
	SHLQ  $SH, R8; \
	MOVQ  BX, CX; \
	TAILMASK; \
	MOVQ  BX, R13; \
	SHRQ  $6, R13; \
	ANDQ  $63, BX; \
	SHRQ  $4, BX; \
	TESTQ R13, R13; \
	JZ    blocks; \
quad: \
	VMOVUPS (DI), Z0; \
	VMOVUPS 64(DI), Z1; \
	VMOVUPS 128(DI), Z2; \
	VMOVUPS 192(DI), Z3; \
	MOVQ    SI, R10; \
	MOVQ    DX, R11; \
	MOVQ    R9, R12; \
	TESTQ   R12, R12; \
	JZ      quadstore; \
quadt: \
	VBROADCASTSS (R10), Z4; \
	LOADK((R11), Z5); \
	LOADK(G1(R11), Z6); \
	LOADK(G2(R11), Z7); \
	LOADK(G3(R11), Z8); \
	VFMADD231PS  Z5, Z4, Z0; \
	VFMADD231PS  Z6, Z4, Z1; \
	VFMADD231PS  Z7, Z4, Z2; \
	VFMADD231PS  Z8, Z4, Z3; \
	ADDQ         $4, R10; \
	ADDQ         R8, R11; \
	DECQ         R12; \
	JNZ          quadt; \
quadstore: \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, 64(DI); \
	VMOVUPS Z2, 128(DI); \
	VMOVUPS Z3, 192(DI); \
	ADDQ    $256, DI; \
	ADDQ    $GB, DX; \
	DECQ    R13; \
	JNZ     quad; \
blocks: \
	TESTQ BX, BX; \
	JZ    tail; \
block: \
	VMOVUPS (DI), Z0; \
	MOVQ    SI, R10; \
	MOVQ    DX, R11; \
	MOVQ    R9, R12; \
	TESTQ   R12, R12; \
	JZ      blockstore; \
blockt: \
	VBROADCASTSS (R10), Z4; \
	LOADK((R11), Z5); \
	VFMADD231PS  Z5, Z4, Z0; \
	ADDQ         $4, R10; \
	ADDQ         R8, R11; \
	DECQ         R12; \
	JNZ          blockt; \
blockstore: \
	VMOVUPS Z0, (DI); \
	ADDQ    $64, DI; \
	ADDQ    $KB, DX; \
	DECQ    BX; \
	JNZ     block; \
tail: \
	KTESTW    K1, K1; \
	JZ        done; \
	VMOVUPS.Z (DI), K1, Z0; \
	MOVQ      SI, R10; \
	MOVQ      DX, R11; \
	MOVQ      R9, R12; \
	TESTQ     R12, R12; \
	JZ        tailstore; \
tailt: \
	VBROADCASTSS (R10), Z4; \
	LOADKT((R11), Z5); \
	VFMADD231PS  Z5, Z4, Z0; \
	ADDQ         $4, R10; \
	ADDQ         R8, R11; \
	DECQ         R12; \
	JNZ          tailt; \
tailstore: \
	VMOVUPS Z0, K1, (DI); \
done: \
	VZEROUPPER; \
	RET

#define ZERO16 \
	VXORPS Z0, Z0, Z0; VXORPS Z1, Z1, Z1; VXORPS Z2, Z2, Z2; VXORPS Z3, Z3, Z3; \
	VXORPS Z4, Z4, Z4; VXORPS Z5, Z5, Z5; VXORPS Z6, Z6, Z6; VXORPS Z7, Z7, Z7; \
	VXORPS Z8, Z8, Z8; VXORPS Z9, Z9, Z9; VXORPS Z10, Z10, Z10; VXORPS Z11, Z11, Z11; \
	VXORPS Z12, Z12, Z12; VXORPS Z13, Z13, Z13; VXORPS Z14, Z14, Z14; VXORPS Z15, Z15, Z15

// The multi-query attention kernels' bodies, over float32 (SH 2) or
// binary16 (SH 1) cache rows: QS scales the cache offset R12 to the
// queries' (1, or 2 for binary16), KB is a 16-element block's bytes, GB a
// 64-column group's and G1-G3 its blocks' offsets; LOADK loads (widens) a
// block. The helper macros (QK4, DQ4STORE, AQ4, PV4, QK2, DQ2STORE, AQ2,
// PV2) are defined with the kernels below. The keys are fetched 16 rows
// ahead (a forward's weights evict the cache, and a stride wider than the
// row hides them from the hardware prefetchers); the binary16 values too (PFV16,
// 128 bytes: all of a 64-wide head), which on float32 rows in cache cost
// 1.7× and gained nothing.
#define NOPFV
#define PFDIST16 MOVQ R10, R15; SHLQ $4, R15
#define PFV16 PREFETCHT0 (R13)(R15*1); PREFETCHT0 64(R13)(R15*1)

// DOTROWSQ4: outs[j][t] = qs[j] · k[t·stride:], four rows at a time.
#define DOTROWSQ4(SH, QS, KB, LOADK) \
	MOVQ  qs+8(FP), AX; \
	MOVQ  0(AX), SI; \
	MOVQ  8(AX), DI; \
	MOVQ  16(AX), R8; \
	MOVQ  24(AX), R9; \
	MOVQ  outs+0(FP), AX; \
	MOVQ  k+16(FP), DX; \
	MOVQ  stride+24(FP), R10; \
	SHLQ  $SH, R10; \
	LEAQ  (R10)(R10*2), R11; \
	MOVQ  n+32(FP), CX; \
	SHRQ  $2, CX; \
	MOVQ  hd+40(FP), BX; \
	SHLQ  $SH, BX; \
	XORQ  R14, R14; \
	TESTQ CX, CX; \
	JZ    done; \
rows: \
	ZERO16; \
	XORQ R12, R12; \
block: \
	LEAQ       (DX)(R12*1), R13; \
	LEAQ       (R13)(R10*8), R15; \
	LEAQ       (R15)(R10*8), R15; \
	PREFETCHT0 (R15); \
	PREFETCHT0 (R15)(R10*1); \
	PREFETCHT0 (R15)(R10*2); \
	PREFETCHT0 (R15)(R11*1); \
	LOADK((R13), Z16); \
	LOADK((R13)(R10*1), Z17); \
	LOADK((R13)(R10*2), Z18); \
	LOADK((R13)(R11*1), Z19); \
	VMOVUPS    (SI)(R12*QS), Z20; \
	VMOVUPS    (DI)(R12*QS), Z21; \
	VMOVUPS    (R8)(R12*QS), Z22; \
	VMOVUPS    (R9)(R12*QS), Z23; \
	QK4(Z16, Z0, Z1, Z2, Z3); \
	QK4(Z17, Z4, Z5, Z6, Z7); \
	QK4(Z18, Z8, Z9, Z10, Z11); \
	QK4(Z19, Z12, Z13, Z14, Z15); \
	ADDQ       $KB, R12; \
	CMPQ       R12, BX; \
	JLT        block; \
	DQ4STORE; \
	LEAQ (DX)(R10*4), DX; \
	ADDQ $16, R14; \
	DECQ CX; \
	JNZ  rows; \
done: \
	VZEROUPPER; \
	RET

// AXPYROWSQ4: os[j][i] += Σ_t ps[j][t] · v[t·stride + i], a 64-column group
// of the four outputs at a time (R14 its offset into them, R11 into the
// rows); PFSET and PFV set up and issue the value prefetches.
#define AXPYROWSQ4(SH, GB, G1, G2, G3, LOADK, PFSET, PFV) \
	MOVQ  ps+8(FP), AX; \
	MOVQ  0(AX), SI; \
	MOVQ  8(AX), DI; \
	MOVQ  16(AX), R8; \
	MOVQ  24(AX), R9; \
	MOVQ  os+0(FP), AX; \
	MOVQ  v+16(FP), DX; \
	MOVQ  stride+24(FP), R10; \
	SHLQ  $SH, R10; \
	MOVQ  hd+40(FP), BX; \
	SHLQ  $2, BX; \
	XORQ  R14, R14; \
	XORQ  R11, R11; \
	MOVQ  n+32(FP), CX; \
	TESTQ CX, CX; \
	JZ    done; \
group: \
	AQ4(LOADO); \
	LEAQ (DX)(R11*1), R13; \
	XORQ R12, R12; \
	MOVQ n+32(FP), CX; \
	PFSET; \
tloop: \
	VBROADCASTSS (SI)(R12*1), Z16; \
	VBROADCASTSS (DI)(R12*1), Z17; \
	VBROADCASTSS (R8)(R12*1), Z18; \
	VBROADCASTSS (R9)(R12*1), Z19; \
	PFV; \
	LOADK((R13), Z20); \
	LOADK(G1(R13), Z21); \
	LOADK(G2(R13), Z22); \
	LOADK(G3(R13), Z23); \
	PV4(Z16, Z0, Z1, Z2, Z3); \
	PV4(Z17, Z4, Z5, Z6, Z7); \
	PV4(Z18, Z8, Z9, Z10, Z11); \
	PV4(Z19, Z12, Z13, Z14, Z15); \
	ADDQ         $4, R12; \
	ADDQ         R10, R13; \
	DECQ         CX; \
	JNZ          tloop; \
	AQ4(STOREO); \
	ADDQ $256, R14; \
	ADDQ $GB, R11; \
	CMPQ R14, BX; \
	JLT  group; \
done: \
	VZEROUPPER; \
	RET

// DOTROWSQ2: outs[j][t] = qs[j] · k[t·stride:] for two queries, eight
// rows at a time (ACC(j, u) in Z(2u+j)).
#define DOTROWSQ2(SH, QS, KB, LOADK) \
	MOVQ  qs+8(FP), AX; \
	MOVQ  0(AX), R8; \
	MOVQ  8(AX), R9; \
	MOVQ  outs+0(FP), AX; \
	MOVQ  0(AX), SI; \
	MOVQ  8(AX), DI; \
	MOVQ  k+16(FP), DX; \
	MOVQ  stride+24(FP), R10; \
	SHLQ  $SH, R10; \
	LEAQ  (R10)(R10*2), R11; \
	MOVQ  n+32(FP), CX; \
	SHRQ  $3, CX; \
	MOVQ  hd+40(FP), BX; \
	SHLQ  $SH, BX; \
	XORQ  R14, R14; \
	TESTQ CX, CX; \
	JZ    done; \
rows: \
	ZERO16; \
	XORQ R12, R12; \
block: \
	LEAQ       (DX)(R12*1), R13; \
	LEAQ       (R13)(R10*4), R15; \
	LEAQ       (R13)(R10*8), AX; \
	LEAQ       (AX)(R10*8), AX; \
	PREFETCHT0 (AX); \
	PREFETCHT0 (AX)(R10*1); \
	PREFETCHT0 (AX)(R10*2); \
	PREFETCHT0 (AX)(R11*1); \
	LEAQ       (AX)(R10*4), AX; \
	PREFETCHT0 (AX); \
	PREFETCHT0 (AX)(R10*1); \
	PREFETCHT0 (AX)(R10*2); \
	PREFETCHT0 (AX)(R11*1); \
	VMOVUPS    (R8)(R12*QS), Z20; \
	VMOVUPS    (R9)(R12*QS), Z21; \
	QK2(LOADK, (R13), Z0, Z1); \
	QK2(LOADK, (R13)(R10*1), Z2, Z3); \
	QK2(LOADK, (R13)(R10*2), Z4, Z5); \
	QK2(LOADK, (R13)(R11*1), Z6, Z7); \
	QK2(LOADK, (R15), Z8, Z9); \
	QK2(LOADK, (R15)(R10*1), Z10, Z11); \
	QK2(LOADK, (R15)(R10*2), Z12, Z13); \
	QK2(LOADK, (R15)(R11*1), Z14, Z15); \
	ADDQ       $KB, R12; \
	CMPQ       R12, BX; \
	JLT        block; \
	DQ2STORE; \
	LEAQ (DX)(R10*8), DX; \
	ADDQ $32, R14; \
	DECQ CX; \
	JNZ  rows; \
done: \
	VZEROUPPER; \
	RET

// AXPYROWSQ2: AXPYROWSQ4 for two outputs (SI, DI), R15 the value
// prefetch distance.
#define AXPYROWSQ2(SH, GB, G1, G2, G3, LOADK, PFV) \
	MOVQ  ps+8(FP), AX; \
	MOVQ  0(AX), R8; \
	MOVQ  8(AX), R9; \
	MOVQ  os+0(FP), AX; \
	MOVQ  0(AX), SI; \
	MOVQ  8(AX), DI; \
	MOVQ  v+16(FP), DX; \
	MOVQ  stride+24(FP), R10; \
	SHLQ  $SH, R10; \
	MOVQ  R10, R15; \
	SHLQ  $4, R15; \
	MOVQ  hd+40(FP), BX; \
	SHLQ  $2, BX; \
	XORQ  R14, R14; \
	XORQ  R11, R11; \
	MOVQ  n+32(FP), CX; \
	TESTQ CX, CX; \
	JZ    done; \
group: \
	AQ2(LOADO2); \
	LEAQ (DX)(R11*1), R13; \
	XORQ R12, R12; \
	MOVQ n+32(FP), CX; \
tloop: \
	VBROADCASTSS (R8)(R12*1), Z16; \
	VBROADCASTSS (R9)(R12*1), Z17; \
	PFV; \
	LOADK((R13), Z20); \
	LOADK(G1(R13), Z21); \
	LOADK(G2(R13), Z22); \
	LOADK(G3(R13), Z23); \
	PV2; \
	ADDQ         $4, R12; \
	ADDQ         R10, R13; \
	DECQ         CX; \
	JNZ          tloop; \
	AQ2(STOREO2); \
	ADDQ $256, R14; \
	ADDQ $GB, R11; \
	CMPQ R14, BX; \
	JLT  group; \
done: \
	VZEROUPPER; \
	RET

// func dotAVX512(a []float32, b []float32) float32
TEXT ·dotAVX512(SB), NOSPLIT, $0-52
	MOVQ   a_base+0(FP), X_PTR
	MOVQ   b_base+24(FP), Y_PTR
	MOVQ   a_len+8(FP), LEN
	MOVQ   LEN, CX
	TAILMASK
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	SHRQ   $4, LEN
	JZ     dottail

dotloop:
	VMOVUPS     (X_PTR), Z2
	VFMADD231PS (Y_PTR), Z2, Z0 // S += A_i · B_i
	ADDQ        $64, X_PTR
	ADDQ        $64, Y_PTR
	DECQ        LEN
	JNZ         dotloop

dottail:
	VMOVUPS.Z   (X_PTR), K1, Z2
	VMOVUPS.Z   (Y_PTR), K1, Z3
	VFMADD231PS Z3, Z2, Z1
	VADDPS      Z1, Z0, Z0
	HSUM0
	VMOVSS      X0, ret+48(FP)
	VZEROUPPER
	RET

// func axpyAVX512(alpha float32, x []float32, y []float32)
TEXT ·axpyAVX512(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Z1
	MOVQ         x_base+8(FP), X_PTR
	MOVQ         x_len+16(FP), LEN
	MOVQ         y_base+32(FP), Y_PTR
	MOVQ         LEN, CX
	TAILMASK
	SHRQ         $4, LEN
	JZ           axpytail

axpyloop:
	VMOVUPS     (Y_PTR), Z0
	VFMADD231PS (X_PTR), Z1, Z0 // Y_i += alpha · X_i
	VMOVUPS     Z0, (Y_PTR)
	ADDQ        $64, X_PTR
	ADDQ        $64, Y_PTR
	DECQ        LEN
	JNZ         axpyloop

axpytail:
	VMOVUPS.Z   (Y_PTR), K1, Z0
	VMOVUPS.Z   (X_PTR), K1, Z2
	VFMADD231PS Z2, Z1, Z0
	VMOVUPS     Z0, K1, (Y_PTR)
	VZEROUPPER
	RET

// func addAVX512(dst []float32, src []float32)
TEXT ·addAVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), Y_PTR
	MOVQ src_base+24(FP), X_PTR
	MOVQ src_len+32(FP), LEN
	MOVQ LEN, CX
	TAILMASK
	SHRQ $4, LEN
	JZ   addtail

addloop:
	VMOVUPS (Y_PTR), Z0
	VADDPS  (X_PTR), Z0, Z0 // DST_i += SRC_i
	VMOVUPS Z0, (Y_PTR)
	ADDQ    $64, X_PTR
	ADDQ    $64, Y_PTR
	DECQ    LEN
	JNZ     addloop

addtail:
	VMOVUPS.Z (Y_PTR), K1, Z0
	VMOVUPS.Z (X_PTR), K1, Z2
	VADDPS    Z2, Z0, Z0
	VMOVUPS   Z0, K1, (Y_PTR)
	VZEROUPPER
	RET

// func bf16ToF32AVX512(dst []float32, src []uint16)
TEXT ·bf16ToF32AVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), Y_PTR
	MOVQ src_base+24(FP), X_PTR
	MOVQ src_len+32(FP), LEN
	MOVQ LEN, CX
	TAILMASK
	SHRQ $4, LEN
	JZ   cvttail

cvtloop:
	VPMOVZXWD (X_PTR), Z0 // DST_i = SRC_i << 16
	VPSLLD    $16, Z0, Z0
	VMOVUPS   Z0, (Y_PTR)
	ADDQ      $32, X_PTR
	ADDQ      $64, Y_PTR
	DECQ      LEN
	JNZ       cvtloop

cvttail:
	VPMOVZXWD.Z (X_PTR), K1, Z0
	VPSLLD      $16, Z0, Z0
	VMOVUPS     Z0, K1, (Y_PTR)
	VZEROUPPER
	RET

// func sumSqAVX512(x []float32) float32
TEXT ·sumSqAVX512(SB), NOSPLIT, $0-28
	MOVQ   x_base+0(FP), X_PTR
	MOVQ   x_len+8(FP), LEN
	MOVQ   LEN, CX
	TAILMASK
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	SHRQ   $4, LEN
	JZ     sstail

ssloop:
	VMOVUPS     (X_PTR), Z2
	VFMADD231PS Z2, Z2, Z0 // S += X_i²
	ADDQ        $64, X_PTR
	DECQ        LEN
	JNZ         ssloop

sstail:
	VMOVUPS.Z   (X_PTR), K1, Z2
	VFMADD231PS Z2, Z2, Z1
	VADDPS      Z1, Z0, Z0
	HSUM0
	VMOVSS      X0, ret+24(FP)
	VZEROUPPER
	RET

// func scaleMulAVX512(out []float32, x []float32, s float32, w []float32)
TEXT ·scaleMulAVX512(SB), NOSPLIT, $0-80
	MOVQ         out_base+0(FP), Y_PTR
	MOVQ         x_base+24(FP), X_PTR
	MOVQ         x_len+32(FP), LEN
	VBROADCASTSS s+48(FP), Z1
	MOVQ         w_base+56(FP), DX
	MOVQ         LEN, CX
	TAILMASK
	SHRQ         $4, LEN
	JZ           smtail

smloop:
	VMULPS  (X_PTR), Z1, Z0 // OUT_i = X_i · s · W_i
	VMULPS  (DX), Z0, Z0
	VMOVUPS Z0, (Y_PTR)
	ADDQ    $64, X_PTR
	ADDQ    $64, Y_PTR
	ADDQ    $64, DX
	DECQ    LEN
	JNZ     smloop

smtail:
	VMOVUPS.Z (X_PTR), K1, Z0
	VMOVUPS.Z (DX), K1, Z2
	VMULPS    Z1, Z0, Z0
	VMULPS    Z2, Z0, Z0
	VMOVUPS   Z0, K1, (Y_PTR)
	VZEROUPPER
	RET

// func scaleAVX512(x []float32, s float32)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), X_PTR
	MOVQ         x_len+8(FP), LEN
	VBROADCASTSS s+24(FP), Z1
	MOVQ         LEN, CX
	TAILMASK
	SHRQ         $4, LEN
	JZ           sctail

scloop:
	VMULPS  (X_PTR), Z1, Z0 // X_i *= s
	VMOVUPS Z0, (X_PTR)
	ADDQ    $64, X_PTR
	DECQ    LEN
	JNZ     scloop

sctail:
	VMOVUPS.Z (X_PTR), K1, Z0
	VMULPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (X_PTR)
	VZEROUPPER
	RET

// func maxAVX512(x []float32) float32
TEXT ·maxAVX512(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), X_PTR
	MOVQ         x_len+8(FP), LEN
	MOVL         $0xff800000, AX // -Inf
	VPBROADCASTD AX, Z0
	VMOVAPS      Z0, Z1
	MOVQ         LEN, CX
	TAILMASK
	SHRQ         $4, LEN
	JZ           mxtail

mxloop:
	VMAXPS (X_PTR), Z0, Z0 // M = max(M, X_i)
	ADDQ   $64, X_PTR
	DECQ   LEN
	JNZ    mxloop

mxtail:
	VMOVUPS       (X_PTR), K1, Z1 // the tail; lanes past it keep -Inf
	VMAXPS        Z1, Z0, Z2
	VEXTRACTF64X4 $1, Z2, Y3
	VMAXPS        Y3, Y2, Y2
	VEXTRACTF32X4 $1, Y2, X3
	VMAXPS        X3, X2, X2
	VPERMILPS     $0x4e, X2, X3
	VMAXPS        X3, X2, X2
	VPERMILPS     $0xb1, X2, X3
	VMAXSS        X3, X2, X2
	VMOVSS        X2, ret+24(FP)
	VZEROUPPER
	RET

// func sumAVX512(x []float32) float32
TEXT ·sumAVX512(SB), NOSPLIT, $0-28
	MOVQ   x_base+0(FP), X_PTR
	MOVQ   x_len+8(FP), LEN
	MOVQ   LEN, CX
	TAILMASK
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	MOVQ   LEN, DX
	SHRQ   $6, DX
	JZ     sum16

sum64:
	VADDPS (X_PTR), Z0, Z0 // S += X_i, four blocks per round
	VADDPS 64(X_PTR), Z1, Z1
	VADDPS 128(X_PTR), Z2, Z2
	VADDPS 192(X_PTR), Z3, Z3
	ADDQ   $256, X_PTR
	DECQ   DX
	JNZ    sum64

sum16:
	ANDQ $63, LEN
	SHRQ $4, LEN
	JZ   sumtail

sumloop:
	VADDPS (X_PTR), Z0, Z0
	ADDQ   $64, X_PTR
	DECQ   LEN
	JNZ    sumloop

sumtail:
	VMOVUPS.Z (X_PTR), K1, Z4
	VADDPS    Z4, Z0, Z0
	VADDPS    Z1, Z0, Z0
	VADDPS    Z3, Z2, Z2
	VADDPS    Z2, Z0, Z0
	HSUM0
	VMOVSS    X0, ret+24(FP)
	VZEROUPPER
	RET

// func fmaLoopAVX512(n int) float32
TEXT ·fmaLoopAVX512(SB), NOSPLIT, $0-12
	MOVQ         n+0(FP), CX
	MOVL         $0x3f800000, AX // 1.0
	VPBROADCASTD AX, Z20
	MOVL         $0x3f7fff58, AX // 0.99999: keeps the chains finite
	VPBROADCASTD AX, Z21
	VMOVAPS      Z20, Z0
	VMOVAPS      Z20, Z1
	VMOVAPS      Z20, Z2
	VMOVAPS      Z20, Z3
	VMOVAPS      Z20, Z4
	VMOVAPS      Z20, Z5
	VMOVAPS      Z20, Z6
	VMOVAPS      Z20, Z7
	VMOVAPS      Z20, Z8
	VMOVAPS      Z20, Z9
	VMOVAPS      Z20, Z10
	VMOVAPS      Z20, Z11
	TESTQ        CX, CX
	JZ           fmadone

fmaloop:
	VFMADD213PS Z20, Z21, Z0 // Z_i = Z_i · 0.99999 + 1: twelve independent chains
	VFMADD213PS Z20, Z21, Z1
	VFMADD213PS Z20, Z21, Z2
	VFMADD213PS Z20, Z21, Z3
	VFMADD213PS Z20, Z21, Z4
	VFMADD213PS Z20, Z21, Z5
	VFMADD213PS Z20, Z21, Z6
	VFMADD213PS Z20, Z21, Z7
	VFMADD213PS Z20, Z21, Z8
	VFMADD213PS Z20, Z21, Z9
	VFMADD213PS Z20, Z21, Z10
	VFMADD213PS Z20, Z21, Z11
	DECQ        CX
	JNZ         fmaloop

fmadone:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z5, Z4, Z4
	VADDPS Z7, Z6, Z6
	VADDPS Z9, Z8, Z8
	VADDPS Z11, Z10, Z10
	VADDPS Z2, Z0, Z0
	VADDPS Z6, Z4, Z4
	VADDPS Z10, Z8, Z8
	VADDPS Z4, Z0, Z0
	VADDPS Z8, Z0, Z0
	HSUM0
	VMOVSS X0, ret+8(FP)
	VZEROUPPER
	RET

// Constants of Exp (vec.go), as float32 bits, and 127 for the exponent.
DATA expc<>+0(SB)/4, $0x3fb8aa3b  // log2 e
DATA expc<>+4(SB)/4, $0x4b400000  // 1.5·2^23: rounds to an integer
DATA expc<>+8(SB)/4, $0x3f318000  // ln 2, high part
DATA expc<>+12(SB)/4, $0xb95e8083 // ln 2, low part
DATA expc<>+16(SB)/4, $0x3ab60b61 // 1/720
DATA expc<>+20(SB)/4, $0x3c088889 // 1/120
DATA expc<>+24(SB)/4, $0x3d2aaaab // 1/24
DATA expc<>+28(SB)/4, $0x3e2aaaab // 1/6
DATA expc<>+32(SB)/4, $0x3f000000 // 1/2
DATA expc<>+36(SB)/4, $0x3f800000 // 1
DATA expc<>+40(SB)/4, $0x42b00000 // 88: above, +Inf
DATA expc<>+44(SB)/4, $0xc2aeac50 // -87.3365: below, 0
DATA expc<>+48(SB)/4, $127        // exponent bias
DATA expc<>+52(SB)/4, $0x7f800000 // +Inf
GLOBL expc<>(SB), RODATA|NOPTR, $56

// EXPCONST loads the constants of EXP into Z20-Z31.
#define EXPCONST \
	VBROADCASTSS expc<>+0(SB), Z20; \
	VBROADCASTSS expc<>+4(SB), Z21; \
	VBROADCASTSS expc<>+8(SB), Z22; \
	VBROADCASTSS expc<>+12(SB), Z23; \
	VBROADCASTSS expc<>+16(SB), Z24; \
	VBROADCASTSS expc<>+20(SB), Z25; \
	VBROADCASTSS expc<>+24(SB), Z26; \
	VBROADCASTSS expc<>+28(SB), Z27; \
	VBROADCASTSS expc<>+32(SB), Z28; \
	VBROADCASTSS expc<>+36(SB), Z29; \
	VBROADCASTSS expc<>+40(SB), Z30; \
	VBROADCASTSS expc<>+44(SB), Z31

// EXP sets R = Exp(X) in 16 lanes, the steps of the Go Exp: n = round(x·log2 e),
// r = x − n·ln 2 (in two parts), p(r) by Horner, times 2^n built in the
// exponent bits; then 0 below the range, +Inf above it, NaN kept. N and P
// are temporaries; K2-K4 are clobbered.
#define EXP(X, R, N, P) \
	VMAXPS       Z31, X, R; \
	VMINPS       Z30, R, R; \
	VMOVAPS      Z21, N; \
	VFMADD231PS  Z20, R, N; \
	VSUBPS       Z21, N, N; \
	VFNMADD231PS Z22, N, R; \
	VFNMADD231PS Z23, N, R; \
	VMOVAPS      Z24, P; \
	VFMADD213PS  Z25, R, P; \
	VFMADD213PS  Z26, R, P; \
	VFMADD213PS  Z27, R, P; \
	VFMADD213PS  Z28, R, P; \
	VFMADD213PS  Z29, R, P; \
	VFMADD213PS  Z29, R, P; \
	VCVTPS2DQ    N, N; \
	VPADDD.BCST  expc<>+48(SB), N, N; \
	VPSLLD       $23, N, N; \
	VMULPS       N, P, R; \
	VCMPPS       $1, Z31, X, K2; \
	VCMPPS       $14, Z30, X, K3; \
	VCMPPS       $3, X, X, K4; \
	VXORPS       R, R, K2, R; \
	VBROADCASTSS expc<>+52(SB), K3, R; \
	VMOVAPS      X, K4, R

// func siluMulAVX512(out []float32, gate []float32, up []float32)
TEXT ·siluMulAVX512(SB), NOSPLIT, $0-72
	MOVQ   out_base+0(FP), Y_PTR
	MOVQ   gate_base+24(FP), X_PTR
	MOVQ   gate_len+32(FP), LEN
	MOVQ   up_base+48(FP), DX
	MOVQ   LEN, CX
	TAILMASK
	EXPCONST
	VXORPS Z9, Z9, Z9
	SHRQ   $4, LEN
	JZ     silutail

siluloop:
	VMOVUPS (X_PTR), Z0
	VSUBPS  Z0, Z9, Z1     // -g
	EXP(Z1, Z2, Z3, Z4)    // e^-g
	VADDPS  Z29, Z2, Z2    // 1 + e^-g
	VDIVPS  Z2, Z0, Z0     // g / (1 + e^-g)
	VMULPS  (DX), Z0, Z0   // · up
	VMOVUPS Z0, (Y_PTR)
	ADDQ    $64, X_PTR
	ADDQ    $64, Y_PTR
	ADDQ    $64, DX
	DECQ    LEN
	JNZ     siluloop

silutail:
	KTESTW    K1, K1
	JZ        silureturn
	VMOVUPS.Z (X_PTR), K1, Z0
	VMOVUPS.Z (DX), K1, Z5
	VSUBPS    Z0, Z9, Z1
	EXP(Z1, Z2, Z3, Z4)
	VADDPS    Z29, Z2, Z2
	VDIVPS    Z2, Z0, Z0
	VMULPS    Z5, Z0, Z0
	VMOVUPS   Z0, K1, (Y_PTR)

silureturn:
	VZEROUPPER
	RET

// func expSubAVX512(x []float32, m float32) float32
TEXT ·expSubAVX512(SB), NOSPLIT, $0-36
	MOVQ         x_base+0(FP), X_PTR
	MOVQ         x_len+8(FP), LEN
	VBROADCASTSS m+24(FP), Z8
	MOVQ         LEN, CX
	TAILMASK
	EXPCONST
	VXORPS       Z0, Z0, Z0 // the sum, 16 lanes
	SHRQ         $4, LEN
	JZ           exptail

exploop:
	VMOVUPS (X_PTR), Z1
	VSUBPS  Z8, Z1, Z1     // x - m
	EXP(Z1, Z2, Z3, Z4)
	VMOVUPS Z2, (X_PTR)
	VADDPS  Z2, Z0, Z0
	ADDQ    $64, X_PTR
	DECQ    LEN
	JNZ     exploop

exptail:
	KTESTW    K1, K1
	JZ        expdone
	VMOVUPS.Z (X_PTR), K1, Z1
	VSUBPS    Z8, Z1, Z1
	EXP(Z1, Z2, Z3, Z4)
	VMOVUPS   Z2, K1, (X_PTR)
	VADDPS    Z2, Z0, K1, Z0

expdone:
	HSUM0
	VMOVSS X0, ret+32(FP)
	VZEROUPPER
	RET

// The same two kernels for AVX2 CPUs (siluMulAVX2, expSubAVX2), 8 lanes
// over whole blocks of 8 (the Go wrappers run the twin on the rest), the
// constants of EXP in Y6-Y15 and the range limits, 127 and +Inf loaded
// where they are used: 16 ymm registers hold no more.

// EXPCONST8 loads the constants of EXP8 into Y6-Y15.
#define EXPCONST8 \
	VBROADCASTSS expc<>+0(SB), Y6; \
	VBROADCASTSS expc<>+4(SB), Y7; \
	VBROADCASTSS expc<>+8(SB), Y8; \
	VBROADCASTSS expc<>+12(SB), Y9; \
	VBROADCASTSS expc<>+16(SB), Y10; \
	VBROADCASTSS expc<>+20(SB), Y11; \
	VBROADCASTSS expc<>+24(SB), Y12; \
	VBROADCASTSS expc<>+28(SB), Y13; \
	VBROADCASTSS expc<>+32(SB), Y14; \
	VBROADCASTSS expc<>+36(SB), Y15

// EXP8 is EXP in 8 lanes: R = Exp(X); N, P and T are temporaries.
#define EXP8(X, R, N, P, T) \
	VBROADCASTSS expc<>+44(SB), T; \
	VMAXPS       T, X, R; \
	VBROADCASTSS expc<>+40(SB), T; \
	VMINPS       T, R, R; \
	VMOVAPS      Y7, N; \
	VFMADD231PS  Y6, R, N; \
	VSUBPS       Y7, N, N; \
	VFNMADD231PS Y8, N, R; \
	VFNMADD231PS Y9, N, R; \
	VMOVAPS      Y10, P; \
	VFMADD213PS  Y11, R, P; \
	VFMADD213PS  Y12, R, P; \
	VFMADD213PS  Y13, R, P; \
	VFMADD213PS  Y14, R, P; \
	VFMADD213PS  Y15, R, P; \
	VFMADD213PS  Y15, R, P; \
	VCVTPS2DQ    N, N; \
	VPBROADCASTD expc<>+48(SB), T; \
	VPADDD       T, N, N; \
	VPSLLD       $23, N, N; \
	VMULPS       N, P, R; \
	VBROADCASTSS expc<>+44(SB), T; \
	VCMPPS       $1, T, X, T; \
	VANDNPS      R, T, R; \
	VBROADCASTSS expc<>+40(SB), T; \
	VCMPPS       $14, T, X, T; \
	VBROADCASTSS expc<>+52(SB), N; \
	VBLENDVPS    T, N, R, R; \
	VCMPPS       $3, X, X, T; \
	VBLENDVPS    T, X, R, R

// func siluMulAVX2(out []float32, gate []float32, up []float32)
// len(gate) a multiple of 8.
TEXT ·siluMulAVX2(SB), NOSPLIT, $0-72
	MOVQ  out_base+0(FP), Y_PTR
	MOVQ  gate_base+24(FP), X_PTR
	MOVQ  gate_len+32(FP), LEN
	MOVQ  up_base+48(FP), DX
	SHRQ  $3, LEN
	JZ    silu8done
	EXPCONST8

silu8loop:
	VMOVUPS (X_PTR), Y0
	VXORPS  Y5, Y5, Y5
	VSUBPS  Y0, Y5, Y1          // -g
	EXP8(Y1, Y2, Y3, Y4, Y5)    // e^-g
	VADDPS  Y15, Y2, Y2         // 1 + e^-g
	VDIVPS  Y2, Y0, Y0          // g / (1 + e^-g)
	VMULPS  (DX), Y0, Y0        // · up
	VMOVUPS Y0, (Y_PTR)
	ADDQ    $32, X_PTR
	ADDQ    $32, Y_PTR
	ADDQ    $32, DX
	DECQ    LEN
	JNZ     silu8loop

silu8done:
	VZEROUPPER
	RET

// func expSubAVX2(x []float32, m float32) float32
// len(x) a multiple of 8; the sum in 8 lanes, then across them.
TEXT ·expSubAVX2(SB), NOSPLIT, $0-36
	MOVQ         x_base+0(FP), X_PTR
	MOVQ         x_len+8(FP), LEN
	VXORPS       Y0, Y0, Y0
	SHRQ         $3, LEN
	JZ           exp8done
	EXPCONST8

exp8loop:
	VBROADCASTSS m+24(FP), Y5
	VMOVUPS      (X_PTR), Y1
	VSUBPS       Y5, Y1, Y1     // x - m
	EXP8(Y1, Y2, Y3, Y4, Y5)
	VMOVUPS      Y2, (X_PTR)
	VADDPS       Y2, Y0, Y0
	ADDQ         $32, X_PTR
	DECQ         LEN
	JNZ          exp8loop

exp8done:
	HSUM8(Y0, X0, X1)
	VMOVSS       X0, ret+32(FP)
	VZEROUPPER
	RET

// func pauseAMD64(n int)
TEXT ·pauseAMD64(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX

pauseloop:
	PAUSE
	DECQ CX
	JNZ  pauseloop
	RET

// func dotRowsAVX512(out []float32, q []float32, k []float32, stride int, n int)
TEXT ·dotRowsAVX512(SB), NOSPLIT, $0-88
	DOTROWS(2, 64, LOADK_F32, LOADKT_F32)

// func dotRowsF16AVX512(out []float32, q []float32, k []uint16, stride int, n int)
TEXT ·dotRowsF16AVX512(SB), NOSPLIT, $0-88
	DOTROWS(1, 32, LOADK_F16, LOADKT_F16)

// func axpyRowsAVX512(o []float32, p []float32, v []float32, stride int)
TEXT ·axpyRowsAVX512(SB), NOSPLIT, $0-80
	AXPYROWS(2, 64, 64, 128, 192, 256, LOADK_F32, LOADKT_F32)

// func axpyRowsF16AVX512(o []float32, p []float32, v []uint16, stride int)
TEXT ·axpyRowsF16AVX512(SB), NOSPLIT, $0-80
	AXPYROWS(1, 32, 32, 64, 96, 128, LOADK_F16, LOADKT_F16)

// func evictAMD64(b []byte)
TEXT ·evictAMD64(SB), NOSPLIT, $0-24
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	ADDQ SI, CX // end
	ANDQ $-64, SI // the line b starts in

evloop:
	CMPQ    SI, CX
	JAE     evdone
	CLFLUSH (SI)
	ADDQ    $64, SI
	JMP     evloop

evdone:
	MFENCE
	RET

// func prefetchAVX512(b []byte)
TEXT ·prefetchAVX512(SB), NOSPLIT, $0-24
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	ADDQ SI, CX // end

pfloop:
	CMPQ       SI, CX
	JAE        pfdone
	PREFETCHT1 (SI) // bring the line to L2
	ADDQ       $64, SI
	JMP        pfloop

pfdone:
	RET

// The four-query attention kernels: four query heads that read the same
// key/value head (grouped-query attention, or the rows of a verify)
// share every load of a cache row, and sixteen independent sums keep the
// FMA units busy where one query's sums wait on each other. Every score
// and output element is computed exactly as by dotRowsAVX512 and
// axpyRowsAVX512 (the same FMA chain and the same pairwise tree of lane
// sums), so a query's result does not depend on the kernel.

// ACC(j, u) is the sum of query j with cache row t+u: Z(4u+j).
// QK4(u) multiplies block OFF of row t+u (in Z16+u) with the four queries'.
#define QK4(KU, A0, A1, A2, A3) \
	VFMADD231PS KU, Z20, A0; VFMADD231PS KU, Z21, A1; VFMADD231PS KU, Z22, A2; VFMADD231PS KU, Z23, A3

// REDUCE4(A0..A3, S) leaves in S the four queries' sums of one row u,
// halfway down the tree: the 128-bit lane j of S holds lanes (i) + (i+4)
// + (i+8) + (i+12) of ACC(j, u), summed as HSUM0 does: first the two 256-bit
// halves, then the two 128-bit quarters.
#define REDUCE4(A0, A1, A2, A3, S) \
	VSHUFF64X2 $0x44, A1, A0, Z24; VSHUFF64X2 $0xEE, A1, A0, Z25; VADDPS Z25, Z24, Z24; \
	VSHUFF64X2 $0x44, A3, A2, Z25; VSHUFF64X2 $0xEE, A3, A2, Z26; VADDPS Z26, Z25, Z25; \
	VSHUFF64X2 $0x88, Z25, Z24, Z26; VSHUFF64X2 $0xDD, Z25, Z24, Z27; VADDPS Z27, Z26, S

// DQ4STORE reduces the sixteen sums of dotRowsQ4's four rows (ACC(j, u)
// in Z(4u+j)) and stores query j's four scores at outs[j] + R14 bytes.
#define DQ4STORE \
	REDUCE4(Z0, Z1, Z2, Z3, Z0); REDUCE4(Z4, Z5, Z6, Z7, Z4); \
	REDUCE4(Z8, Z9, Z10, Z11, Z8); REDUCE4(Z12, Z13, Z14, Z15, Z12); \
	VSHUFPS $0x44, Z4, Z0, Z24; VSHUFPS $0xEE, Z4, Z0, Z25; VADDPS Z25, Z24, Z24; \
	VSHUFPS $0x44, Z12, Z8, Z25; VSHUFPS $0xEE, Z12, Z8, Z26; VADDPS Z26, Z25, Z25; \
	VSHUFPS $0x88, Z25, Z24, Z26; VSHUFPS $0xDD, Z25, Z24, Z27; VADDPS Z27, Z26, Z26; \
	MOVQ 0(AX), R15; VMOVUPS X26, (R15)(R14*1); \
	VEXTRACTF32X4 $1, Z26, X27; MOVQ 8(AX), R15; VMOVUPS X27, (R15)(R14*1); \
	VEXTRACTF32X4 $2, Z26, X27; MOVQ 16(AX), R15; VMOVUPS X27, (R15)(R14*1); \
	VEXTRACTF32X4 $3, Z26, X27; MOVQ 24(AX), R15; VMOVUPS X27, (R15)(R14*1)

// AQ4(OP) loads (LOADO) or stores (STOREO) axpyRowsQ4's 64-column group
// of the four outputs, os[j] + R14 bytes, in Z(4j)..Z(4j+3).
#define LOADO(OFF, Z) VMOVUPS OFF(R15)(R14*1), Z
#define STOREO(OFF, Z) VMOVUPS Z, OFF(R15)(R14*1)
#define AQ4(OP) \
	MOVQ 0(AX), R15; OP(0, Z0); OP(64, Z1); OP(128, Z2); OP(192, Z3); \
	MOVQ 8(AX), R15; OP(0, Z4); OP(64, Z5); OP(128, Z6); OP(192, Z7); \
	MOVQ 16(AX), R15; OP(0, Z8); OP(64, Z9); OP(128, Z10); OP(192, Z11); \
	MOVQ 24(AX), R15; OP(0, Z12); OP(64, Z13); OP(128, Z14); OP(192, Z15)

// func dotRowsQ4AVX512(outs *[4]*float32, qs *[4]*float32, k *float32, stride int, n int, hd int)
// outs[j][t] = qs[j] · k[t·stride:], t < n (n a multiple of 4, hd of 16).
TEXT ·dotRowsQ4AVX512(SB), NOSPLIT, $0-48
	DOTROWSQ4(2, 1, 64, LOADK_F32)

// PV4(j) adds p_j[t] (in Z16+j) times the four blocks of row t (Z20-Z23)
// to query j's output group, Z(4j)..Z(4j+3).
#define PV4(P, O0, O1, O2, O3) \
	VFMADD231PS Z20, P, O0; VFMADD231PS Z21, P, O1; VFMADD231PS Z22, P, O2; VFMADD231PS Z23, P, O3

// func axpyRowsQ4AVX512(os *[4]*float32, ps *[4]*float32, v *float32, stride int, n int, hd int)
// os[j][i] += Σ_t ps[j][t] · v[t·stride + i], t < n, i < hd (a multiple of 64).
TEXT ·axpyRowsQ4AVX512(SB), NOSPLIT, $0-48
	AXPYROWSQ4(2, 256, 64, 128, 192, LOADK_F32, NOPFV, NOPFV)

DATA iota16<>+0(SB)/4, $0
DATA iota16<>+4(SB)/4, $1
DATA iota16<>+8(SB)/4, $2
DATA iota16<>+12(SB)/4, $3
DATA iota16<>+16(SB)/4, $4
DATA iota16<>+20(SB)/4, $5
DATA iota16<>+24(SB)/4, $6
DATA iota16<>+28(SB)/4, $7
DATA iota16<>+32(SB)/4, $8
DATA iota16<>+36(SB)/4, $9
DATA iota16<>+40(SB)/4, $10
DATA iota16<>+44(SB)/4, $11
DATA iota16<>+48(SB)/4, $12
DATA iota16<>+52(SB)/4, $13
DATA iota16<>+56(SB)/4, $14
DATA iota16<>+60(SB)/4, $15
GLOBL iota16<>(SB), RODATA|NOPTR, $64

// AMSTEP(OFF, V, I) folds the block at OFF(X_PTR), whose indices are Z2
// plus OFF/4, into the lane maxima V and their indices I.
#define AMSTEP(OFF, V, I) \
	VMOVUPS   OFF(X_PTR), Z8; \
	VCMPPS    $0x1e, V, Z8, K2; \
	VMOVAPS   Z8, K2, V; \
	VMOVDQA32 Z10, K2, I

// func argmaxLanesAVX512(x []float32, vals *[64]float32, idx *[64]int32)
// Lane l of set j (vals[16j+l]) keeps the largest of the elements it saw,
// x[64b+16j+l] for every b (and the last blocks in set 0), and the first
// index where it occurs: strictly greater replaces, so NaNs never do, and
// a lane that saw nothing above −Inf keeps index −1. Four sets keep four
// compare-and-blend chains in flight.
TEXT ·argmaxLanesAVX512(SB), NOSPLIT, $0-40
	MOVQ         x_base+0(FP), X_PTR
	MOVQ         x_len+8(FP), LEN
	MOVL         $0xff800000, AX // -Inf
	VPBROADCASTD AX, Z0          // lane maxima, four sets
	VMOVAPS      Z0, Z1
	VMOVAPS      Z0, Z2
	VMOVAPS      Z0, Z3
	VPTERNLOGD   $0xff, Z4, Z4, Z4 // their indices: -1
	VMOVAPS      Z4, Z5
	VMOVAPS      Z4, Z6
	VMOVAPS      Z4, Z7
	VMOVDQU32    iota16<>(SB), Z9  // indices of the current block
	MOVL         $16, AX
	VPBROADCASTD AX, Z11
	MOVQ         LEN, CX
	TAILMASK
	SHRQ         $4, LEN // whole blocks
	MOVQ         LEN, DX
	SHRQ         $2, DX  // groups of four
	ANDQ         $3, LEN // blocks after them
	TESTQ        DX, DX
	JZ           amone

amfour:
	VMOVDQA32 Z9, Z10
	AMSTEP(0, Z0, Z4)
	VPADDD    Z11, Z10, Z10
	AMSTEP(64, Z1, Z5)
	VPADDD    Z11, Z10, Z10
	AMSTEP(128, Z2, Z6)
	VPADDD    Z11, Z10, Z10
	AMSTEP(192, Z3, Z7)
	VPADDD    Z11, Z10, Z9
	ADDQ      $256, X_PTR
	DECQ      DX
	JNZ       amfour

amone:
	TESTQ LEN, LEN
	JZ    amtail

amoneloop:
	VMOVDQA32 Z9, Z10
	AMSTEP(0, Z0, Z4)
	VPADDD    Z11, Z9, Z9
	ADDQ      $64, X_PTR
	DECQ      LEN
	JNZ       amoneloop

amtail:
	VMOVUPS.Z (X_PTR), K1, Z8
	VCMPPS    $0x1e, Z0, Z8, K1, K2 // only the tail's lanes
	VMOVAPS   Z8, K2, Z0
	VMOVDQA32 Z9, K2, Z4
	MOVQ      vals+24(FP), AX
	VMOVUPS   Z0, (AX)
	VMOVUPS   Z1, 64(AX)
	VMOVUPS   Z2, 128(AX)
	VMOVUPS   Z3, 192(AX)
	MOVQ      idx+32(FP), AX
	VMOVDQU32 Z4, (AX)
	VMOVDQU32 Z5, 64(AX)
	VMOVDQU32 Z6, 128(AX)
	VMOVDQU32 Z7, 192(AX)
	VZEROUPPER
	RET

// func ropeRowAVX512(row []float32, c []float32, s []float32, heads int)
// Rotates each of the heads (2·len(c) values each) of row by the angles
// whose cosines and sines are c and s; len(c) a multiple of 16. Each
// product is rounded before the sum, as in the Go twin (no FMA).
TEXT ·ropeRowAVX512(SB), NOSPLIT, $0-80
	MOVQ  row_base+0(FP), X_PTR
	MOVQ  c_base+24(FP), DX
	MOVQ  c_len+32(FP), R8
	MOVQ  s_base+48(FP), DI
	MOVQ  heads+72(FP), CX
	SHLQ  $2, R8 // bytes of half a head
	TESTQ CX, CX
	JZ    rpdone
	TESTQ R8, R8
	JZ    rpdone

rphead:
	LEAQ (X_PTR)(R8*1), R9 // the head's second half
	XORQ R10, R10

rpblock:
	VMOVUPS (X_PTR)(R10*1), Z0 // x0
	VMOVUPS (R9)(R10*1), Z1    // x1
	VMOVUPS (DX)(R10*1), Z2    // cos
	VMOVUPS (DI)(R10*1), Z3    // sin
	VMULPS  Z2, Z0, Z4         // x0·cos
	VMULPS  Z3, Z1, Z5         // x1·sin
	VSUBPS  Z5, Z4, Z4
	VMULPS  Z2, Z1, Z6         // x1·cos
	VMULPS  Z3, Z0, Z7         // x0·sin
	VADDPS  Z7, Z6, Z6
	VMOVUPS Z4, (X_PTR)(R10*1)
	VMOVUPS Z6, (R9)(R10*1)
	ADDQ    $64, R10
	CMPQ    R10, R8
	JLT     rpblock

	LEAQ (R9)(R8*1), X_PTR // the next head
	DECQ CX
	JNZ  rphead

rpdone:
	VZEROUPPER
	RET

// The half-precision KV cache: conversions, and the attention kernels
// above over binary16 rows. Each attention kernel is its float32 twin
// with every cache load widened by VCVTPH2PS (exact) before the same
// FMA: the same sums in the same order, the same bits as over the
// widened rows. Cache offsets advance 2 bytes per element.

// func f16ToF32AVX512(dst []float32, src []uint16)
TEXT ·f16ToF32AVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), Y_PTR
	MOVQ src_base+24(FP), X_PTR
	MOVQ src_len+32(FP), LEN
	MOVQ LEN, CX
	TAILMASK
	SHRQ $4, LEN
	JZ   hwtail

hwloop:
	VCVTPH2PS (X_PTR), Z0
	VMOVUPS   Z0, (Y_PTR)
	ADDQ      $32, X_PTR
	ADDQ      $64, Y_PTR
	DECQ      LEN
	JNZ       hwloop

hwtail:
	VCVTPH2PS.Z (X_PTR), K1, Z0
	VMOVUPS     Z0, K1, (Y_PTR)
	VZEROUPPER
	RET

// func f32ToF16AVX512(dst []uint16, src []float32)
TEXT ·f32ToF16AVX512(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), Y_PTR
	MOVQ src_base+24(FP), X_PTR
	MOVQ src_len+32(FP), LEN
	MOVQ LEN, CX
	TAILMASK
	SHRQ $4, LEN
	JZ   hntail

hnloop:
	VMOVUPS   (X_PTR), Z0
	VCVTPS2PH $0, Z0, (Y_PTR) // imm 0: to nearest, ties to even
	ADDQ      $64, X_PTR
	ADDQ      $32, Y_PTR
	DECQ      LEN
	JNZ       hnloop

hntail:
	VMOVUPS.Z (X_PTR), K1, Z0
	VCVTPS2PH $0, Z0, K1, (Y_PTR)
	VZEROUPPER
	RET

// func dotRowsQ4F16AVX512(outs *[4]*float32, qs *[4]*float32, k *uint16, stride int, n int, hd int)
// dotRowsQ4AVX512 over binary16 rows (the queries read at twice the
// rows' offset).
TEXT ·dotRowsQ4F16AVX512(SB), NOSPLIT, $0-48
	DOTROWSQ4(1, 2, 32, LOADK_F16)

// func axpyRowsQ4F16AVX512(os *[4]*float32, ps *[4]*float32, v *uint16, stride int, n int, hd int)
// axpyRowsQ4AVX512 over binary16 rows, the values fetched ahead.
TEXT ·axpyRowsQ4F16AVX512(SB), NOSPLIT, $0-48
	AXPYROWSQ4(1, 128, 32, 64, 96, LOADK_F16, PFDIST16, PFV16)

// The two-query attention kernels: a tile of two queries that read the
// same key/value head (a decode step of a model with two query heads per
// key/value head, or the last two of a verify's) without padding it to
// four. Eight cache rows at a time share each query load; every score and
// output is computed as by dotRowsAVX512 and axpyRowsAVX512 (the same FMA
// chain, the same tree of lane sums), and the binary16 variants as by the
// float32 ones over the widened rows.

// QK2(LOADK, ROW, A0, A1) multiplies the block of cache row u at ROW
// (loaded, or widened, by LOADK) with both queries (Z20, Z21) into
// ACC(0, u) and ACC(1, u), Z(2u) and Z(2u+1).
#define QK2(LOADK, ROW, A0, A1) LOADK(ROW, Z16); VFMADD231PS Z16, Z20, A0; VFMADD231PS Z16, Z21, A1

// DQ2STORE reduces ACC(j, u) (u < 8) so that quarter 0 of Z26 holds query
// 0's scores of rows 0-3, quarter 1 query 1's, quarters 2 and 3 those of
// rows 4-7, and stores them at outs[j] + R14 bytes.
#define DQ2STORE \
	REDUCE4(Z0, Z1, Z8, Z9, Z0); REDUCE4(Z2, Z3, Z10, Z11, Z2); \
	REDUCE4(Z4, Z5, Z12, Z13, Z4); REDUCE4(Z6, Z7, Z14, Z15, Z6); \
	VSHUFPS $0x44, Z2, Z0, Z24; VSHUFPS $0xEE, Z2, Z0, Z25; VADDPS Z25, Z24, Z24; \
	VSHUFPS $0x44, Z6, Z4, Z25; VSHUFPS $0xEE, Z6, Z4, Z26; VADDPS Z26, Z25, Z25; \
	VSHUFPS $0x88, Z25, Z24, Z26; VSHUFPS $0xDD, Z25, Z24, Z27; VADDPS Z27, Z26, Z26; \
	VMOVUPS X26, (SI)(R14*1); VEXTRACTF32X4 $1, Z26, X27; VMOVUPS X27, (DI)(R14*1); \
	VEXTRACTF32X4 $2, Z26, X27; VMOVUPS X27, 16(SI)(R14*1); VEXTRACTF32X4 $3, Z26, X27; VMOVUPS X27, 16(DI)(R14*1)

// func dotRowsQ2AVX512(outs *[2]*float32, qs *[2]*float32, k *float32, stride int, n int, hd int)
// outs[j][t] = qs[j] · k[t·stride:], t < n (n a multiple of 8, hd of 16).
TEXT ·dotRowsQ2AVX512(SB), NOSPLIT, $0-48
	DOTROWSQ2(2, 1, 64, LOADK_F32)

// func dotRowsQ2F16AVX512(outs *[2]*float32, qs *[2]*float32, k *uint16, stride int, n int, hd int)
// dotRowsQ2AVX512 over binary16 rows.
TEXT ·dotRowsQ2F16AVX512(SB), NOSPLIT, $0-48
	DOTROWSQ2(1, 2, 32, LOADK_F16)

// AQ2(OP) loads or stores axpyRowsQ2's 64-column group of both outputs,
// os[j] + R14 bytes, in Z(4j)..Z(4j+3).
#define AQ2(OP) \
	OP(0, Z0, SI); OP(64, Z1, SI); OP(128, Z2, SI); OP(192, Z3, SI); \
	OP(0, Z4, DI); OP(64, Z5, DI); OP(128, Z6, DI); OP(192, Z7, DI)
#define LOADO2(OFF, Z, B) VMOVUPS OFF(B)(R14*1), Z
#define STOREO2(OFF, Z, B) VMOVUPS Z, OFF(B)(R14*1)

// PV2 adds p_0[t] (Z16) and p_1[t] (Z17) times the row's group (Z20-Z23).
#define PV2 \
	VFMADD231PS Z20, Z16, Z0; VFMADD231PS Z21, Z16, Z1; VFMADD231PS Z22, Z16, Z2; VFMADD231PS Z23, Z16, Z3; \
	VFMADD231PS Z20, Z17, Z4; VFMADD231PS Z21, Z17, Z5; VFMADD231PS Z22, Z17, Z6; VFMADD231PS Z23, Z17, Z7

// func axpyRowsQ2AVX512(os *[2]*float32, ps *[2]*float32, v *float32, stride int, n int, hd int)
// os[j][i] += Σ_t ps[j][t] · v[t·stride + i], t < n, i < hd (a multiple of 64).
TEXT ·axpyRowsQ2AVX512(SB), NOSPLIT, $0-48
	AXPYROWSQ2(2, 256, 64, 128, 192, LOADK_F32, NOPFV)

// func axpyRowsQ2F16AVX512(os *[2]*float32, ps *[2]*float32, v *uint16, stride int, n int, hd int)
// axpyRowsQ2AVX512 over binary16 rows, the values fetched ahead.
TEXT ·axpyRowsQ2F16AVX512(SB), NOSPLIT, $0-48
	AXPYROWSQ2(1, 128, 32, 64, 96, LOADK_F16, PFV16)
