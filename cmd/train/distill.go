package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopard/gopard/internal/cli"
	"github.com/gopard/gopard/internal/gocorpus"
	"github.com/gopard/gopard/ops"
	"github.com/gopard/gopard/pard"
	"github.com/gopard/gopard/tokenizer"
)

// runDistill writes a distillation corpus for a draft: completion prompts
// cut from the training files of the Go tree (never the held-out packages,
// whose prompts cmd/eval measures on), each continued greedily by the
// target, one text file per prompt (the prompt, then the target's
// continuation). A draft trained on it (train pard --data DIR --ext .txt)
// learns what the target writes rather than what the corpus says, which
// is what its acceptance depends on. Existing files are kept, so an
// interrupted run continues where it stopped. With --draft (a PARD draft
// of the target) the continuations are decoded speculatively: the same
// tokens, as greedy speculative decoding is exact, in less time.
func runDistill(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train distill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "", "target model directory (with its tokenizer) whose continuations to write")
	data := fs.String("data", gocorpus.Root(), "Go source tree to cut prompts from (its held-out packages are left out)")
	out := fs.String("out", "", "output directory: one NNNNNN.txt per prompt")
	prompts := fs.Int("prompts", 4000, "number of prompts")
	tokens := fs.Int("tokens", 256, "new tokens per prompt (greedy; fewer at an end of text)")
	promptBytes := fs.Int("prompt-bytes", 800, "prompt length in bytes at most (cmd/eval's go prompts use 800)")
	jobs := fs.Int("jobs", 0, "prompts generated at once, each on its own thread and backend (0: all cores; one on a GPU)")
	device := fs.String("device", "cpu", "where the models run: cpu (the default: the files scripts/train-default.sh expects), auto, cuda, hip, or cuda:N / hip:N; a GPU sums in another order, so a near tie may go the other way")
	draft := fs.String("draft", "", "a PARD draft of the target (config.json with pard_token): decode speculatively, the same tokens faster")
	k := fs.Int("k", 4, "draft tokens per iteration with --draft")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *prompts < 1 || *prompts > 1_000_000:
		return fmt.Errorf("--prompts %d: want 1..1000000", *prompts)
	case *tokens < 1 || *tokens > 1<<16:
		return fmt.Errorf("--tokens %d: want 1..65536", *tokens)
	case *promptBytes < 64:
		return fmt.Errorf("--prompt-bytes %d: want at least 64", *promptBytes)
	case *jobs < 0:
		return fmt.Errorf("--jobs %d is negative", *jobs)
	case *draft != "" && (*k < 1 || *k > pard.MaxK):
		return fmt.Errorf("-k %d: want 1..%d with --draft", *k, pard.MaxK)
	}
	if err := nonEmpty("model", *model); err != nil {
		return err
	}
	if err := checkOut(*out); err != nil {
		return err
	}
	// Which backend --device opens (each job opens its own).
	probe, err := cli.Backend(*device, 1)
	if err != nil {
		return fmt.Errorf("distill: %w", err)
	}
	backendName := probe.Name()
	_, onCPU := probe.(*ops.CPU)
	if err := cli.CloseBackend(probe); err != nil {
		return err
	}
	if *jobs == 0 {
		*jobs = 1
		if onCPU {
			*jobs = runtime.NumCPU()
		}
	}
	tok, err := tokenizer.Load(*model)
	if err != nil {
		return err
	}
	train, _, err := gocorpus.Files(*data)
	if err != nil {
		return err
	}
	ps, err := gocorpus.Prompts(train, *prompts, *promptBytes)
	if err != nil {
		return err
	}
	var todo []int
	for i := range ps {
		if _, err := os.Stat(distillPath(*out, i)); errors.Is(err, os.ErrNotExist) {
			todo = append(todo, i)
		}
	}
	logf := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, format, a...)
		}
	}
	logf("distill: %d prompts from %d training files, %d already written; %d jobs on %s\n", len(ps), len(train), len(ps)-len(todo), *jobs, backendName)

	mode, kk := pard.AR, 0
	if *draft != "" {
		mode, kk = pard.PARD, *k
	}
	var (
		next, done, generated atomic.Int64
		iterations            atomic.Int64
		firstErr              error
		errOnce               sync.Once
		failed                atomic.Bool
		wg                    sync.WaitGroup
	)
	start := time.Now()
	capacity := 0
	ids := make([][]int32, len(ps))
	for _, i := range todo {
		ids[i] = tok.Encode(ps[i].Text, true)
		capacity = max(capacity, len(ids[i]))
	}
	capacity += *tokens + 1 + kk // a verify writes K positions past the last token
	for range min(*jobs, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) {
				errOnce.Do(func() { firstErr = err })
				failed.Store(true)
			}
			backend, err := cli.Backend(*device, 1)
			if err != nil {
				fail(err)
				return
			}
			defer cli.CloseBackend(backend)
			// The draft's precision cannot change the files (the target
			// checks every token), so it takes the faster products.
			draftBackend, _, err := cli.DraftBackend(backend, "bf16")
			if err != nil {
				fail(err)
				return
			}
			pair, err := cli.OpenPair(*model, *draft, tok, backend, draftBackend, capacity, true)
			if err != nil {
				fail(err)
				return
			}
			defer pair.Close()
			if *draft != "" && pair.DraftInfo.PardToken <= 0 {
				fail(fmt.Errorf("--draft %s: no pard_token in its config.json; distill decodes with a PARD draft (train pard writes one)", *draft))
				return
			}
			target, draftModel := pair.Models()
			for {
				j := int(next.Add(1)) - 1
				if j >= len(todo) || failed.Load() {
					return
				}
				i := todo[j]
				res, err := pard.Generate(target, draftModel, ids[i], pard.Options{Mode: mode, K: kk, MaxNewTokens: *tokens,
					MaxContext: capacity, Vocab: tok.VocabSize()})
				if err != nil {
					fail(fmt.Errorf("distill prompt %d (%s): %w", i, ps[i].File, err))
					return
				}
				text := ps[i].Text + tok.Decode(trimEOS(res.Output, res.StopReason))
				if err := writeAtomic(distillPath(*out, i), []byte(text)); err != nil {
					fail(err)
					return
				}
				generated.Add(int64(len(res.Output)))
				iterations.Add(int64(res.Stats.Iterations))
				if n := done.Add(1); n%50 == 0 || int(n) == len(todo) {
					el := time.Since(start).Seconds()
					logf("\rdistill: %d/%d prompts, %d tokens, %.0f tok/s, ETA %s   ", n, len(todo), generated.Load(),
						float64(generated.Load())/el, time.Duration(el/float64(n)*float64(int64(len(todo))-n)*1e9).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	logf("\n")
	if firstErr != nil {
		return firstErr
	}
	how := ""
	if n := iterations.Load(); *draft != "" && n > 0 {
		how = fmt.Sprintf(", PARD K = %d, %.2f tokens per target forward", *k, float64(generated.Load())/float64(n))
	}
	fmt.Fprintf(stdout, "distill: %d files in %s (%d new tokens in %s%s); train on them with: train pard --data %s --ext .txt\n",
		len(ps), *out, generated.Load(), time.Since(start).Round(time.Second), how, *out)
	return nil
}

// distillPath is the file of prompt i.
func distillPath(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("%06d.txt", i)) }

// trimEOS drops the end-of-text token a continuation stopped at: the
// training data puts one after every document anyway.
func trimEOS(out []int32, reason string) []int32 {
	if reason == pard.StopEOS && len(out) > 0 {
		return slices.Clone(out[:len(out)-1])
	}
	return out
}

// writeAtomic writes b to path through a temporary file, so that an
// interrupted run never leaves a half-written file that a resumed run
// would keep.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
