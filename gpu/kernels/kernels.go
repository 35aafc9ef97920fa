// Package kernels holds the device code of gopard's GPU backends: one .cu
// file per operation, written once for CUDA and HIP (compat.h maps the few
// spellings that differ), and embedded so that gpu/cuda and gpu/hip can
// compile it at run time with NVRTC or hiprtc for the device at hand.
//
// prelude/ holds the declarations that stand in for the vendor headers
// when the sources are compiled elsewhere: clang.h for the syntax check of
// .ci/gpu-compile-check (clang, NVPTX and AMDGPU), emu.h for the CPU
// emulator the tests run the kernels on (gpu/internal/emu).
package kernels

import (
	"embed"
	"regexp"
	"slices"
	"strings"
)

//go:embed compat.h common.h *.cu
var files embed.FS

// Prelude of the CPU emulator (see gpu/internal/emu).
//
//go:embed prelude/emu.h
var EmuPrelude string

// headers are included by the .cu files, in dependency order.
var headers = []string{"compat.h", "common.h"}

// Files returns the names of the kernel sources, headers first.
func Files() []string {
	entries, _ := files.ReadDir(".")
	var cu []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cu") {
			cu = append(cu, e.Name())
		}
	}
	slices.Sort(cu)
	return append(slices.Clone(headers), cu...)
}

// Read returns the text of one file of Files.
func Read(name string) string {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("kernels: " + err.Error())
	}
	return string(b)
}

var localInclude = regexp.MustCompile(`(?m)^#include "[a-z_]+\.h"[ \t]*$`)

// Source returns every kernel as one translation unit, as NVRTC and hiprtc
// compile it: the headers, then the .cu files, with their local #include
// lines removed (each header appears once, first).
func Source() string {
	var b strings.Builder
	for _, name := range Files() {
		b.WriteString("// ---- " + name + "\n")
		b.WriteString(localInclude.ReplaceAllString(Read(name), "// (included above)"))
		b.WriteString("\n")
	}
	return b.String()
}

var entryPoint = regexp.MustCompile(`(?m)^KERNEL void ([A-Za-z_][A-Za-z0-9_]*)\(`)

// Names returns the names of the entry points (the KERNEL functions), in
// source order.
func Names() []string {
	var names []string
	for _, m := range entryPoint.FindAllStringSubmatch(Source(), -1) {
		names = append(names, m[1])
	}
	return names
}
