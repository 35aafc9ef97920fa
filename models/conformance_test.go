package models_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopard/gopard/internal/shareddata"

	"github.com/stretchr/testify/require"

	"github.com/gopard/gopard/models"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/ops"
)

// sharedData finds ../shared/data beside the repository.
func sharedData(t testing.TB) string {
	return shareddata.Dir(t)
}

type reference struct {
	PromptIDs   []int32         `json:"prompt_ids"`
	TopLogprobs [][][2]float64  `json:"top_logprobs"`
	GreedyIDs   []int32         `json:"greedy_ids"`
	MinTop2Gap  float64         `json:"min_top2_gap"`
	Oracle      json.RawMessage `json:"oracle"`
}

func conformanceCases(t *testing.T) (string, []string) {
	root := filepath.Join(sharedData(t), "conformance", "models")
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	require.NotEmpty(t, names)
	return root, names
}

func loadReference(t *testing.T, dir string) reference {
	data, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	require.NoError(t, err)
	var ref reference
	require.NoError(t, json.Unmarshal(data, &ref))
	return ref
}

var cpu = ops.NewCPU(0)

// TestConformance checks every case of shared/data/conformance: top-10
// log-probs at every prompt position within 2e-3 of llama.cpp's, and the
// identical 32-token greedy continuation.
func TestConformance(t *testing.T) {
	root, names := conformanceCases(t)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			ref := loadReference(t, dir)
			m, err := models.Load(dir, llama.Options{Backend: cpu, Context: 128})
			require.NoError(t, err)
			defer m.Close()

			logits, err := m.Forward(ref.PromptIDs, 0, len(ref.PromptIDs))
			require.NoError(t, err)
			require.Len(t, logits, len(ref.TopLogprobs))
			worst := 0.0
			for pos, top := range ref.TopLogprobs {
				lp := make([]float32, len(logits[pos]))
				ops.LogSoftmax(lp, logits[pos])
				for _, e := range top {
					id, want := int(e[0]), e[1]
					d := math.Abs(float64(lp[id]) - want)
					worst = math.Max(worst, d)
					require.LessOrEqualf(t, d, 2e-3, "position %d token %d: logprob %v, reference %v", pos, id, lp[id], want)
				}
			}
			t.Logf("max |Δ logprob| over top-10 = %.2e", worst)

			var got []int32
			next := int32(ops.Argmax(logits[len(logits)-1]))
			for len(got) < len(ref.GreedyIDs) {
				got = append(got, next)
				out, err := m.Forward([]int32{next}, m.Len(), 1)
				require.NoError(t, err)
				next = int32(ops.Argmax(out[0]))
			}
			require.Equal(t, ref.GreedyIDs, got, "greedy continuation")
		})
	}
}
