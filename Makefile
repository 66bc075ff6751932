# The two commands in the README do the whole set-up: each creates or refreshes .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The dashboard's browser assets: ECharts from npm, copied into the package's static folder.
FRONTEND := monitor/dashboard/frontend
ASSETS := monitor/dashboard/static/vendor/echarts.min.js

.PHONY: demo test lint bench clean browser servers constraints

# constraints.txt pins every package (`make constraints` refreshes it), so installs on different days match.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

$(ASSETS): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json $(FRONTEND)/build.js
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $(ASSETS)

# The dashboard tests drive Debian's Chromium (never a downloaded build); CJK fonts make its screenshots legible.
browser:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk)

# The state-store and crawl-frontier tests start throwaway PostgreSQL and Redis servers from Debian's packages.
servers:
	(ls /usr/lib/postgresql/*/bin/initdb && command -v redis-server) >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq postgresql redis-server)

demo: $(STAMP) $(ASSETS)
	$(BIN)/crisiswatch demo

test: $(STAMP) $(ASSETS) browser servers
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[train]'
	$(BIN)/python benchmarks/sentiment.py
	$(BIN)/python benchmarks/classify.py
	$(BIN)/python benchmarks/enrich.py
	$(BIN)/python benchmarks/nab_score.py
	$(BIN)/python benchmarks/detect.py

# Re-resolve every dependency in a scratch venv and pin what it got (after changing pyproject.toml).
constraints:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,train]'
	(echo "# pip constraints: every package crisiswatch installs, pinned; refresh with make constraints"; \
	 .venv-pin/bin/python -m pip freeze --exclude-editable | sort -f) > constraints.txt
	rm -rf .venv-pin

clean:
	rm -rf $(VENV) crisiswatch-demo.db* .pytest_cache
