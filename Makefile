# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.llamapipe-installed
DEMO   ?= .demo

.PHONY: setup demo test bench clean

# fastText inference is rebuilt from source for this CPU (the PyPI wheel is generic x86-64 and
# about 2x slower; the labels and rounded scores are identical). NATIVE_FASTTEXT=0 keeps the wheel.
NATIVE_FASTTEXT ?= 1
NATIVE_FLAGS    := -O3 -march=native -funroll-loops
FASTTEXT_PKG    := fasttext-predict==0.9.2.4

$(STAMP): pyproject.toml setup.py dedup/_shingle.c corpus/_normalize.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test,train]'
	@if [ "$(NATIVE_FASTTEXT)" = 1 ]; then \
	  echo "building fastText inference for this CPU ($(NATIVE_FLAGS))"; \
	  CFLAGS="$(NATIVE_FLAGS)" CXXFLAGS="$(NATIVE_FLAGS)" $(PY) -m pip install -q --force-reinstall \
	    --no-deps --no-binary fasttext-predict '$(FASTTEXT_PKG)'; fi
	@touch $(STAMP)

setup: $(STAMP)
	@$(PY) -m filters.kenlm_build
	@$(PY) -m filters.fasttext_build

demo: setup
	$(PY) -m pipelines.cli.demo --workdir $(DEMO)

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(DEMO) .pytest_cache
