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

.PHONY: demo test test-fast bench clean browser

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	@# exit status 1 only means some learner failed a part; 2 would be a fault of the grader
	$(VENV)/bin/grader grade submissions --assignment mnist_digits --out results; status=$$?; test $$status -le 1

# The report tests look at pages in headless Chromium (Debian's chromium and chromium-driver).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "install chromium and chromium-driver (sudo apt-get install chromium chromium-driver)"; fi; }

test: $(VENV)/.installed browser
	$(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not slow"

bench: $(VENV)/.installed
	$(PY) bench/bench.py

clean:
	rm -rf $(VENV) results .pytest_cache
