package tokenizer

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/unicode/norm"
)

// TestConformance checks every case against the ids Hugging Face produced.
func TestConformance(t *testing.T) {
	for _, name := range realNames {
		t.Run(name, func(t *testing.T) {
			tok := realTokenizer(t, name)
			cases := readCases(t, name)
			require.Len(t, cases, 132)
			pass := 0
			for i, c := range cases {
				got := tok.Encode(c.Text, false)
				if slices.Equal(got, c.IDs) {
					pass++
					continue
				}
				t.Errorf("case %d %q:\n got  %v\n want %v\n pieces %s", i+1, c.Text, got, c.IDs, showTokens(tok, got))
			}
			t.Logf("%s: %d/%d cases exact", name, pass, len(cases))
		})
	}
}

func showTokens(tok *Tokenizer, ids []int32) string {
	var parts []string
	for _, id := range ids {
		s, _ := tok.Token(id)
		parts = append(parts, fmt.Sprintf("%q", s))
	}
	return strings.Join(parts, " ")
}

// TestRoundTrip: decoding the encoding gives back the (normalized) text.
func TestRoundTrip(t *testing.T) {
	for _, name := range realNames {
		t.Run(name, func(t *testing.T) {
			tok := realTokenizer(t, name)
			for i, c := range readCases(t, name) {
				want := c.Text
				if name == "qwen3" {
					want = norm.NFC.String(want)
				}
				assert.Equal(t, want, tok.Decode(tok.Encode(c.Text, false)), "case %d", i+1)
				assert.Equal(t, want, tok.Decode(c.IDs), "case %d (reference ids)", i+1)
			}
		})
	}
}

// TestStreamDecoder feeds every case id by id and compares with Decode.
func TestStreamDecoder(t *testing.T) {
	for _, name := range realNames {
		t.Run(name, func(t *testing.T) {
			tok := realTokenizer(t, name)
			sd := NewStreamDecoder(tok)
			for i, c := range readCases(t, name) {
				var sb strings.Builder
				for _, id := range c.IDs {
					s := sd.Add(id)
					assert.True(t, !strings.ContainsRune(s, '\uFFFD') || strings.ContainsRune(c.Text, '\uFFFD'),
						"case %d: stream emitted a replacement char early", i+1)
					sb.WriteString(s)
				}
				sb.WriteString(sd.Flush())
				assert.Equal(t, tok.Decode(c.IDs), sb.String(), "case %d", i+1)
			}
		})
	}
}

func TestAddSpecial(t *testing.T) {
	l31 := realTokenizer(t, "llama3_1")
	plain := l31.Encode("Hello world", false)
	assert.Equal(t, []int32{9906, 1917}, plain)
	assert.Equal(t, append([]int32{128000}, plain...), l31.Encode("Hello world", true))
	assert.Equal(t, []int32{128000}, l31.Encode("", true))

	// This Llama 3 tokenizer.json's post-processor is ByteLevel only, so HF
	// adds nothing there; neither does Qwen3's.
	assert.Equal(t, plain, realTokenizer(t, "llama3").Encode("Hello world", true))
	q := realTokenizer(t, "qwen3")
	assert.Equal(t, q.Encode("Hello world", false), q.Encode("Hello world", true))
}

func TestMetadata(t *testing.T) {
	type want struct {
		vocab    int
		bos, eos string
		bosID    int32
		eosID    int32
		hasBOS   bool
		special  int
		tmplHas  string
	}
	for name, w := range map[string]want{
		"qwen3":    {151669, "", "<|im_end|>", 0, 151645, false, 14, "<|im_start|>"},
		"llama3":   {128256, "<|begin_of_text|>", "<|end_of_text|>", 128000, 128001, true, 256, "<|start_header_id|>"},
		"llama3_1": {128256, "<|begin_of_text|>", "<|eot_id|>", 128000, 128009, true, 256, "<|start_header_id|>"},
	} {
		t.Run(name, func(t *testing.T) {
			tok := realTokenizer(t, name)
			assert.Equal(t, w.vocab, tok.VocabSize())
			assert.Equal(t, w.bos, tok.BOSToken())
			assert.Equal(t, w.eos, tok.EOSToken())
			id, ok := tok.BOS()
			assert.Equal(t, w.hasBOS, ok)
			if ok {
				assert.Equal(t, w.bosID, id)
			}
			id, ok = tok.EOS()
			assert.True(t, ok)
			assert.Equal(t, w.eosID, id)
			sp := tok.SpecialIDs()
			assert.Len(t, sp, w.special)
			assert.Equal(t, w.eosID, sp[w.eos])
			assert.Contains(t, tok.ChatTemplate(), w.tmplHas)

			s, ok := tok.Token(w.eosID)
			assert.True(t, ok)
			assert.Equal(t, w.eos, s)
			_, ok = tok.Token(int32(tok.VocabSize()))
			assert.False(t, ok)
			_, ok = tok.Token(-1)
			assert.False(t, ok)
			id, ok = tok.TokenID("Ġthe")
			assert.True(t, ok)
			assert.Equal(t, []int32{id}, tok.Encode(" the", false))
			assert.Equal(t, " the", tok.Decode([]int32{id}))
			// Out-of-range ids are skipped, never a panic.
			assert.Equal(t, " the", tok.Decode([]int32{-5, id, 1 << 30}))
		})
	}
}
