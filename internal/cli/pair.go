package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/pard"
	"github.com/gopard/gopard/tokenizer"
	"github.com/gopard/gopard/tokenizer/chat"
)

// Info describes a loaded model for the engines.
func Info(m *llama.Model) pard.ModelInfo {
	return pard.ModelInfo{
		Name:       m.Dir,
		VocabSize:  m.Config().Vocab,
		EOS:        m.EOS,
		PardToken:  m.PardToken,
		SpdType:    m.HF.SpdType,
		MaxContext: m.Cache().Capacity,
	}
}

// Pair is a target model, an optional draft, and the target's tokenizer
// (nil when the target directory has none).
type Pair struct {
	Target, Draft         *llama.Model
	TargetInfo, DraftInfo pard.ModelInfo
	Tokenizer             *tokenizer.Tokenizer
}

// A loaded model must keep ForwardArgmax (promoted from nn.Decoder): the
// engines find it on the Models below by a type assertion, and would
// silently fall back to copying whole logits rows without it.
var _ interface {
	pard.Forwarder
	pard.ArgmaxForwarder
} = (*llama.Model)(nil)

// Models returns the pair as engine models (draft nil when absent). They
// are pard.ArgmaxForwarders, so greedy engines copy back ids, not rows.
func (p *Pair) Models() (target, draft pard.Model) {
	target = pard.WithInfo(p.Target, p.TargetInfo)
	if p.Draft != nil {
		draft = pard.WithInfo(p.Draft, p.DraftInfo)
	}
	return target, draft
}

// Close unmaps both models.
func (p *Pair) Close() {
	if p.Target != nil {
		p.Target.Close()
	}
	if p.Draft != nil {
		p.Draft.Close()
	}
}

// HasTokenizer reports whether dir holds a tokenizer.json.
func HasTokenizer(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "tokenizer.json"))
	return err == nil
}

// LoadTokenizer loads dir's tokenizer, or returns nil when dir has none.
func LoadTokenizer(dir string) (*tokenizer.Tokenizer, error) {
	if !HasTokenizer(dir) {
		return nil, nil
	}
	return tokenizer.Load(dir)
}

// OpenPair loads a target on backend b and (when draftDir is not "") a
// draft on draftB (b, or its DraftBackend), both with the given KV
// capacity, and checks that they share a tokenizer.
func OpenPair(targetDir, draftDir string, tok *tokenizer.Tokenizer, b, draftB nn.Backend, context int, quiet bool) (*Pair, error) {
	p := &Pair{Tokenizer: tok}
	var err error
	if p.Target, err = LoadModel(targetDir, b, context, quiet); err != nil {
		return nil, err
	}
	p.TargetInfo = Info(p.Target)
	if draftDir == "" {
		return p, nil
	}
	if p.Draft, p.DraftInfo, err = p.OpenDraft(draftDir, draftB, context, quiet); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// OpenDraft loads draftDir on draftB as another draft of p's target,
// checked against it as OpenPair checks its draft (vocabulary, special
// tokens): eval's autoregressive draft beside the PARD one, sharing the
// target instead of loading it again. The caller closes the model.
func (p *Pair) OpenDraft(draftDir string, draftB nn.Backend, context int, quiet bool) (*llama.Model, pard.ModelInfo, error) {
	d, err := LoadModel(draftDir, draftB, context, quiet)
	if err != nil {
		return nil, pard.ModelInfo{}, err
	}
	info := Info(d)
	if err := p.checkDraft(draftDir, info); err != nil {
		d.Close()
		return nil, pard.ModelInfo{}, err
	}
	return d, info, nil
}

func (p *Pair) checkDraft(draftDir string, info pard.ModelInfo) error {
	vocab := 0
	if p.Tokenizer != nil {
		vocab = p.Tokenizer.VocabSize()
	}
	if err := pard.CheckCompatible(p.TargetInfo, info, vocab); err != nil {
		return err
	}
	if p.Tokenizer != nil && HasTokenizer(draftDir) {
		dtok, err := tokenizer.Load(draftDir)
		if err != nil {
			return err
		}
		if err := pard.CompareSpecialTokens(p.Tokenizer.SpecialIDs(), dtok.SpecialIDs()); err != nil {
			return fmt.Errorf("target %s and draft %s: %w", p.Target.Dir, draftDir, err)
		}
	}
	return nil
}

// ModelSerie infers the reference's model_serie from a target name, in
// its order: llama3, then r1, then qwen.
func ModelSerie(name string) (string, error) {
	base := filepath.Base(filepath.Clean(name))
	switch {
	case strings.Contains(base, "llama3") || strings.Contains(base, "Llama-3"):
		return "llama3", nil
	case strings.Contains(base, "r1") || strings.Contains(base, "R1"):
		return "r1", nil
	case strings.Contains(base, "qwen") || strings.Contains(base, "Qwen"):
		return "qwen", nil
	}
	return "", fmt.Errorf("cannot infer the model series from %q: pass --model_serie llama3|qwen|r1", base)
}

// DefaultSystem is the reference's system prompt ("" for r1, which has none).
func DefaultSystem(serie string) string {
	if serie == "r1" {
		return ""
	}
	return "You are a helpful assistant."
}

// ChatPrompt renders a system (optional) and user message with dir's chat
// template, with the generation prompt and thinking disabled, as the
// reference's evaluation does.
func ChatPrompt(dir, system, user string) (string, error) {
	tmpl, specials, err := chat.LoadConfig(dir)
	if err != nil {
		return "", err
	}
	if tmpl == nil {
		return "", errors.New(dir + ": tokenizer_config.json has no chat_template")
	}
	type msg struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	var req struct {
		Messages            []msg `json:"messages"`
		AddGenerationPrompt bool  `json:"add_generation_prompt"`
		EnableThinking      bool  `json:"enable_thinking"`
	}
	if system != "" {
		req.Messages = append(req.Messages, msg{"system", system})
	}
	req.Messages = append(req.Messages, msg{"user", user})
	req.AddGenerationPrompt = true
	data, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	return chat.RenderRequest(tmpl, data, specials)
}

// MinConfidenceHelp documents --min-confidence (pard.Options.MinConfidence).
const MinConfidenceHelp = "verify an iteration's drafts only while the draft's probability that all of them are accepted (the product of its probabilities for its own tokens) stays at least this, the first always; 0 verifies all K. The output does not change, only how many rows each verify spends"

// ParseMinConfidence parses a --min-confidence value: a number in [0, 1)
// once rounded to the float32 the engine takes (0.99999999 is not).
func ParseMinConfidence(s string) (float32, error) {
	v, err := strconv.ParseFloat(s, 32)
	if f := float32(v); err != nil || !(f >= 0 && f < 1) { // 0.99999999 rounds to 1
		return 0, fmt.Errorf("minimum confidence %q is not a number in [0, 1)", s)
	}
	return float32(v), nil
}
