// Command train trains models in pure Go on the CPU: a byte-level BPE
// tokenizer, a small autoregressive model from scratch, and the PARD
// adaptation that turns an AR model into a parallel draft (spec §3).
//
//	go run ./cmd/train tokenizer --out DIR [--data DIR] [--vocab 4096]
//	go run ./cmd/train pretrain --tokenizer DIR --out DIR [--data DIR] [--hidden 512 --layers 5 …] --steps N
//	go run ./cmd/train pard --model DIR --out DIR [--data DIR|FILE.jsonl] [--para-num 8] --steps N
//	go run ./cmd/train distill --model TARGET --out DIR [--prompts 4000] [--tokens 256]
//
// --data defaults to the Go source tree of the running toolchain
// ($(go env GOROOT)/src), with the held-out packages of internal/gocorpus
// left out of training and used for the evaluation loss. Training is
// deterministic for a given --seed and thread count, writes a checkpoint
// every --checkpoint-every steps, and --resume continues from the last one
// (--stop-after N ends a session after N steps; resuming with the same
// --steps then gives the model of one uninterrupted run, bit for bit).
// scripts/train-default.sh runs the whole recipe of the embedded models.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gopard/gopard/internal/cli"
)

const usage = `usage: train <command> [flags]

commands:
  tokenizer   learn a byte-level BPE tokenizer (tokenizer.json) from text or Go source
  pretrain    train a Llama-architecture model from scratch
  pard        adapt an autoregressive model into a PARD parallel draft
  distill     write a target's greedy continuations of Go prompts, to train a draft on

Run "train <command> --help" for the flags of a command.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		cli.Fatal("train", err)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "tokenizer":
		return runTokenizer(args[1:], stdout, stderr)
	case "pretrain":
		return runTraining("pretrain", args[1:], stdout, stderr)
	case "pard":
		return runTraining("pard", args[1:], stdout, stderr)
	case "distill":
		return runDistill(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// checkOut refuses an output directory that is a file, and creates it.
func checkOut(out string) error {
	if out == "" {
		return errors.New("--out is required")
	}
	if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
		return fmt.Errorf("--out %s is a file", out)
	}
	return os.MkdirAll(out, 0o755)
}

func nonEmpty(name, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("--%s is required", name)
	}
	return nil
}
