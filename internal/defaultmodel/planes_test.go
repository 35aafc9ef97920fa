package defaultmodel

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// safetensorsLike builds a file of a safetensors-like prefix and n bytes
// of bf16-like data (a narrow range of exponents, random mantissas).
func safetensorsLike(n int, seed uint64) []byte {
	hdr := `{"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}`
	f := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	f = append(f, hdr...)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range n {
		if i%2 == 0 {
			f = append(f, byte(r.Uint32()))
		} else {
			f = append(f, byte(0x3c+r.IntN(3))|byte(r.IntN(2))<<7)
		}
	}
	return f
}

func TestPlanesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		file   []byte
		header int
	}{
		{"empty", nil, 0},
		{"header only", []byte("abc"), 3},
		{"odd body", []byte("hdr12345"), 3},
		{"even body", []byte("hdr1234"), 3},
		{"no header", []byte("0123456789"), 0},
		{"bf16-like", safetensorsLike(1<<16, 1), -1},
		{"bf16-like, odd", safetensorsLike(1<<16+1, 2), -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h < 0 {
				var err error
				if h, err = SafetensorsHeaderLen(tc.file); err != nil {
					t.Fatal(err)
				}
			}
			p, err := Pack(tc.file, h)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Unpack(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.file) {
				t.Fatalf("round trip changed the file: %d bytes, want %d", len(got), len(tc.file))
			}
			if tc.header < 0 && len(p) > len(tc.file)*3/4 {
				t.Errorf("bf16-like data packed to %d of %d bytes: the planes do not compress", len(p), len(tc.file))
			}
		})
	}
	if _, err := Pack([]byte("ab"), 3); err == nil {
		t.Error("Pack accepted a header longer than the file")
	}
}

// Every truncation and every flipped byte of a packed file is an error,
// never other bytes.
func TestPlanesCorrupt(t *testing.T) {
	file := safetensorsLike(4096, 3)
	h, _ := SafetensorsHeaderLen(file)
	p, err := Pack(file, h)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(p) {
		if got, err := Unpack(p[:n]); err == nil {
			t.Fatalf("a packed file truncated to %d of %d bytes unpacked to %d bytes", n, len(p), len(got))
		}
	}
	for i := range p {
		q := bytes.Clone(p)
		q[i] ^= 0x41
		if got, err := Unpack(q); err == nil {
			t.Fatalf("byte %d of %d flipped: unpacked without an error to %d bytes", i, len(p), len(got))
		}
	}
	if _, err := Unpack([]byte("GPDPLN01\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")); err == nil || !strings.Contains(err.Error(), "header of 0 bytes in a file of") {
		t.Fatalf("an absurd size: %v", err)
	}
}

func TestSafetensorsHeaderLen(t *testing.T) {
	for _, bad := range [][]byte{nil, {1, 2, 3}, binary.LittleEndian.AppendUint64(nil, 5)} {
		if _, err := SafetensorsHeaderLen(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzUnpack(f *testing.F) {
	p, _ := Pack(safetensorsLike(64, 4), 0)
	f.Add(p)
	f.Add([]byte(planesMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Unpack(b)
		if err != nil {
			return
		}
		if again, err := Pack(out, 0); err != nil || len(again) == 0 {
			t.Fatalf("unpacked %d bytes that do not pack again: %v", len(out), err)
		}
	})
}

// Dirs extracts the embedded byte planes as plain safetensors files.
func TestDirsUnpacks(t *testing.T) {
	m, err := Dirs()
	if err != nil {
		t.Skipf("no embedded models: %v", err)
	}
	for _, dir := range []string{m.Target, m.Draft, m.PARD} {
		b, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := SafetensorsHeaderLen(b); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "model.safetensors"+PlanesSuffix)); !os.IsNotExist(err) {
			t.Errorf("%s: the packed file was extracted too (%v)", dir, err)
		}
	}
}
