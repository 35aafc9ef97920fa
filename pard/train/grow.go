package train

import "fmt"

// Grow returns a deeper copy of m with layers decoder layers that
// computes exactly m's function: m's layers in order, with the new ones
// spread evenly among them, each a copy of the layer before it whose
// output projections (o_proj and down_proj) are zero, so that it adds
// nothing to the residual stream until training moves it (the block
// expansion of LLaMA Pro, Wu et al. 2024). A copy rather than a fresh
// layer gives the zero projections inputs worth learning from at once:
// their gradients are the residual stream's gradient times the copied
// attention's and MLP's outputs. Continued training then has a model as
// good as m from its first step, and one whose next tokens stay close to
// m's, which is what a draft trained on m's outputs needs.
func Grow(m *Model, layers int) (*Model, error) {
	old := m.Cfg.Layers
	if layers < old {
		return nil, fmt.Errorf("train: cannot grow a %d-layer model to %d layers", old, layers)
	}
	cfg := m.Cfg
	cfg.Layers = layers
	g, err := NewModel(cfg, m.Arch)
	if err != nil {
		return nil, err
	}
	copy(g.Embed, m.Embed)
	copy(g.Norm, m.Norm)
	if !cfg.Tied {
		copy(g.LMHead, m.LMHead)
	}
	extra, j := layers-old, 0
	for i := range m.Layers {
		copyLayer(&g.Layers[j], &m.Layers[i])
		j++
		// After layer i come the copies that bring the new layers up to
		// (i+1)/old of extra: an even spread, the last one after the
		// last layer.
		for range (i+1)*extra/old - i*extra/old {
			copyLayer(&g.Layers[j], &m.Layers[i])
			clear(g.Layers[j].O)
			clear(g.Layers[j].Down)
			j++
		}
	}
	return g, nil
}

// copyLayer copies one layer's parameters into another of the same shape.
func copyLayer(dst, src *LayerParams) {
	for _, p := range [][2][]float32{
		{dst.AttnNorm, src.AttnNorm}, {dst.Q, src.Q}, {dst.K, src.K}, {dst.V, src.V}, {dst.O, src.O},
		{dst.MLPNorm, src.MLPNorm}, {dst.Gate, src.Gate}, {dst.Up, src.Up}, {dst.Down, src.Down},
		{dst.QBias, src.QBias}, {dst.KBias, src.KBias}, {dst.VBias, src.VBias}, {dst.QNorm, src.QNorm}, {dst.KNorm, src.KNorm},
	} {
		copy(p[0], p[1])
	}
}
