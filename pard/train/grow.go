package train

import (
	"fmt"
	"strings"
)

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
		copyLayer(g, j, m, i)
		j++
		// After layer i come the copies that bring the new layers up to
		// (i+1)/old of extra: an even spread, the last one after the
		// last layer.
		for range (i+1)*extra/old - i*extra/old {
			copyLayer(g, j, m, i)
			clear(g.Layers[j].O)
			clear(g.Layers[j].Down)
			j++
		}
	}
	return g, nil
}

// copyLayer copies every parameter of src's layer i into dst's layer j
// (models of one architecture and width): the tensors named
// model.layers.N. in Params, which NewModel lists in the same order for
// every layer, so no field of LayerParams can be left out.
func copyLayer(dst *Model, j int, src *Model, i int) {
	d, s := dst.layerParams(j), src.layerParams(i)
	for k := range d {
		copy(d[k].Data, s[k].Data)
	}
}

// layerParams returns layer i's entries of m.Params, in NewModel's order.
func (m *Model) layerParams(i int) []Param {
	prefix := fmt.Sprintf("model.layers.%d.", i)
	var ps []Param
	for _, p := range m.Params {
		if strings.HasPrefix(p.Name, prefix) {
			ps = append(ps, p)
		}
	}
	return ps
}
