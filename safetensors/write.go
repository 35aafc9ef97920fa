package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"unicode/utf8"

	"github.com/gopard/gopard/tensor"
)

// NamedTensor is a host tensor with the name it is stored under.
type NamedTensor struct {
	Name string
	T    *tensor.Tensor
}

// headerEntry is one tensor's header entry, in the spec's field order.
type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Write stores tensors and metadata (which may be nil) in a safetensors file
// at path. The file is written to a temporary file in the same directory,
// synced and renamed over path, so readers never see a partial file.
//
// The output is deterministic: header keys are sorted (encoding/json sorts
// map keys), the header is padded with spaces so the data section starts at
// a multiple of 8 bytes, and tensor data is laid out by decreasing element
// size, then by name, regardless of the order of tensors. That layout keeps
// every F32 tensor 4-aligned and every 16-bit tensor 2-aligned in the file,
// and leaves no gaps between tensors.
func Write(path string, tensors []NamedTensor, metadata map[string]string) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("safetensors %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := writeTo(bw, tensors, metadata); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename durable; not every filesystem supports syncing a
	// directory, so this is best effort.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// WriteTo writes the safetensors encoding of tensors and metadata to w, laid
// out as Write describes.
func WriteTo(w io.Writer, tensors []NamedTensor, metadata map[string]string) error {
	if err := writeTo(w, tensors, metadata); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

func writeTo(w io.Writer, tensors []NamedTensor, metadata map[string]string) error {
	order, header, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, nt := range order {
		if _, err := w.Write(nt.T.Data); err != nil {
			return err
		}
	}
	return nil
}

// buildHeader validates the tensors and returns them in data order with the
// padded JSON header.
func buildHeader(tensors []NamedTensor, metadata map[string]string) ([]NamedTensor, []byte, error) {
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("metadata %q: %q is not valid UTF-8", k, v)
		}
	}
	seen := make(map[string]bool, len(tensors))
	for _, nt := range tensors {
		if !utf8.ValidString(nt.Name) {
			return nil, nil, fmt.Errorf("tensor name %q is not valid UTF-8", nt.Name)
		}
		if nt.Name == metadataKey {
			return nil, nil, fmt.Errorf("tensor name %q is reserved", metadataKey)
		}
		if seen[nt.Name] {
			return nil, nil, fmt.Errorf("duplicate tensor name %q", nt.Name)
		}
		seen[nt.Name] = true
		t := nt.T
		if t == nil {
			return nil, nil, fmt.Errorf("tensor %q is nil", nt.Name)
		}
		if t.Place != tensor.Host {
			return nil, nil, fmt.Errorf("tensor %q is not a host tensor", nt.Name)
		}
		if _, err := parseDType(t.DType.String()); err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", nt.Name, err)
		}
		n, err := tensor.CheckedNumElements(t.Shape, math.MaxInt64/int64(t.DType.Size()))
		if err != nil {
			return nil, nil, fmt.Errorf("tensor %q: %w", nt.Name, err)
		}
		if want := n * int64(t.DType.Size()); want != int64(len(t.Data)) {
			return nil, nil, fmt.Errorf("tensor %q: shape %v of %v needs %d bytes, Data has %d", nt.Name, t.Shape, t.DType, want, len(t.Data))
		}
	}
	order := append([]NamedTensor(nil), tensors...)
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if sa, sb := a.T.DType.Size(), b.T.DType.Size(); sa != sb {
			return sa > sb
		}
		return a.Name < b.Name
	})
	entries := make(map[string]any, len(order)+1)
	if len(metadata) > 0 {
		entries[metadataKey] = metadata
	}
	var off int64
	for _, nt := range order {
		shape := nt.T.Shape
		if shape == nil {
			shape = []int{} // a scalar's shape is [], not null
		}
		size := int64(len(nt.T.Data))
		entries[nt.Name] = headerEntry{DType: nt.T.DType.String(), Shape: shape, DataOffsets: [2]int64{off, off + size}}
		off += size
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(entries); err != nil {
		return nil, nil, err
	}
	header := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// 8 + len(header) must be a multiple of 8.
	if pad := (8 - len(header)%8) % 8; pad > 0 {
		header = append(header, bytes.Repeat([]byte(" "), pad)...)
	}
	if len(header) > MaxHeaderSize {
		return nil, nil, fmt.Errorf("header of %d bytes exceeds the %d-byte limit", len(header), MaxHeaderSize)
	}
	return order, header, nil
}
