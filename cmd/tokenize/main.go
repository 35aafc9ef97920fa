// Command tokenize encodes and decodes text with a Hugging Face byte-level BPE
// tokenizer (tokenizer.json), one JSON object per line, using package
// github.com/gopard/gopard/tokenizer.
//
// Usage:
//
//	tokenize --tokenizer PATH [--add-special] < texts.jsonl > ids.jsonl
//	tokenize --tokenizer PATH --decode < ids.jsonl > texts.jsonl
//	tokenize --tokenizer PATH --chat request.json > prompt.txt
//
// Encoding reads lines {"text": "..."} and writes {"ids": [...]}; decoding
// reads {"ids": [...]} and writes {"text": "..."}. Other fields on input lines
// are ignored and blank lines are skipped. A malformed line stops the run with
// an error naming its line number and exit status 1; usage errors exit 2.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gopard/gopard/tokenizer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usageText = `Usage:
  tokenize --tokenizer PATH [--add-special] < in.jsonl    encode {"text": ...} lines to {"ids": [...]}
  tokenize --tokenizer PATH --decode < in.jsonl           decode {"ids": [...]} lines to {"text": ...}
  tokenize --tokenizer PATH --chat FILE                   print the chat-template prompt for the request in FILE

PATH is a directory holding tokenizer.json (and optionally tokenizer_config.json)
or a tokenizer.json file. Bad input lines are reported with their line number
(exit status 1).

Flags:
`

// lineFunc turns one input line into the value written as the output line.
// Each mode of the command is one lineFunc.
type lineFunc func(line []byte) (any, error)

// run is main without the process: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	tokPath := fs.String("tokenizer", "", "tokenizer directory or tokenizer.json `PATH` (required)")
	addSpecial := fs.Bool("add-special", false, "add the post-processor's special tokens when encoding (e.g. Llama 3.1's <|begin_of_text|>)")
	decode := fs.Bool("decode", false, `decode {"ids": [...]} lines instead of encoding`)
	chatFile := fs.String("chat", "", "render the chat request (one JSON object) in `FILE` with the chat template of PATH's tokenizer_config.json and print the prompt as is")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *tokPath == "" || fs.NArg() > 0 {
		if fs.NArg() > 0 {
			fmt.Fprintf(stderr, "tokenize: unexpected arguments %q\n", fs.Args())
		} else {
			fmt.Fprintln(stderr, "tokenize: --tokenizer is required")
		}
		fs.Usage()
		return 2
	}
	if *decode && *addSpecial {
		fmt.Fprintln(stderr, "tokenize: --add-special only applies when encoding")
		return 2
	}
	if *chatFile != "" {
		if *decode || *addSpecial {
			fmt.Fprintln(stderr, "tokenize: --chat cannot be combined with --decode or --add-special")
			return 2
		}
		return runChat(*tokPath, *chatFile, stdout, stderr) // chat.go
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		fmt.Fprintf(stderr, "tokenize: %v\n", err)
		return 1
	}

	// Mode switch: one lineFunc per mode (--chat, which prints raw text, is handled above).
	var mode lineFunc
	switch {
	case *decode:
		mode = decodeLine(tok)
	default:
		mode = encodeLine(tok, *addSpecial)
	}
	if err := processLines(stdin, stdout, mode); err != nil {
		fmt.Fprintf(stderr, "tokenize: %v\n", err)
		return 1
	}
	return 0
}

func encodeLine(tok *tokenizer.Tokenizer, addSpecial bool) lineFunc {
	return func(line []byte) (any, error) {
		var in struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(line, &in); err != nil {
			return nil, err
		}
		if in.Text == nil {
			return nil, errors.New(`missing "text"`)
		}
		return struct {
			IDs []int32 `json:"ids"`
		}{tok.Encode(*in.Text, addSpecial)}, nil
	}
}

func decodeLine(tok *tokenizer.Tokenizer) lineFunc {
	return func(line []byte) (any, error) {
		var in struct {
			IDs *[]int32 `json:"ids"`
		}
		if err := json.Unmarshal(line, &in); err != nil {
			return nil, err
		}
		if in.IDs == nil {
			return nil, errors.New(`missing "ids"`)
		}
		return struct {
			Text string `json:"text"`
		}{tok.Decode(*in.IDs)}, nil
	}
}

// processLines applies f to every non-blank line of r and writes the results
// as JSON lines to w. Lines may be of any length.
func processLines(r io.Reader, w io.Writer, f lineFunc) error {
	br := bufio.NewReaderSize(r, 1<<16)
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false) // keep "<|im_end|>" readable
	for n := 1; ; n++ {
		line, readErr := br.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			bw.Flush()
			return fmt.Errorf("reading line %d: %w", n, readErr)
		}
		if !blank(line) {
			out, err := f(line)
			if err != nil {
				bw.Flush()
				return fmt.Errorf("line %d: %w", n, err)
			}
			if err := enc.Encode(out); err != nil {
				return fmt.Errorf("line %d: %w", n, err)
			}
		}
		if readErr == io.EOF {
			break
		}
	}
	return bw.Flush()
}

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}
