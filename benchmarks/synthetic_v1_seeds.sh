#!/usr/bin/env bash
# FeaturePolicy on Synthetic-v1 at 8 sessions, 5 training seeds per estimator, two runs at a time (2 CPU cores).
# logo runs 80 iterations and grpo 120: about the same number of environment steps (logo's local rerollouts add
# about half again per iteration; each result JSON records train.env_steps). Results go to leaderboards/results/.
# Usage: bash benchmarks/synthetic_v1_seeds.sh [estimator ...]   (default: logo grpo)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-runs/synthetic-v1}
ESTIMATORS=${*:-logo grpo}
jobs=()
for estimator in $ESTIMATORS; do
  iterations=80; [ "$estimator" = grpo ] && iterations=120; [ "$estimator" = global ] && iterations=120
  for seed in 0 1 2 3 4; do
    jobs+=("$estimator $seed $iterations")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P 2 -L 1 bash -c '
  name="synthetic-v1-8__$0__feature__seed$1"
  if [ -f "leaderboards/results/$name.json" ]; then echo "skip $name (done)"; exit 0; fi
  resume=(); [ -f "'"$RUNS"'/$name/config.json" ] && resume=(--resume "'"$RUNS"'/$name")
  .venv/bin/memr2 train --config configs/synthetic-v1-feature.yaml --estimator "$0" --seed "$1" --iterations "$2" \
    --output-dir "'"$RUNS"'/$name" --results-dir leaderboards/results --run-name "$name" --no-progress "${resume[@]}" \
    > "'"$RUNS"'/$name.log" 2>&1 && tail -2 "'"$RUNS"'/$name.log" | head -1'
