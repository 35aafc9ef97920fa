// Package pard runs a target language model alone or sped up by speculative
// decoding, over the small [Model] interface (batch 1).
//
// Three engines share one loop ([Generate]); they differ only in how the K
// draft tokens of an iteration are proposed:
//
//   - AR: the target alone, one token per forward (K = 0).
//   - VSD (vanilla speculative decoding): an ordinary autoregressive draft
//     model proposes K tokens with K sequential forwards, feeding each draft
//     token back to itself.
//   - PARD (parallel draft): a draft trained for parallel drafting proposes K
//     tokens in ONE forward over the newly committed tokens followed by K−1
//     copies of its mask token ("pard_token"); the logits of the last real
//     token and of the K−1 masks give the K drafts.
//
// Each iteration the target verifies the K drafts in one forward over the last
// committed token and the drafts (the first iteration merges the prompt
// prefill with this verification). The longest prefix of drafts that the
// target agrees with is accepted and one token of the target is appended (the
// correction at the first disagreement, or a "bonus" token when all K were
// accepted), so an iteration commits between 1 and K+1 tokens for one target
// forward. Both KV caches are then moved back (spec §1.4, §2): the target to
// total−1 (every committed token except the last has valid target KV), the
// PARD draft by K−1 (its mask slots), the VSD draft to min(total−1, its
// length). The next input of each model is then simply the committed tokens
// its cache does not hold yet.
//
// With Options.MinConfidence the target verifies only the first drafts whose
// probability of all being accepted, by the draft's own estimate, stays above
// it (at least one): the verify then spends no rows on drafts the draft itself
// doubts, which makes a large K cheap where it does not pay. The cut depends
// on the draft alone, so the output below does not change.
//
// On a GPU a greedy engine reads ids, not logits rows ([ArgmaxForwarder]),
// and a greedy PARD or VSD iteration without a minimum confidence whose
// models are [ChainForwarder]s hands the drafts from the draft's forwards
// to the target's on the device (VSD's draft feeds each draft back there
// too): the host waits for the device once an iteration, when the drafts
// and the target's ids come back together. A sampling engine without a
// minimum confidence whose models are [SampleChainForwarder]s that draw on
// their device does the same: the draws and the acceptance test run there
// with the uniform numbers the host's would take, and the drafts, the
// count accepted and the next token come back.
//
// # Losslessness
//
// Greedy decoding (Temperature 0) accepts a draft only when it equals the
// target's argmax, so the output is token for token what AR greedy decoding
// produces. With sampling the engines use speculative rejection sampling, which
// produces exactly the distribution of AR sampling from the target: see the
// derivation in the comment of engine.verify (verify.go). Both paths use the same logits transform
// (temperature, then top-k, then top-p), the same vocabulary limit and the same
// tie-breaking (lower id first); an engine that draws on a device (above)
// takes ops.DraftDist's transform for every draw instead (ties kept
// together).
//
// # Metrics
//
// [Stats] follows the reference harness (spec §4.6): AcceptLength is the mean
// number of tokens committed per target forward, bonus included; Acc counts
// one success per accepted draft and one failure per first mismatch; TokensPerSecond
// excludes the time of the first (prefill) iteration but counts its tokens.
package pard
