package asm

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// These tests pin the Go twins themselves (and so every build, noasm
// included) to the definitions, with a few hand values.

func TestExpAccuracy(t *testing.T) {
	for x := float32(-87); x <= 88; x += 0.0137 {
		want := math.Exp(float64(x))
		if got := float64(Exp(x)); math.Abs(got-want) > 4e-7*want {
			t.Fatalf("Exp(%v) = %v, want %v", x, got, want)
		}
	}
	if Exp(-100) != 0 || !math.IsInf(float64(Exp(100)), 1) || Exp(0) != 1 {
		t.Fatalf("Exp edges: %v %v %v", Exp(-100), Exp(100), Exp(0))
	}
	if nan := float32(math.NaN()); !math.IsNaN(float64(Exp(nan))) {
		t.Fatal("Exp(NaN) is not NaN")
	}
}

func TestTwinsHand(t *testing.T) {
	a, b := []float32{1, 2, 3}, []float32{4, 5, 6}
	if got := Dot(a, b); got != 32 {
		t.Fatalf("Dot = %v, want 32", got)
	}
	y := []float32{1, 1, 1, 9}
	Axpy(2, a, y)
	if y[0] != 3 || y[1] != 5 || y[2] != 7 || y[3] != 9 {
		t.Fatalf("Axpy = %v", y)
	}
	if SumSq(a) != 14 || Max(a) != 3 || Sum(a) != 6 {
		t.Fatalf("SumSq %v Max %v Sum %v", SumSq(a), Max(a), Sum(a))
	}
	x := []float32{0, 1, -1}
	if s := ExpSub(x, 1); math.Abs(float64(s)-(math.Exp(-1)+1+math.Exp(-2))) > 1e-6 {
		t.Fatalf("ExpSub sum = %v", s)
	}
	if roundBF16(1+1.0/256) != 0x3f80 || roundBF16(1+3.0/256) != 0x3f82 { // ties to even
		t.Fatalf("roundBF16: %#x %#x", roundBF16(1+1.0/256), roundBF16(1+3.0/256))
	}
}

// TestEvictKeepsData: flushing a buffer's lines (any start, any length,
// none) leaves its bytes as they were.
func TestEvictKeepsData(t *testing.T) {
	buf := make([]byte, 1000)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, c := range []struct{ lo, hi int }{{0, 0}, {3, 3}, {0, 1000}, {5, 70}, {63, 129}} {
		Evict(buf[c.lo:c.hi])
	}
	for i, b := range buf {
		if b != byte(i*7) {
			t.Fatalf("byte %d changed to %d", i, b)
		}
	}
}

// TestMatTwinsDefinition checks Pack and the Mat twins (and whatever
// MatBF16/MatF32 dispatch to) against the plain matrix product.
func TestMatTwinsDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, k := range []int{1, 15, 16, 17, 33, 100} {
		for _, mt := range []int{1, 2, 3, 4, 5, 6} {
			n := 5
			x, wf := randF32(r, mt*k), randF32(r, n*k)
			w := make([]uint16, len(wf))
			for i, f := range wf {
				w[i] = uint16(math.Float32bits(f) >> 16)
				wf[i] = math.Float32frombits(uint32(w[i]) << 16)
			}
			xp := make([]float32, PackedLen(mt, k))
			Pack(xp, x, mt, k, k)
			for name, f := range map[string]func(out []float32){
				"MatBF16":   func(out []float32) { MatBF16(mt, true, out, n, xp, w, n, k) },
				"matBF16Go": func(out []float32) { matBF16Go(mt, out, n, xp, w, n, k) },
				"MatF32":    func(out []float32) { MatF32(mt, true, out, n, xp, wf, n, k) },
			} {
				out := make([]float32, mt*n)
				f(out)
				for m := 0; m < mt; m++ {
					for i := 0; i < n; i++ {
						var s float64
						for j := 0; j < k; j++ {
							s += float64(x[m*k+j]) * float64(wf[i*k+j])
						}
						if math.Abs(s-float64(out[m*n+i])) > 1e-4*math.Sqrt(float64(k)) {
							t.Fatalf("%s k=%d mt=%d: out[%d][%d] = %v, want %v", name, k, mt, m, i, out[m*n+i], s)
						}
					}
				}
			}
			// MatDot's twin against the product of the bf16-rounded activations.
			xp16 := make([]uint16, PackedBF16Len(mt, k))
			PackBF16(xp16, x, mt, k, k)
			out := make([]float32, mt*n)
			matDotGo(mt, out, n, xp16, w, n, k)
			for m := 0; m < mt; m++ {
				for i := 0; i < n; i++ {
					var s float64
					for j := 0; j < k; j++ {
						s += float64(math.Float32frombits(uint32(roundBF16(x[m*k+j]))<<16)) * float64(wf[i*k+j])
					}
					if math.Abs(s-float64(out[m*n+i])) > 1e-4*math.Sqrt(float64(k)) {
						t.Fatalf("matDotGo k=%d mt=%d: out[%d][%d] = %v, want %v", k, mt, m, i, out[m*n+i], s)
					}
				}
			}
		}
	}
}

// TestMatGoRowsIndependent: each row of a tile through the Mat twins (the
// kernels where there is no assembly) is bit for bit that row multiplied
// alone, as a decode step does it (the one-row bfloat16 path widens as it
// multiplies; the others widen a block once for all rows), so speculative
// decoding stays exact there.
func TestMatGoRowsIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for _, k := range []int{16, 40, 100, 512} {
		const n = 7
		wf := randF32(r, n*k)
		w := make([]uint16, len(wf))
		for i, f := range wf {
			w[i] = roundBF16(f)
		}
		for mt := 2; mt <= 6; mt++ {
			x := randF32(r, mt*k)
			xp := make([]float32, PackedLen(mt, k))
			Pack(xp, x, mt, k, k)
			tile := make([]float32, mt*n)
			matBF16Go(mt, tile, n, xp, w, n, k)
			for m := range mt {
				xp1 := make([]float32, PackedLen(1, k))
				Pack(xp1, x[m*k:], 1, k, k)
				one := make([]float32, n)
				matBF16Go(1, one, n, xp1, w, n, k)
				for i := range one {
					if math.Float32bits(one[i]) != math.Float32bits(tile[m*n+i]) {
						t.Fatalf("k=%d mt=%d: row %d, %d: %v in the tile, %v alone", k, mt, m, i, tile[m*n+i], one[i])
					}
				}
			}
		}
	}
}

// TestMatBF16NextIsMatBF16 checks MatBF16Next against MatBF16 with four
// to six rows, bit for bit, with whatever kernels this build runs (the
// fallback under GOPARD_NOASM or on other architectures).
func TestMatBF16NextIsMatBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	for _, mt := range []int{3, 4, 5, 6} {
		for _, k := range []int{5, 16, 100} {
			n := 6
			w := make([]uint16, n*k)
			for i := range w {
				w[i] = uint16(math.Float32bits(float32(r.NormFloat64())) >> 16)
			}
			xp := make([]float32, PackedLen(mt, k))
			Pack(xp, randF32(r, mt*k), mt, k, k)
			want, got := make([]float32, mt*n), make([]float32, mt*n)
			MatBF16(mt, false, want, n, xp, w, n, k)
			MatBF16Next(mt, got, n, xp, w, n, k, make([]byte, 64))
			if !slices.Equal(want, got) {
				t.Fatalf("mt=%d k=%d: %v, MatBF16 %v", mt, k, got, want)
			}
		}
	}
}

// TestVerifyTiles checks the splits of every verify size: they add up, use
// only the kernels' heights, largest first, in no more passes over the
// weights than the greedy split into Tiles.
func TestVerifyTiles(t *testing.T) {
	for M := 1; M <= 16; M++ {
		tiles, sum := VerifyTiles(M), 0
		greedy := 0
		for m := M; m > 0; greedy++ {
			for _, h := range Tiles {
				if h <= m {
					m -= h
					break
				}
			}
		}
		for i, h := range tiles {
			if !slices.Contains([]int{1, 2, 3, 4, 5, 6}, h) || i > 0 && h > tiles[i-1] {
				t.Fatalf("M=%d: tiles %v", M, tiles)
			}
			sum += h
		}
		if sum != M || len(tiles) > greedy {
			t.Fatalf("M=%d: tiles %v (greedy: %d passes)", M, tiles, greedy)
		}
	}
	if verifyTable != &greedyVerifyTiles && (len(VerifyTiles(9)) != 2 || len(VerifyTiles(3)) != 1 || len(VerifyTiles(5)) != 1) {
		t.Fatalf("9 rows in %v, 3 in %v, 5 in %v: want two passes, one and one", VerifyTiles(9), VerifyTiles(3), VerifyTiles(5))
	}
}

// TestRows4AreRows checks that the four-query attention kernels give, for
// every query, the bits of DotRows and AxpyRows (whatever kernels this
// build runs), at head sizes with and without the fast paths, row counts
// with every remainder mod 4, and guards after each output.
func TestRows4AreRows(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	for _, hd := range []int{1, 16, 48, 64, 80, 128, 256} {
		for _, n := range []int{1, 3, 4, 5, 8, 13, 64, 259} {
			stride := 4*hd + 3
			k, v := randF32(r, n*stride), randF32(r, n*stride)
			var q, out, o, p [4][]float32
			for j := range 4 {
				q[j] = randF32(r, hd)
				out[j] = append(make([]float32, n), guard)
				o[j] = append(randF32(r, hd), guard)
				p[j] = randF32(r, n)
			}
			oWant := make([][]float32, 4)
			for j := range 4 {
				oWant[j] = slices.Clone(o[j])
			}
			var out4, o4 [4][]float32
			for j := range 4 {
				out4[j] = out[j][:n]
				o4[j] = o[j][:hd]
			}
			DotRows4(&out4, &q, k, stride, n)
			AxpyRows4(&o4, &p, v, stride)
			for j := range 4 {
				want := make([]float32, n)
				DotRows(want, q[j], k, stride, n)
				for i := range n {
					if out[j][i] != want[i] {
						t.Fatalf("hd %d n %d query %d: score %d = %v, DotRows %v", hd, n, j, i, out[j][i], want[i])
					}
				}
				AxpyRows(oWant[j][:hd], p[j], v, stride)
				for i := range hd {
					if math.Float32bits(o[j][i]) != math.Float32bits(oWant[j][i]) {
						t.Fatalf("hd %d n %d query %d: out %d = %v, AxpyRows %v", hd, n, j, i, o[j][i], oWant[j][i])
					}
				}
				if out[j][n] != guard || o[j][hd] != guard {
					t.Fatalf("hd %d n %d query %d: guard overwritten", hd, n, j)
				}
			}
		}
	}
}

func TestArgmaxHand(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	long := make([]float32, 40)
	long[37], long[5] = 2, 2
	for _, c := range []struct {
		x    []float32
		want int
	}{
		{nil, 0},
		{[]float32{nan, nan}, 0},
		{[]float32{nan, -inf, -inf}, 1},
		{[]float32{1, 3, 2, 3}, 1},
		{[]float32{nan, 1, nan, 5, inf, 4}, 4},
		{[]float32{negZero, 0, -1}, 0},
		{long, 5},
	} {
		if got := Argmax(c.x); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.x, got, c.want)
		}
	}
}

// TestRoPERowDefinition checks RoPERow (whatever kernel it runs) against
// the rotation computed in float64.
func TestRoPERowDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, half := range []int{1, 3, 16, 32} {
		heads := 3
		x := randF32(r, 2*half*heads)
		c, s := make([]float32, half), make([]float32, half)
		for i := range c {
			th := r.Float64() * 6
			c[i], s[i] = float32(math.Cos(th)), float32(math.Sin(th))
		}
		got := slices.Clone(x)
		RoPERow(got, heads, c, s)
		for h := range heads {
			for i := range half {
				x0, x1 := float64(x[2*h*half+i]), float64(x[(2*h+1)*half+i])
				lo := x0*float64(c[i]) - x1*float64(s[i])
				hi := x1*float64(c[i]) + x0*float64(s[i])
				if math.Abs(lo-float64(got[2*h*half+i])) > 1e-6*(1+math.Abs(lo)) || math.Abs(hi-float64(got[(2*h+1)*half+i])) > 1e-6*(1+math.Abs(hi)) {
					t.Fatalf("half=%d head %d [%d]: got %v %v, want %v %v", half, h, i, got[2*h*half+i], got[(2*h+1)*half+i], lo, hi)
				}
			}
		}
	}
}
