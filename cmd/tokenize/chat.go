package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gopard/gopard/tokenizer/chat"
)

// runChat implements --chat FILE: FILE holds one JSON chat request
// ({"messages": [...], "add_generation_prompt": ..., "tools": ..., ...});
// the chat template and special tokens come from tokenizer_config.json in
// tokPath (a directory, tokenizer_config.json, or a tokenizer.json next to
// it). The rendered prompt is written exactly, with nothing appended.
func runChat(tokPath, file string, stdout, stderr io.Writer) int {
	cfg := tokPath
	if st, err := os.Stat(tokPath); err == nil && !st.IsDir() && filepath.Base(tokPath) != "tokenizer_config.json" {
		cfg = filepath.Dir(tokPath)
	}
	tmpl, specials, err := chat.LoadConfig(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "tokenize: %v\n", err)
		return 1
	}
	req, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "tokenize: %v\n", err)
		return 1
	}
	out, err := chat.RenderRequest(tmpl, req, specials)
	if err != nil {
		fmt.Fprintf(stderr, "tokenize: %s: %v\n", file, err)
		return 1
	}
	if _, err := io.WriteString(stdout, out); err != nil {
		fmt.Fprintf(stderr, "tokenize: %v\n", err)
		return 1
	}
	return 0
}
