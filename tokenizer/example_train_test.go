package tokenizer_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/gopard/gopard/tokenizer"
)

func ExampleTrainer() {
	tr, err := tokenizer.NewTrainer(tokenizer.TrainOptions{
		VocabSize: 256 + 12 + 1, // bytes, 12 merges, 1 special
		Special:   []string{"<|endoftext|>"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		tr.Add("if err != nil {\n\treturn err\n}\n")
	}
	tok, data, err := tr.Train() // data is the tokenizer.json to write
	if err != nil {
		log.Fatal(err)
	}
	// The learned tokens, in the byte-level alphabet ("Ġ" is a space, "Ċ" a
	// newline), then the special token.
	for id := int32(256); id < int32(tok.VocabSize()); id++ {
		s, _ := tok.Token(id)
		fmt.Printf("%d %q\n", id, s)
	}
	// Encode, then show each token's text.
	var pieces []string
	for _, id := range tok.Encode("if err != nil {\n<|endoftext|>", false) {
		pieces = append(pieces, fmt.Sprintf("%q", tok.Decode([]int32{id})))
	}
	fmt.Println(strings.Join(pieces, " "))
	fmt.Println(strings.HasPrefix(string(data), "{\n  \"version\": \"1.0\","))
	// Output:
	// 256 "er"
	// 257 "Ġer"
	// 258 "Ġerr"
	// 259 "!="
	// 260 "et"
	// 261 "if"
	// 262 "il"
	// 263 "nil"
	// 264 "rn"
	// 265 "ret"
	// 266 "urn"
	// 267 "{Ċ"
	// 268 "<|endoftext|>"
	// "if" " err" " " "!=" " " "nil" " " "{\n" "<|endoftext|>"
	// true
}
