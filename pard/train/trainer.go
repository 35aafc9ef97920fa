package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"

	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/safetensors"
	"github.com/gopard/gopard/tensor"
)

// Options configure a Trainer.
type Options struct {
	SeqLen int // S: real tokens per sequence
	Batch  int // sequences per optimizer step (gradients accumulated one sequence at a time)

	// PARD adaptation (spec §3): P blocks, COD keep ratios max(R^i, RMin),
	// the mask token. P = 1 is plain autoregressive training.
	P       int
	R, RMin float64
	MaskID  int32

	WeightDecay float64
	Clip        float64 // global gradient-norm clip; ≤ 0 disables
	Schedule    Schedule
	Seed        uint64
}

// Validate reports options that cannot train.
func (o *Options) Validate(vocab int) error {
	switch {
	case o.SeqLen < 2 || o.SeqLen > 1<<16:
		return fmt.Errorf("sequence length %d: want 2..65536", o.SeqLen)
	case o.Batch < 1 || o.Batch > 1<<16:
		return fmt.Errorf("batch %d: want 1..65536", o.Batch)
	case o.P < 1 || o.P > MaxBlocks:
		return fmt.Errorf("para-num %d: want 1..%d", o.P, MaxBlocks)
	case o.P > 1 && (o.MaskID < 0 || int(o.MaskID) >= vocab):
		return fmt.Errorf("mask token %d outside the vocabulary of %d", o.MaskID, vocab)
	case o.WeightDecay < 0 || o.WeightDecay > 1:
		return fmt.Errorf("weight decay %v: want 0..1", o.WeightDecay)
	}
	if o.P > 1 {
		if !(o.R > 0 && o.R <= 1) || !(o.RMin > 0 && o.RMin <= 1) {
			return fmt.Errorf("COD ratios r %v, r_min %v: want both in (0, 1]", o.R, o.RMin)
		}
	}
	return o.Schedule.Validate()
}

// Source hands out training sequences.
type Source interface {
	// Sample returns n consecutive tokens (S+1: the last is only a label),
	// drawing any randomness from rng.
	Sample(rng *rand.Rand, n int) []int32
	// Len is the number of tokens available, for reporting.
	Len() int
}

// Windows samples uniformly random windows of a token stream (documents
// concatenated with an end-of-text token between them).
type Windows struct{ Tokens []int32 }

// Sample implements Source.
func (w *Windows) Sample(rng *rand.Rand, n int) []int32 {
	start := rng.IntN(len(w.Tokens) - n + 1)
	return w.Tokens[start : start+n]
}

// Len implements Source.
func (w *Windows) Len() int { return len(w.Tokens) }

// Trainer runs the training loop: sample a batch, forward and backward each
// sequence under its COD layout, clip, AdamW.
type Trainer struct {
	M    *Model
	Grad *Model
	Opt  *AdamW
	O    Options

	src     Source
	ws      *Workspace
	pcg     *rand.PCG
	rng     *rand.Rand
	step    int
	in, tg  []int32
	outputs int
}

// StepStats describe one optimizer step.
type StepStats struct {
	Step     int     // 1-based, after the step
	Loss     float64 // mean cross-entropy over the labelled rows
	Rows     int     // rows run through the model (kept rows of all sequences)
	Labelled int     // rows with a label
	GradNorm float64 // before clipping
	LR       float64
	FLOPs    float64 // estimated floating-point operations (Model.StepFLOPs)
}

// NewTrainer prepares training m with opt on sequences from src.
func NewTrainer(m *Model, cpu *ops.CPU, opt Options, src Source) (*Trainer, error) {
	if err := opt.Validate(m.Cfg.Vocab); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if src.Len() < opt.SeqLen+1 {
		return nil, fmt.Errorf("train: %d tokens of data, fewer than one sequence of %d+1", src.Len(), opt.SeqLen)
	}
	pcg := rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15)
	return &Trainer{M: m, Grad: m.Zeros(), Opt: NewAdamW(len(m.Flat), opt.WeightDecay), O: opt,
		src: src, ws: NewWorkspace(cpu), pcg: pcg, rng: rand.New(pcg)}, nil
}

// StepsDone is the number of optimizer steps taken (restored by Resume).
func (t *Trainer) StepsDone() int { return t.step }

// layout draws the block layout of one sequence of S real tokens: COD
// over P blocks, or the plain causal layout for AR training (P = 1, where
// R and RMin are unused and may be zero).
func (o *Options) layout(S int, rng *rand.Rand) (*Layout, error) {
	if o.P == 1 {
		return NewLayout(S, 1, 1, 1, nil)
	}
	return NewLayout(S, o.P, o.R, o.RMin, rng)
}

// Step runs one optimizer step over Batch sequences.
func (t *Trainer) Step() (StepStats, error) {
	o := t.O
	type seq struct {
		l     *Layout
		x, tg []int32
	}
	batch := make([]seq, o.Batch)
	labelled := 0
	for b := range batch {
		x := t.src.Sample(t.rng, o.SeqLen+1)
		l, err := o.layout(o.SeqLen, t.rng)
		if err != nil {
			return StepStats{}, fmt.Errorf("train: %w", err)
		}
		tg := make([]int32, l.Rows())
		l.Targets(tg, x)
		for _, v := range tg {
			if v >= 0 {
				labelled++
			}
		}
		batch[b] = seq{l, x, tg}
	}
	if labelled == 0 {
		return StepStats{}, errors.New("train: a batch without any labelled row")
	}
	clear(t.Grad.Flat)
	scale := float32(1 / float64(labelled))
	var loss, flops float64
	rows := 0
	for _, s := range batch {
		n := s.l.Rows()
		flops += t.M.StepFLOPs(n, s.l.VisiblePairs())
		t.in = grow32(t.in, n)
		s.l.Inputs(t.in, s.x, o.MaskID)
		t.ws.Forward(t.M, t.in, s.l)
		loss += t.ws.Backward(t.M, t.Grad, t.in, s.l, s.tg, scale)
		rows += n
	}
	norm := ClipGrad(t.Grad, o.Clip)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return StepStats{}, fmt.Errorf("train: step %d: gradient norm %v (diverged; lower the learning rate)", t.step+1, norm)
	}
	lr := o.Schedule.At(t.step)
	t.Opt.Step(t.M, t.Grad, lr)
	t.step++
	return StepStats{Step: t.step, Loss: loss / float64(labelled), Rows: rows, Labelled: labelled, GradNorm: norm, LR: lr, FLOPs: flops}, nil
}

func grow32(b []int32, n int) []int32 {
	if cap(b) < n {
		return make([]int32, n)
	}
	return b[:n]
}

// Evaluate returns the mean loss of m over sequences (each S+1 tokens)
// under the trainer's layout settings, with COD drawn from a generator
// seeded by seed so that evaluations are comparable across steps.
func (t *Trainer) Evaluate(seqs [][]int32, seed uint64) (float64, error) {
	rng := rand.New(rand.NewPCG(seed, seed))
	var loss float64
	n := 0
	for _, x := range seqs {
		l, err := t.O.layout(len(x)-1, rng)
		if err != nil {
			return 0, err
		}
		t.in, t.tg = grow32(t.in, l.Rows()), grow32(t.tg, l.Rows())
		l.Inputs(t.in, x, t.O.MaskID)
		l.Targets(t.tg, x)
		t.ws.Forward(t.M, t.in, l)
		sum, labelled := t.ws.Loss(t.tg)
		loss += sum
		n += labelled
	}
	if n == 0 {
		return 0, errors.New("train: nothing to evaluate")
	}
	return loss / float64(n), nil
}

// checkpointState is the part of a checkpoint that is not a tensor, and
// names the tensor files that go with it. Checkpoints written before the
// files carried their step leave Model and Optimizer empty:
// model.safetensors and optimizer.safetensors.
type checkpointState struct {
	Step      int     `json:"step"`
	AdamT     int     `json:"adam_t"`
	RNG       []byte  `json:"rng"`
	Options   Options `json:"options"`
	Model     string  `json:"model,omitempty"`
	Optimizer string  `json:"optimizer,omitempty"`
}

// files returns the checkpoint's tensor files.
func (st checkpointState) files() (model, optimizer string) {
	if st.Model == "" {
		return "model.safetensors", "optimizer.safetensors"
	}
	return st.Model, st.Optimizer
}

// checkpointFile matches the tensor files SaveCheckpoint writes.
var checkpointFile = regexp.MustCompile(`^(model|optimizer)-[0-9]+\.safetensors$`)

// SaveCheckpoint writes everything needed to resume bit-exactly into dir:
// model-STEP.safetensors (float32 master weights), optimizer-STEP.safetensors
// (the AdamW moments) and state.json (step, RNG, options, and those two
// names). The tensor files of a step are new files, and state.json, renamed
// over the previous one last, is what switches the checkpoint to them; only
// then are the previous step's files removed. So a save interrupted at any
// point leaves the previous checkpoint whole, where replacing the tensor
// files in place could pair one step's weights with another's moments and
// state.
func (t *Trainer) SaveCheckpoint(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	var params, moments []safetensors.NamedTensor
	off := 0
	for _, p := range t.M.Params {
		n := len(p.Data)
		params = append(params, safetensors.NamedTensor{Name: p.Name, T: tensor.FromF32(p.Data, p.Shape...)})
		moments = append(moments,
			safetensors.NamedTensor{Name: "m." + p.Name, T: tensor.FromF32(t.Opt.M[off:off+n], p.Shape...)},
			safetensors.NamedTensor{Name: "v." + p.Name, T: tensor.FromF32(t.Opt.V[off:off+n], p.Shape...)})
		off += n
	}
	rng, err := t.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	st := checkpointState{Step: t.step, AdamT: t.Opt.T, RNG: rng, Options: t.O,
		Model:     fmt.Sprintf("model-%06d.safetensors", t.step),
		Optimizer: fmt.Sprintf("optimizer-%06d.safetensors", t.step)}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	// Whether the checkpoint this save replaces has the fixed file names
	// (an unreadable state.json is replaced all the same).
	var prev checkpointState
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	replacesFixed := err == nil && json.Unmarshal(b, &prev) == nil && prev.Model == ""
	if err := safetensors.Write(filepath.Join(dir, st.Model), params, nil); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if err := safetensors.Write(filepath.Join(dir, st.Optimizer), moments, nil); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	tmp := filepath.Join(dir, "state.json.tmp")
	if err := os.WriteFile(tmp, js, 0o644); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "state.json")); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	// The previous step's files (and those of saves interrupted before
	// their state.json) are no longer referenced. Only names this function
	// writes are removed, so a checkpoint directory shared with other files
	// keeps them; the fixed names of an older checkpoint go only when that
	// checkpoint is the one replaced. The checkpoint is saved by now, so
	// this is best effort: files it leaves cost only disk space.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if name := e.Name(); checkpointFile.MatchString(name) && name != st.Model && name != st.Optimizer {
			os.Remove(filepath.Join(dir, name))
		}
	}
	if replacesFixed {
		m, o := prev.files()
		os.Remove(filepath.Join(dir, m))
		os.Remove(filepath.Join(dir, o))
	}
	return nil
}

// Resume restores a checkpoint written by SaveCheckpoint into t, whose
// model must have the same shape. The options of the checkpoint replace
// t's, except the schedule's total steps, which may be extended.
func (t *Trainer) Resume(dir string) error {
	js, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	var st checkpointState
	if err := json.Unmarshal(js, &st); err != nil {
		return fmt.Errorf("resume %s: state.json: %w", dir, err)
	}
	// Each file's tensors, by name, and where they go.
	params, moments := map[string][]float32{}, map[string][]float32{}
	off := 0
	for _, p := range t.M.Params {
		n := len(p.Data)
		params[p.Name] = p.Data
		moments["m."+p.Name] = t.Opt.M[off : off+n]
		moments["v."+p.Name] = t.Opt.V[off : off+n]
		off += n
	}
	load := func(file string, dst map[string][]float32) error {
		f, err := safetensors.Open(filepath.Join(dir, file))
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		defer f.Close()
		for name, d := range dst {
			src, err := f.Tensor(name)
			if err != nil {
				return fmt.Errorf("resume %s/%s: %w", dir, file, err)
			}
			if src.Len() != len(d) || src.DType != tensor.F32 {
				return fmt.Errorf("resume %s/%s: tensor %s is %v %v, want F32 with %d values (a checkpoint of another model shape?)", dir, file, name, src.DType, src.Shape, len(d))
			}
			copy(d, src.F32())
		}
		return nil
	}
	modelFile, optFile := st.files()
	if st.Model != "" && (!checkpointFile.MatchString(modelFile) || !checkpointFile.MatchString(optFile)) {
		return fmt.Errorf("resume %s: state.json names %q and %q, not checkpoint files", dir, modelFile, optFile)
	}
	if err := load(modelFile, params); err != nil {
		return err
	}
	if err := load(optFile, moments); err != nil {
		return err
	}
	if err := t.pcg.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("resume %s: rng state: %w", dir, err)
	}
	steps := t.O.Schedule.Steps
	t.O = st.Options
	t.O.Schedule.Steps = max(steps, st.Options.Schedule.Steps)
	t.step, t.Opt.T = st.Step, st.AdamT
	return nil
}
