#!/usr/bin/env bash
# The GPU checks of issue 7, for a lent device machine that has the source
# tree but no Go toolchain (and whose transfers are limited to 64 MiB, the
# tree already being 50): build here, run there, in one call.
#
#   scripts/gpu-check.sh build
#       here: builds the CUDA tests (reading the default models from the
#       tree: -tags gopard_external_assets) and cmd/bench, gzipped, into
#       .dev/gpu/, and copies the small conformance models of ../shared
#       into .dev/shared/data/ (.dev is ignored by git; the tests look for
#       shared/data from their working directory up, which is .dev there
#       and never passes through it here).
#   scripts/gpu-check.sh run [SECONDS]
#       there (from the repository root): the device's name, every CUDA
#       test (kernels, conformance models, engines, one wait per PARD
#       iteration, bf16 activations on tensor cores, folded norms, each
#       kernel's registers and local memory), the linear kernels'
#       benchmark (Llama-3.2-1B and 3.1-8B matrices, 1, 9 and 16 rows, both
#       activations: BenchmarkLinear; a layer's linear layers separate and
#       folded: BenchmarkFold; a 256-row prefill chunk through the 16-row
#       kernels and through the tiled product: BenchmarkBulk; its
#       attention at the start and at the end of a 4096-token prompt, a
#       block per row and head and tiled: BenchmarkBulkAttention), then
#       cmd/bench on
#       the Llama-3.2-1B shape and the Llama-3.1-8B shape (with a PARD
#       draft of the 1B shape, K = 8), with float32 activations and with
#       --bf16-activations, with weight prefetching into L2 off and on
#       (GOPARD_GPU_PREFETCH), with the norms folded into the linear layers
#       (GOPARD_GPU_FUSE_NORM), and the 1B shape's decode step profiled
#       (--profile: each operation alone, then each kind left out, and
#       the folding turned the other way), a 64-token prefill of the 8B
#       shape with and without the tiled product and attention
#       (GOPARD_GPU_BULK), and
#       last the 8B decode step at position 4096 with a float32 and a
#       binary16 KV cache.
#       Logs go to $OUT (else ./gpu-check-out).
#       SECONDS (default 480) bounds the whole run; the tests get half.
#
# The device call: run(command="bash scripts/gpu-check.sh run",
# carry=[".dev"], timeout_s=540).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
build)
  mkdir -p .dev/gpu
  go test -c -tags gopard_external_assets -o .dev/gpu/cuda.test ./gpu/cuda
  go build -o .dev/gpu/bench ./cmd/bench
  gzip -9 -f .dev/gpu/cuda.test .dev/gpu/bench
  src=../shared/data/conformance/models
  if [ -d "$src" ]; then
    dst=.dev/shared/data/conformance/models
    rm -rf "$dst" && mkdir -p "$dst"
    for m in "$src"/*; do
      # qwen3-vocab (30 MB) does not fit what a call may send.
      if [ "$(du -sm "$m" | cut -f1)" -le 4 ]; then cp -r "$m" "$dst/"; fi
    done
  else
    echo "gpu-check: $src not found: the conformance models stay behind (TestDecoder will skip)"
  fi
  du -sh .dev/gpu .dev/shared 2>/dev/null || true
  echo 'carry: [".dev"]'
  ;;
run)
  budget=${2:-480}
  out=${OUT:-gpu-check-out}
  mkdir -p "$out"
  bin=$(mktemp -d)
  for f in cuda.test bench; do gunzip -c ".dev/gpu/$f.gz" >"$bin/$f" && chmod +x "$bin/$f"; done
  export GOPARD_DEFAULTMODEL_DIR=$PWD/internal/defaultmodel XDG_CACHE_HOME=$bin/cache
  { nvidia-smi -L || true; date -u; } | tee "$out/device.txt"
  start=$(date +%s)
  left() { echo $((budget - ($(date +%s) - start))); }

  echo "== CUDA tests"
  # From .dev, where they find .dev/shared/data. (TestFakeDriver checks
  # the dlopen layer against a stand-in: CI's job.)
  (cd .dev && timeout $((budget / 2)) "$bin/cuda.test" -test.v -test.skip TestFakeDriver -test.timeout $((budget / 2))s) \
    >"$out/cuda-test.log" 2>&1 || echo "cuda tests: exit $?"
  grep -E '^(--- |ok|FAIL|PASS)|waits per iteration|tok/s|max \|Δ' "$out/cuda-test.log" | head -60 || true
  # What NVRTC's code of a decode step's kernels uses (TestKernelResources).
  grep -E 'resources: (linear_[a-z0-9_]+_m[12]|attention_[a-z]+) ' "$out/cuda-test.log" | head -40 || true

  echo "== linear kernels: 1, 9, 16 rows, f32 and bf16 activations; a layer's separate and folded (BenchmarkFold); 256 rows, 16 at a time and tiled (BenchmarkBulk), and their attention (BenchmarkBulkAttention)"
  (cd .dev && timeout 120 "$bin/cuda.test" -test.run XXX -test.bench 'Linear|Fold|Bulk' -test.benchtime 20x) >"$out/linear-bench.txt" 2>&1 ||
    echo "linear benchmark: exit $?"
  grep -E 'GB/s|GFLOP/s|FAIL' "$out/linear-bench.txt" | head -100 || true # no match must not end the run (set -e)

  echo "== bench"
  # Most wanted first, as the budget may end the list: what decides the
  # defaults of norms folded into the linear layers (GOPARD_GPU_FUSE_NORM)
  # and weight prefetching into L2 (GOPARD_GPU_PREFETCH), both written
  # without a GPU: the 1B decode step each way (the first run also gives
  # the verify's row counts), the 8B one with and without folding; then
  # a sampling PARD iteration (draws and acceptance test on the device:
  # its overhead against greedy's and its host waits, 1 expected); then
  # the profile with both on, whose table of forwards with a kind left out
  # (prefetches) or turned the other way (folding) compares them within
  # one process; then a prefill's rows through the tiled product
  # (GOPARD_GPU_BULK: the forward of 64 tokens, which keeps one row's
  # logits), bf16 activations (and the tiled product on tensor cores,
  # against 8b-bf16's 64-token row), other prefetch budgets, a long
  # context's binary16 KV cache (--kv-cache f16), and last the 64 tokens
  # at the end of a 4096-token prompt without and with the tiled product
  # and attention.
  pard="--pard-draft llama3.2-1b -k 8"
  ran=()
  while IFS='|' read -r name prefetch fold bulk args; do
    if [ "$(left)" -lt 60 ]; then echo "bench $name: skipped, $(left) s left"; continue; fi
    # shellcheck disable=SC2086
    GOPARD_GPU_PREFETCH=$prefetch GOPARD_GPU_FUSE_NORM=$fold GOPARD_GPU_BULK=$bulk timeout "$(left)" "$bin/bench" --device cuda $args \
      >"$out/bench-$name.txt" 2>&1 || echo "bench $name: exit $?"
    cat "$out/bench-$name.txt"
    ran+=("$name")
  done <<RUNS
1b-f32|off|off|off|--shape llama3.2-1b
1b-f32-fold|off|on|off|--shape llama3.2-1b --m 1
1b-f32-prefetch|on|off|off|--shape llama3.2-1b --m 1
1b-f32-fold-prefetch|on|on|off|--shape llama3.2-1b --m 1
8b-f32|off|off|off|--shape llama3.1-8b $pard
8b-f32-fold|off|on|off|--shape llama3.1-8b --m 1
8b-f32-sample|off|off|off|--shape llama3.1-8b --m 1 $pard --pard-temperature 0.8
1b-profile-fold-prefetch|on|on|off|--shape llama3.2-1b --m 1 --profile
1b-profile|off|off|off|--shape llama3.2-1b --m 1 --profile
8b-prefill|off|off|off|--shape llama3.1-8b --m 64
8b-prefill-bulk|off|off|on|--shape llama3.1-8b --m 64
8b-f32-prefetch|on|off|off|--shape llama3.1-8b $pard
1b-bf16|off|off|off|--shape llama3.2-1b --bf16-activations
8b-bf16|off|off|off|--shape llama3.1-8b $pard --bf16-activations
8b-prefill-bulk-bf16|off|off|on|--shape llama3.1-8b --m 64 --bf16-activations
8b-f32-fold-prefetch|on|on|off|--shape llama3.1-8b --m 1
1b-f32-prefetch12|12MiB|off|off|--shape llama3.2-1b --m 1
1b-f32-prefetch40|40MiB|off|off|--shape llama3.2-1b --m 1
1b-bf16-prefetch|on|off|off|--shape llama3.2-1b --bf16-activations
8b-ctx4096|off|off|off|--shape llama3.1-8b --m 1 --context 4096
8b-ctx4096-kv16|off|off|off|--shape llama3.1-8b --m 1 --context 4096 --kv-cache f16
8b-prefill-ctx3840|off|off|off|--shape llama3.1-8b --m 64 --context 3840
8b-prefill-ctx3840-bulk|off|off|on|--shape llama3.1-8b --m 64 --context 3840
RUNS
  # A compile that failed over the untried PTX (the kernels then ran
  # without it; gpu/cuda's LaunchMode says so): the compiler's whole log.
  for f in "$bin"/cache/gopard/cuda/*.failed; do
    if [ -e "$f" ]; then
      cp "$f" "$out/"
      echo "== kernels compiled without the untried PTX: $out/$(basename "$f")"
      head -c 3000 "$f"
    fi
  done
  # Last, so that it survives a cut to the output's tail: each run's decode
  # step and how its kernels were launched.
  echo "== summary"
  for name in ${ran[@]+"${ran[@]}"}; do
    f=$out/bench-$name.txt
    echo "$name: $(grep -m1 -E '^decode \(M = 1\)' "$f" || grep -m1 -E '^ +64 ' "$f" || tail -n1 "$f")"
    grep -E '^(iteration [0-9.]+ ms|host waits)' "$f" || true
    grep -m1 '^kernel launches:' "$f" || true
  done
  ;;
*)
  sed -n '2,32p' "$0"
  exit 2
  ;;
esac
