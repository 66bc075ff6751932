# The two commands in the README do the whole set-up: each creates or refreshes .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crisiswatch demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[train]'
	$(BIN)/python benchmarks/sentiment.py
	$(BIN)/python benchmarks/classify.py
	$(BIN)/python benchmarks/enrich.py
	$(BIN)/python benchmarks/nab_score.py
	$(BIN)/python benchmarks/detect.py

clean:
	rm -rf $(VENV) crisiswatch-demo.db* .pytest_cache
