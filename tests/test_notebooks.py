"""Execute every chapter of the book (papermill) and check it is reproducible (nbval).

For each ``book/NN_*.md`` chapter in ``_toc.yml``:

* ``test_papermill`` converts it with jupytext, runs it with papermill (``fast=True``,
  kernel ``python3`` = this virtualenv, working directory ``book/``) and writes
  ``tests/_executed/NN_*.ipynb``;
* ``test_nbval`` re-executes that notebook with nbval and compares the outputs, after the
  substitutions in ``tests/nbval_sanitize.cfg``. Cells tagged ``nbval-ignore-output`` (plots,
  timings) are executed but not compared; images are never compared.

Run only these checks with ``pytest -m notebooks``; skip them with ``-m "not notebooks"``.
"""
from __future__ import annotations

import pytest

from conftest import REPO, chapter_notebooks, run_nbval

CHAPTERS = chapter_notebooks()
IDS = [path.stem for path in CHAPTERS]
TAIL_CHARS = 6000


def _tail(text: str, n: int = TAIL_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= n else "...\n" + text[-n:]


@pytest.mark.notebooks
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_papermill(chapter, notebook_executor):
    import papermill as pm

    try:
        output = notebook_executor.execute(chapter)
    except pm.PapermillExecutionError as exc:
        pytest.fail(
            f"{chapter.relative_to(REPO)} failed under papermill (fast=True) in cell "
            f"{exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"partial output: tests/_executed/{chapter.stem}.ipynb\n\n"
            + _tail("\n".join(exc.traceback)),
            pytrace=False,
        )
    assert output.exists()


@pytest.mark.notebooks
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_nbval(chapter, notebook_executor):
    executed = notebook_executor.ensure(chapter)
    proc = run_nbval(executed)
    if proc.returncode != 0:
        pytest.fail(
            f"nbval: re-executing {executed.relative_to(REPO)} did not reproduce its outputs "
            f"(exit code {proc.returncode}). Tag cells whose output legitimately varies with "
            f"`nbval-ignore-output`, or extend tests/nbval_sanitize.cfg.\n"
            f"--- nbval output (tail) ---\n{_tail(proc.stdout + proc.stderr)}",
            pytrace=False,
        )
