package safetensors

import (
	"os"
	"path/filepath"
	"testing"
)

var fuzzHeaders = []string{
	`{}`,
	`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`,
	`{"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[],"data_offsets":[8,10]}}`,
	`{"a":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}    `,
	`{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,4]}}`,
	`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
	`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`,
	`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[8,0]}}`,
	`{"a":5,"a":{}}`,
	`{"__metadata__":{"n":1}}`,
	`{"__metadata__":{"k":"v","n":null, "m" : "\u00e9"}}`,
	`{"a":{"dtype":"F32"`,
	`[]`,
}

func FuzzParseHeader(f *testing.F) {
	for _, h := range fuzzHeaders {
		f.Add([]byte(h), int64(16))
		f.Add([]byte(h), int64(0))
	}
	f.Fuzz(func(t *testing.T, header []byte, dataSize int64) {
		infos, meta, err := ParseHeader(header, dataSize)
		if err != nil {
			return
		}
		if meta == nil {
			t.Fatal("nil metadata without error")
		}
		for i, in := range infos {
			if i > 0 && infos[i-1].Name >= in.Name {
				t.Fatalf("names not sorted and unique: %q, %q", infos[i-1].Name, in.Name)
			}
			if in.Offset < 0 || in.Size < 0 || in.Offset+in.Size > dataSize {
				t.Fatalf("%q: span [%d, +%d) outside %d bytes", in.Name, in.Offset, in.Size, dataSize)
			}
			if in.DType.Size() == 0 || in.Size%int64(in.DType.Size()) != 0 {
				t.Fatalf("%q: size %d for %v", in.Name, in.Size, in.DType)
			}
		}
	})
}

func FuzzOpen(f *testing.F) {
	for _, h := range fuzzHeaders {
		b := rawFile(h, seq(16))
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, file []byte) {
		path := filepath.Join(dir, "fuzz.safetensors")
		if err := os.WriteFile(path, file, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := Open(path)
		if err != nil {
			return
		}
		defer st.Close()
		for _, n := range st.Names() {
			x, err := st.Tensor(n)
			if err != nil {
				t.Fatal(err)
			}
			if len(x.Data) > 0 {
				_ = x.Data[0] + x.Data[len(x.Data)-1] // touch the mapping
				if !inMapping(st, x.Data) {
					t.Fatalf("%q: Data outside the mapping", n)
				}
			}
		}
	})
}
