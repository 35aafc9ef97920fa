// Command score prints teacher-forced log-probabilities of a token
// sequence under a model, like llama.cpp's perplexity tool: for every
// position, the top N next-token log-probabilities, and the perplexity of
// the sequence itself.
//
//	go run ./cmd/score --model DIR --ids 1,2,3 [--top 10] [--json]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/gopard/gopard/internal/cli"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
	"github.com/gopard/gopard/ops"
)

func main() {
	model := flag.String("model", "", "model directory (config.json + safetensors)")
	idsFlag := flag.String("ids", "", "token ids to score, comma-separated")
	top := flag.Int("top", 10, "log-probabilities to print per position")
	threads := flag.Int("threads", 0, "CPU threads (0: all cores)")
	device := flag.String("device", "auto", cli.FallBackHelp)
	kvCache := flag.String("kv-cache", "f32", cli.KVCacheHelp)
	asJSON := flag.Bool("json", false, `print one JSON object {"top_logprobs": [[[id, logprob], ...], ...], "perplexity": p}`)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: score --model DIR --ids 1,2,3 [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(*model, *idsFlag, *top, *device, *kvCache, *threads, *asJSON, os.Stdout); err != nil {
		cli.Fatal("score", err)
	}
}

func run(dir, idsFlag string, top int, device, kvCache string, threads int, asJSON bool, stdout io.Writer) error {
	if dir == "" {
		return fmt.Errorf("--model DIR is required")
	}
	ids, err := cli.ParseIDs(idsFlag)
	if err != nil {
		return fmt.Errorf("--ids: %w", err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("--ids: no token ids given")
	}
	if top < 1 {
		return fmt.Errorf("--top %d: must be at least 1", top)
	}
	// With --device auto, a model too large for the GPU is scored on the CPU.
	type opened struct {
		b nn.Backend
		m *llama.Model
	}
	o, err := cli.FallBack(device, os.Stderr, func(device string) (opened, error) {
		b, err := cli.Backend(device, threads)
		if err != nil {
			return opened{}, err
		}
		if _, err := cli.SetKVCache(b, kvCache); err != nil {
			cli.CloseBackend(b)
			return opened{}, err
		}
		m, err := cli.LoadModel(dir, b, len(ids), asJSON)
		if err != nil {
			cli.CloseBackend(b)
			return opened{}, err
		}
		return opened{b, m}, nil
	})
	if err != nil {
		return err
	}
	defer cli.CloseBackend(o.b)
	m := o.m
	defer m.Close()
	// Scores are compared with nothing a decode step computes, so every
	// row may take a GPU's tiled product (GOPARD_GPU_BULK).
	m.SetBulkAll(true)
	top = min(top, m.Config().Vocab)

	// Forward in chunks so the logits buffer stays small for long inputs.
	const chunk = 64
	var tops [][][2]float64
	var nll float64
	lp := make([]float32, m.Config().Vocab)
	best := make([]int, top)
	for c0 := 0; c0 < len(ids); c0 += chunk {
		c1 := min(len(ids), c0+chunk)
		rows, err := m.Forward(ids[c0:c1], c0, c1-c0)
		if err != nil {
			return err
		}
		for r, logits := range rows {
			ops.LogSoftmax(lp, logits)
			ops.TopK(best, lp)
			row := make([][2]float64, top)
			for i, id := range best {
				row[i] = [2]float64{float64(id), float64(lp[id])}
			}
			tops = append(tops, row)
			if pos := c0 + r; pos+1 < len(ids) {
				nll -= float64(lp[ids[pos+1]])
			}
		}
	}
	ppl := math.NaN()
	if len(ids) > 1 {
		ppl = math.Exp(nll / float64(len(ids)-1))
	}
	if asJSON {
		out := struct {
			TopLogprobs [][][2]float64 `json:"top_logprobs"`
			Perplexity  *float64       `json:"perplexity"`
		}{TopLogprobs: tops}
		if !math.IsNaN(ppl) {
			out.Perplexity = &ppl
		}
		return json.NewEncoder(stdout).Encode(out)
	}
	for pos, row := range tops {
		fmt.Fprintf(stdout, "pos %4d  id %6d  next:", pos, ids[pos])
		for _, e := range row {
			fmt.Fprintf(stdout, " %d:%.4f", int(e[0]), e[1])
		}
		fmt.Fprintln(stdout)
	}
	if math.IsNaN(ppl) {
		fmt.Fprintln(stdout, "perplexity: undefined for a single token")
	} else {
		fmt.Fprintf(stdout, "perplexity: %.4f over %d predicted tokens\n", ppl, len(ids)-1)
	}
	return nil
}
