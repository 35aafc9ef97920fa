// HSUM8(Y, X, T) leaves in the low lane of X the sum of the 8 lanes of Y
// (X its low half), T a temporary: the two 128-bit halves, then pairs of
// 64 bits, then of 32. Every AVX2 kernel ends its sums so, which the
// tests that compare their results bit for bit rely on.
#define HSUM8(Y, X, T) \
	VEXTRACTF128 $1, Y, T; \
	VADDPS       T, X, X; \
	VPERMILPS    $0x4e, X, T; \
	VADDPS       T, X, X; \
	VPERMILPS    $0xb1, X, T; \
	VADDSS       T, X, X
