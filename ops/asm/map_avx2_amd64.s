//go:build amd64 && !noasm

#include "textflag.h"

// AVX2 forms of Max, Scale and Add for CPUs without AVX-512 (beside the
// AVX-512 ones in vec_amd64.s). Each takes whole blocks of 8 (len(x) a
// positive multiple of 8); the Go wrappers (maxAVX2Any, ...) run the twin
// on the rest. Scale and Add compute every element alone, so their bits
// are the twins'; a maximum does not depend on the order it is taken in,
// so Max returns the twin's value (with a NaN, or +0 against -0, VMAXPS
// may keep the other operand, as the AVX-512 kernel does).

// func maxAVX2(x []float32) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-28
	MOVQ    x_base+0(FP), SI
	MOVQ    x_len+8(FP), CX
	SHRQ    $3, CX
	VMOVUPS (SI), Y0
	ADDQ    $32, SI
	DECQ    CX
	JZ      mxreduce

mxloop:
	VMAXPS (SI), Y0, Y0 // M = max(M, X_i)
	ADDQ   $32, SI
	DECQ   CX
	JNZ    mxloop

mxreduce:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXSS       X1, X0, X0
	VMOVSS       X0, ret+24(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x []float32, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	SHRQ         $3, CX
	VBROADCASTSS s+24(FP), Y1

scloop:
	VMULPS  (SI), Y1, Y0 // x[i] *= s
	VMOVUPS Y0, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JNZ     scloop
	VZEROUPPER
	RET

// func addAVX2(dst []float32, src []float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	SHRQ $3, CX

adloop:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0 // dst[i] += src[i]
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     adloop
	VZEROUPPER
	RET
