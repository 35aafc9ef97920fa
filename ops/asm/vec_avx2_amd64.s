//go:build amd64 && !noasm

#include "textflag.h"
#include "hsum8_amd64.h"

// AVX2/FMA attention kernels for CPUs without AVX-512: dotRowsGo and
// axpyRowsGo (and their binary16 twins) in 8-lane ymm registers. Without
// them a decode step's attention ran in Go, a third of its time on the
// embedded target (GOPARD_ASM=avx2 on a Zen 4). One query at a time: the
// multi-query kernels stay AVX-512's, so every query goes through these
// and its result never depends on how the queries were grouped.
//
// dotRows: out[t] = q · k[t·stride:], the sum in four 8-lane accumulators
// taking the 8-element blocks in turn (block b into accumulator b%4, the
// hd/8%4 blocks after the last four all into the first), added as
// (A0+A1)+(A2+A3), then across lanes by HSUM8;
// the hd%8 elements after the last block are added one at a time after
// that.
//
// axpyRows: o[i] += Σ_t p[t] · v[t·stride + i], each element's products
// added in t order (64 or 8 columns held in registers while t runs), the
// hd%8 last columns one at a time.

// LKV32 and LKV16 load 8 cache elements at OFF(B) as float32 into Y
// (binary16 widened exactly); LK1F32 and LK1F16 load one into X.
#define LKV32(OFF, B, Y) VMOVUPS OFF(B), Y
#define LKV16(OFF, B, Y) VCVTPH2PS OFF(B), Y
#define LK1F32(B, X) VMOVSS (B), X
#define LK1F16(B, X) MOVWLZX (B), AX; VMOVD AX, X; VCVTPH2PS X, X

// DOTROWS(SH, QB, LK, LK1): SH is log2 of the cache element size and QB
// the bytes of 8 of them. R11 walks the query (bytes), R13 the cache row.
#define DOTROWS(SH, QB, LK, LK1) \
	MOVQ  out_base+0(FP), DI; \
	MOVQ  q_base+24(FP), SI; \
	MOVQ  q_len+32(FP), BX; \
	MOVQ  k_base+48(FP), DX; \
	MOVQ  stride+72(FP), R8; \
	SHLQ  $SH, R8; \
	MOVQ  n+80(FP), CX; \
	MOVQ  BX, R9; \
	SHRQ  $3, R9; \
	MOVQ  BX, R10; \
	ANDQ  $7, R10; \
	TESTQ CX, CX; \
	JZ    done; \
row: \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	XORQ   R11, R11; \
	MOVQ   DX, R13; \
	MOVQ   R9, R12; \
	CMPQ   R12, $4; \
	JB     rest; \
quad: \
	LK(0, R13, Y4); \
	LK(QB, R13, Y5); \
	LK(2*QB, R13, Y6); \
	LK(3*QB, R13, Y7); \
	VFMADD231PS (SI)(R11*1), Y4, Y0; \
	VFMADD231PS 32(SI)(R11*1), Y5, Y1; \
	VFMADD231PS 64(SI)(R11*1), Y6, Y2; \
	VFMADD231PS 96(SI)(R11*1), Y7, Y3; \
	ADDQ $128, R11; \
	ADDQ $4*QB, R13; \
	SUBQ $4, R12; \
	CMPQ R12, $4; \
	JAE  quad; \
rest: \
	TESTQ R12, R12; \
	JZ    sum; \
	LK(0, R13, Y4); \
	VFMADD231PS (SI)(R11*1), Y4, Y0; \
	ADDQ $32, R11; \
	ADDQ $QB, R13; \
	DECQ R12; \
	JMP  rest; \
sum: \
	VADDPS       Y1, Y0, Y0; \
	VADDPS       Y3, Y2, Y2; \
	VADDPS       Y2, Y0, Y0; \
	HSUM8(Y0, X0, X1); \
	MOVQ         R10, R12; \
	TESTQ        R12, R12; \
	JZ           store; \
tail: \
	LK1(R13, X1); \
	VFMADD231SS (SI)(R11*1), X1, X0; \
	ADDQ $4, R11; \
	ADDQ $QB/8, R13; \
	DECQ R12; \
	JNZ  tail; \
store: \
	VMOVSS X0, (DI); \
	ADDQ   $4, DI; \
	ADDQ   R8, DX; \
	DECQ   CX; \
	JNZ    row; \
done: \
	VZEROUPPER; \
	RET

// AXPYROWS(SH, QB, LK, LK1): R11 walks o (bytes), R13 the cache rows at the
// same column, R14 p.
#define AXPYROWS(SH, QB, LK, LK1) \
	MOVQ  o_base+0(FP), DI; \
	MOVQ  o_len+8(FP), BX; \
	MOVQ  p_base+24(FP), SI; \
	MOVQ  p_len+32(FP), CX; \
	MOVQ  v_base+48(FP), DX; \
	MOVQ  stride+72(FP), R8; \
	SHLQ  $SH, R8; \
	TESTQ CX, CX; \
	JZ    done; \
	XORQ  R11, R11; \
	MOVQ  BX, R12; \
	SHRQ  $6, R12; \
	JZ    g8; \
g64: \
	VMOVUPS (DI)(R11*1), Y0; \
	VMOVUPS 32(DI)(R11*1), Y1; \
	VMOVUPS 64(DI)(R11*1), Y2; \
	VMOVUPS 96(DI)(R11*1), Y3; \
	VMOVUPS 128(DI)(R11*1), Y4; \
	VMOVUPS 160(DI)(R11*1), Y5; \
	VMOVUPS 192(DI)(R11*1), Y6; \
	VMOVUPS 224(DI)(R11*1), Y7; \
	MOVQ    R11, R13; \
	SHRQ    $(2-SH), R13; \
	ADDQ    DX, R13; \
	XORQ    R14, R14; \
	MOVQ    CX, R15; \
t64: \
	VBROADCASTSS (SI)(R14*1), Y15; \
	LK(0, R13, Y8); \
	LK(QB, R13, Y9); \
	LK(2*QB, R13, Y10); \
	LK(3*QB, R13, Y11); \
	VFMADD231PS Y8, Y15, Y0; \
	VFMADD231PS Y9, Y15, Y1; \
	VFMADD231PS Y10, Y15, Y2; \
	VFMADD231PS Y11, Y15, Y3; \
	LK(4*QB, R13, Y8); \
	LK(5*QB, R13, Y9); \
	LK(6*QB, R13, Y10); \
	LK(7*QB, R13, Y11); \
	VFMADD231PS Y8, Y15, Y4; \
	VFMADD231PS Y9, Y15, Y5; \
	VFMADD231PS Y10, Y15, Y6; \
	VFMADD231PS Y11, Y15, Y7; \
	ADDQ $4, R14; \
	ADDQ R8, R13; \
	DECQ R15; \
	JNZ  t64; \
	VMOVUPS Y0, (DI)(R11*1); \
	VMOVUPS Y1, 32(DI)(R11*1); \
	VMOVUPS Y2, 64(DI)(R11*1); \
	VMOVUPS Y3, 96(DI)(R11*1); \
	VMOVUPS Y4, 128(DI)(R11*1); \
	VMOVUPS Y5, 160(DI)(R11*1); \
	VMOVUPS Y6, 192(DI)(R11*1); \
	VMOVUPS Y7, 224(DI)(R11*1); \
	ADDQ $256, R11; \
	DECQ R12; \
	JNZ  g64; \
g8: \
	MOVQ BX, R12; \
	ANDQ $63, R12; \
	SHRQ $3, R12; \
	JZ   g1; \
g8loop: \
	VMOVUPS (DI)(R11*1), Y0; \
	MOVQ    R11, R13; \
	SHRQ    $(2-SH), R13; \
	ADDQ    DX, R13; \
	XORQ    R14, R14; \
	MOVQ    CX, R15; \
t8: \
	VBROADCASTSS (SI)(R14*1), Y15; \
	LK(0, R13, Y8); \
	VFMADD231PS Y8, Y15, Y0; \
	ADDQ $4, R14; \
	ADDQ R8, R13; \
	DECQ R15; \
	JNZ  t8; \
	VMOVUPS Y0, (DI)(R11*1); \
	ADDQ $32, R11; \
	DECQ R12; \
	JNZ  g8loop; \
g1: \
	MOVQ BX, R12; \
	ANDQ $7, R12; \
	JZ   done; \
g1loop: \
	VMOVSS (DI)(R11*1), X0; \
	MOVQ   R11, R13; \
	SHRQ   $(2-SH), R13; \
	ADDQ   DX, R13; \
	XORQ   R14, R14; \
	MOVQ   CX, R15; \
t1: \
	VMOVSS (SI)(R14*1), X15; \
	LK1(R13, X8); \
	VFMADD231SS X8, X15, X0; \
	ADDQ $4, R14; \
	ADDQ R8, R13; \
	DECQ R15; \
	JNZ  t1; \
	VMOVSS X0, (DI)(R11*1); \
	ADDQ $4, R11; \
	DECQ R12; \
	JNZ  g1loop; \
done: \
	VZEROUPPER; \
	RET

// func dotRowsAVX2(out []float32, q []float32, k []float32, stride int, n int)
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-88
	DOTROWS(2, 32, LKV32, LK1F32)

// func dotRowsF16AVX2(out []float32, q []float32, k []uint16, stride int, n int)
TEXT ·dotRowsF16AVX2(SB), NOSPLIT, $0-88
	DOTROWS(1, 16, LKV16, LK1F16)

// func axpyRowsAVX2(o []float32, p []float32, v []float32, stride int)
TEXT ·axpyRowsAVX2(SB), NOSPLIT, $0-80
	AXPYROWS(2, 32, LKV32, LK1F32)

// func axpyRowsF16AVX2(o []float32, p []float32, v []uint16, stride int)
TEXT ·axpyRowsF16AVX2(SB), NOSPLIT, $0-80
	AXPYROWS(1, 16, LKV16, LK1F16)
