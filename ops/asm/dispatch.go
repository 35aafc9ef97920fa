package asm

import "os"

// impl names the kernels chosen at start-up: "avx512", "avx2" or "go".
var impl = "go"

// Impl reports which kernels the exported functions run: "avx512" (all
// kernels in AVX-512 assembly, plus AVX512-BF16 where the CPU has it),
// "avx2" (the Mat kernels in AVX2/FMA assembly, the rest in Go) or "go"
// (the pure-Go twins).
func Impl() string { return impl }

// init chooses the kernels once, from the CPU's features. GOPARD_NOASM=1
// keeps the Go twins; GOPARD_ASM=avx2 stops at AVX2 (to measure or test
// that level on an AVX-512 machine).
func init() {
	if os.Getenv("GOPARD_NOASM") == "1" {
		return
	}
	impl = archInit(os.Getenv("GOPARD_ASM"))
}
