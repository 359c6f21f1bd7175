# The two set-up commands of the README:
#   make demo   grade the sample submissions in submissions/ and print the gradebook
#   make test   run the whole test suite
# Each creates the virtual environment it needs (.venv) on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

# On the project's machines MNIST cannot be downloaded; use the shared copy when it is there.
# On a user's machine the keras cache or the official download is used instead.
SHARED_MNIST := $(wildcard ../shared/data/mnist.npz)
ifneq ($(SHARED_MNIST),)
export GRADER_DATA_MNIST ?= $(abspath $(SHARED_MNIST))
endif

.PHONY: demo test test-fast bench bench-similarity docs clean system-deps

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	@# exit status 1 only means some learner failed a part; 2 would be a fault of the grader
	$(VENV)/bin/grader grade submissions --assignment mnist_digits --out results; status=$$?; test $$status -le 1

# System packages the tests use: Debian's chromium and chromium-driver (the report pages are
# looked at in headless Chromium) and bubblewrap (the kernels' sandbox). Installed when missing
# and running as root (CI); otherwise the command to run is printed.
SYSTEM_PACKAGES := chromium chromium-driver bubblewrap
system-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  else echo "please install: sudo apt-get install $(SYSTEM_PACKAGES)"; fi; }

# Two workers, each taking whole files (a file's module fixtures, such as the golden notebooks'
# gradings, are made once); see docs/developer/tests.md.
PYTEST_WORKERS := -n 2 --dist loadfile

test: $(VENV)/.installed system-deps
	$(PY) -m pytest $(PYTEST_WORKERS)

test-fast: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_WORKERS) -m "not slow"

bench: $(VENV)/.installed
	$(PY) bench/bench.py

bench-similarity: $(VENV)/.installed
	$(PY) bench/bench_similarity.py
	$(PY) bench/bench_similarity_detection.py

# The documentation site (docs/, mkdocs.yml) into site/; --strict: a broken link or anchor fails.
# `$(VENV)/bin/mkdocs serve` serves it while you edit.
docs: $(VENV)/.installed
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) results .pytest_cache site
