package train

import (
	"math"

	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/tensor"
)

// This file holds every layer of the decoder twice, forward beside backward,
// in the style of llm.c: the math of each is in its doc comment. Backward
// functions accumulate (+=) into parameter gradients and, unless said
// otherwise, into input gradients too, so residual branches simply add up.

// linear is the one GEMM of training: ops' MatMul, which computes
// out = x·wᵀ for x (M, K) and w (N, K). The forward pass and both backward
// products are that same kernel on transposed operands.
type linear struct {
	cpu *ops.CPU
	// Scratch, grown as needed: transposed operands and a product that is
	// then added into its destination.
	wT, dyT, xT, tmp []float32
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// forward: out (T, N) = x (T, K) · wᵀ + bias; w is (N, K); bias may be nil.
func (l *linear) forward(out, x []float32, T int, w []float32, N, K int, bias []float32) {
	var b *tensor.Tensor
	if bias != nil {
		b = tensor.FromF32(bias, N)
	}
	l.cpu.Linear(tensor.FromF32(out[:T*N], T, N), tensor.FromF32(x[:T*K], T, K), tensor.FromF32(w[:N*K], N, K), b)
}

// backward of out = x·wᵀ + b, given dy = ∂L/∂out (T, N):
//
//	dx (T, K) += dy · w          = dy · (wᵀ)ᵀ       (skipped when dx is nil)
//	dw (N, K) += dyᵀ · x         = dyᵀ · (xᵀ)ᵀ
//	db (N)    += Σ_t dy[t]                           (when db is not nil)
//
// xT may hold x already transposed (K, T), shared by the q, k and v (or the
// gate and up) projections of one input; nil transposes x here.
func (l *linear) backward(dx, dw, db, dy, x, xT, w []float32, T, N, K int) {
	p := l.cpu.Pool()
	if dx != nil {
		l.wT = grow(l.wT, K*N)
		transpose(p, l.wT, w, N, K)
		l.tmp = grow(l.tmp, T*K)
		l.forward(l.tmp, dy, T, l.wT, K, N, nil)
		ops.Add(dx[:T*K], l.tmp)
	}
	if xT == nil {
		l.xT = grow(l.xT, K*T)
		transpose(p, l.xT, x, T, K)
		xT = l.xT
	}
	l.dyT = grow(l.dyT, N*T)
	transpose(p, l.dyT, dy, T, N)
	l.tmp = grow(l.tmp, N*K)
	l.forward(l.tmp, l.dyT, N, xT, K, T, nil)
	ops.Add(dw[:N*K], l.tmp)
	if db != nil {
		for t := 0; t < T; t++ {
			ops.Add(db[:N], dy[t*N:(t+1)*N])
		}
	}
}

// transpose writes dst (cols, rows) = srcᵀ for src (rows, cols), in 32×32
// tiles so that both sides stay in cache, split across the pool by rows of dst.
func transpose(p *ops.Pool, dst, src []float32, rows, cols int) {
	const tile = 32
	p.Run((cols+tile-1)/tile, 1, func(_, lo, hi int) {
		for cb := lo * tile; cb < min(hi*tile, cols); cb += tile {
			ce := min(cb+tile, cols)
			for rb := 0; rb < rows; rb += tile {
				re := min(rb+tile, rows)
				for c := cb; c < ce; c++ {
					d := dst[c*rows : (c+1)*rows]
					for r := rb; r < re; r++ {
						d[r] = src[r*cols+c]
					}
				}
			}
		}
	})
}

// embeddingForward gathers out[t] = table[ids[t]] for a (vocab, d) table.
func embeddingForward(out, table []float32, ids []int32, d int) {
	for t, id := range ids {
		copy(out[t*d:(t+1)*d], table[int(id)*d:(int(id)+1)*d])
	}
}

// embeddingBackward scatters dtable[ids[t]] += dout[t], in row order so the
// sum is the same on every run.
func embeddingBackward(dtable, dout []float32, ids []int32, d int) {
	for t, id := range ids {
		ops.Add(dtable[int(id)*d:(int(id)+1)*d], dout[t*d:(t+1)*d])
	}
}

// rmsnormForward normalises each row of x (rows, d):
//
//	rstd = 1/√(mean(x²) + eps)      out = x · rstd · w
//
// saving rstd per row for the backward pass.
func rmsnormForward(p *ops.Pool, out, rstd, x, w []float32, rows, d int, eps float32) {
	p.Run(rows, max(1, 4096/d), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*d : (r+1)*d]
			var ss float64
			for _, v := range xr {
				ss += float64(v) * float64(v)
			}
			s := float32(1 / math.Sqrt(ss/float64(d)+float64(eps)))
			rstd[r] = s
			o := out[r*d : (r+1)*d]
			for i, v := range xr {
				o[i] = v * s * w[i]
			}
		}
	})
}

// rmsnormBackward: with n = x·rstd (the normalised row) and g = dout·w,
//
//	dw += Σ_rows dout · n
//	dx += rstd · (g − n · mean(g·n))
//
// dw is summed over rows in order on one goroutine (deterministic); dx rows
// are independent and split across the pool.
func rmsnormBackward(p *ops.Pool, dx, dw, dout, x, w, rstd []float32, rows, d int) {
	p.Run(rows, max(1, 4096/d), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, dr, s := x[r*d:(r+1)*d], dout[r*d:(r+1)*d], rstd[r]
			var dot float64 // Σ g·n
			for i, v := range xr {
				dot += float64(dr[i]*w[i]) * float64(v*s)
			}
			m := float32(dot / float64(d))
			dxr := dx[r*d : (r+1)*d]
			for i, v := range xr {
				n := v * s
				dxr[i] += s * (dr[i]*w[i] - n*m)
			}
		}
	})
	for r := 0; r < rows; r++ {
		xr, dr, s := x[r*d:(r+1)*d], dout[r*d:(r+1)*d], rstd[r]
		for i, v := range xr {
			dw[i] += dr[i] * v * s
		}
	}
}

// ropeForward rotates each head of each row in place by the angles of that
// row's position (pos[t]), in Hugging Face's rotate-half layout (ops.RoPE):
//
//	x[i]   ← x[i]·cos θ − x[i+h]·sin θ
//	x[i+h] ← x[i+h]·cos θ + x[i]·sin θ          h = hd/2, θ = pos·freq[i]
func ropeForward(x []float32, pos []int32, heads, hd int, cos, sin []float32) {
	w := heads * hd
	for t, ps := range pos {
		ops.RoPE(x[t*w:(t+1)*w], heads, hd, int(ps), cos, sin)
	}
}

// ropeBackward: a rotation's gradient is the inverse rotation (by −θ),
// applied in place to dx.
func ropeBackward(dx []float32, pos []int32, heads, hd int, cos, sin []float32) {
	half := hd / 2
	w := heads * hd
	for t, ps := range pos {
		c, s := cos[int(ps)*half:(int(ps)+1)*half], sin[int(ps)*half:(int(ps)+1)*half]
		row := dx[t*w : (t+1)*w]
		for h := 0; h < heads; h++ {
			lo, hi := row[h*hd:h*hd+half], row[h*hd+half:(h+1)*hd]
			for i := range lo {
				g0, g1 := lo[i], hi[i]
				lo[i] = g0*c[i] + g1*s[i]
				hi[i] = g1*c[i] - g0*s[i]
			}
		}
	}
}

// swigluForward: out = silu(g) · u, silu(g) = g·σ(g).
func swigluForward(out, g, u []float32) { ops.SiLUMul(out, g, u) }

// swigluBackward: with σ = σ(g),
//
//	dg = dout · u · σ · (1 + g·(1 − σ))
//	du = dout · g · σ
//
// written (not accumulated) into dg and du.
func swigluBackward(p *ops.Pool, dg, du, dout, g, u []float32) {
	p.Run(len(g), 4096, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			x := g[i]
			sig := float32(1 / (1 + math.Exp(-float64(x))))
			dg[i] = dout[i] * u[i] * sig * (1 + x*(1-sig))
			du[i] = dout[i] * x * sig
		}
	})
}

// crossEntropy turns logits (T, V) into their gradient in place and returns
// the summed loss and the number of labelled rows:
//
//	loss = Σ_t −log softmax(logits[t])[target[t]]          over target[t] ≥ 0
//	dlogits[t] = (softmax(logits[t]) − onehot(target[t])) · scale
//
// Rows without a target get a zero gradient. scale is 1/(labelled rows of
// the whole batch), so the gradient is that of the batch's mean loss.
func crossEntropy(p *ops.Pool, logits []float32, targets []int32, V int, scale float32, losses []float64) {
	p.Run(len(targets), 8, func(_, lo, hi int) {
		for t := lo; t < hi; t++ {
			row := logits[t*V : (t+1)*V]
			tg := targets[t]
			if tg < 0 {
				clear(row)
				losses[t] = 0
				continue
			}
			mx := row[0]
			for _, v := range row {
				mx = max(mx, v)
			}
			zt := float64(row[tg] - mx)
			var sum float64
			for i, v := range row {
				e := math.Exp(float64(v - mx))
				row[i] = float32(e)
				sum += e
			}
			losses[t] = math.Log(sum) - zt
			inv := float32(1 / sum)
			for i := range row {
				row[i] *= inv * scale
			}
			row[tg] -= scale
		}
	})
}
