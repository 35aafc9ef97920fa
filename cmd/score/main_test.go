package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/gopard/gopard/internal/shareddata"
)

// The --json output must reproduce the conformance reference's top-10
// log-probabilities (stories260k, a real trained model).
func TestScoreMatchesReference(t *testing.T) {
	dir := shareddata.Dir(t, "conformance", "models", "stories260k")
	data, err := os.ReadFile(dir + "/reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		PromptIDs   []int          `json:"prompt_ids"`
		TopLogprobs [][][2]float64 `json:"top_logprobs"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	ids := strings.Trim(strings.Join(strings.Fields(strings.Trim(jsonString(ref.PromptIDs), "[]")), ""), ",")
	var out bytes.Buffer
	if err := run(dir, ids, 10, "cpu", "f32", 1, true, &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		TopLogprobs [][][2]float64 `json:"top_logprobs"`
		Perplexity  float64        `json:"perplexity"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if len(got.TopLogprobs) != len(ref.TopLogprobs) || !(got.Perplexity > 1) {
		t.Fatalf("%d rows (want %d), perplexity %v", len(got.TopLogprobs), len(ref.TopLogprobs), got.Perplexity)
	}
	for pos, row := range ref.TopLogprobs {
		have := map[int]float64{}
		for _, e := range got.TopLogprobs[pos] {
			have[int(e[0])] = e[1]
		}
		// Entries 9/10 may be near-ties; the top 8 must be present and close.
		for _, e := range row[:8] {
			lp, ok := have[int(e[0])]
			if !ok || math.Abs(lp-e[1]) > 2e-3 {
				t.Fatalf("position %d token %d: got %v (present %v), reference %v", pos, int(e[0]), lp, ok, e[1])
			}
		}
	}
}

func TestScoreErrors(t *testing.T) {
	for _, tc := range []struct{ dir, ids string }{{"", "1"}, {"x", ""}, {"x", "1,-2"}, {"/nonexistent", "1,2"}} {
		if err := run(tc.dir, tc.ids, 10, "cpu", "f32", 1, true, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q, %q) succeeded", tc.dir, tc.ids)
		}
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
