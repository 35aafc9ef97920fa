//go:build !amd64 || noasm

package asm

// archInit keeps the pure-Go twins: there is no assembly in this build.
func archInit(string) string { return "go" }

// The four-query and argmax kernels are never called in this build
// (hasRows4 and hasArgmaxLanes stay false); these keep DotRows4,
// AxpyRows4 and Argmax compiling.
func dotRowsQ4AVX512(outs, qs *[4]*float32, k *float32, stride int, n int, hd int) {
	panic("asm: no four-query kernel in this build")
}

func axpyRowsQ4AVX512(os, ps *[4]*float32, v *float32, stride int, n int, hd int) {
	panic("asm: no four-query kernel in this build")
}

func dotRowsQ4F16AVX512(outs, qs *[4]*float32, k *uint16, stride int, n int, hd int) {
	panic("asm: no four-query kernel in this build")
}

func axpyRowsQ4F16AVX512(os, ps *[4]*float32, v *uint16, stride int, n int, hd int) {
	panic("asm: no four-query kernel in this build")
}

func dotRowsQ2AVX512(outs, qs *[2]*float32, k *float32, stride int, n int, hd int) {
	panic("asm: no two-query kernel in this build")
}

func dotRowsQ2F16AVX512(outs, qs *[2]*float32, k *uint16, stride int, n int, hd int) {
	panic("asm: no two-query kernel in this build")
}

func axpyRowsQ2AVX512(os, ps *[2]*float32, v *float32, stride int, n int, hd int) {
	panic("asm: no two-query kernel in this build")
}

func axpyRowsQ2F16AVX512(os, ps *[2]*float32, v *uint16, stride int, n int, hd int) {
	panic("asm: no two-query kernel in this build")
}

func argmaxLanesAVX512(x []float32, vals *[64]float32, idx *[64]int32) {
	panic("asm: no argmax kernel in this build")
}
