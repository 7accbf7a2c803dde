"""Markdown tables: a "|" inside a cell must not split it (issue 26)."""
from __future__ import annotations

import re

import pytest

import matplotlib

matplotlib.use("Agg")

from hhlib.plotting import markdown_table  # noqa: E402


def _cells(line: str) -> list[str]:
    """The cells of one table row, split only at unescaped pipes (as GFM/MyST do)."""
    return re.split(r"(?<!\\)\|", line.strip().strip("|"))


def test_pipe_inside_a_cell_is_escaped():
    headers = ["method", "max |dV| (mV)"]
    rows = [["|x| < 1", 0.5], ["plain", 2.0]]
    table = markdown_table(headers, rows).splitlines()
    assert table[0] == r"| method | max \|dV\| (mV) |"
    assert table[2] == r"| \|x\| < 1 | 0.5 |"
    for line in table:
        assert len(_cells(line)) == len(headers), line


def test_already_escaped_pipe_is_not_escaped_twice():
    assert markdown_table([r"a \| b"], [[r"c \| d"]]).splitlines()[2] == r"| c \| d |"


def test_work_precision_table_keeps_its_columns():
    """Chapter 2's work-precision table has "max |dV|" headers."""
    from hhlib.ode.accuracy import WorkPrecision
    wp = WorkPrecision(runs={("LSODA", 1e-6): (0.1, 0.02, 0.001)}, methods=("LSODA",),
                       rtols=(1e-6,), t_end=60.0, window=5.0)
    table = markdown_table(*wp.table()).splitlines()
    assert len(table) == 3
    assert all(len(_cells(line)) == 5 for line in table), table


def test_markdown_table_shows_the_chosen_columns_in_their_order():
    from hhlib.plotting import markdown_table
    text = markdown_table(["a", "b", "c"], [(1, "x", 2.5)], columns=["c", "a"])
    assert text.splitlines()[0] == "| c | a |" and text.splitlines()[2] == "| 2.5 | 1 |"
    for bad in (["d"], [], "a"):
        with pytest.raises(ValueError, match="columns"):
            markdown_table(["a", "b"], [(1, 2)], columns=bad)
