// Package cli holds what gopard's commands share: parsing token-id lists,
// loading a model with a progress line, and printing errors.
package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gopard/gopard/models"
	"github.com/gopard/gopard/models/llama"
	"github.com/gopard/gopard/nn"
)

// Median returns the median of v (the mean of the middle two for an even
// count), leaving v as it was: how commands report repeated timings on a
// machine whose speed drifts.
func Median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ParseIDs parses a comma- or space-separated list of token ids.
func ParseIDs(s string) ([]int32, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	ids := make([]int32, 0, len(fields))
	for _, f := range fields {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("token id %q is not a non-negative integer", f)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}

// LoadModel opens a model directory on a backend and, unless quiet, prints a
// line saying what was loaded (to stderr, so --json output stays clean).
func LoadModel(dir string, b nn.Backend, context int, quiet bool) (*llama.Model, error) {
	opt := llama.Options{Backend: b, Context: context}
	if !quiet {
		fmt.Fprintf(os.Stderr, "loading %s ...", dir)
		opt.Progress = loadProgress(os.Stderr, dir, time.Now())
	}
	m, err := models.Load(dir, opt)
	if err != nil {
		if !quiet {
			fmt.Fprintln(os.Stderr)
		}
		return nil, err
	}
	if !quiet {
		c := m.Config()
		where := "mapped"
		if m.Copied {
			where = "copied to " + b.Name()
		}
		fmt.Fprintf(os.Stderr, "\rloaded %s: %s, %d layers, hidden %d, vocab %d, %.1f MB of weights %s, %.1f MB KV cache (%d positions), %v\n",
			dir, m.Arch.Name, c.Layers, c.Hidden, c.Vocab, float64(m.WeightBytes())/1e6, where, float64(m.Cache().Bytes())/1e6, m.Cache().Capacity, m.LoadTime.Round(1e6))
	}
	return m, nil
}

// loadProgress returns a llama.Options.Progress that rewrites the loading
// line with the bytes loaded so far, five times a second at most, once a
// load has taken a second (mapping weights on the CPU takes less; reading
// and uploading a large model to a GPU, tens of seconds).
func loadProgress(w io.Writer, dir string, start time.Time) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		now := time.Now()
		if now.Sub(start) < time.Second || now.Sub(last) < 200*time.Millisecond && done < total {
			return
		}
		last = now
		fmt.Fprintf(w, "\rloading %s ... %.1f of %.1f GB", dir, float64(done)/1e9, float64(total)/1e9)
	}
}

// Fatal prints "cmd: err" to stderr and exits with status 1.
func Fatal(cmd string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", cmd, err)
	os.Exit(1)
}

// StartCPUProfile starts writing a CPU profile to path, for go tool pprof
// (the --cpuprofile flag of the commands), and returns the function that
// stops it and closes the file. An empty path profiles nothing.
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
