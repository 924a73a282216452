# Two commands on a fresh machine:  make run  (the app)   make test  (every test)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test test-fast lint browser checkpoints sweep screenshots clean

# The app's venv: runtime packages only.
$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Test extras (pytest, playwright) on top.
$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) -m streamlit run app.py --server.port $(PORT)

# Debian's Chromium for the browser tests (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Lint (ruff) and types (mypy) first: configured in pyproject.toml.
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint browser
	$(PY) -m pytest

# Everything but the real-browser tests.
test-fast: lint
	$(PY) -m pytest -m "not browser"

# Retrain the shipped checkpoints: make checkpoints MNIST_ROOT=../shared/data FASHION_ROOT=data
checkpoints: $(VENV)/.runtime
	PYTHON=$(PY) scripts/train_shipped.sh $(MNIST_ROOT) $(FASHION_ROOT) $(EPOCHS)

# Re-run the shipped sweep (results/, read by "The answers, tested"): make sweep MNIST_ROOT=../shared/data
sweep: $(VENV)/.runtime
	PYTHON=$(PY) scripts/sweep_shipped.sh $(MNIST_ROOT)

clean:
	rm -rf $(VENV) .pytest_cache test-output

# README screenshots, taken by the browser test.
screenshots: $(VENV)/.dev browser
	SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest -q tests/test_browser.py tests/test_first_screen.py
