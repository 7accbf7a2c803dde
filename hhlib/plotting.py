"""Small plotting and table helpers shared by the chapters (Matplotlib only).

Functions draw on an ``Axes`` they are given and return it, so a chapter keeps control of
its figure layout; nothing here changes Matplotlib's global state except :func:`style`,
which a chapter calls once on purpose.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from .checks import interval, real_array, trace

__all__ = ["style", "fit_to_column", "markdown_table", "plot_voltage", "plot_isi_diagram",
           "check_ax", "check_axes"]


# The book's text column, in CSS px, at a 1920-px-wide desktop (sphinx-book-theme 1.3 on
# pydata-sphinx-theme 0.17): the page is 88rem = 1408 px, less the left sidebar (20 %) and
# the page's contents (17rem), less the article's padding (2 x 2rem) and a cell output's
# indent (1em). A wider image is scaled down to it, and its text with it.
COLUMN_PX = 774


def style() -> None:
    """The book's Matplotlib defaults: readable sizes, light grid, constrained layout, and
    every pyplot figure fitted to the book's column (:func:`fit_to_column`)."""
    mpl.rcParams.update({
        "figure.figsize": (8.0, 3.2), "figure.dpi": 110, "figure.constrained_layout.use": True,
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
        "axes.spines.right": False, "font.size": 10, "legend.frameon": False,
        # Panel titles as large as the labels: "large" ones ran into their neighbours.
        "axes.titlesize": "medium",
        "lines.linewidth": 1.0, "figure.hooks": ["hhlib.plotting:fit_to_column"],
    })


def fit_to_column(fig) -> None:
    """Shrink a figure wider than the book's column to it, keeping its proportions.

    A chapter asks for figures up to 12 in wide; shown in the 774-px column they would be
    scaled to 60 %, their 10-pt labels to 9 px. Drawn at the column's width instead, the
    browser shows them at their own size, so text has the size style() gives it (10 pt =
    15 px at 110 dpi) whatever width the chapter asked for, and lines keep their weight.
    """
    dpi = fig.get_dpi()
    # Jupyter saves figures with bbox_inches="tight", which pads the drawing on each side.
    width = COLUMN_PX / dpi - 2 * mpl.rcParams["savefig.pad_inches"]
    w, h = fig.get_size_inches()
    if w > width:
        fig.set_size_inches(width, h * width / w)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence], fmt: str = "{:.4g}",
                   columns: Sequence[str] | None = None) -> str:
    """A Markdown table; numbers are formatted with ``fmt``, other cells with ``str``.
    ``columns``: the titles of the columns to show, in that order (default all), so that a
    wide table can be shown as several narrow ones."""
    def cell(x):
        if isinstance(x, (bool, np.bool_)):
            return "yes" if x else "no"
        if isinstance(x, (int, np.integer)):
            return str(int(x))
        if isinstance(x, (float, np.floating)):
            return "–" if np.isnan(x) else fmt.format(x)
        return str(x)

    def escaped(text):
        # An unescaped "|" inside a cell ends the cell, and a row with too many cells makes
        # the whole table render as raw text (chapter 2's "max |dV|" headers did).
        # A "|" already escaped by the caller is left alone.
        return re.sub(r"(?<!\\)\|", r"\\|", text)
    if isinstance(headers, str):
        raise TypeError(f"headers must be a sequence of column titles, got the string {headers!r}")
    headers = list(headers)
    rows = [list(r) for r in rows]
    for i, r in enumerate(rows):
        if len(r) != len(headers):
            raise ValueError(f"rows[{i}] has {len(r)} cells for {len(headers)} headers")
    if columns is not None:
        unknown = [c for c in columns if c not in headers]
        if isinstance(columns, str) or unknown or not len(columns):
            raise ValueError(f"columns must be a non-empty list of titles among {headers}, "
                             f"got {columns!r}")
        idx = [headers.index(c) for c in columns]
        headers, rows = [headers[i] for i in idx], [[r[i] for i in idx] for r in rows]
    lines = ["| " + " | ".join(escaped(str(h)) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(escaped(cell(x)) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def check_ax(ax) -> None:
    if not isinstance(ax, mpl.axes.Axes):
        raise TypeError(f"ax must be a Matplotlib Axes, got {type(ax).__name__}")


def plot_voltage(ax: plt.Axes, t: np.ndarray, V: np.ndarray, label: str | None = None,
                 **kw) -> plt.Axes:
    """V (mV) against t (s)."""
    check_ax(ax)
    t, V = trace(t, V)
    ax.plot(t, V, label=label, **kw)
    ax.set_xlabel("t (s)")
    ax.set_ylabel("V (mV)")
    return ax


def plot_isi_diagram(ax: plt.Axes, V_S: np.ndarray, isis: Sequence[np.ndarray],
                     **kw) -> plt.Axes:
    """Inter-spike intervals (s, log scale) against V_S (mV): one dot per ISI."""
    check_ax(ax)
    V_S = real_array(V_S, "V_S")
    if V_S.ndim != 1:
        raise ValueError(f"V_S must be a 1-D array (one value per sweep point, mV), got shape "
                         f"{V_S.shape}")
    if isinstance(isis, (str, bytes)) or not hasattr(isis, "__len__"):
        raise TypeError(f"isis must be a sequence of ISI arrays (s), one per V_S, got "
                        f"{type(isis).__name__}")
    if len(isis) != V_S.size:
        raise ValueError(f"isis must hold one array per V_S value ({V_S.size}), got {len(isis)}")
    arrs = []
    for k, i in enumerate(isis):
        a = real_array(i, f"isis[{k}]")
        if a.ndim != 1:
            raise ValueError(f"isis[{k}] must be a 1-D array of intervals (s), got shape {a.shape}")
        arrs.append(a)
    xs = np.concatenate([np.full(a.size, v) for v, a in zip(V_S, arrs)]) if arrs else []
    ys = np.concatenate(arrs) if arrs else []
    kw = {"s": 2, "alpha": 0.5, "linewidths": 0, **kw}
    ax.scatter(xs, ys, **kw)
    ax.set_yscale("log")
    ax.set_xlabel(r"$V_S$ (mV)")
    ax.set_ylabel("inter-spike interval (s)")
    return ax


def shade_outside(ax: plt.Axes, V_S_range: Sequence[float], lo: float | None = None,
                  hi: float | None = None, **kw) -> plt.Axes:
    """Grey bands over the V_S values (x axis, mV) outside ``V_S_range`` = (low, high), the
    range a network was trained on, from ``lo`` to ``hi`` (default: the current x limits),
    which become the x limits: a reader sees at once where a map extrapolates."""
    check_ax(ax)
    r = interval(V_S_range, "V_S_range")
    if (lo is None) != (hi is None):
        raise ValueError("give both lo and hi, or neither (then the current x limits are used)")
    lo, hi = ax.get_xlim() if lo is None else (float(lo), float(hi))
    if not lo < hi:
        raise ValueError(f"lo must be below hi, got lo={lo!r}, hi={hi!r}")
    kw = {"color": "0.85", "alpha": 0.5, "lw": 0, **kw}
    ax.axvspan(lo, r[0], **kw)
    ax.axvspan(r[1], hi, **kw)
    ax.set_xlim(lo, hi)
    return ax


# --- for the figures of chapters 1 and 3 (book/_code/ch01.py, ch03.py) -----------------------

def check_axes(axes, shape: tuple, name: str = "axes") -> np.ndarray:
    """``axes`` as an array of Axes of the given shape; ValueError naming it otherwise."""
    a = np.asarray(axes, dtype=object)
    if a.shape != shape:
        raise ValueError(f"{name} must be an array of Axes of shape {shape}, got {a.shape}")
    for ax in a.ravel():
        check_ax(ax)
    return a
