#!/usr/bin/env bash
# Reproduces gopard's embedded default models from scratch, in pure Go on
# the CPU: a BPE tokenizer, the target, an AR draft and its PARD adaptation,
# all trained on $(go env GOROOT)/src minus the held-out packages of
# internal/gocorpus (the later PARD stages on the target's own continuations
# of prompts cut from those training files), the target then grown to 8
# and to 9 layers and trained further each time, the PARD draft distilled
# once more on its continuations each time, and all packed into
# internal/defaultmodel/assets.
#
#   scripts/train-default.sh [WORKDIR]      (default WORKDIR: /tmp/gopard-default)
#
# Training is deterministic and independent of the thread count, so the
# result is bit-identical to the shipped files for the same Go release
# (the corpus is that release's source tree). The target runs alongside
# the draft, one core each, on a 2-core machine; see the README for times.
# Every stage checkpoints; rerun with RESUME=1 to continue after a stop:
# the stages with a checkpoint continue from it (a finished one just writes
# its model again), the others start, and the distillations keep the files
# they have written.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/gopard-default}
mkdir -p "$work"
# resume OUT prints --resume when RESUME=1 and the stage writing OUT has a
# checkpoint (passing it to a stage that has none would be an error).
resume() {
  if [ "${RESUME:-0}" = 1 ] && [ -f "$1/checkpoint/state.json" ]; then echo --resume; fi
}
go build -o "$work/train" ./cmd/train

"$work/train" tokenizer --out "$work/tokenizer" --vocab 4096 --max-bytes 0

target() {
  "$work/train" pretrain --tokenizer "$work/tokenizer" --out "$work/target" \
    --hidden 512 --layers 5 --heads 8 --kv-heads 4 --intermediate 1408 \
    --seq 512 --batch 8 --steps 880 --lr 1e-3 --seed 1 --threads 1 \
    --checkpoint-every 20 --eval-every 100 --log-every 5 $(resume "$work/target")
}
drafts() {
  "$work/train" pretrain --tokenizer "$work/tokenizer" --out "$work/draft" \
    --hidden 256 --layers 3 --heads 4 --kv-heads 2 --intermediate 704 \
    --seq 512 --batch 8 --steps 600 --lr 1.5e-3 --seed 2 --threads 1 \
    --checkpoint-every 50 --eval-every 100 --log-every 10 $(resume "$work/draft")
  "$work/train" pard --model "$work/draft" --out "$work/pard" --para-num 8 \
    --seq 512 --batch 8 --steps 400 --lr 5e-4 --warmup 20 --seed 3 --threads 1 \
    --checkpoint-every 20 --eval-every 100 --log-every 5 $(resume "$work/pard")
  # A second, longer adaptation from the first one (a fresh optimizer and
  # schedule); the distillation stages below start from it.
  "$work/train" pard --model "$work/pard" --out "$work/pard2" --para-num 8 \
    --seq 512 --batch 8 --steps 500 --lr 3e-4 --warmup 20 --seed 4 --threads 1 \
    --checkpoint-every 20 --eval-every 100 --log-every 5 $(resume "$work/pard2")
}
target > "$work/target.log" 2>&1 &
tpid=$!
drafts 2>&1 | tee "$work/drafts.log"
echo "waiting for the target (log: $work/target.log)"
wait "$tpid"
tail -n 1 "$work/target.log"

# continuations MODEL DRAFT PREV DATA PROMPTS [ARGS]: the greedy continuations
# of target MODEL to PROMPTS prompts cut from the training files, 256
# tokens each, into DATA. The prompts are dealt in a fixed order, so DATA
# starts as a copy of PREV's (none when PREV is ""), which are the first
# ones, and only the new ones are decoded. Decoding is speculative with
# PARD draft DRAFT (ARGS: more distill flags), which writes the same files
# as the target alone, faster.
continuations() {
  local model=$1 draft=$2 prev=$3 data=$4 prompts=$5
  shift 5
  if [ -n "$prev" ]; then
    mkdir -p "$work/$data"
    cp -n "$work/$prev/"*.txt "$work/$data/"
  fi
  "$work/train" distill --model "$work/$model" --draft "$work/$draft" "$@" --out "$work/$data" --prompts "$prompts" --tokens 256 --jobs 2
}
# stage FROM DATA NEXT STEPS SEED: PARD draft FROM trains STEPS more steps
# (lr 3e-4, a fresh schedule) on the continuations in DATA, into NEXT.
stage() {
  local from=$1 data=$2 next=$3 steps=$4 seed=$5
  "$work/train" pard --model "$work/$from" --out "$work/$next" --data "$work/$data" --ext .txt --para-num 8 \
    --seq 512 --batch 8 --steps "$steps" --lr 3e-4 --warmup 20 --seed "$seed" --threads 2 \
    --checkpoint-every 20 --eval-every 100 --log-every 5 $(resume "$work/$next") 2>&1 | tee "$work/$next.log"
}

# Distillation: the target's continuations of 4000 prompts, then a third
# PARD stage on them (both cores), a fourth and a fifth on 12000 (in a
# directory of their own, so that pard3's data stays as it was; the fifth
# longer, as 500 steps read a third of it), and a sixth on 20000.
continuations target pard2 "" distill 4000
stage pard2 distill pard3 400 5
continuations target pard3 distill distill12 12000
stage pard3 distill12 pard4 500 6
stage pard4 distill12 pard5 600 7
continuations target pard5 distill12 distill20 20000
stage pard5 distill20 pard6 700 8

# grow FROM LAYERS SEED DRAFT NEXT DRAFT_SEED: grows target FROM to LAYERS
# layers (train.Grow: copies of its layers that add nothing until trained,
# so it starts as the model the drafts were distilled from) and trains it
# 300 steps more on other windows of the corpus at a tenth of the first
# learning rate, into targetLAYERS; its greedy continuations are not
# FROM's, so PARD draft DRAFT then takes a stage on 4000 of them
# (distillLAYERS), into NEXT.
grow() {
  local from=$1 layers=$2 seed=$3 draft=$4 next=$5 draft_seed=$6
  "$work/train" pretrain --init "$work/$from" --layers "$layers" --out "$work/target$layers" \
    --seq 512 --batch 8 --steps 300 --lr 1e-4 --min-lr 1e-5 --warmup 30 --seed "$seed" --threads 2 \
    --checkpoint-every 50 --eval-every 100 --log-every 5 $(resume "$work/target$layers") 2>&1 | tee "$work/target$layers.log"
  continuations "target$layers" "$draft" "" "distill$layers" 4000 -k 3
  stage "$draft" "distill$layers" "$next" 400 "$draft_seed"
}
# At 8 layers (51.4 MB) the target no longer fits the 32 MB L3 beside the
# drafts, so a token streams its weights from memory and a verify of K+1
# tokens costs less of a token's time than with 5 layers; at 9 (57.3 MB,
# the shipped target) PARD's ratio over AR came out higher than with 8
# layers in most paired rounds (README, Default models).
grow target 8 11 pard6 pard7 9
grow target8 9 12 pard7 pard8 10
# A ninth stage on 8000 of the 9-layer target's continuations (the 4000
# of the eighth and 4000 more), a tenth on 12000: the shipped PARD draft.
continuations target9 pard8 distill9 distill9b 8000 -k 3
stage pard8 distill9b pard9 500 13
continuations target9 pard9 distill9b distill9c 12000 -k 3
stage pard9 distill9c pard10 600 14

# The weights are embedded as byte planes (internal/defaultmodel.Pack):
# 70.6 MB of safetensors in 49.3.
assets=internal/defaultmodel/assets
for m in target draft pard; do
  src=$m
  [ $m = target ] && src=target9
  [ $m = pard ] && src=pard10
  go run ./internal/defaultmodel/pack "$work/$src" "$assets/$m"
done
cp "$work/tokenizer/tokenizer.json" "$work/tokenizer/tokenizer_config.json" "$assets/"
echo "models packed into $assets; evaluate with: go run ./cmd/eval -k 2,3,4,6,8 -n 40 --tokens 128 --warmup 4 --interleave"
