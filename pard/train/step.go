package train

import (
	"github.com/gopard/gopard/ops"
)

// Workspace runs the forward and backward passes of one sequence (its kept
// rows) through a Model, keeping the activations the backward pass needs.
// Buffers grow to the longest sequence seen and are then reused.
type Workspace struct {
	cpu *ops.CPU
	lin linear

	cos, sin []float32 // RoPE tables, grown with the longest position
	ropeLen  int

	T      int // rows of the current sequence
	layers []layerActs
	xL     []float32 // residual after the last layer (T, D)
	rstdF  []float32
	xf     []float32 // final-norm output (T, D)
	logits []float32 // (T, V); the backward pass turns them into their gradient
	losses []float64

	// Gradient scratch.
	dx, dxn, dq, dk, dv, do, dh, dg, du, dqr, dkr []float32
	xnT                                           []float32 // a transposed norm output, shared by the projections that read it
}

// layerActs are the activations one layer saves for its backward pass.
type layerActs struct {
	xin, xn1, q, k, v, o, x2, xn2, g, u, h []float32
	rstd1, rstd2, lse                      []float32
	qraw, kraw, qrstd, krstd               []float32 // Qwen3's q/k norm inputs
}

// NewWorkspace returns a workspace running its kernels on cpu.
func NewWorkspace(cpu *ops.CPU) *Workspace { return &Workspace{cpu: cpu, lin: linear{cpu: cpu}} }

func (w *Workspace) size(m *Model, T, maxPos int) {
	c := m.Cfg
	D, F, V := c.Hidden, c.Intermediate, c.Vocab
	qd, kd, H := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.Heads
	if maxPos > w.ropeLen || len(w.cos) == 0 {
		w.ropeLen = max(maxPos, 2*w.ropeLen)
		w.cos, w.sin = c.RoPE.Tables(c.HeadDim, w.ropeLen)
	}
	w.T = T
	if len(w.layers) != c.Layers {
		w.layers = make([]layerActs, c.Layers)
	}
	for i := range w.layers {
		a := &w.layers[i]
		a.xin, a.xn1, a.x2, a.xn2 = grow(a.xin, T*D), grow(a.xn1, T*D), grow(a.x2, T*D), grow(a.xn2, T*D)
		a.q, a.o, a.k, a.v = grow(a.q, T*qd), grow(a.o, T*qd), grow(a.k, T*kd), grow(a.v, T*kd)
		a.g, a.u, a.h = grow(a.g, T*F), grow(a.u, T*F), grow(a.h, T*F)
		a.rstd1, a.rstd2, a.lse = grow(a.rstd1, T), grow(a.rstd2, T), grow(a.lse, T*H)
		if m.Arch.QKNorm {
			a.qraw, a.kraw = grow(a.qraw, T*qd), grow(a.kraw, T*kd)
			a.qrstd, a.krstd = grow(a.qrstd, T*H), grow(a.krstd, T*c.KVHeads)
		}
	}
	w.xL, w.xf, w.rstdF = grow(w.xL, T*D), grow(w.xf, T*D), grow(w.rstdF, T)
	w.logits = grow(w.logits, T*V)
	if cap(w.losses) < T {
		w.losses = make([]float64, T)
	}
	w.losses = w.losses[:T]
	w.dx, w.dxn, w.xnT = grow(w.dx, T*D), grow(w.dxn, T*D), grow(w.xnT, T*D)
	w.dq, w.do, w.dk, w.dv = grow(w.dq, T*qd), grow(w.do, T*qd), grow(w.dk, T*kd), grow(w.dv, T*kd)
	w.dh, w.dg, w.du = grow(w.dh, T*F), grow(w.dg, T*F), grow(w.du, T*F)
	if m.Arch.QKNorm {
		w.dqr, w.dkr = grow(w.dqr, T*qd), grow(w.dkr, T*kd)
	}
}

// Forward runs the kept rows of one sequence (input ids and their RoPE
// positions, the rule mask of l) through m and returns the logits (T,
// vocab), valid until the next call.
func (w *Workspace) Forward(m *Model, inputs []int32, l *Layout) []float32 {
	c := m.Cfg
	T := len(inputs)
	D, F, V := c.Hidden, c.Intermediate, c.Vocab
	H, KVH, hd := c.Heads, c.KVHeads, c.HeadDim
	qd, kd := H*hd, KVH*hd
	maxPos := 0
	for _, p := range l.Local {
		maxPos = max(maxPos, int(p)+1)
	}
	w.size(m, T, maxPos)
	p := w.cpu.Pool()
	pos := l.Local

	embeddingForward(w.layers[0].xin, m.Embed, inputs, D)
	for i := range m.Layers {
		lp, a := &m.Layers[i], &w.layers[i]
		// Attention block: x2 = xin + o_proj(attention(rope(q), rope(k), v)).
		rmsnormForward(p, a.xn1, a.rstd1, a.xin, lp.AttnNorm, T, D, c.NormEps)
		if m.Arch.QKNorm {
			w.lin.forward(a.qraw, a.xn1, T, lp.Q, qd, D, lp.QBias)
			w.lin.forward(a.kraw, a.xn1, T, lp.K, kd, D, lp.KBias)
			rmsnormForward(p, a.q, a.qrstd, a.qraw, lp.QNorm, T*H, hd, c.NormEps)
			rmsnormForward(p, a.k, a.krstd, a.kraw, lp.KNorm, T*KVH, hd, c.NormEps)
		} else {
			w.lin.forward(a.q, a.xn1, T, lp.Q, qd, D, lp.QBias)
			w.lin.forward(a.k, a.xn1, T, lp.K, kd, D, lp.KBias)
		}
		w.lin.forward(a.v, a.xn1, T, lp.V, kd, D, lp.VBias)
		ropeForward(a.q, pos, H, hd, w.cos, w.sin)
		ropeForward(a.k, pos, KVH, hd, w.cos, w.sin)
		AttentionForward(p, a.o, a.lse, a.q, a.k, a.v, l, H, KVH, hd)
		w.lin.forward(a.x2, a.o, T, lp.O, D, qd, nil)
		ops.Add(a.x2, a.xin)

		// MLP block: x3 = x2 + down(silu(gate(xn2)) · up(xn2)).
		rmsnormForward(p, a.xn2, a.rstd2, a.x2, lp.MLPNorm, T, D, c.NormEps)
		w.lin.forward(a.g, a.xn2, T, lp.Gate, F, D, nil)
		w.lin.forward(a.u, a.xn2, T, lp.Up, F, D, nil)
		swigluForward(a.h, a.g, a.u)
		next := w.xL
		if i+1 < len(m.Layers) {
			next = w.layers[i+1].xin
		}
		w.lin.forward(next, a.h, T, lp.Down, D, F, nil)
		ops.Add(next, a.x2)
	}
	rmsnormForward(p, w.xf, w.rstdF, w.xL, m.Norm, T, D, c.NormEps)
	w.lin.forward(w.logits, w.xf, T, m.LMHead, V, D, nil)
	return w.logits
}

// Loss returns the summed cross-entropy of the logits of the last Forward
// against targets (−1: no label) and the number of labelled rows. It
// consumes the logits (they become the loss gradient).
func (w *Workspace) Loss(targets []int32) (sum float64, labelled int) { return w.loss(targets, 0) }

func (w *Workspace) loss(targets []int32, scale float32) (sum float64, labelled int) {
	V := len(w.logits) / max(1, w.T)
	crossEntropy(w.cpu.Pool(), w.logits[:w.T*V], targets[:w.T], V, scale, w.losses)
	for i, v := range w.losses {
		sum += v
		if targets[i] >= 0 {
			labelled++
		}
	}
	return sum, labelled
}

// Backward computes the cross-entropy of the logits of the last Forward
// against targets (−1: no label), accumulates the gradient of
// scale·(summed loss) into g, and returns the summed loss. scale is
// 1/(labelled rows of the whole batch), making g the batch-mean gradient.
func (w *Workspace) Backward(m, g *Model, inputs []int32, l *Layout, targets []int32, scale float32) float64 {
	c := m.Cfg
	T := w.T
	D, F, V := c.Hidden, c.Intermediate, c.Vocab
	H, KVH, hd := c.Heads, c.KVHeads, c.HeadDim
	qd, kd := H*hd, KVH*hd
	p := w.cpu.Pool()
	pos := l.Local

	loss, _ := w.loss(targets, scale)
	// Head: logits = xf · LMHeadᵀ, xf = rmsnorm(xL).
	clear(w.dxn)
	w.lin.backward(w.dxn, g.LMHead, nil, w.logits, w.xf, nil, m.LMHead, T, V, D)
	dx := w.dx // gradient of the residual stream, carried down the layers
	clear(dx)
	rmsnormBackward(p, dx, g.Norm, w.dxn, w.xL, m.Norm, w.rstdF, T, D)

	for i := len(m.Layers) - 1; i >= 0; i-- {
		lp, gp, a := &m.Layers[i], &g.Layers[i], &w.layers[i]
		// MLP block. dx holds ∂L/∂x3; the residual passes it to x2 unchanged.
		clear(w.dh)
		w.lin.backward(w.dh, gp.Down, nil, dx, a.h, nil, lp.Down, T, D, F)
		swigluBackward(p, w.dg, w.du, w.dh, a.g, a.u)
		transpose(p, w.xnT, a.xn2, T, D)
		clear(w.dxn)
		w.lin.backward(w.dxn, gp.Gate, nil, w.dg, a.xn2, w.xnT, lp.Gate, T, F, D)
		w.lin.backward(w.dxn, gp.Up, nil, w.du, a.xn2, w.xnT, lp.Up, T, F, D)
		rmsnormBackward(p, dx, gp.MLPNorm, w.dxn, a.x2, lp.MLPNorm, a.rstd2, T, D)

		// Attention block. dx now holds ∂L/∂x2.
		clear(w.do)
		w.lin.backward(w.do, gp.O, nil, dx, a.o, nil, lp.O, T, D, qd)
		clear(w.dq)
		clear(w.dk)
		clear(w.dv)
		AttentionBackward(p, w.dq, w.dk, w.dv, w.do, a.q, a.k, a.v, a.o, a.lse, l, H, KVH, hd)
		ropeBackward(w.dq, pos, H, hd, w.cos, w.sin)
		ropeBackward(w.dk, pos, KVH, hd, w.cos, w.sin)
		dq, dk := w.dq, w.dk
		if m.Arch.QKNorm {
			clear(w.dqr)
			clear(w.dkr)
			rmsnormBackward(p, w.dqr, gp.QNorm, w.dq, a.qraw, lp.QNorm, a.qrstd, T*H, hd)
			rmsnormBackward(p, w.dkr, gp.KNorm, w.dk, a.kraw, lp.KNorm, a.krstd, T*KVH, hd)
			dq, dk = w.dqr, w.dkr
		}
		transpose(p, w.xnT, a.xn1, T, D)
		clear(w.dxn)
		w.lin.backward(w.dxn, gp.Q, gp.QBias, dq, a.xn1, w.xnT, lp.Q, T, qd, D)
		w.lin.backward(w.dxn, gp.K, gp.KBias, dk, a.xn1, w.xnT, lp.K, T, kd, D)
		w.lin.backward(w.dxn, gp.V, gp.VBias, w.dv, a.xn1, w.xnT, lp.V, T, kd, D)
		rmsnormBackward(p, dx, gp.AttnNorm, w.dxn, a.xin, lp.AttnNorm, a.rstd1, T, D)
	}
	embeddingBackward(g.Embed, dx, inputs, D)
	return loss
}
