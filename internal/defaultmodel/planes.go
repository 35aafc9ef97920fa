package defaultmodel

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// The default models are embedded as byte planes: a safetensors file's
// header as it is, then its tensor data split into the bytes at even and
// at odd offsets, each plane zlib-compressed. For bf16 weights the odd
// plane is the sign and the top seven exponent bits, a few distinct
// values, and compresses about 4:1; the even plane (the low exponent bit
// and the mantissa) hardly at all; together 0.70 of the file where
// zlib over the interleaved bytes gives 0.79. That is what lets a
// target too large for this machine's L3 ship beside its drafts within
// the 50 MB. The file extracted to the cache is the original,
// byte for byte (zlib's checksums guard each plane, a CRC-32 the whole).
//
//	magic "GPDPLN01" | uint64 size of the original | uint32 its CRC-32 (IEEE) |
//	uint64 header length H |
//	H bytes: the original's first H bytes | uint64 length of plane 0's stream |
//	plane 0 (bytes H, H+2, …) zlib | plane 1 (bytes H+1, H+3, …) zlib
//
// Integers are little-endian, as in safetensors.
const planesMagic = "GPDPLN01"

// PlanesSuffix marks an embedded file stored as byte planes; the
// extracted file drops it.
const PlanesSuffix = ".bpz"

// maxPlanesSize bounds the original size a byte-plane file may declare,
// so that the plane lengths computed from it stay far from overflowing
// (the planes are read as their streams hold them, and the original is
// allocated only once they match the size).
const maxPlanesSize = 1 << 34

// Pack returns file as byte planes, keeping its first header bytes as
// they are (for a safetensors file, 8 plus its header's length: see
// SafetensorsHeaderLen).
func Pack(file []byte, header int) ([]byte, error) {
	if header < 0 || header > len(file) {
		return nil, fmt.Errorf("byte planes: header of %d bytes in a file of %d", header, len(file))
	}
	body := file[header:]
	planes := [2][]byte{make([]byte, 0, (len(body)+1)/2), make([]byte, 0, len(body)/2)}
	for i, b := range body {
		planes[i&1] = append(planes[i&1], b)
	}
	var streams [2]bytes.Buffer
	for i, p := range planes {
		z, err := zlib.NewWriterLevel(&streams[i], zlib.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := z.Write(p); err != nil {
			return nil, err
		}
		if err := z.Close(); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, 32+header+streams[0].Len()+streams[1].Len())
	out = append(out, planesMagic...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(file)))
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(file))
	out = binary.LittleEndian.AppendUint64(out, uint64(header))
	out = append(out, file[:header]...)
	out = binary.LittleEndian.AppendUint64(out, uint64(streams[0].Len()))
	out = append(out, streams[0].Bytes()...)
	return append(out, streams[1].Bytes()...), nil
}

// Unpack returns the original of a Pack result, or an error saying what
// is wrong with it: a truncated or corrupted file never yields bytes.
func Unpack(packed []byte) ([]byte, error) {
	r := packed
	take := func(n uint64, what string) ([]byte, error) {
		if n > uint64(len(r)) {
			return nil, fmt.Errorf("byte planes: truncated %s (%d bytes, %d left)", what, n, len(r))
		}
		b := r[:n]
		r = r[n:]
		return b, nil
	}
	u64 := func(what string) (uint64, error) {
		b, err := take(8, what)
		if err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(b), nil
	}
	if m, err := take(uint64(len(planesMagic)), "magic"); err != nil || string(m) != planesMagic {
		return nil, errors.New("byte planes: not a byte-plane file (bad magic)")
	}
	size, err := u64("size")
	if err != nil {
		return nil, err
	}
	sum, err := take(4, "checksum")
	if err != nil {
		return nil, err
	}
	header, err := u64("header length")
	if err != nil {
		return nil, err
	}
	if size > maxPlanesSize || header > size {
		return nil, fmt.Errorf("byte planes: a header of %d bytes in a file of %d", header, size)
	}
	head, err := take(header, "header")
	if err != nil {
		return nil, err
	}
	n0, err := u64("plane length")
	if err != nil {
		return nil, err
	}
	s0, err := take(n0, "plane 0")
	if err != nil {
		return nil, err
	}
	body := size - header
	var planes [2][]byte
	for i, s := range [2][]byte{s0, r} {
		want := (body + 1 - uint64(i)) / 2
		if planes[i], err = inflate(s, want); err != nil {
			return nil, fmt.Errorf("byte planes: plane %d: %w", i, err)
		}
	}
	out := make([]byte, size)
	copy(out, head)
	for i := range body {
		out[header+i] = planes[i&1][i/2]
	}
	if crc32.ChecksumIEEE(out) != binary.LittleEndian.Uint32(sum) {
		return nil, errors.New("byte planes: the unpacked file fails its CRC-32")
	}
	return out, nil
}

// inflate decompresses a zlib stream that must hold exactly want bytes.
// It reads what the stream holds rather than allocating want up front, so
// that a size a corrupt file declares costs no more memory than its data.
func inflate(stream []byte, want uint64) ([]byte, error) {
	z, err := zlib.NewReader(bytes.NewReader(stream))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(z, int64(want)+1))
	if err != nil {
		return nil, err
	}
	if uint64(len(out)) != want {
		return nil, fmt.Errorf("%d bytes, want %d", len(out), want)
	}
	// ReadAll stopped at the end of the stream (the checksum verified
	// there) or one byte past want, which the length check refused.
	return out, z.Close()
}

// SafetensorsHeaderLen returns the length of a safetensors file's prefix
// (the 8-byte header length and the JSON header), which Pack keeps as it
// is so that the planes start at the tensor data.
func SafetensorsHeaderLen(file []byte) (int, error) {
	if len(file) < 8 {
		return 0, errors.New("safetensors: shorter than its 8-byte header length")
	}
	n := binary.LittleEndian.Uint64(file)
	if n > uint64(len(file)-8) {
		return 0, fmt.Errorf("safetensors: a header of %d bytes in a file of %d", n, len(file))
	}
	return 8 + int(n), nil
}
