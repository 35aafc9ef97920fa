package tokenizer_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gopard/gopard/tokenizer"
)

// A toy byte-level BPE tokenizer.json: tokens are in GPT-2's byte-level
// alphabet, where "Ġ" stands for the space byte.
const toyTokenizerJSON = `{
  "added_tokens": [{"id": 10, "content": "<|end|>", "special": true}],
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "decoder": {"type": "ByteLevel"},
  "model": {
    "type": "BPE",
    "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "Ġ": 4, "he": 5, "ll": 6, "llo": 7, "hello": 8, "Ġhello": 9},
    "merges": ["h e", "l l", "ll o", "he llo", "Ġ hello"]
  }
}`

func Example() {
	dir, err := os.MkdirTemp("", "tokenizer-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(toyTokenizerJSON), 0o644); err != nil {
		log.Fatal(err)
	}

	tok, err := tokenizer.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	ids := tok.Encode("hello hello<|end|>", false)
	fmt.Println(ids)
	fmt.Printf("%q\n", tok.Decode(ids))

	// Streaming: text comes out as soon as it is complete.
	sd := tokenizer.NewStreamDecoder(tok)
	for _, id := range ids {
		fmt.Printf("%q ", sd.Add(id))
	}
	fmt.Printf("%q\n", sd.Flush())
	fmt.Println(tok.VocabSize(), tok.SpecialIDs())
	// Output:
	// [8 9 10]
	// "hello hello<|end|>"
	// "hello" " hello" "<|end|>" ""
	// 11 map[<|end|>:10]
}
