#!/usr/bin/env bash
# The GPU measurements in one run: the model environment, the order book in both layouts
# up to the largest batch that fits, PPO end to end on the book, and a 64-member sweep.
# Every benchmark appends its rows (markdown, with machine, CPU, device and jax version)
# to OUT. A batch that runs out of device memory ends that layout's sizes, not the run.
#
#   benchmarks/gpu_benchmarks.sh [OUT]            full sizes (a GPU)
#   SIZES=tiny benchmarks/gpu_benchmarks.sh OUT   seconds-long sizes, to check the script on CPU
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-gpu_benchmarks.md}"
SIZES="${SIZES:-full}"
if [ "$SIZES" = tiny ]; then
  MODEL_BATCHES="64 256"; BOOK_BATCHES="64 128"; BOOK_STEPS=10; REPEATS=1
  PPO_OVERRIDES="ppo.num_envs=16 ppo.rollout_len=8 train.chunk_env_steps=128 train.total_env_steps=256"
  PPO_CHUNKS=1; SWEEP_STEPS=4096; SWEEP_OVERRIDES="ppo.num_envs=8 ppo.rollout_len=8 train.chunk_env_steps=2048"
else
  MODEL_BATCHES="8192 65536 262144 1048576"; BOOK_BATCHES="4096 16384 65536 262144 1048576"
  BOOK_STEPS=200; REPEATS=3; PPO_OVERRIDES=""; PPO_CHUNKS=3; SWEEP_STEPS=1000000; SWEEP_OVERRIDES=""
fi
PYTHON="${PYTHON:-python}"
status=0

section() { printf '\n### %s\n\n`%s`\n\n' "$1" "$2" >> "$OUT"; }
run() {  # title, command...: the command's table rows go to OUT; a failure is recorded, not fatal
  local title="$1"; shift
  section "$title" "$*"
  if ! "$@" 2>"$OUT.err" | grep '^|' >> "$OUT"; then
    echo "FAILED: $* (see $OUT.err)" >> "$OUT"; status=1
  fi
}

printf '## GPU run %s (%s sizes)\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$SIZES" >> "$OUT"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader >> "$OUT"
run "Model environment" $PYTHON benchmarks/bench_model.py --batches $MODEL_BATCHES --repeats $REPEATS
for layout in per_book batch; do
  for batch in $BOOK_BATCHES; do  # one size per process: an out-of-memory batch stops this layout
    section "Order book, $layout, $batch envs" "bench_lob.py --layouts $layout --batches $batch --phases"
    if ! $PYTHON benchmarks/bench_lob.py --layouts $layout --batches $batch --steps $BOOK_STEPS \
        --repeats $REPEATS --phases 2>"$OUT.err" | grep '^|' >> "$OUT"; then
      echo "stopped at $batch envs (out of memory or failed, see $OUT.err)" >> "$OUT"; break
    fi
  done
done
run "PPO end to end on the book" $PYTHON benchmarks/bench_train.py --config configs/ppo_lob.yaml \
  --throughput $PPO_CHUNKS $PPO_OVERRIDES
run "64-member sweep (cj_small: 32 penalties x 2 seeds)" $PYTHON benchmarks/bench_sweep.py \
  --config configs/sweep_cj_small.yaml \
  --steps $SWEEP_STEPS $SWEEP_OVERRIDES
exit $status
