"""Small plotting and table helpers shared by the chapters (Matplotlib only).

Functions draw on an ``Axes`` they are given and return it, so a chapter keeps control of
its figure layout; nothing here changes Matplotlib's global state except :func:`style`,
which a chapter calls once on purpose.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["style", "markdown_table", "plot_voltage", "plot_isi_diagram", "VARIABLE_LABELS"]

VARIABLE_LABELS = ("V (mV)", "n", "S")


def style() -> None:
    """The book's Matplotlib defaults: readable sizes, light grid, constrained layout."""
    mpl.rcParams.update({
        "figure.figsize": (8.0, 3.2), "figure.dpi": 110, "figure.constrained_layout.use": True,
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
        "axes.spines.right": False, "font.size": 10, "legend.frameon": False,
        "lines.linewidth": 1.0,
    })


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence], fmt: str = "{:.4g}") -> str:
    """A Markdown table; numbers are formatted with ``fmt``, other cells with ``str``."""
    def cell(x):
        if isinstance(x, (bool, np.bool_)):
            return "yes" if x else "no"
        if isinstance(x, (int, np.integer)):
            return str(int(x))
        if isinstance(x, (float, np.floating)):
            return "–" if np.isnan(x) else fmt.format(x)
        return str(x)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def plot_voltage(ax: plt.Axes, t: np.ndarray, V: np.ndarray, label: str | None = None,
                 **kw) -> plt.Axes:
    """V (mV) against t (s)."""
    ax.plot(t, V, label=label, **kw)
    ax.set_xlabel("t (s)")
    ax.set_ylabel("V (mV)")
    return ax


def plot_isi_diagram(ax: plt.Axes, V_S: np.ndarray, isis: Sequence[np.ndarray],
                     **kw) -> plt.Axes:
    """Inter-spike intervals (s, log scale) against V_S (mV): one dot per ISI."""
    xs = np.concatenate([np.full(len(i), v) for v, i in zip(V_S, isis)]) if len(isis) else []
    ys = np.concatenate(isis) if len(isis) else []
    kw = {"s": 2, "alpha": 0.5, "linewidths": 0, **kw}
    ax.scatter(xs, ys, **kw)
    ax.set_yscale("log")
    ax.set_xlabel(r"$V_S$ (mV)")
    ax.set_ylabel("inter-spike interval (s)")
    return ax
