package tokenizer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// benchProse is English prose written for this benchmark.
const benchProse = `The lighthouse keeper had kept the same routine for thirty-one years. Every evening, a little before
sunset, he climbed the hundred and twelve steps, wiped the salt from the great lens, and trimmed the wick
even though the lamp had been electric since 1974. Habits, he liked to say, are the ropes that hold a
life to its moorings; cut them and you drift.

When the letter from the harbour authority arrived, announcing that the light would be automated "within
the coming fiscal year", he read it twice, folded it into quarters, and used it to level the kitchen table.
The inspectors came in March. They were polite, young, and visibly cold; they measured things, photographed
things, and asked whether he'd ever considered moving somewhere with a supermarket. He hadn't.

It's strange how a place becomes a person. The gulls knew him, or he believed they did. The fog rolled in
on Tuesdays more often than not, and he'd noted as much in a ledger that nobody else would ever read: dates,
wind directions, the number of ships, the colour of the water at noon. Some entries were a single word.
Others ran for pages, wandering from the tides to his sister's recipe for plum cake to the question of
whether light, once it leaves the lamp, still belongs to anyone at all.
`

func goSource(b *testing.B) string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Skip("go env GOROOT failed: Go sources unavailable")
	}
	root := strings.TrimSpace(string(out))
	var sb strings.Builder
	for _, f := range []string{"fmt/print.go", "strings/strings.go", "bufio/bufio.go", "sort/sort.go", "encoding/json/decode.go"} {
		data, err := os.ReadFile(filepath.Join(root, "src", f))
		if err != nil {
			b.Skipf("Go sources unavailable: %v", err)
		}
		sb.Write(data)
	}
	return sb.String()
}

// BenchmarkEncode measures Encode throughput per tokenizer and text kind.
// "warm" reuses the word cache (the steady state of a server); "cold" starts
// each iteration with an empty cache, so every piece goes through BPE.
func BenchmarkEncode(b *testing.B) {
	if findDataDir() == "" {
		b.Skip("../shared/data not found: conformance data absent")
	}
	texts := []struct {
		name string
		text func(*testing.B) string
	}{
		{"prose", func(*testing.B) string { return benchProse }},
		{"gosource", goSource},
	}
	for _, name := range []string{"llama3", "qwen3"} {
		tok := realTokenizer(b, name)
		for _, tx := range texts {
			for _, mode := range []string{"warm", "cold"} {
				b.Run(name+"/"+tx.name+"/"+mode, func(b *testing.B) {
					text := tx.text(b)
					b.SetBytes(int64(len(text)))
					tok.Encode(text, false)
					b.ResetTimer()
					for b.Loop() {
						if mode == "cold" {
							b.StopTimer()
							tok.cache = newWordCache(defaultCacheSize)
							b.StartTimer()
						}
						tok.Encode(text, false)
					}
				})
			}
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	tok := realTokenizer(b, "llama3")
	ids := tok.Encode(benchProse, false)
	b.SetBytes(int64(len(benchProse)))
	for b.Loop() {
		tok.Decode(ids)
	}
}
