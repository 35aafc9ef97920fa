package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/gopard/gopard/tensor"
)

// MaxHeaderSize is the largest JSON header Open accepts (100 MB), a guard
// against corrupt length prefixes.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry that holds string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	Name  string
	DType tensor.DType
	Shape []int
	// Offset is the start of the tensor's bytes relative to the data
	// section; Size is their count (elements × dtype size).
	Offset, Size int64
}

// supportedDTypes lists what gopard computes with, for error messages.
const supportedDTypes = "F32, BF16, F16"

// otherDTypes are standard safetensors dtypes gopard recognises but does not
// support.
var otherDTypes = map[string]bool{
	"BOOL": true, "U8": true, "I8": true, "U16": true, "I16": true,
	"U32": true, "I32": true, "U64": true, "I64": true, "F64": true,
	"C64": true, "F8_E4M3": true, "F8_E5M2": true, "F8_E8M0": true,
	"F6_E2M3": true, "F6_E3M2": true, "F4": true,
}

func parseDType(s string) (tensor.DType, error) {
	switch s {
	case "F32":
		return tensor.F32, nil
	case "BF16":
		return tensor.BF16, nil
	case "F16":
		return tensor.F16, nil
	}
	if otherDTypes[s] {
		return tensor.Invalid, fmt.Errorf("unsupported dtype %s (gopard supports %s)", s, supportedDTypes)
	}
	return tensor.Invalid, fmt.Errorf("unknown dtype %q (gopard supports %s)", s, supportedDTypes)
}

// rawEntry is a header entry as decoded from JSON; pointers detect missing
// fields.
type rawEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int   `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// ParseHeader validates a JSON header against a data section of dataSize
// bytes and returns the tensors sorted by name and the metadata (never nil).
// It checks the JSON syntax and types, dtypes, shapes (negative or
// overflowing dimensions), that each span is [begin, end) with
// begin ≤ end ≤ dataSize and end − begin = elements × dtype size, that
// non-empty spans do not overlap, and that no name appears twice. Trailing
// whitespace after the JSON object is allowed (writers pad with spaces).
func ParseHeader(header []byte, dataSize int64) (infos []TensorInfo, meta map[string]string, err error) {
	if dataSize < 0 {
		return nil, nil, fmt.Errorf("negative data section size %d", dataSize)
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, fmt.Errorf("invalid JSON header: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("invalid header: want a JSON object, found %v", tok)
	}
	seen := make(map[string]bool)
	meta = make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("invalid JSON header: %w", err)
		}
		name, ok := tok.(string)
		if !ok { // cannot happen for valid JSON, but do not trust it
			return nil, nil, fmt.Errorf("invalid header: object key %v is not a string", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, fmt.Errorf("invalid JSON header at entry %q: %w", name, err)
		}
		if seen[name] {
			return nil, nil, fmt.Errorf("duplicate entry %q in header", name)
		}
		seen[name] = true
		if !isObject(raw) {
			return nil, nil, fmt.Errorf("entry %q is not a JSON object", name)
		}
		if name == metadataKey {
			if meta, err = parseMetadata(raw); err != nil {
				return nil, nil, err
			}
			continue
		}
		info, err := parseEntry(name, raw, dataSize)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, info)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, fmt.Errorf("invalid JSON header: %w", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected %v", tok)
		}
		return nil, nil, fmt.Errorf("invalid JSON header: trailing data after the object: %w", err)
	}
	if err := checkOverlaps(infos); err != nil {
		return nil, nil, err
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos, meta, nil
}

// parseMetadata decodes the "__metadata__" object, naming the first key
// whose value is not a string.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	var vals map[string]json.RawMessage
	if err := json.Unmarshal(raw, &vals); err != nil {
		return nil, fmt.Errorf("invalid %s: %w", metadataKey, err)
	}
	meta := make(map[string]string, len(vals))
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var v string
		if err := json.Unmarshal(vals[k], &v); err != nil || vals[k][0] != '"' {
			return nil, fmt.Errorf("%s must map strings to strings, but %q is %s", metadataKey, k, abbrev(vals[k]))
		}
		meta[k] = v
	}
	return meta, nil
}

// abbrev shortens raw JSON for an error message.
func abbrev(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}

func isObject(raw json.RawMessage) bool {
	b := bytes.TrimLeft(raw, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func parseEntry(name string, raw json.RawMessage, dataSize int64) (TensorInfo, error) {
	fail := func(format string, args ...any) (TensorInfo, error) {
		return TensorInfo{}, fmt.Errorf("tensor %q: "+format, append([]any{name}, args...)...)
	}
	var e rawEntry
	if err := json.Unmarshal(raw, &e); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fail("field %q: cannot use JSON %s as %v", te.Field, te.Value, te.Type)
		}
		return fail("%v", err)
	}
	var missing []string
	if e.DType == nil {
		missing = append(missing, "dtype")
	}
	if e.Shape == nil {
		missing = append(missing, "shape")
	}
	if e.DataOffsets == nil {
		missing = append(missing, "data_offsets")
	}
	if len(missing) > 0 {
		return fail("missing or null field(s) %s", strings.Join(missing, ", "))
	}
	dt, err := parseDType(*e.DType)
	if err != nil {
		return fail("%v", err)
	}
	shape := *e.Shape
	if shape == nil {
		shape = []int{}
	}
	n, err := tensor.CheckedNumElements(shape, math.MaxInt64/int64(dt.Size()))
	if err != nil {
		return fail("%v", err)
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return fail("data_offsets must be [begin, end], got %d numbers", len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < 0 {
		return fail("negative data_offsets [%d, %d]", begin, end)
	}
	if begin > end {
		return fail("data_offsets [%d, %d] begin after end", begin, end)
	}
	if end > dataSize {
		return fail("data_offsets [%d, %d] outside the %d-byte data section", begin, end, dataSize)
	}
	if want := n * int64(dt.Size()); want != end-begin {
		return fail("shape %v of %v needs %d bytes but data_offsets [%d, %d] span %d", shape, dt, want, begin, end, end-begin)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Offset: begin, Size: end - begin}, nil
}

// checkOverlaps reports two tensors whose non-empty spans share a byte.
func checkOverlaps(infos []TensorInfo) error {
	idx := make([]int, 0, len(infos))
	for i, in := range infos {
		if in.Size > 0 {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, b int) bool {
		x, y := infos[idx[a]], infos[idx[b]]
		if x.Offset != y.Offset {
			return x.Offset < y.Offset
		}
		return x.Name < y.Name
	})
	var prev *TensorInfo // the span reaching furthest so far
	for _, i := range idx {
		cur := &infos[i]
		if prev != nil && cur.Offset < prev.Offset+prev.Size {
			a, b := prev, cur
			if b.Name < a.Name {
				a, b = b, a
			}
			return fmt.Errorf("tensors %q [%d, %d) and %q [%d, %d) overlap",
				a.Name, a.Offset, a.Offset+a.Size, b.Name, b.Offset, b.Offset+b.Size)
		}
		if prev == nil || cur.Offset+cur.Size > prev.Offset+prev.Size {
			prev = cur
		}
	}
	return nil
}
