"""Every figure of the chapters can be read without seeing it and is referred to (issue 26).

* Each figure cell (``mystnb: figure:``) gives its image an alt text through the cell
  metadata MyST-NB reads for image outputs (``mystnb: image: alt:``); without one, docutils
  writes the image's file name as its alt. Alt text is plain text: no ``$`` math, which a
  screen reader would spell out.
* So does every other cell that draws a figure (``plt.subplots(`` without ``plt.close``: the
  exercise solutions' plots), and every ``{glue:figure}`` directive (its ``:alt:`` option).
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


# A figure directive in the prose: ```{glue:figure} name or ```{figure} path, with options.
FIGURE_DIRECTIVE = re.compile(r"^(`{3,}|:{3,})\{(?:glue:)?figure\}[^\n]*\n((?::[\w-]+:[^\n]*\n)*)",
                              re.M)


def _alt(cell) -> str | None:
    return (cell.metadata.get("mystnb", {}).get("image") or {}).get("alt")


def _plain_alt(alt) -> bool:
    return isinstance(alt, str) and len(alt.split()) >= 5 and "$" not in alt


def directive_figures(nb) -> list[tuple[str | None, str | None]]:
    """``(name, alt)`` of every figure directive in the Markdown cells."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for m in FIGURE_DIRECTIVE.finditer(cell.source):
            opts = dict(re.findall(r"^:([\w-]+):\s*(.*)$", m.group(2), re.M))
            found.append((opts.get("name"), opts.get("alt")))
    return found


def cited_names(nb) -> set[str]:
    return {name for c in nb.cells if c.cell_type == "markdown"
            for name in NUMREF.findall(c.source)}


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_figure_has_alt_text(path):
    nb = jupytext.read(path)
    missing = [c.metadata["mystnb"]["figure"].get("name") for c in figure_cells(nb)
               if not _plain_alt(_alt(c))]
    missing += [c.source.splitlines()[0] for c in nb.cells
                if c.cell_type == "code" and "plt.subplots(" in c.source
                and "plt.close(" not in c.source and not _plain_alt(_alt(c))]
    missing += [name for name, alt in directive_figures(nb) if not _plain_alt(alt)]
    assert not missing, (f"{path.name}: figures without a plain-text alt of a few words "
                         f"(mystnb: image: alt:, or :alt: of a figure directive): {missing}")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_figure_is_cited_in_its_chapter(path):
    nb = jupytext.read(path)
    names = [c.metadata["mystnb"]["figure"].get("name") for c in figure_cells(nb)]
    names += [name for name, _ in directive_figures(nb)]
    assert all(names), f"{path.name}: a figure cell without a name"
    uncited = [n for n in names if n not in cited_names(nb)]
    assert not uncited, f"{path.name}: figures never cited by {{numref}} in the prose: {uncited}"


def test_directive_figures_are_read():
    nb = jupytext.reads("Text.\n\n```{glue:figure} fig_x\n:name: fig-x\n:alt: A b c d e.\n\n"
                        "Caption.\n```\n", fmt="md:myst")
    assert directive_figures(nb) == [("fig-x", "A b c d e.")]


def test_numref_pattern():
    nb = jupytext.reads("See {numref}`fig-a` and {numref}`Figure %s <fig-b>`.\n",
                        fmt="md:myst")
    assert cited_names(nb) == {"fig-a", "fig-b"}
