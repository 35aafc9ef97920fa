package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/gopard/gopard/tensor"
)

// rawFile assembles a safetensors file from a header string and data bytes.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// inMapping reports whether b lies inside f's memory map.
func inMapping(f *File, b []byte) bool {
	if len(b) == 0 || len(f.mmap) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(&f.mmap[0]))
	hi := lo + uintptr(len(f.mmap))
	p := uintptr(unsafe.Pointer(&b[0]))
	return p >= lo && p+uintptr(len(b)) <= hi
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

func mustTensor(t testing.TB, dt tensor.DType, shape []int, data []byte) *tensor.Tensor {
	t.Helper()
	if tensor.NumElements(shape)*dt.Size() != len(data) {
		t.Fatalf("bad test tensor %v%v with %d bytes", dt, shape, len(data))
	}
	return &tensor.Tensor{DType: dt, Shape: shape, Data: data}
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name    string
		tensors []NamedTensor
		meta    map[string]string
	}{
		{"f32", []NamedTensor{{"a", tensor.FromF32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)}}, nil},
		{"bf16", []NamedTensor{{"w", mustTensor(t, tensor.BF16, []int{4}, seq(8))}}, map[string]string{"format": "pt"}},
		{"f16", []NamedTensor{{"h", mustTensor(t, tensor.F16, []int{2, 2}, seq(8))}}, nil},
		{"scalar", []NamedTensor{
			{"s32", tensor.FromF32([]float32{3.5})},
			{"s16", mustTensor(t, tensor.BF16, []int{}, seq(2))},
		}, nil},
		{"empty", []NamedTensor{
			{"e0", mustTensor(t, tensor.F32, []int{0}, nil)},
			{"e1", mustTensor(t, tensor.F16, []int{3, 0, 2}, []byte{})},
		}, nil},
		{"no tensors", nil, map[string]string{"k": "v"}},
		{"nothing", nil, nil},
		{"mixed", []NamedTensor{
			{"z.bf16", mustTensor(t, tensor.BF16, []int{3}, seq(6))}, // odd element count
			{"a.f32", tensor.FromF32([]float32{1, 2, 3}, 3)},
			{"m.f16", mustTensor(t, tensor.F16, []int{1, 1}, seq(2))},
			{"b.f32", tensor.FromF32([]float32{-1, 0.5}, 1, 2)},
			{"e", mustTensor(t, tensor.BF16, []int{0, 4}, nil)},
		}, map[string]string{"<html>&": "ünïcode \"quoted\""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.safetensors")
			if err := Write(path, tc.tensors, tc.meta); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Path() != path {
				t.Errorf("Path() = %q, want %q", f.Path(), path)
			}
			if (len(f.mmap)-len(f.data))%8 != 0 {
				t.Errorf("data section starts at %d, not 8-aligned", len(f.mmap)-len(f.data))
			}
			var want []string
			for _, nt := range tc.tensors {
				want = append(want, nt.Name)
			}
			sortStrings(want)
			if got := f.Names(); !equalStrings(got, want) {
				t.Errorf("Names() = %q, want %q", got, want)
			}
			for _, nt := range tc.tensors {
				got, err := f.Tensor(nt.Name)
				if err != nil {
					t.Fatal(err)
				}
				if got.DType != nt.T.DType || tensor.NumElements(got.Shape) != nt.T.Len() || len(got.Shape) != len(nt.T.Shape) {
					t.Errorf("%s: got %v, want %v", nt.Name, got, nt.T)
				}
				if !bytes.Equal(got.Data, nt.T.Data) {
					t.Errorf("%s: data differs", nt.Name)
				}
				if len(got.Data) > 0 && !inMapping(f, got.Data) {
					t.Errorf("%s: Data does not alias the memory map", nt.Name)
				}
				info, ok := f.Info(nt.Name)
				if !ok || info.Name != nt.Name || info.DType != nt.T.DType || info.Size != int64(len(nt.T.Data)) {
					t.Errorf("%s: Info = %+v, %v", nt.Name, info, ok)
				}
				// Files we write keep every tensor aligned to its element size.
				if pos := int64(len(f.mmap)-len(f.data)) + info.Offset; pos%int64(info.DType.Size()) != 0 {
					t.Errorf("%s: %v data at file offset %d is unaligned", nt.Name, info.DType, pos)
				}
			}
			meta := f.Metadata()
			if meta == nil || (len(tc.meta) > 0 && !reflect.DeepEqual(meta, tc.meta)) || (len(tc.meta) == 0 && len(meta) != 0) {
				t.Errorf("Metadata() = %v, want %v", meta, tc.meta)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func equalStrings(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func TestF32Values(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.safetensors")
	vals := []float32{1.5, -2, 3.25, 1e-8}
	if err := Write(path, []NamedTensor{{"v", tensor.FromF32(vals, 2, 2)}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := f.Tensor("v")
	if err != nil {
		t.Fatal(err)
	}
	if got := v.ToF32(); !reflect.DeepEqual(got, vals) || !reflect.DeepEqual(v.Shape, []int{2, 2}) {
		t.Errorf("got %v %v, want %v [2 2]", v.Shape, got, vals)
	}
}

func TestWriteDeterministic(t *testing.T) {
	a := NamedTensor{"a", tensor.FromF32([]float32{1, 2}, 2)}
	b := NamedTensor{"b", mustTensor(t, tensor.BF16, []int{3}, seq(6))}
	c := NamedTensor{"c", mustTensor(t, tensor.F16, []int{1}, seq(2))}
	meta := map[string]string{"x": "1", "a": "2", "m": "3"}
	var b1, b2 bytes.Buffer
	if err := WriteTo(&b1, []NamedTensor{a, b, c}, meta); err != nil {
		t.Fatal(err)
	}
	if err := WriteTo(&b2, []NamedTensor{c, b, a}, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("output depends on the order of tensors")
	}
	n := binary.LittleEndian.Uint64(b1.Bytes())
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	hdr := string(b1.Bytes()[8 : 8+n])
	want := `{"__metadata__":{"a":"2","m":"3","x":"1"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]},"c":{"dtype":"F16","shape":[1],"data_offsets":[14,16]}}`
	if strings.TrimRight(hdr, " ") != want {
		t.Errorf("header\n%s\nwant\n%s", hdr, want)
	}
}

func TestWriteErrors(t *testing.T) {
	ok := tensor.FromF32([]float32{1}, 1)
	cases := []struct {
		name    string
		tensors []NamedTensor
		meta    map[string]string
		want    string
	}{
		{"duplicate", []NamedTensor{{"a", ok}, {"a", ok}}, nil, `duplicate tensor name "a"`},
		{"reserved", []NamedTensor{{"__metadata__", ok}}, nil, "reserved"},
		{"nil", []NamedTensor{{"a", nil}}, nil, `tensor "a" is nil`},
		{"short data", []NamedTensor{{"a", &tensor.Tensor{DType: tensor.F32, Shape: []int{2}, Data: make([]byte, 4)}}}, nil, "needs 8 bytes"},
		{"bad dtype", []NamedTensor{{"a", &tensor.Tensor{DType: tensor.Invalid, Shape: []int{1}, Data: make([]byte, 4)}}}, nil, "dtype"},
		{"negative", []NamedTensor{{"a", &tensor.Tensor{DType: tensor.F32, Shape: []int{-1}}}}, nil, "negative dimension"},
		{"device", []NamedTensor{{"a", &tensor.Tensor{DType: tensor.F32, Shape: []int{1}, Place: tensor.Device, Ptr: 1}}}, nil, "not a host tensor"},
		{"bad utf8 name", []NamedTensor{{"\xff", ok}}, nil, "UTF-8"},
		{"bad utf8 meta", nil, map[string]string{"k": "\xfe"}, "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.safetensors")
			err := Write(path, tc.tensors, tc.meta)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Write error = %v, want one naming %s and containing %q", err, path, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("failed Write left files behind: %v", ents)
			}
		})
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	for i := range 2 {
		if err := Write(path, []NamedTensor{{fmt.Sprint("t", i), tensor.FromF32([]float32{float32(i)}, 1)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Names(); !equalStrings(got, []string{"t1"}) {
		t.Errorf("Names() = %v, want [t1]", got)
	}
}

// badFiles are malformed files and a phrase their error must contain.
var badFiles = []struct {
	name string
	file []byte
	want string
}{
	{"empty file", nil, "too short"},
	{"7 bytes", []byte{1, 2, 3, 4, 5, 6, 7}, "too short"},
	{"header length 0", rawFile("", nil), "header length is 0"},
	{"header length huge", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds the 100000000-byte limit"},
	{"header length max", binary.LittleEndian.AppendUint64(nil, ^uint64(0)), "limit"},
	{"header beyond file", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "exceeds the file size"},
	{"truncated header", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, seq(4))[:30], "exceeds the file size"},
	{"truncated data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, seq(5)), "outside the 5-byte data section"},
	{"invalid json", rawFile(`{"a": {`, nil), "invalid JSON"},
	{"not json", rawFile(`hello`, nil), "invalid JSON"},
	{"array header", rawFile(`[1, 2]`, nil), "want a JSON object"},
	{"trailing garbage", rawFile(`{} x`, nil), "trailing data"},
	{"two objects", rawFile(`{}{}`, nil), "trailing data"},
	{"entry not object", rawFile(`{"a": 5}`, nil), `entry "a" is not a JSON object`},
	{"entry null", rawFile(`{"a": null}`, nil), `entry "a" is not a JSON object`},
	{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": missing or null field(s) dtype`},
	{"missing all", rawFile(`{"a":{}}`, nil), "dtype, shape, data_offsets"},
	{"dtype number", rawFile(`{"a":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}`, seq(4)), `field "dtype"`},
	{"shape string", rawFile(`{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}`, seq(4)), `field "shape"`},
	{"shape float", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, seq(4)), `field "shape"`},
	{"offsets one", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, seq(4)), "data_offsets must be [begin, end]"},
	{"offsets huge", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,99999999999999999999]}}`, seq(4)), `field "data_offsets"`},
	{"unknown dtype", rawFile(`{"a":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,4]}}`, seq(4)), `unknown dtype "Q4_K" (gopard supports F32, BF16, F16)`},
	{"F64", rawFile(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, seq(8)), "unsupported dtype F64 (gopard supports F32, BF16, F16)"},
	{"I64", rawFile(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, seq(8)), "unsupported dtype I64"},
	{"U8", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, seq(1)), "unsupported dtype U8"},
	{"BOOL", rawFile(`{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, seq(1)), "unsupported dtype BOOL"},
	{"F8_E4M3", rawFile(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, seq(1)), "unsupported dtype F8_E4M3"},
	{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1, 4],"data_offsets":[0,4]}}`, seq(4)), "negative dimension -1"},
	{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,4]}}`, seq(4)), "more than"},
	{"overflow by dtype size", rawFile(`{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}`, seq(4)), "more than"},
	{"size mismatch", rawFile(`{"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,4]}}`, seq(4)), "needs 6 bytes but data_offsets [0, 4] span 4"},
	{"begin after end", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, seq(4)), "begin after end"},
	{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, seq(4)), "negative data_offsets"},
	{"span outside", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, seq(4)), "outside the 4-byte data section"},
	{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, seq(8)), `tensors "a" [0, 8) and "b" [4, 8) overlap`},
	{"overlap nested", rawFile(`{"b":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"c":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, seq(12)), "overlap"},
	{"same span", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, seq(4)), "overlap"},
	{"duplicate", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, seq(8)), `duplicate entry "a"`},
	{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate entry "__metadata__"`},
	{"metadata number", rawFile(`{"__metadata__":{"n":1}}`, nil), "__metadata__ must map strings to strings"},
	{"metadata nested", rawFile(`{"__metadata__":{"n":{"x":"y"}}}`, nil), "__metadata__ must map strings to strings"},
	{"metadata null value", rawFile(`{"__metadata__":{"a":"b","n":null}}`, nil), `but "n" is null`},
	{"metadata string", rawFile(`{"__metadata__":"x"}`, nil), `entry "__metadata__" is not a JSON object`},
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range badFiles {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, fmt.Sprintf("bad%d.safetensors", i), tc.file)
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded, want error containing %q", tc.want)
			}
			t.Log(err)
			msg := err.Error()
			if !strings.HasPrefix(msg, "safetensors "+path+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want prefix %q and phrase %q", msg, "safetensors "+path+": ", tc.want)
			}
		})
	}
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.safetensors")
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Open of a missing file: %v", err)
	}
	_, err = Open(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open of a directory: %v", err)
	}
}

func TestOpenLenient(t *testing.T) {
	cases := []struct {
		name string
		file []byte
		want []string
	}{
		{"padded header", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}     `, seq(4)), []string{"a"}},
		{"no data section", rawFile(`{}`, nil), nil},
		{"only empty tensors", rawFile(`{"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"f":{"dtype":"BF16","shape":[2,0],"data_offsets":[0,0]}}`, nil), []string{"e", "f"}},
		{"empty span inside another", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, seq(8)), []string{"a", "e"}},
		{"gap and unknown field", rawFile(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[2,4],"extra":true}}`, seq(4)), []string{"a"}},
		{"unordered spans", rawFile(`{"b":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"a":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}`, seq(4)), []string{"a", "b"}},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Open(writeFile(t, dir, fmt.Sprintf("ok%d.safetensors", i), tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := f.Names(); !equalStrings(got, tc.want) {
				t.Errorf("Names() = %q, want %q", got, tc.want)
			}
			for _, n := range tc.want {
				x, err := f.Tensor(n)
				if err != nil {
					t.Fatal(err)
				}
				in, _ := f.Info(n)
				if int64(len(x.Data)) != in.Size {
					t.Errorf("%s: %d bytes, want %d", n, len(x.Data), in.Size)
				}
			}
		})
	}
}

func TestUnalignedF32(t *testing.T) {
	// A 3-byte header puts the data section at file offset 11.
	f, err := Open(writeFile(t, t.TempDir(), "u.safetensors", rawFile(`{} `, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	hdr := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	data := []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40} // 1, 2
	f, err = Open(writeFile(t, t.TempDir(), "u.safetensors", rawFile(hdr, data)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := f.Tensor("a")
	if err != nil {
		t.Fatal(err)
	}
	if got := x.ToF32(); !reflect.DeepEqual(got, []float32{1, 2}) {
		t.Errorf("got %v, want [1 2]", got)
	}
}

func TestTensorErrorsAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := Write(path, []NamedTensor{{"a", tensor.FromF32([]float32{1}, 1)}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("zz"); err == nil || !strings.Contains(err.Error(), `tensor "zz" not found`) {
		t.Errorf("Tensor(zz): %v", err)
	}
	if _, ok := f.Info("zz"); ok {
		t.Error("Info(zz) found something")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Tensor("a"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Tensor after Close: %v", err)
	}
}

func TestParseHeaderDirect(t *testing.T) {
	infos, meta, err := ParseHeader([]byte(`{"b":{"dtype":"BF16","shape":[2,3],"data_offsets":[4,16]},"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`), 16)
	if err != nil {
		t.Fatal(err)
	}
	want := []TensorInfo{
		{Name: "a", DType: tensor.F32, Shape: []int{}, Offset: 0, Size: 4},
		{Name: "b", DType: tensor.BF16, Shape: []int{2, 3}, Offset: 4, Size: 12},
	}
	if !reflect.DeepEqual(infos, want) || !reflect.DeepEqual(meta, map[string]string{"k": "v"}) {
		t.Errorf("got %+v %v", infos, meta)
	}
	if _, _, err := ParseHeader([]byte(`{}`), -1); err == nil {
		t.Error("negative data size accepted")
	}
}
