// Package safetensors reads and writes checkpoints in the safetensors format
// used by Hugging Face models.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON header (possibly padded with trailing spaces), then the data section.
// The header maps each tensor name to its dtype, shape and [begin, end) byte
// offsets relative to the start of the data section; the optional
// "__metadata__" entry holds string-to-string metadata:
//
//	{"__metadata__": {"format": "pt"},
//	 "model.norm.weight": {"dtype": "BF16", "shape": [64], "data_offsets": [0, 128]}}
//
// Open memory-maps a file read-only and validates the whole header up front
// (dtypes, shapes, offsets, overlaps, duplicate names), so that every later
// Tensor call is a cheap, copy-free view of the mapping. OpenModel does the
// same for a Hugging Face model directory, sharded
// (model.safetensors.index.json) or not. Write produces deterministic files.
//
// Only F32, BF16 and F16 tensors are supported; files holding other dtypes
// (F64, I64, U8, BOOL, F8_E4M3, ...) are rejected with an "unsupported dtype"
// error naming the tensor.
//
// # Alignment
//
// Tensor data returned by File.Tensor aliases the memory map. The map itself
// is page aligned, but the data section starts at byte 8+N of the file and N
// is chosen by whoever wrote the file, so tensor data may have any alignment,
// even for F32. Kernels must not assume that tensor.Tensor.Data is aligned to
// its element size. (Files made by Write are laid out so that F32 data is
// 4-aligned, but files from elsewhere need not be.)
//
// # Lifetime
//
// Tensors returned by File.Tensor and Model.Tensor are valid only until the
// File or Model is closed; their Data must never be written to (the mapping
// is read-only and writing faults).
package safetensors
