"""The published book reproduces its committed reference results.

Every chapter in ``_toc.yml`` is executed once, in its published mode (``fast=False``, as
``make book`` runs it), and compared with ``references/NN_name.json`` (made by ``make refs``;
how the comparison works and which tolerances apply: ``tests/refs.py`` and
``references/tolerances.toml``):

* ``test_chapter_executes``: the chapter runs without error;
* ``test_text_outputs_match_references``: every compared cell prints what the references
  hold (sanitised; numbers within tolerance);
* ``test_glued_values_match_references``: every glued value (the numbers the prose
  shows) agrees within the tolerance declared for it, and none appears or disappears;
* ``test_targets_met_in_references_stay_met``: a target recorded as met stays met;
* ``test_glue_roles_resolve``: every ``{glue}`` role in the chapter's prose names a value
  the chapter glues.

Run only these with ``pytest -m notebooks``; skip them with ``-m "not notebooks"``.
"""
from __future__ import annotations

import functools

import pytest

from conftest import REPO, chapter_notebooks
import refs

CHAPTERS = chapter_notebooks()
IDS = [path.stem for path in CHAPTERS]
pytestmark = [pytest.mark.notebooks, pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)]


@functools.lru_cache(maxsize=None)
def _extracted(path: str, mtime: float) -> dict:
    from pathlib import Path
    return refs.extract(Path(path))


def _run(chapter, notebook_executor) -> dict:
    out = notebook_executor.ensure(chapter)
    return _extracted(str(out), out.stat().st_mtime)


def _report(problems: list[str]) -> None:
    if problems:
        pytest.fail(f"{len(problems)} difference(s) from the reference results "
                    "(if the change is intended, regenerate with `make refs` and say in the "
                    "commit message which results moved and why):\n\n" + "\n".join(problems),
                    pytrace=False)


def test_chapter_executes(chapter, notebook_executor):
    import papermill as pm

    try:
        notebook_executor.ensure(chapter)
    except pm.PapermillExecutionError as exc:
        pytest.fail(f"{chapter.relative_to(REPO)} failed in cell {exc.exec_count}: "
                    f"{exc.ename}: {exc.evalue}\npartial output: tests/_executed/"
                    f"{chapter.stem}.ipynb\n\n" + "\n".join(exc.traceback)[-6000:],
                    pytrace=False)


def test_text_outputs_match_references(chapter, notebook_executor):
    new = _run(chapter, notebook_executor)
    default, _ = refs.load_tolerances()
    _report(refs.compare_cells(chapter.stem, refs.load_reference(chapter.stem), new, default,
                               refs.load_perturbed(chapter.stem)))


def test_glued_values_match_references(chapter, notebook_executor):
    new = _run(chapter, notebook_executor)
    default, rules = refs.load_tolerances()
    _report(refs.compare_glue(chapter.stem, refs.load_reference(chapter.stem), new, default,
                              rules, refs.load_perturbed(chapter.stem)))


def test_targets_met_in_references_stay_met(chapter, notebook_executor):
    new = _run(chapter, notebook_executor)
    _report(refs.targets_regressions(chapter.stem, refs.load_reference(chapter.stem), new,
                                     refs.load_perturbed(chapter.stem)))


def test_glue_roles_resolve(chapter, notebook_executor):
    new = _run(chapter, notebook_executor)
    missing = sorted(refs.glue_roles(chapter) - set(new["glue"]))
    assert not missing, (f"{chapter.name} uses glue roles for values it never glues: "
                         f"{missing}")


def test_chapter_has_its_published_notebook(chapter):
    """nbval runs a chapter only through its committed notebook (references/notebooks/)."""
    path = refs.NOTEBOOKS / f"{chapter.stem}.ipynb"
    assert path.exists(), f"{path.relative_to(REPO)} is missing: run `make refs`"


def test_spread_measured_for_every_compared_output(chapter):
    """Every compared output was also produced by each perturbed run (`make spread`), so
    that a chaotic one is compared within its measured spread, not to the last digit."""
    perturbed = refs.load_perturbed(chapter.stem)
    missing = [s for s in refs.PERTURBATIONS
               if not any(p["setting"] == s for p in perturbed)]
    assert not missing, f"{chapter.stem}: no perturbed run {missing}: run `make spread`"
    stale = refs.stale_spread(refs.load_reference(chapter.stem), perturbed)
    assert not stale, (f"{chapter.stem}: the perturbed runs predate these outputs (run "
                       f"`make spread`): " + "; ".join(stale[:10]))
