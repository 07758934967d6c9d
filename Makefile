# newscite: `make run` (index the sample corpus and serve the web chat), `make test` (everything).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARTICLES ?= eval/corpus/sample
# 1: build llama.cpp for this CPU once (cached in ~/.cache/newscite/wheels; the prebuilt wheel
# stays if the build fails or does not run here); 0: keep the prebuilt wheel
NATIVE_LLM ?= 1
HOST ?= 127.0.0.1
PORT ?= 7860
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install browser serve ingest eval bench clean

install: $(VENV)/.installed

# CPU torch first (pinned), so nothing pulls the CUDA build; then the project with its extras.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[local,test]"
	@if [ "$(NATIVE_LLM)" != 0 ]; then scripts/native_llm.sh $(BIN)/python; fi
	@touch $@

# Debian's Chromium for the real-browser tests (never `playwright install`: it downloads).
browser:
	@test -x /usr/lib/chromium/chromium || test -x /usr/bin/chromium || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

ingest: install
	$(BIN)/newscite ingest $(ARTICLES)

run: install
	$(BIN)/newscite serve --ingest $(ARTICLES) --host $(HOST) --port $(PORT)

test: install browser
	$(BIN)/python -m pytest -q

eval: install
	$(BIN)/newscite eval

bench: install
	$(BIN)/newscite bench

clean:
	rm -rf .newscite .pytest_cache test-artifacts
