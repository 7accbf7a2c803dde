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

from .model import _real_array

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
    if isinstance(headers, str):
        raise TypeError(f"headers must be a sequence of column titles, got the string {headers!r}")
    headers = list(headers)
    rows = [list(r) for r in rows]
    for i, r in enumerate(rows):
        if len(r) != len(headers):
            raise ValueError(f"rows[{i}] has {len(r)} cells for {len(headers)} headers")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def _check_ax(ax) -> None:
    if not isinstance(ax, mpl.axes.Axes):
        raise TypeError(f"ax must be a Matplotlib Axes, got {type(ax).__name__}")


def plot_voltage(ax: plt.Axes, t: np.ndarray, V: np.ndarray, label: str | None = None,
                 **kw) -> plt.Axes:
    """V (mV) against t (s)."""
    _check_ax(ax)
    t, V = _real_array(t, "t"), _real_array(V, "V")
    if t.ndim != 1 or V.shape != t.shape:
        raise ValueError(f"t and V must be 1-D arrays of equal length, got shapes {t.shape} "
                         f"and {V.shape}")
    ax.plot(t, V, label=label, **kw)
    ax.set_xlabel("t (s)")
    ax.set_ylabel("V (mV)")
    return ax


def plot_isi_diagram(ax: plt.Axes, V_S: np.ndarray, isis: Sequence[np.ndarray],
                     **kw) -> plt.Axes:
    """Inter-spike intervals (s, log scale) against V_S (mV): one dot per ISI."""
    _check_ax(ax)
    V_S = _real_array(V_S, "V_S")
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
        a = _real_array(i, f"isis[{k}]")
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
