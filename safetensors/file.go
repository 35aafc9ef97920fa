package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/gopard/gopard/tensor"
)

// File is an open, memory-mapped safetensors file. Its methods may be called
// from several goroutines at once, except Close, which must not race with
// the others.
type File struct {
	path  string
	mmap  []byte // the whole file, mapped read-only; nil after Close
	data  []byte // the data section, a slice of mmap
	infos map[string]TensorInfo
	names []string
	meta  map[string]string
}

// Open memory-maps the safetensors file at path read-only and validates its
// header (see ParseHeader). Errors name the file.
func Open(path string) (*File, error) {
	f, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	return f, nil
}

func open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%v)", st.Mode().Type())
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for the 8-byte header length", size)
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("file of %d bytes is too large to map", size)
	}
	m, err := unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	f, err := parseMapped(path, m)
	if err != nil {
		_ = unix.Munmap(m)
		return nil, err
	}
	return f, nil
}

// unwrapPathError drops the *os.PathError wrapper, whose path Open already
// names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// parseMapped validates a whole file's bytes and builds the File around them.
func parseMapped(path string, m []byte) (*File, error) {
	size := uint64(len(m))
	n := binary.LittleEndian.Uint64(m[:8])
	switch {
	case n == 0:
		return nil, errors.New("header length is 0")
	case n > MaxHeaderSize:
		return nil, fmt.Errorf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	case n > size-8:
		return nil, fmt.Errorf("header length %d exceeds the file size %d (truncated file?)", n, size)
	}
	header, data := m[8:8+n], m[8+n:]
	infos, meta, err := ParseHeader(header, int64(len(data)))
	if err != nil {
		return nil, err
	}
	f := &File{
		path:  path,
		mmap:  m,
		data:  data,
		infos: make(map[string]TensorInfo, len(infos)),
		names: make([]string, len(infos)),
		meta:  meta,
	}
	for i, in := range infos {
		f.infos[in.Name] = in
		f.names[i] = in.Name
	}
	return f, nil
}

// Path returns the path the file was opened with.
func (f *File) Path() string { return f.path }

// Names returns the tensor names in sorted order. The caller may modify the
// returned slice.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info describes the named tensor; ok is false if there is none.
func (f *File) Info(name string) (info TensorInfo, ok bool) {
	info, ok = f.infos[name]
	if ok {
		info.Shape = append([]int{}, info.Shape...)
	}
	return info, ok
}

// Metadata returns a copy of the header's "__metadata__" map (empty, not
// nil, if the file has none).
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

// Tensor returns the named tensor as a host tensor whose Data aliases the
// read-only memory map: no bytes are copied. Data is valid until Close, must
// not be written to, and may be unaligned (see the package documentation).
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	if f.mmap == nil {
		return nil, fmt.Errorf("safetensors %s: file is closed", f.path)
	}
	in, ok := f.infos[name]
	if !ok {
		return nil, fmt.Errorf("safetensors %s: tensor %q not found", f.path, name)
	}
	end := in.Offset + in.Size
	// ParseHeader checked the shape and span. (tensor.FromBytes is not used
	// because its limit of len(Data) rejects empty shapes like [3, 0].)
	return &tensor.Tensor{
		DType: in.DType,
		Shape: append([]int{}, in.Shape...),
		Data:  f.data[in.Offset:end:end],
	}, nil
}

// Close unmaps the file. Tensors obtained from it must not be used
// afterwards. Closing twice is harmless.
func (f *File) Close() error {
	if f.mmap == nil {
		return nil
	}
	m := f.mmap
	f.mmap, f.data = nil, nil
	if err := unix.Munmap(m); err != nil {
		return fmt.Errorf("safetensors %s: munmap: %w", f.path, err)
	}
	return nil
}
