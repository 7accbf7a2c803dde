"""Numbers that two chapters both print agree: the same evaluation gives the same row."""
from __future__ import annotations

import pytest

from conftest import REPO
from test_published import _run

pytestmark = pytest.mark.notebooks


def _table_row(extracted: dict, first_header: str, name: str) -> dict[str, str]:
    """The row ``name`` of the Markdown tables whose first header is ``first_header``, as
    {header: cell}, from a chapter's extracted text outputs; a wide table shown as several
    narrow ones (the same first column) gives one merged row."""
    row: dict[str, str] = {}
    for cell in extracted["cells"]:
        for text in cell["text"]:
            lines = [ln for ln in text.splitlines() if ln.startswith("|")]
            if len(lines) < 3 or lines[0].strip("| ").split(" | ")[0] != first_header:
                continue
            headers = [h.strip() for h in lines[0].strip().strip("|").split("|")]
            for ln in lines[2:]:
                cells = [c.strip() for c in ln.strip().strip("|").split("|")]
                if cells[0] == name:
                    row.update(zip(headers, cells))
    if not row:
        raise AssertionError(f"no table with first header {first_header!r} and a row {name!r}")
    return row


def test_baselines_row_of_the_map_is_chapter_4s(notebook_executor):
    """Chapter 8's row for the shipped network comes from the same evaluation as chapter 4's
    table of variants: every column the two tables share holds the same value."""
    ours = _table_row(_run(REPO / "book" / "08_other_methods.md", notebook_executor),
                      "method", "original")
    theirs = _table_row(_run(REPO / "book" / "04_network.md", notebook_executor),
                        "variant", "original")
    shared = sorted(set(ours) & set(theirs))
    assert len(shared) >= 8, shared
    assert {h: ours[h] for h in shared} == {h: theirs[h] for h in shared}
