# Two commands matter:  make run  (set up, build the demo, start)  and  make test.
# Everything is installed into .venv in this folder; nothing is downloaded at run time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run demo test bench eval clean help

help:
	@echo "make run     set up .venv, build the demo knowledge base, show searches"
	@echo "make test    set up .venv if needed and run the whole test suite"
	@echo "make install only build .venv"
	@echo "make bench   run the benchmarks (slow; results in bench/results, docs/benchmarks.md)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build that lies on disk, not the CUDA one.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kb demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra

eval: $(STAMP)
	$(BIN)/kb eval ../shared/data/techniques-dev.json

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) kb-data .pytest_cache
