package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gopard/gopard/internal/gocorpus"
	"github.com/gopard/gopard/tokenizer"
)

// documents is a training text: one string per document (a source file,
// a text file, or a rendered conversation).
type documents struct {
	names []string
	texts []string
	bytes int
}

// readDocuments reads the training data at path, up to maxBytes (0: all):
//   - a directory: every file with extension ext under it, in lexical order;
//     when it is a Go source tree laid out like $(go env GOROOT)/src, the
//     held-out packages of gocorpus are left out (holdout true returns them
//     instead);
//   - a .jsonl file: one {"conversation":[{"human":…,"assistant":…}]} per
//     line, its first turn rendered with template (spec §3.4);
//   - any other file: one plain-text document.
func readDocuments(path, ext, template string, maxBytes int, holdout bool) (*documents, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	d := &documents{}
	add := func(name, text string) bool {
		if maxBytes > 0 && d.bytes+len(text) > maxBytes && len(d.texts) > 0 {
			return false
		}
		d.names, d.texts = append(d.names, name), append(d.texts, text)
		d.bytes += len(text)
		return true
	}
	switch {
	case fi.IsDir():
		var files []string
		if ext == ".go" {
			train, held, err := gocorpus.Files(path)
			if err != nil {
				return nil, err
			}
			files = train
			if holdout {
				files = held
			}
		} else {
			err := filepath.WalkDir(path, func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() && strings.HasSuffix(p, ext) {
					files = append(files, p)
				}
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("data %s: %w", path, err)
			}
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("data: %w", err)
			}
			if !add(f, string(b)) {
				break
			}
		}
	case strings.HasSuffix(path, ".jsonl"):
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for line := 1; sc.Scan(); line++ {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var row struct {
				Conversation []struct {
					Human     *string `json:"human"`
					Assistant *string `json:"assistant"`
				} `json:"conversation"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				return nil, fmt.Errorf("data %s:%d: %w", path, line, err)
			}
			if len(row.Conversation) == 0 || row.Conversation[0].Human == nil || row.Conversation[0].Assistant == nil {
				return nil, fmt.Errorf(`data %s:%d: want {"conversation":[{"human":…,"assistant":…}]}`, path, line)
			}
			text, err := renderTemplate(template, *row.Conversation[0].Human, *row.Conversation[0].Assistant)
			if err != nil {
				return nil, fmt.Errorf("data %s:%d: %w", path, line, err)
			}
			if !add(fmt.Sprintf("%s:%d", path, line), text) {
				break
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("data %s: %w", path, err)
		}
	default:
		b, err := readPrefix(path, maxBytes)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		add(path, string(b))
	}
	if len(d.texts) == 0 {
		return nil, fmt.Errorf("data %s: no documents (extension %q)", path, ext)
	}
	return d, nil
}

// readPrefix reads the file at path, or only its first maxBytes bytes
// (when maxBytes > 0) less any UTF-8 sequence the cut splits.
func readPrefix(path string, maxBytes int) ([]byte, error) {
	if maxBytes <= 0 {
		return os.ReadFile(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(maxBytes)))
	if err != nil {
		return nil, err
	}
	if len(b) == maxBytes {
		j := len(b) - 1
		for j > 0 && j > len(b)-utf8.UTFMax && !utf8.RuneStart(b[j]) {
			j--
		}
		if j >= 0 && !utf8.FullRune(b[j:]) {
			b = b[:j]
		}
	}
	return b, nil
}

// templates are the reference's training prompt formats (spec §3.4). The
// loss covers the whole text, prompt included, as there.
var templates = map[string]string{
	"llama3": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{answer}<|eot_id|>",
	"qwen":   "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n{answer}<|im_end|>",
	"r1":     "<｜User｜>{prompt}<｜Assistant｜>{answer}<｜end▁of▁sentence｜>",
	"plain":  "{prompt}\n{answer}",
}

func renderTemplate(name, prompt, answer string) (string, error) {
	t, ok := templates[name]
	if !ok {
		return "", fmt.Errorf("unknown template %q (want llama3, qwen, r1 or plain)", name)
	}
	return strings.NewReplacer("{prompt}", prompt, "{answer}", answer).Replace(t), nil
}

// guessTemplate picks the training template from the special tokens a
// tokenizer defines.
func guessTemplate(tok *tokenizer.Tokenizer) string {
	sp := tok.SpecialIDs()
	has := func(s string) bool { _, ok := sp[s]; return ok }
	switch {
	case has("<|im_start|>"):
		return "qwen"
	case has("<|start_header_id|>"):
		return "llama3"
	case has("<｜Assistant｜>"):
		return "r1"
	}
	return "plain"
}

// tokenize encodes the documents in parallel (special tokens in the text
// are honoured, as the templates need) and joins them in order, with eos
// after every document, which is how the model learns where a file ends.
func tokenize(tok *tokenizer.Tokenizer, d *documents, eos int32, threads int) []int32 {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	ids := make([][]int32, len(d.texts))
	var wg sync.WaitGroup
	next := make(chan int)
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ids[i] = tok.Encode(d.texts[i], false)
			}
		}()
	}
	for i := range d.texts {
		next <- i
	}
	close(next)
	wg.Wait()
	n := 0
	for _, v := range ids {
		n += len(v) + 1
	}
	out := make([]int32, 0, n)
	for _, v := range ids {
		out = append(append(out, v...), eos)
	}
	return out
}
