"""nbval on the published book: each chapter executed once, compared with committed outputs.

``make refs`` commits every chapter's executed notebook, as the book publishes it, to
``references/notebooks/NN_name.ipynb`` (images removed: figures are not compared). ``make
test`` collects those notebooks with nbval: one kernel per chapter, started in ``book/`` as
the book's build starts it, runs the *current* cells of ``book/NN_name.md``, one pytest item
per code cell, and compares each cell's outputs with the committed ones:

* nbval's own rules (the sanitisers of ``tests/nbval_sanitize.cfg``, images and metadata
  skipped), except that numbers are compared within tolerance and within the spread that
  last-bit perturbations measured (``tests/refs.py``): nbval compares text exactly, and a
  chaotic quantity has no exact value to compare;
* a cell whose source is not the committed one fails (run ``make refs``), so a chapter
  cannot drift from its references; a cell tagged ``nbval-ignore-output`` (figures only)
  is executed, not compared.

The outputs of the run are written to ``tests/_executed/`` when the chapter ends, where
``tests/test_published.py`` checks glued values and targets without executing it again,
and `make book` publishes them without executing the chapter again (``tests/book_cache.py``).
Loaded with ``-p nbval_book`` (``pyproject.toml``).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbval.plugin import IPyNbCell, IPyNbFile, RunningKernel

import book_cache
import refs

NOTEBOOKS = refs.REFERENCES / "notebooks"


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".ipynb" and file_path.parent == NOTEBOOKS:
        return PublishedChapter.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(items):
    """Chapters first: the glue and target checks read what their run wrote."""
    items.sort(key=lambda item: not isinstance(item, ChapterCell))


class PublishedChapter(IPyNbFile):
    """One chapter: the current cells, the committed outputs, one kernel in ``book/``."""

    def setup(self):
        self.kernel = RunningKernel("python3", cwd=str(refs.BOOK),
                                    startup_timeout=self.config.option.nbval_kernel_startup_timeout)
        client = self.kernel.kc

        def execute(source, allow_stdin=None):
            # nbval sends cells with store_history=False; IPython then cannot see a cell's
            # trailing ";" and displays the value it should hide, as no notebook front end
            # (papermill, Jupyter Book) does
            return client.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)

        self.kernel.execute_cell_input = execute
        self.sanitize_patterns = {}
        self.outputs: list = []

    def collect(self):
        import jupytext

        stem = self.path.stem
        chapter = refs.BOOK / f"{stem}.md"
        if not chapter.exists():
            raise FileNotFoundError(f"{self.path} has no chapter {chapter}")
        published = nbformat.read(str(self.path), as_version=4)
        current = jupytext.read(chapter)
        old = [c for c in published.cells if c.cell_type == "code"]
        self.nb = current
        self.stem = stem
        self.inputs_key = book_cache.inputs_key(chapter)
        self.tolerance, _ = refs.load_tolerances()
        self.reference = refs.load_reference(stem)
        self.perturbed = refs.load_perturbed(stem)
        code = [c for c in current.cells if c.cell_type == "code"]
        for i, cell in enumerate(code):
            ref = old[i] if i < len(old) else None
            tags = set(cell.metadata.get("tags", []))
            stale = ref is None or ref.source != cell.source
            options = {"check": refs.IGNORE_TAG not in tags, "skip": False,
                       "check_exception": False, "stale": stale}
            shown = nbformat.from_dict(dict(cell, outputs=[] if ref is None else ref.outputs,
                                            execution_count=None if ref is None else 1))
            yield ChapterCell.from_parent(self, name=f"{stem}::cell {i + 1}", cell_num=i,
                                          cell=shown, options=options)
        self.n_cells = len(code)

    def teardown(self):
        """Write what ran (the glue and target checks read it), then stop the kernel."""
        if self.outputs:
            nb = nbformat.v4.new_notebook(metadata=dict(self.nb.metadata))
            failed = any(o.get("output_type") == "error" for outs in self.outputs for o in outs)
            if not failed:          # `make book` publishes it (tests/book_cache.py)
                nb.metadata[book_cache.KEY_FIELD] = self.inputs_key
            code = iter(self.outputs)
            for cell in self.nb.cells:
                if cell.cell_type == "code":
                    outs = next(code, [])
                    nb.cells.append(nbformat.v4.new_code_cell(cell.source, outputs=outs,
                                                              metadata=cell.metadata))
                else:
                    nb.cells.append(cell)
            refs.EXECUTED.mkdir(parents=True, exist_ok=True)
            path = refs.EXECUTED / f"{self.stem}.ipynb"
            if len(self.outputs) == self.n_cells:
                nbformat.write(nb, str(path))
            else:                                   # a partial run is never taken as a result
                path.unlink(missing_ok=True)
        super().teardown()


class ChapterCell(IPyNbCell):
    def runtest(self):
        if self.options["stale"]:
            # run it all the same, so that the cells after it see its variables
            try:
                super().runtest()
            finally:
                self.parent.outputs.append(self.test_outputs or [])
            pytest.fail(f"{self.parent.stem}, code cell {self.cell_num + 1}: the chapter's "
                        "cell is not the one in references/notebooks/ (run `make refs`, and "
                        "say in the commit which results moved)", pytrace=False)
        try:
            super().runtest()
        finally:
            self.parent.outputs.append(self.test_outputs or [])

    def compare_outputs(self, test, ref, skip_compare=None):
        """Text outputs compared by ``refs`` (tolerances, perturbation spread)."""
        chapter = self.parent.stem
        new = refs.cell_texts(test)
        old = refs.cell_texts(ref)
        i = self.cell_num
        cells = self.parent.reference["cells"]
        runs = refs.perturbed_texts(cells, i, self.parent.perturbed) if i < len(cells) else []
        problems = []
        if len(new) != len(old):
            problems.append(f"{len(new)} text outputs, the committed notebook has {len(old)}")
        else:
            for k, (o, n) in enumerate(zip(old, new)):
                why = refs.compare_text(o, n, self.parent.tolerance, [r[k] for r in runs])
                if why:
                    problems.append(f"{why}\n  committed: {refs._snippet(o)}\n"
                                    f"  now:       {refs._snippet(n)}")
        self.comparison_traceback = [f"{chapter}, code cell {i + 1}: {p}" for p in problems]
        return not problems
