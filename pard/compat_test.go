package pard

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"
)

func TestCheckCompatible(t *testing.T) {
	qwenSmall := ModelInfo{Name: "Qwen2.5-0.5B", VocabSize: 151936, EOS: []int32{151645, 151643}}
	qwenBig := ModelInfo{Name: "Qwen2.5-7B", VocabSize: 152064, EOS: []int32{151645, 151643}}
	llama := ModelInfo{Name: "Llama-3.1-8B", VocabSize: 128256, EOS: []int32{128001, 128008, 128009}}
	noEOS := func(m ModelInfo) ModelInfo { m.EOS = nil; return m }
	tests := []struct {
		name           string
		target, draft  ModelInfo
		tokenizerVocab int
		want           string // "" = compatible
	}{
		{"same", qwenBig, qwenBig, 0, ""},
		{"padding, shared EOS", qwenBig, qwenSmall, 0, ""},
		{"padding, tokenizer vocab", noEOS(qwenBig), noEOS(qwenSmall), 151665, ""},
		{"padding, nothing known", noEOS(qwenBig), noEOS(qwenSmall), 0, "pass the tokenizer's vocabulary size"},
		{"tokenizer larger than a model", qwenBig, qwenSmall, 152000, "fewer than the tokenizer's"},
		{"other family", llama, qwenSmall, 0, "no common EOS"},
		{"other family, tokenizer vocab", llama, qwenSmall, 128256, "no common EOS"},
		{"one EOS in common", llama, ModelInfo{VocabSize: 128256, EOS: []int32{128001}}, 0, ""},
		{"unknown vocab", ModelInfo{}, qwenSmall, 0, "unknown vocabulary size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCompatible(tt.target, tt.draft, tt.tokenizerVocab)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCompareSpecialTokens(t *testing.T) {
	base := map[string]int32{"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
	with := func(k string, v int32) map[string]int32 {
		m := map[string]int32{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name          string
		target, draft map[string]int32
		want          string
	}{
		{"same", base, base, ""},
		{"extra token at a free id", with("<think>", 151667), base, ""},
		{"same name other id", base, with("<|im_end|>", 2), `"<|im_end|>" is 151645 in the target, 2 in the draft`},
		{"same id other name", with("<a>", 7), with("<b>", 7), `id 7 is "<a>" in the target, "<b>" in the draft`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CompareSpecialTokens(tt.target, tt.draft)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	many := map[string]int32{}
	for i := range 8 {
		many[string(rune('a'+i))] = int32(i)
	}
	other := map[string]int32{}
	for k, v := range many {
		other[k] = v + 100
	}
	if err := CompareSpecialTokens(many, other); err == nil || !strings.Contains(err.Error(), "(8 conflicts)") || !strings.Contains(err.Error(), "and 3 more") {
		t.Fatalf("error %v", err)
	}
}

func TestMode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Mode
	}{{"ar", AR}, {"AR+", AR}, {" vsd", VSD}, {"PARD", PARD}} {
		m, err := ParseMode(c.in)
		if err != nil || m != c.want {
			t.Fatalf("ParseMode(%q) = %v, %v", c.in, m, err)
		}
	}
	if _, err := ParseMode("eagle"); err == nil {
		t.Fatal("ParseMode accepted eagle")
	}
	if AR.String() != "ar" || VSD.String() != "vsd" || PARD.String() != "pard" || Mode(9).String() != "Mode(9)" {
		t.Fatal("String")
	}
	var m Mode
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Var(&m, "mode", "engine")
	if err := fs.Parse([]string{"-mode", "vsd"}); err != nil || m != VSD {
		t.Fatalf("flag: %v %v", m, err)
	}
	b, _ := json.Marshal(struct{ M Mode }{PARD})
	var back struct{ M Mode }
	if string(b) != `{"M":"pard"}` || json.Unmarshal(b, &back) != nil || back.M != PARD {
		t.Fatalf("json %s %v", b, back)
	}
	if o := DefaultOptions(PARD); o.K != 12 || o.MaxNewTokens != 512 || o.Temperature != 0 {
		t.Fatalf("%+v", o)
	}
}
