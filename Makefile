# hh-nn-book: build the executable book and run its tests from a fresh clone.
#   make book   -> executes every chapter whose inputs changed since make test or the last
#                  build (each chapter runs once for both commands), HTML in _build/html,
#                  each chapter's executed notebook with its numbers in the prose behind the
#                  page's download button (scripts/export_notebooks.py), then checks the pages
#                  for defects a reader would see (tests/check_html.py)
#   make test   -> pytest: every chapter in its published mode compared with the committed
#                  reference results (references/), then the unit tests (tests/) on every core
#   make refs   -> re-executes every chapter and rewrites references/ (on purpose only)
#   make spread -> re-executes every chapter under last-bit perturbations of the CPU kernels
#                  and records their results (references/perturbed/): the measured spread
#                  within which make test compares chaotic quantities
#   make lab    -> JupyterLab with the chapters (book/*.md) opening as notebooks
#   make student -> _build/student/NN_name.md: the chapters with every solution's code stubbed
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

.PHONY: all venv book book-clean test refs spread lab student clean distclean

all: test book

venv: $(STAMP)

# Internal: create the venv if missing, install the exact pins, the project (editable),
# the start-up file that pins MKL's code path in every process of the venv (hhlib/kernels.py;
# HHLIB_PIN_KERNELS=0 switches it off), and register the venv's interpreter as the `python3` Jupyter kernel (inside the venv,
# so papermill and jupyter-book started from the venv both resolve to it).
$(STAMP): requirements.lock pyproject.toml hhlib/kernels.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	$(PY) -c 'import sysconfig, hhlib.kernels as k; print("wrote", k.write_pth(sysconfig.get_paths()["purelib"]))'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3"
	@touch $@

# Chapters whose inputs are unchanged since `make test` (or the last build) are not executed
# again (tests/book_cache.py); `make book-clean` forgets them and the next build executes all.
book: venv
	$(PY) tests/book_cache.py sync
	$(VENV)/bin/jupyter-book build . --all --builder html $(BOOK_FLAGS)
	@test -f _build/html/index.html
	$(PY) scripts/export_notebooks.py _build/jupyter_execute _build/html
	$(PY) tests/check_html.py _build/html
	$(PY) tests/book_cache.py stamp

book-clean:
	$(PY) tests/book_cache.py clear

# The chapters first, one at a time, with the tests that read their runs: chapter 7 times
# its own benchmark and `make book` publishes these runs, so nothing else may load the
# machine meanwhile. Then the unit tests, spread over every core (pytest-xdist; TEST_WORKERS=1
# runs them in one process). Both stages always run; exit status 5 (a PYTEST_FLAGS filter
# left a stage nothing to run) is not a failure.
TEST_WORKERS ?= auto
CHAPTER_TESTS := references/notebooks tests/test_published.py tests/test_cross_chapter.py
test: venv
	@rc=0; \
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_FLAGS) $(CHAPTER_TESTS) || { s=$$?; [ $$s -eq 5 ] || rc=$$s; }; \
	$(PY) -m pytest -p no:cacheprovider -n $(TEST_WORKERS) $(PYTEST_FLAGS) tests \
	  $(addprefix --ignore=,$(filter tests/%,$(CHAPTER_TESTS))) || { s=$$?; [ $$s -eq 5 ] || rc=$$s; }; \
	exit $$rc

# JupyterLab on the chapters, for students: jupytext (pinned) opens and saves each
# book/*.md as a notebook with a double click. .jupyter/ (put on Jupyter's config path for
# this command only) sets that default viewer and turns off JupyterLab's online extension
# manager, news (and the prompt asking about them) and update checks. A chapter's kernel
# starts in book/, as in the build.
# E.g. `make lab LAB_FLAGS="--no-browser --port 8890"`. As root (containers, some
# classroom machines) Jupyter refuses to start without --allow-root, so it is added then.
LAB_FLAGS ?=
LAB_ROOT   = $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
lab: venv
	JUPYTER_CONFIG_PATH="$(CURDIR)/.jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(LAB_ROOT) $(LAB_FLAGS)

# The chapters for students (book/teaching.md): every exercise solution's code replaced by
# `...  # your code here`, all else unchanged. The script needs only the standard library,
# so a teacher can make the copy without installing the book's environment.
student:
	$(PYTHON) scripts/make_student_copy.py --out _build/student

clean:
	rm -rf _build tests/_executed tests/_perturbed .jupyter_cache .pytest_cache
	rm -f book/*.ipynb
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf
	find . -path ./$(VENV) -prune -o -name .ipynb_checkpoints -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV) *.egg-info

# Reference results of the published book (references/*.json), compared by `make test`.
# Regenerate them on purpose when a result changes, and say in the commit which moved and why.
refs: venv
	$(PY) tests/refs.py regenerate $(REFS_FLAGS)

# The spread of every chaotic quantity under last-bit perturbations of the kernels (tests/refs.py,
# PERTURBATIONS). Rerun after `make refs` when a chapter's cells changed: make test compares
# a cell within the spread only where the perturbed runs executed the same cell. Chapters 4,
# 5, 6 and 8 print what the perturbed runs moved (book/perturbations.py): after a new spread,
# regenerate their references once more (tests/refs.py regenerate STEM, or
# --from-executed after a make test) where that section changed.
SPREAD_SETTINGS ?= unpinned mkl-avx2 numpy-avx2-openblas-haswell
spread: venv
	for s in $(SPREAD_SETTINGS); do $(PY) tests/refs.py perturb $$s || exit 1; done
