package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gopard/gopard/tensor"
)

// Checkpoint file names inside a Hugging Face model directory.
const (
	SingleFile = "model.safetensors"
	IndexFile  = "model.safetensors.index.json"
)

// Model is a checkpoint made of one or more safetensors files in a
// directory, opened with OpenModel.
type Model struct {
	dir   string
	files []*File          // sorted by path
	where map[string]*File // tensor name → the file that holds it
	names []string         // sorted
}

// OpenModel opens the checkpoint in dir. If dir holds
// model.safetensors.index.json, its "weight_map" (tensor name → shard file
// name) is authoritative: every shard it names is opened once, and every
// mapped tensor must exist in its shard; tensors present in a shard but
// absent from the weight map are ignored. Otherwise dir must hold
// model.safetensors. Shard names must be plain file names inside dir.
func OpenModel(dir string) (*Model, error) {
	indexPath := filepath.Join(dir, IndexFile)
	idx, err := os.ReadFile(indexPath)
	switch {
	case err == nil:
		return openSharded(dir, indexPath, idx)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("safetensors %s: %w", dir, err)
	}
	single := filepath.Join(dir, SingleFile)
	if _, err := os.Stat(single); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("safetensors %s: no %s or %s in %s", dir, SingleFile, IndexFile, dir)
		}
		return nil, fmt.Errorf("safetensors %s: %w", dir, err)
	}
	f, err := Open(single)
	if err != nil {
		return nil, err
	}
	m := &Model{dir: dir, files: []*File{f}, where: make(map[string]*File), names: f.Names()}
	for _, name := range m.names {
		m.where[name] = f
	}
	return m, nil
}

func openSharded(dir, indexPath string, idx []byte) (_ *Model, err error) {
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(idx, &index); err != nil {
		return nil, fmt.Errorf("safetensors %s: invalid index: %w", indexPath, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors %s: index has no weight_map entries", indexPath)
	}
	m := &Model{dir: dir, where: make(map[string]*File, len(index.WeightMap))}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	shards := make(map[string]*File)
	for name, shard := range index.WeightMap {
		if _, ok := shards[shard]; ok {
			continue
		}
		if !isPlainFileName(shard) {
			return nil, fmt.Errorf("safetensors %s: tensor %q: shard %q is not a plain file name in the model directory", indexPath, name, shard)
		}
		shards[shard] = nil
	}
	shardNames := make([]string, 0, len(shards))
	for s := range shards {
		shardNames = append(shardNames, s)
	}
	sort.Strings(shardNames)
	for _, s := range shardNames {
		f, err := Open(filepath.Join(dir, s))
		if err != nil {
			return nil, err
		}
		shards[s] = f
		m.files = append(m.files, f)
	}
	for name, shard := range index.WeightMap {
		f := shards[shard]
		if _, ok := f.infos[name]; !ok {
			return nil, fmt.Errorf("safetensors %s: tensor %q mapped to shard %s, which does not contain it", indexPath, name, shard)
		}
		m.where[name] = f
		m.names = append(m.names, name)
	}
	sort.Strings(m.names)
	return m, nil
}

// isPlainFileName reports whether s names a file directly inside a
// directory: no separators, no "..", not empty.
func isPlainFileName(s string) bool {
	return s != "" && s != "." && s != ".." &&
		!strings.ContainsAny(s, `/\`+"\x00") && filepath.IsLocal(s)
}

// Dir returns the directory the model was opened from.
func (m *Model) Dir() string { return m.dir }

// Files returns the paths of the open safetensors files, sorted.
func (m *Model) Files() []string {
	out := make([]string, len(m.files))
	for i, f := range m.files {
		out[i] = f.path
	}
	return out
}

// Names returns all tensor names, sorted.
func (m *Model) Names() []string { return append([]string(nil), m.names...) }

// Has reports whether the model has the named tensor.
func (m *Model) Has(name string) bool {
	_, ok := m.where[name]
	return ok
}

// Info describes the named tensor; ok is false if there is none.
func (m *Model) Info(name string) (TensorInfo, bool) {
	f, ok := m.where[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Tensor returns the named tensor, aliasing its file's memory map (see
// File.Tensor).
func (m *Model) Tensor(name string) (*tensor.Tensor, error) {
	f, ok := m.where[name]
	if !ok {
		return nil, fmt.Errorf("safetensors %s: tensor %q not found", m.dir, name)
	}
	return f.Tensor(name)
}

// Bytes returns the total size in bytes of the model's tensors, all of
// which are memory-mapped.
func (m *Model) Bytes() int64 {
	var n int64
	for name, f := range m.where {
		n += f.infos[name].Size
	}
	return n
}

// Close unmaps every file; it returns the first error.
func (m *Model) Close() error {
	var first error
	for _, f := range m.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
