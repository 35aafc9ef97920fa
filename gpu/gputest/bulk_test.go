package gputest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/pard"
	"github.com/gopard/gopard/tensor"
)

// skewedBulk is the CPU as an nn.Bulker whose product and attention are
// Linear's and Attention's times 0.75: far from them, so that a row sent
// to it in one decoding mode and not in another would change the output.
type skewedBulk struct {
	*ops.CPU
	rows, att int
}

func (b *skewedBulk) BulkRows() int { return 4 }

func (b *skewedBulk) LinearBulk(out, x, w, bias *tensor.Tensor) {
	b.CPU.Linear(out, x, w, bias)
	for i, v := range out.F32() {
		out.F32()[i] = 0.75 * v
	}
	b.rows += x.Rows()
}

func (b *skewedBulk) AttentionBulk(out, q, k, v *tensor.Tensor, start, heads, kvHeads, headDim int) {
	b.CPU.Attention(out, q, k, v, start, heads, kvHeads, headDim)
	for i, o := range out.F32() {
		out.F32()[i] = 0.75 * o
	}
	b.att += q.Rows()
}

// TestBulkEnginesOnCPU: greedy AR, VSD and PARD (every draft verified,
// and cut by MinConfidence) give the same tokens with a Bulker whose
// products differ from Linear's, because the decoder sends it the same
// rows in every mode (the prompt's but its last).
func TestBulkEnginesOnCPU(t *testing.T) {
	dirs, tok, prompt := goPrompt(t)
	const tokens = 48
	b := &skewedBulk{CPU: ops.NewCPU(2)}
	capacity := len(prompt) + tokens + 9
	target, targetModel := loadModel(t, "target", dirs.Target, b, capacity)
	draft, _ := loadModel(t, "draft", dirs.Draft, b, capacity)
	pdraft, _ := loadModel(t, "pard", dirs.PARD, b, capacity)
	gen := func(dm pard.Model, opt pard.Options) []int32 {
		opt.MaxNewTokens, opt.IgnoreEOS, opt.Vocab = tokens, true, tok.VocabSize()
		res, err := pard.Generate(target, dm, prompt, opt)
		require.NoError(t, err, "%v", opt.Mode)
		require.Len(t, res.Output, tokens)
		return res.Output
	}
	b.rows, b.att = 0, 0
	ar := gen(nil, pard.Options{Mode: pard.AR})
	// Seven products a layer, three in the last (it stops at the cache).
	layers := targetModel.Config().Layers
	require.Equal(t, (len(prompt)-1)*(7*layers-4), b.rows, "AR: the prompt's rows but the last, through every product")
	require.Equal(t, (len(prompt)-1)*(layers-1), b.att, "AR: and through attention but in the last layer")
	require.Equal(t, ar, gen(draft, pard.Options{Mode: pard.VSD, K: 4}), "VSD")
	require.Equal(t, ar, gen(pdraft, pard.Options{Mode: pard.PARD, K: 4}), "PARD")
	require.Equal(t, ar, gen(pdraft, pard.Options{Mode: pard.PARD, K: 8, MinConfidence: 0.1}), "PARD, min confidence 0.1")
}
