package safetensors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gopard/gopard/internal/shareddata"

	"github.com/gopard/gopard/tensor"
)

func writeIndex(t *testing.T, dir string, weightMap map[string]string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"metadata":   map[string]any{"total_size": 123},
		"weight_map": weightMap,
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, IndexFile, b)
}

func writeShard(t *testing.T, dir, name string, tensors ...NamedTensor) {
	t.Helper()
	if err := Write(filepath.Join(dir, name), tensors, nil); err != nil {
		t.Fatal(err)
	}
}

func TestModelSingle(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, dir, SingleFile,
		NamedTensor{"a", tensor.FromF32([]float32{1, 2}, 2)},
		NamedTensor{"b", mustTensor(t, tensor.BF16, []int{3}, seq(6))})
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Names() = %v", got)
	}
	if got := m.Files(); !reflect.DeepEqual(got, []string{filepath.Join(dir, SingleFile)}) {
		t.Errorf("Files() = %v", got)
	}
	if m.Bytes() != 14 {
		t.Errorf("Bytes() = %d, want 14", m.Bytes())
	}
	if !m.Has("a") || m.Has("c") {
		t.Error("Has is wrong")
	}
	x, err := m.Tensor("b")
	if err != nil || x.DType != tensor.BF16 || !reflect.DeepEqual(x.Data, seq(6)) {
		t.Errorf("Tensor(b) = %v, %v", x, err)
	}
	if _, err := m.Tensor("c"); err == nil || err.Error() != `safetensors `+dir+`: tensor "c" not found` {
		t.Errorf("Tensor(c) error = %v", err)
	}
	if in, ok := m.Info("a"); !ok || in.Size != 8 || !reflect.DeepEqual(in.Shape, []int{2}) {
		t.Errorf("Info(a) = %+v, %v", in, ok)
	}
	if _, ok := m.Info("c"); ok {
		t.Error("Info(c) found something")
	}
}

func TestModelSharded(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, dir, "model-00001-of-00002.safetensors",
		NamedTensor{"a", tensor.FromF32([]float32{1, 2}, 2)},
		NamedTensor{"unmapped", tensor.FromF32([]float32{9}, 1)})
	writeShard(t, dir, "model-00002-of-00002.safetensors",
		NamedTensor{"b", mustTensor(t, tensor.F16, []int{2, 2}, seq(8))},
		NamedTensor{"c", tensor.FromF32([]float32{3}, 1)})
	// A stray single file must be ignored when an index exists.
	writeShard(t, dir, SingleFile, NamedTensor{"stray", tensor.FromF32([]float32{0}, 1)})
	writeIndex(t, dir, map[string]string{
		"a": "model-00001-of-00002.safetensors",
		"b": "model-00002-of-00002.safetensors",
		"c": "model-00002-of-00002.safetensors",
	})
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Names(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("Names() = %v", got)
	}
	want := []string{filepath.Join(dir, "model-00001-of-00002.safetensors"), filepath.Join(dir, "model-00002-of-00002.safetensors")}
	if got := m.Files(); !reflect.DeepEqual(got, want) {
		t.Errorf("Files() = %v, want %v", got, want)
	}
	if m.Bytes() != 8+8+4 {
		t.Errorf("Bytes() = %d, want 20", m.Bytes())
	}
	if m.Has("unmapped") || m.Has("stray") {
		t.Error("tensors outside the weight map are visible")
	}
	for _, n := range []string{"a", "b", "c"} {
		x, err := m.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		if x.Len() == 0 {
			t.Errorf("%s is empty", n)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestModelErrors(t *testing.T) {
	shard := func(t *testing.T, dir string) {
		writeShard(t, dir, "s1.safetensors", NamedTensor{"a", tensor.FromF32([]float32{1}, 1)})
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"empty dir", func(t *testing.T, dir string) {}, "no model.safetensors or model.safetensors.index.json in "},
		{"missing shard", func(t *testing.T, dir string) {
			shard(t, dir)
			writeIndex(t, dir, map[string]string{"a": "s1.safetensors", "b": "s2.safetensors"})
		}, "s2.safetensors: open: no such file"},
		{"traversal", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": "../x.safetensors"})
		}, `shard "../x.safetensors" is not a plain file name`},
		{"absolute", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": "/etc/passwd"})
		}, "not a plain file name"},
		{"subdir", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": "sub/x.safetensors"})
		}, "not a plain file name"},
		{"dotdot", func(t *testing.T, dir string) {
			writeIndex(t, dir, map[string]string{"a": ".."})
		}, "not a plain file name"},
		{"tensor not in shard", func(t *testing.T, dir string) {
			shard(t, dir)
			writeIndex(t, dir, map[string]string{"a": "s1.safetensors", "zz": "s1.safetensors"})
		}, `tensor "zz" mapped to shard s1.safetensors, which does not contain it`},
		{"bad index json", func(t *testing.T, dir string) {
			writeFile(t, dir, IndexFile, []byte(`{"weight_map": [`))
		}, "invalid index"},
		{"weight_map wrong type", func(t *testing.T, dir string) {
			writeFile(t, dir, IndexFile, []byte(`{"weight_map": {"a": 1}}`))
		}, "invalid index"},
		{"no weight_map", func(t *testing.T, dir string) {
			writeFile(t, dir, IndexFile, []byte(`{"metadata": {}}`))
		}, "no weight_map entries"},
		{"bad shard", func(t *testing.T, dir string) {
			writeFile(t, dir, "s1.safetensors", []byte("garbage!garbage"))
			writeIndex(t, dir, map[string]string{"a": "s1.safetensors"})
		}, "s1.safetensors: header length"},
		{"bad single", func(t *testing.T, dir string) {
			writeFile(t, dir, SingleFile, []byte("abc"))
		}, "too short"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			m, err := OpenModel(dir)
			if err == nil {
				m.Close()
				t.Fatalf("OpenModel succeeded, want error containing %q", tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q: want phrase %q and the directory", err, tc.want)
			}
		})
	}
}

// findSharedData walks up from the working directory to a shared/data
// directory.
func findSharedData(t *testing.T) string {
	return shareddata.Find()
}

func TestRealModel(t *testing.T) {
	data := findSharedData(t)
	dir := filepath.Join(data, "conformance", "models", "qwen3-tiny")
	if data == "" {
		t.Skip("no shared/data directory above the working directory; skipping the real-checkpoint test")
	}
	if _, err := os.Stat(filepath.Join(dir, SingleFile)); err != nil {
		t.Skipf("real checkpoint absent (%v); skipping", err)
	}
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	names := m.Names()
	if len(names) < 10 {
		t.Fatalf("only %d tensors: %v", len(names), names)
	}
	emb, ok := m.Info("model.embed_tokens.weight")
	if !ok {
		t.Fatalf("no model.embed_tokens.weight among %v", names)
	}
	if emb.DType != tensor.BF16 || len(emb.Shape) != 2 || emb.Shape[0] <= 0 || emb.Shape[1] <= 0 {
		t.Errorf("embed_tokens: %v %v", emb.DType, emb.Shape)
	}
	hidden := emb.Shape[1]
	norm, err := m.Tensor("model.layers.0.input_layernorm.weight")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(norm.Shape, []int{hidden}) {
		t.Errorf("input_layernorm shape %v, want [%d]", norm.Shape, hidden)
	}
	// RMSNorm weights of a trained or initialised model are finite and not
	// all zero.
	var nonzero bool
	for _, v := range norm.ToF32() {
		if v != v || v > 1e4 || v < -1e4 {
			t.Fatalf("implausible norm weight %v", v)
		}
		nonzero = nonzero || v != 0
	}
	if !nonzero {
		t.Error("input_layernorm weights are all zero")
	}
	var total int64
	for _, n := range names {
		in, _ := m.Info(n)
		if in.DType.Size() == 0 || in.Size != int64(tensor.NumElements(in.Shape)*in.DType.Size()) {
			t.Errorf("%s: %+v", n, in)
		}
		total += in.Size
	}
	st, _ := os.Stat(filepath.Join(dir, SingleFile))
	if m.Bytes() != total || total > st.Size() {
		t.Errorf("Bytes() = %d, sum %d, file %d", m.Bytes(), total, st.Size())
	}
}
