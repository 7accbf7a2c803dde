"""Every figure of the chapters can be read without seeing it and is referred to (issue 26).

* Each figure cell (``mystnb: figure:``) gives its image an alt text through the cell
  metadata MyST-NB reads for image outputs (``mystnb: image: alt:``); without one, docutils
  writes the image's file name as its alt. Alt text is plain text: no ``$`` math, which a
  screen reader would spell out.
* Each figure's ``name`` is cited by ``{numref}`` in the prose (Markdown cells) of its own
  chapter, so that no figure stands unexplained.

A pure-text check of the chapters' sources (jupytext), no execution.
"""
from __future__ import annotations

import re

import jupytext
import pytest

from conftest import chapter_notebooks

CHAPTERS = chapter_notebooks()
# {numref}`fig-x` and {numref}`Figure %s <fig-x>`.
NUMREF = re.compile(r"\{numref\}`(?:[^`<]*<)?([\w:.-]+)>?`")


def figure_cells(nb):
    return [c for c in nb.cells
            if c.cell_type == "code" and "figure" in c.metadata.get("mystnb", {})]


def cited_names(nb) -> set[str]:
    return {name for c in nb.cells if c.cell_type == "markdown"
            for name in NUMREF.findall(c.source)}


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_figure_has_alt_text(path):
    missing = []
    for cell in figure_cells(jupytext.read(path)):
        meta = cell.metadata["mystnb"]
        alt = (meta.get("image") or {}).get("alt")
        if not isinstance(alt, str) or len(alt.split()) < 5 or "$" in alt:
            missing.append(meta["figure"].get("name", cell.source.splitlines()[0]))
    assert not missing, (f"{path.name}: figures without a plain-text alt of a few words "
                         f"(mystnb: image: alt:): {missing}")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_figure_is_cited_in_its_chapter(path):
    nb = jupytext.read(path)
    names = [c.metadata["mystnb"]["figure"].get("name") for c in figure_cells(nb)]
    assert all(names), f"{path.name}: a figure cell without a name"
    uncited = [n for n in names if n not in cited_names(nb)]
    assert not uncited, f"{path.name}: figures never cited by {{numref}} in the prose: {uncited}"


def test_numref_pattern():
    nb = jupytext.reads("See {numref}`fig-a` and {numref}`Figure %s <fig-b>`.\n",
                        fmt="md:myst")
    assert cited_names(nb) == {"fig-a", "fig-b"}
