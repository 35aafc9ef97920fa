#!/usr/bin/env bash
# Removes each __syncthreads() of the GPU kernels in turn (in a temporary
# worktree of HEAD) and runs the emulator's kernel tests in its usual
# thread order and in its two others (gpu/internal/emu: TestOrders), to
# show which barriers the tests would miss. A barrier no order catches is
# either redundant (nothing crosses threads through it) or a gap in the
# tests. About 2.5 minutes a barrier on 2 cores.
#
#   scripts/barrier-sweep.sh [FILE-PATTERN]
#       prints "file:line default=… orders=…" for the barriers of the
#       kernel files whose names match FILE-PATTERN (grep -E; all if none)
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true' EXIT
git worktree add -q --detach "$tree" HEAD
cd "$tree"
export GOPARD_GPU_CACHE="$tree/.cache"
run() { go test -count=1 -run "$1" ./gpu/internal/emu >/dev/null 2>&1 && echo pass || echo CAUGHT; }
grep -n "__syncthreads();" gpu/kernels/*.cu gpu/kernels/common.h | cut -d: -f1,2 | grep -E "^[^:]*(${1:-})" | while IFS=: read -r file line; do
  git checkout -q -- gpu/kernels
  sed -i "${line}s/__syncthreads();//" "$file"
  echo "$file:$line default=$(run 'TestKernels/warp32|TestFuseNorm|TestKVCacheF16/warp32') orders=$(run TestOrders)"
done
