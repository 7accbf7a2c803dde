"""The student copy (scripts/make_student_copy.py, ``make student``): every solution's code
is a stub, every other cell is the chapter's own, and a stubbed chapter still runs."""
from __future__ import annotations

import re
import sys

import jupytext
import pytest

from conftest import BOOK, REPO, chapter_notebooks

sys.path.insert(0, str(REPO / "scripts"))
import make_student_copy as student  # noqa: E402

CHAPTERS = chapter_notebooks()


def _solution_flags(nb) -> list[bool]:
    """For each cell, whether it lies between {solution-start} and {solution-end}."""
    flags, inside = [], False
    for cell in nb.cells:
        flags.append(inside and cell.cell_type == "code")
        if cell.cell_type == "markdown":
            for m in re.finditer(r"\{solution-(start|end)\}", cell.source):
                inside = m.group(1) == "start"
    return flags


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert student.main(["--out", str(out)]) == 0
    return out


def test_every_chapter_is_copied(copies):
    assert sorted(p.name for p in copies.glob("*.md")) == sorted(p.name for p in CHAPTERS)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_solutions_stubbed_and_all_else_unchanged(copies, path):
    book = jupytext.read(path)
    copy = jupytext.read(copies / path.name)
    assert [c.cell_type for c in copy.cells] == [c.cell_type for c in book.cells]
    flags = _solution_flags(book)
    assert any(flags), f"{path.name}: no solution code found"
    for k, (orig, new, is_solution) in enumerate(zip(book.cells, copy.cells, flags)):
        if is_solution:
            lines = new.source.splitlines()
            assert lines[-1] == student.STUB, (path.name, k, new.source)
            assert all(ln.startswith("#") for ln in lines[:-1]) and len(lines) <= 2
            assert new.metadata == orig.metadata
        else:
            assert new.source == orig.source and new.metadata == orig.metadata, (path.name, k)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_chapter_code_after_the_solutions_begin(path):
    """A stubbed solution defines nothing, so no cell outside the solutions may come after
    the first of them (it could need a solution's names and fail in the student copy)."""
    nb = jupytext.read(path)
    flags = _solution_flags(nb)
    first = flags.index(True)
    others = [c.source.splitlines()[0] for c, f in zip(nb.cells[first:], flags[first:])
              if c.cell_type == "code" and not f]
    assert not others, f"{path.name}: code cells after the first solution: {others}"


def test_text_outside_solutions_is_byte_identical():
    text = (BOOK / "01_model.md").read_text(encoding="utf-8")
    copy = student.student_text(text)
    head = text.split("```{solution-start}", 1)[0]
    assert copy.startswith(head)
    assert copy.count("\n```\n") == text.count("\n```\n")


def test_stub_keeps_the_first_comment_line():
    text = ("```{solution-start} x-ex-1\n:class: dropdown\n```\n\nProse.\n\n"
            "```{code-cell} ipython3\n---\ntags: [x]\n---\nimport numpy as np\n"
            "    # the step, scaled per variable\nh = 1\n# second\n```\n\n"
            "```{code-cell} ipython3\n:tags: [y]\n\nimport time\n```\n\n"
            "```{solution-end}\n```\n\n```{code-cell} ipython3\nkept = 1\n```\n")
    copy = student.student_text(text)
    assert ("```{code-cell} ipython3\n---\ntags: [x]\n---\n"
            "# the step, scaled per variable\n...  # your code here\n```\n") in copy
    assert "```{code-cell} ipython3\n:tags: [y]\n\n...  # your code here\n```\n" in copy
    assert "kept = 1" in copy and "h = 1" not in copy and "import" not in copy


@pytest.mark.notebooks
def test_student_chapter_one_runs(copies, tmp_path, venv_kernel):
    """Chapter 1's student copy, fast, executes to the end with its stubs."""
    import papermill as pm

    source = tmp_path / "01_model.ipynb"
    jupytext.write(jupytext.read(copies / "01_model.md"), source, fmt="ipynb")
    pm.execute_notebook(str(source), str(tmp_path / "01_model.out.ipynb"),
                        parameters={"fast": True}, kernel_name=venv_kernel, cwd=str(BOOK),
                        progress_bar=False, execution_timeout=600)
