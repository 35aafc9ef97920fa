package gpu

import "unsafe"

// unsafePointer is the address of the first element of a non-empty slice.
func unsafePointer[T any](s []T) unsafe.Pointer { return unsafe.Pointer(&s[0]) }
