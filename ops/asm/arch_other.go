//go:build !amd64 || noasm

package asm

// archInit keeps the pure-Go twins: there is no assembly in this build.
func archInit(string) string { return "go" }
