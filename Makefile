# hh-nn-book: build the executable book and run its tests from a fresh clone.
#   make book   -> executes every chapter and writes HTML to _build/html
#   make test   -> pytest (tests/): papermill + nbval on every chapter, plus unit tests
#   make clean  -> removes build outputs (keeps .venv); make distclean also removes .venv

SHELL      := bash
PYTHON     ?= python3
VENV       ?= .venv
PY         := $(VENV)/bin/python
PIP        := $(VENV)/bin/pip
STAMP      := $(VENV)/.installed
# Sphinx warnings (e.g. unknown citations, broken references) fail the build; --keep-going
# reports all of them first. Notebook execution errors fail the build via
# execute.raise_on_error in _config.yml. Override with `make book BOOK_FLAGS=` if needed.
BOOK_FLAGS ?= -W --keep-going
PYTEST_FLAGS ?=

.PHONY: all venv book test clean distclean

all: test book

venv: $(STAMP)

# Internal: create the venv if missing, install the exact pins, the project (editable),
# and register the venv's interpreter as the `python3` Jupyter kernel (inside the venv,
# so papermill, nbval and jupyter-book started from the venv all resolve to it).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3"
	@touch $@

book: venv
	$(VENV)/bin/jupyter-book build . --all --builder html $(BOOK_FLAGS)
	@test -f _build/html/index.html

test: venv
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_FLAGS)

clean:
	rm -rf _build tests/_executed .jupyter_cache .pytest_cache
	rm -f book/*.ipynb
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf
	find . -path ./$(VENV) -prune -o -name .ipynb_checkpoints -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) *.egg-info
