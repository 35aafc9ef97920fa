package gputest

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/internal/defaultmodel"
	"github.com/gopard/gopard/models"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/pard"
	"github.com/gopard/gopard/tokenizer"
)

// defaultModels returns the directories of the embedded default models
// (extracted to the user cache directory on first use), or skips.
func defaultModels(t *testing.T) defaultmodel.Models {
	t.Helper()
	m, err := defaultmodel.Dirs()
	if err != nil {
		t.Skipf("the default models are not at hand: %v", err)
	}
	return m
}

// Engines runs the embedded default models (target, AR draft, PARD draft)
// on b through the engines: greedy AR, VSD and PARD must produce the same
// tokens on the device, as the method promises; the CPU's AR output is
// compared and logged (f32 sums in another order may flip a near tie).
// It logs each engine's speed and mean accepted length on the device.
func Engines(t *testing.T, b Backend) { engines(t, b) }

func engines(t *testing.T, b nn.Backend) {
	cpu := hostCPU()
	dirs, tok, prompt := goPrompt(t)
	const tokens, k = 96, 4
	capacity := len(prompt) + tokens + k + 1
	load := func(name, dir string, bk nn.Backend) pard.Model {
		m, _ := loadModel(t, name, dir, bk, capacity)
		return m
	}
	target, draft, pdraft := load("target", dirs.Target, b), load("draft", dirs.Draft, b), load("pard", dirs.PARD, b)
	_, hasIDs := target.(pard.ArgmaxForwarder)
	require.True(t, hasIDs, "a model on the device must offer ForwardArgmax")
	run := func(mode pard.Mode, tm, dm pard.Model) *pard.Result {
		opt := pard.Options{Mode: mode, MaxNewTokens: tokens, IgnoreEOS: true, Vocab: tok.VocabSize()}
		if mode != pard.AR {
			opt.K = k
		}
		_, err := pard.Generate(tm, dm, prompt, pard.Options{Mode: mode, K: opt.K, MaxNewTokens: 8, IgnoreEOS: true, Vocab: opt.Vocab}) // warm-up
		require.NoError(t, err)
		res, err := pard.Generate(tm, dm, prompt, opt)
		require.NoError(t, err, "%v", mode)
		require.Len(t, res.Output, tokens)
		t.Logf("%-4v on %s: %7.1f tok/s, mean accepted length %.2f", mode, b.Name(), res.Stats.TokensPerSecond, res.Stats.AcceptLength)
		return res
	}
	ar := run(pard.AR, target, nil)
	require.Equal(t, ar.Output, run(pard.VSD, target, draft).Output, "VSD output ≠ AR output on the device")
	require.Equal(t, ar.Output, run(pard.PARD, target, pdraft).Output, "PARD output ≠ AR output on the device")
	// Cutting unlikely drafts: the draft's argmax probabilities come from
	// the device (ForwardArgmaxProb), and the output is still AR's.
	cut, err := pard.Generate(target, pdraft, prompt, pard.Options{Mode: pard.PARD, K: 8, MaxNewTokens: tokens, IgnoreEOS: true,
		Vocab: tok.VocabSize(), MinConfidence: 0.1})
	require.NoError(t, err)
	require.Equal(t, ar.Output, cut.Output, "PARD output with MinConfidence ≠ AR output on the device")
	t.Logf("PARD K = 8, min-confidence 0.1 on %s: %d of %d drafts verified, mean accepted length %.2f",
		b.Name(), cut.Stats.Drafted, 8*cut.Stats.Iterations, cut.Stats.AcceptLength)

	cpuTarget := load("target", dirs.Target, cpu)
	onCPU, err := pard.Generate(cpuTarget, nil, prompt, pard.Options{Mode: pard.AR, MaxNewTokens: tokens, IgnoreEOS: true, Vocab: tok.VocabSize()})
	require.NoError(t, err)

	// Sampling (speculative rejection sampling) reads logits rows from the
	// device, the target's and the draft's; with the CPU's seed it draws
	// the same tokens unless a draw lands within the two sides' rounding of
	// a boundary.
	sampling := pard.Options{Mode: pard.PARD, K: k, MaxNewTokens: tokens / 2, IgnoreEOS: true, Vocab: tok.VocabSize(),
		Temperature: 0.8, TopP: 0.95, Seed: 7}
	sampled, err := pard.Generate(target, pdraft, prompt, sampling)
	require.NoError(t, err)
	require.Len(t, sampled.Output, tokens/2)
	sampledCPU, err := pard.Generate(cpuTarget, load("pard", dirs.PARD, cpu), prompt, sampling)
	require.NoError(t, err)
	n := commonPrefix(sampled.Output, sampledCPU.Output)
	t.Logf("PARD sampling (T 0.8, top-p 0.95) on %s: mean accepted length %.2f; the CPU with the same seed draws the same first %d of %d tokens",
		b.Name(), sampled.Stats.AcceptLength, n, tokens/2)
	require.GreaterOrEqual(t, n, 8, "the device's first sampled tokens differ from the CPU's with the same seed")
	if n := commonPrefix(ar.Output, onCPU.Output); n < tokens {
		t.Logf("device and CPU greedy outputs agree on %d of %d tokens (a near tie decided differently)", n, tokens)
	} else {
		t.Logf("device and CPU greedy outputs agree on all %d tokens", tokens)
	}
	require.Equal(t, ar.Output[:8], onCPU.Output[:8], "the device's first greedy tokens differ from the CPU's")
	require.True(t, slices.Equal(ar.Prompt, prompt))
}

// goPrompt returns the default models' directories, their tokenizer and
// the engines' prompt (the start of a Go program), or skips.
func goPrompt(t *testing.T) (defaultmodel.Models, *tokenizer.Tokenizer, []int32) {
	dirs := defaultModels(t)
	tok, err := tokenizer.Load(filepath.Join(dirs.Target, "tokenizer.json"))
	require.NoError(t, err)
	return dirs, tok, tok.Encode("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tif len(os.Args) < 2 {\n", false)
}

// loadModel loads the model in dir on b for capacity positions, closed
// when t ends, as the engines take it (named name) and as itself.
func loadModel(t *testing.T, name, dir string, b nn.Backend, capacity int) (pard.Model, *llama.Model) {
	m, err := models.Load(dir, llama.Options{Backend: b, Context: capacity})
	require.NoError(t, err, name)
	t.Cleanup(func() { m.Close() })
	return pard.WithInfo(m, pard.ModelInfo{Name: name, VocabSize: m.Config().Vocab, EOS: m.EOS,
		PardToken: m.PardToken, SpdType: m.HF.SpdType, MaxContext: capacity}), m
}

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
