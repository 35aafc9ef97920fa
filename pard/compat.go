package pard

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// CheckCompatible reports whether draft can propose tokens for target: both
// must use the same tokenizer. Their logits widths (VocabSize) may differ by
// embedding padding (Qwen2.5-0.5B has 151936 rows, Qwen2.5-7B 152064): a
// difference is accepted when both are ≥ tokenizerVocab (the tokenizer's
// vocabulary size including added tokens; pass 0 when unknown), or, when
// tokenizerVocab is 0, when the models share an EOS id. Generate never lets a
// draft propose an id at or above the smaller width. EOS sets that are both
// known and have no common id are refused (different tokenizers).
func CheckCompatible(target, draft ModelInfo, tokenizerVocab int) error {
	if target.VocabSize <= 0 || draft.VocabSize <= 0 {
		return fmt.Errorf("pard: unknown vocabulary size (target %s: %d, draft %s: %d)",
			target.Name, target.VocabSize, draft.Name, draft.VocabSize)
	}
	if tokenizerVocab > 0 {
		for _, m := range []ModelInfo{target, draft} {
			if m.VocabSize < tokenizerVocab {
				return fmt.Errorf("pard: model %s has %d logits rows, fewer than the tokenizer's %d tokens", m.Name, m.VocabSize, tokenizerVocab)
			}
		}
	}
	shared := false
	for _, id := range target.EOS {
		if slices.Contains(draft.EOS, id) {
			shared = true
			break
		}
	}
	if len(target.EOS) > 0 && len(draft.EOS) > 0 && !shared {
		return fmt.Errorf("pard: target %s (EOS %v) and draft %s (EOS %v) have no common EOS id: they do not seem to share a tokenizer",
			target.Name, target.EOS, draft.Name, draft.EOS)
	}
	if target.VocabSize != draft.VocabSize && tokenizerVocab <= 0 && !shared {
		return fmt.Errorf("pard: vocabulary sizes differ (target %s: %d, draft %s: %d) and nothing shows a common tokenizer: pass the tokenizer's vocabulary size",
			target.Name, target.VocabSize, draft.Name, draft.VocabSize)
	}
	return nil
}

// CompareSpecialTokens checks two tokenizers' special (added) tokens, given
// as content → id: a token both define must have the same id, and an id both
// use must name the same token. Tokens that only one defines, at ids the
// other leaves free, are allowed (e.g. a newer family's extra tokens). The
// error lists up to 5 conflicts.
func CompareSpecialTokens(target, draft map[string]int32) error {
	var bad []string
	byID := make(map[int32]string, len(draft))
	for s, id := range draft {
		byID[id] = s
	}
	for s, id := range target {
		if did, ok := draft[s]; ok && did != id {
			bad = append(bad, fmt.Sprintf("%q is %d in the target, %d in the draft", s, id, did))
		} else if ds, ok := byID[id]; ok && ds != s {
			if _, both := draft[s]; !both {
				bad = append(bad, fmt.Sprintf("id %d is %q in the target, %q in the draft", id, s, ds))
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	n := len(bad)
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("and %d more", n-5))
	}
	return fmt.Errorf("pard: the tokenizers' special tokens differ (%d conflicts): %s", n, strings.Join(bad, "; "))
}
