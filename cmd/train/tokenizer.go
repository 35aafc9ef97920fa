package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gopard/gopard/internal/gocorpus"
	"github.com/gopard/gopard/tokenizer"
)

// EOS is the end-of-text token of gopard's own tokenizers; ReservedSpecial
// tokens are never produced from text, so PARD adaptation can take one as
// its mask token.
const (
	EOS             = "<|endoftext|>"
	ReservedSpecial = "<|reserved_special_%d|>"
)

func runTokenizer(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train tokenizer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", gocorpus.Root(), "training text: a directory (files with --ext), a .jsonl of conversations, or a text file")
	ext := fs.String("ext", ".go", "file extension to read in a --data directory")
	vocab := fs.Int("vocab", 4096, "vocabulary size, byte tokens and special tokens included")
	reserved := fs.Int("reserved", 4, "reserved special tokens after "+EOS+" (PARD takes one as its mask token)")
	maxBytes := fs.Int("max-bytes", 32<<20, "read at most this many bytes of text (0: all)")
	out := fs.String("out", "", "output directory for tokenizer.json and tokenizer_config.json")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *vocab < 257+*reserved || *vocab > 1<<20:
		return fmt.Errorf("--vocab %d: want %d..%d", *vocab, 257+*reserved, 1<<20)
	case *reserved < 0 || *reserved > 256:
		return fmt.Errorf("--reserved %d: want 0..256", *reserved)
	case *maxBytes < 0:
		return fmt.Errorf("--max-bytes %d is negative", *maxBytes)
	}
	if err := checkOut(*out); err != nil {
		return err
	}
	start := time.Now()
	docs, err := readDocuments(*data, *ext, "plain", *maxBytes, false)
	if err != nil {
		return err
	}
	special := []string{EOS}
	for i := range *reserved {
		special = append(special, fmt.Sprintf(ReservedSpecial, i))
	}
	tr, err := tokenizer.NewTrainer(tokenizer.TrainOptions{VocabSize: *vocab, Special: special,
		Progress: func(done, target int) {
			if !*quiet {
				fmt.Fprintf(stderr, "\rtokenizer: %d/%d merges", done, target)
			}
		}})
	if err != nil {
		return err
	}
	for _, t := range docs.texts {
		tr.Add(t)
	}
	if !*quiet {
		fmt.Fprintf(stderr, "tokenizer: %d documents, %.1f MB, %d unique pieces\n", len(docs.texts), float64(docs.bytes)/1e6, tr.UniquePieces())
	}
	tok, js, err := tr.Train()
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintln(stderr)
	}
	if err := os.WriteFile(filepath.Join(*out, "tokenizer.json"), js, 0o644); err != nil {
		return err
	}
	if err := tokenizer.WriteTokenizerConfig(*out, "", EOS, 1024); err != nil {
		return err
	}
	// Compression on the first documents, a figure worth knowing.
	var nb, nt int
	for _, t := range docs.texts[:min(len(docs.texts), 200)] {
		nb += len(t)
		nt += len(tok.Encode(t, false))
	}
	fmt.Fprintf(stdout, "tokenizer: %d tokens written to %s in %s; %.2f bytes per token on the training text\n",
		tok.VocabSize(), *out, time.Since(start).Round(time.Millisecond), float64(nb)/float64(max(1, nt)))
	return nil
}
