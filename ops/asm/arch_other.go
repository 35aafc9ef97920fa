//go:build !amd64 || noasm

package asm

// archInit keeps the pure-Go twins: there is no assembly in this build.
func archInit(string) string { return "go" }

// The four-query kernels are never called in this build (hasRows4 stays
// false); these keep DotRows4 and AxpyRows4 compiling.
func dotRowsQ4AVX512(outs, qs *[4]*float32, k *float32, stride int, n int, hd int) {
	panic("asm: no four-query kernel in this build")
}

func axpyRowsQ4AVX512(os, ps *[4]*float32, v *float32, stride int, n int, hd int) {
	panic("asm: no four-query kernel in this build")
}
