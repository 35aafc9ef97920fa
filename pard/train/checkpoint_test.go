package train

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopard/gopard/ops"
)

// newCheckpointTrainer is a tiny PARD trainer on a fixed random corpus.
func newCheckpointTrainer(t *testing.T) *Trainer {
	t.Helper()
	const V = 13
	corpus := make([]int32, 500)
	r := rand.New(rand.NewPCG(6, 6))
	for i := range corpus {
		corpus[i] = int32(r.IntN(V - 1))
	}
	m, err := NewModel(tinyConfig(V, true), llamaArch)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(rand.New(rand.NewPCG(1, 1)))
	tr, err := NewTrainer(m, ops.NewCPU(1), Options{
		SeqLen: 16, Batch: 2, P: 3, R: 0.7, RMin: 0.2, MaskID: V - 1, WeightDecay: 0.1, Clip: 1,
		Schedule: Schedule{Kind: "cosine", LR: 1e-3, Warmup: 1, Steps: 10}, Seed: 3,
	}, &Windows{Tokens: corpus})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func step(t *testing.T, tr *Trainer) {
	t.Helper()
	if _, err := tr.Step(); err != nil {
		t.Fatal(err)
	}
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// A save that fails part way (here the optimizer's file cannot be
// renamed into place) leaves the previous checkpoint whole: resuming gives
// the weights and moments of that step, not the newer weights beside the
// older moments. The next save that succeeds removes the stale files.
func TestCheckpointInterruptedSave(t *testing.T) {
	dir := t.TempDir()
	tr := newCheckpointTrainer(t)
	step(t, tr)
	if err := tr.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	params, moments := slices.Clone(tr.M.Flat), slices.Clone(tr.Opt.M)
	step(t, tr)
	block := filepath.Join(dir, "optimizer-000002.safetensors")
	if err := os.MkdirAll(filepath.Join(block, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := tr.SaveCheckpoint(dir); err == nil {
		t.Fatal("save over a directory in the optimizer file's place: no error")
	}

	back := newCheckpointTrainer(t)
	if err := back.Resume(dir); err != nil {
		t.Fatal(err)
	}
	if back.StepsDone() != 1 || !sameBits(back.M.Flat, params) || !sameBits(back.Opt.M, moments) {
		t.Errorf("after an interrupted save: resumed at step %d, weights as saved %v, moments as saved %v; want step 1 as saved",
			back.StepsDone(), sameBits(back.M.Flat, params), sameBits(back.Opt.M, moments))
	}

	if err := os.RemoveAll(block); err != nil {
		t.Fatal(err)
	}
	if err := tr.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	want := []string{"model-000002.safetensors", "optimizer-000002.safetensors", "state.json"}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("checkpoint files %q, want %q", got, want)
	}
}

// A checkpoint with the fixed file names of earlier versions resumes, and
// the first save after it replaces those files; state.json cannot point
// outside its directory.
func TestCheckpointFixedNames(t *testing.T) {
	dir := t.TempDir()
	tr := newCheckpointTrainer(t)
	step(t, tr)
	if err := tr.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	// Rewrite it as an earlier version wrote it.
	var st map[string]any
	if err := json.Unmarshal(readOrFail(t, filepath.Join(dir, "state.json")), &st); err != nil {
		t.Fatal(err)
	}
	for key, fixed := range map[string]string{"model": "model.safetensors", "optimizer": "optimizer.safetensors"} {
		if err := os.Rename(filepath.Join(dir, st[key].(string)), filepath.Join(dir, fixed)); err != nil {
			t.Fatal(err)
		}
		delete(st, key)
	}
	writeJSON(t, filepath.Join(dir, "state.json"), st)

	back := newCheckpointTrainer(t)
	if err := back.Resume(dir); err != nil {
		t.Fatal(err)
	}
	if back.StepsDone() != 1 || !sameBits(back.M.Flat, tr.M.Flat) || !sameBits(back.Opt.V, tr.Opt.V) {
		t.Errorf("resumed a fixed-name checkpoint at step %d, not as saved", back.StepsDone())
	}
	step(t, back)
	if err := back.SaveCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	want := []string{"model-000002.safetensors", "optimizer-000002.safetensors", "state.json"}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("after saving over a fixed-name checkpoint: files %q, want %q", got, want)
	}

	st["model"], st["optimizer"] = "../model-000001.safetensors", "optimizer-000001.safetensors"
	writeJSON(t, filepath.Join(dir, "state.json"), st)
	if err := newCheckpointTrainer(t).Resume(dir); err == nil || !strings.Contains(err.Error(), "not checkpoint files") {
		t.Errorf("state.json naming a file outside the checkpoint: err %v, want one that says so", err)
	}
}

func readOrFail(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
