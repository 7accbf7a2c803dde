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

from .checks import real_array

__all__ = ["style", "fit_to_column", "markdown_table", "plot_voltage", "plot_isi_diagram",
           "VARIABLE_LABELS"]

VARIABLE_LABELS = ("V (mV)", "n", "S")


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


def _check_ax(ax) -> None:
    if not isinstance(ax, mpl.axes.Axes):
        raise TypeError(f"ax must be a Matplotlib Axes, got {type(ax).__name__}")


def plot_voltage(ax: plt.Axes, t: np.ndarray, V: np.ndarray, label: str | None = None,
                 **kw) -> plt.Axes:
    """V (mV) against t (s)."""
    _check_ax(ax)
    t, V = real_array(t, "t"), real_array(V, "V")
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
    _check_ax(ax)
    r = real_array(V_S_range, "V_S_range")
    if r.shape != (2,) or not np.all(np.isfinite(r)) or not r[0] < r[1]:
        raise ValueError(f"V_S_range must be (low, high) in mV with low < high, got {V_S_range!r}")
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


# --- chapter 1 (the model) and chapter 3 (the dataset) figures ------------------------------

def _check_axes(axes, shape: tuple, name: str = "axes") -> np.ndarray:
    """``axes`` as an array of Axes of the given shape; ValueError naming it otherwise."""
    a = np.asarray(axes, dtype=object)
    if a.shape != shape:
        raise ValueError(f"{name} must be an array of Axes of shape {shape}, got {a.shape}")
    for ax in a.ravel():
        _check_ax(ax)
    return a


def plot_regime_examples(axes, runs: dict, V_S: dict, t_min: float,
                         window: float = 40.0) -> np.ndarray:
    """V (mV, top row) and S (bottom row) against t (s) over ``[t_min, t_min + window]``,
    one column per named run ``name -> (t, X, ...)`` at ``V_S[name]`` mV."""
    if not isinstance(runs, dict) or set(runs) != set(V_S):
        raise ValueError("runs and V_S must be dicts with the same names")
    axes = _check_axes(axes, (2, len(runs)))
    for k, (name, (t, X, *_)) in enumerate(runs.items()):
        sel = (t >= t_min) & (t <= t_min + window)
        plot_voltage(axes[0, k], t[sel], X[sel, 0], color="C0")
        axes[0, k].set_title(f"{name}: $V_S$ = {V_S[name]} mV")
        axes[1, k].plot(t[sel], X[sel, 2], color="C1")
        axes[1, k].set_xlabel("t (s)")
        axes[1, k].set_ylabel("S")
    return axes


def plot_z_curve(ax, V, S, stable, trajectory=None, fixed_point=None,
                 label: str = "trajectory") -> plt.Axes:
    """The fast subsystem's equilibria S(V) on the (S, V) plane (solid where ``stable``,
    dashed where not), optionally a trajectory (N, 3) = (V mV, n, S) and a fixed point."""
    _check_ax(ax)
    V, S = real_array(V, "V"), real_array(S, "S")
    stable = np.asarray(stable, dtype=bool)
    if V.ndim != 1 or S.shape != V.shape or stable.shape != V.shape:
        raise ValueError("V, S and stable must be 1-D arrays of equal length")
    ax.plot(np.where(stable, S, np.nan), V, "k-", lw=2, label="fast equilibria, stable")
    ax.plot(np.where(~stable, S, np.nan), V, "k--", lw=1, label="fast equilibria, unstable")
    if trajectory is not None:
        X = real_array(trajectory, "trajectory")
        ax.plot(X[:, 2], X[:, 0], color="C0", lw=0.6, label=label)
    if fixed_point is not None:
        ax.plot(fixed_point[2], fixed_point[0], "o", color="C3", label="fixed point")
    ax.set_xlabel("S")
    ax.set_ylabel("V (mV)")
    return ax


def plot_fixed_point_sweep(axes, V_S, state, eigenvalues, V_hopf: float,
                           ylim: tuple = (-3.0, 3.0)) -> np.ndarray:
    """Left: the fixed point's V* (mV) against V_S (mV); right: the real and imaginary parts
    of its eigenvalues (1/s) within ``ylim``. Shaded up to the Hopf point ``V_hopf``."""
    axes = _check_axes(axes, (2,))
    V_S, state = real_array(V_S, "V_S"), real_array(state, "state")
    ev = np.asarray(eigenvalues)
    if V_S.ndim != 1 or state.shape != (V_S.size, 3) or ev.shape[:1] != V_S.shape:
        raise ValueError("state must be (N, 3) and eigenvalues (N, k) for N values of V_S")
    a1, a2 = axes
    a1.plot(V_S, state[:, 0], "k")
    a1.set_ylabel(r"$V^*$ (mV)")
    for k in range(ev.shape[1]):
        a2.plot(V_S, ev[:, k].real, ".", ms=2, color="C0", label="Re λ" if k == 0 else None)
        a2.plot(V_S, ev[:, k].imag, ".", ms=2, color="C1", label="Im λ" if k == 0 else None)
    a2.set_ylim(*ylim)
    a2.axhline(0, color="k", lw=0.5)
    a2.set_ylabel("eigenvalue (1/s)")
    a2.legend()
    for a in axes:
        a.set_xlabel(r"$V_S$ (mV)")
        a.axvspan(V_S[0], V_hopf, color="C2", alpha=0.1)
        a.axvline(V_hopf, color="k", ls=":")
    return axes


def plot_split_values(ax, V_S: dict) -> plt.Axes:
    """The V_S values (mV) of the train, val and test splits as ticks on three rows."""
    _check_ax(ax)
    names = {"train": ("training", "C0"), "val": ("validation", "C1"), "test": ("test", "C3")}
    if not isinstance(V_S, dict) or not set(V_S) >= set(names):
        raise ValueError(f"V_S must be a dict with keys {tuple(names)}")
    for y, (k, (label, c)) in enumerate(names.items()):
        v = real_array(V_S[k], f"V_S[{k!r}]")
        ax.plot(v, np.full(v.size, y), "|", color=c, ms=14, label=k)
    ax.set_yticks([0, 1, 2], [label for label, _ in names.values()])
    ax.set_xlabel(r"$V_S$ (mV)")
    ax.grid(False)
    return ax


def plot_cuts(axes, cuts, cut_V_S, trajectories, dt: float) -> np.ndarray:
    """Cuts (k, L + 1, 3) in time (V, left) and in the (S, V) and (n, V) planes over their
    whole trajectories (grey; one (N, 3) array per cut); ``dt`` (s) is the sampling step."""
    axes = _check_axes(axes, (3,))
    cuts = real_array(cuts, "cuts")
    if cuts.ndim != 3 or cuts.shape[2] != 3 or len(cut_V_S) != len(cuts) \
            or len(trajectories) != len(cuts):
        raise ValueError("cuts must be (k, L + 1, 3) with one V_S and one trajectory per cut")
    tc = np.arange(cuts.shape[1]) * dt
    for c, (cut, vs, tr) in enumerate(zip(cuts, cut_V_S, trajectories)):
        axes[0].plot(tc, cut[:, 0], color=f"C{c}", label=f"$V_S$={vs:.1f} mV")
        for a, j in ((axes[1], 2), (axes[2], 1)):
            a.plot(tr[:, j], tr[:, 0], color="0.8", lw=0.4)
            a.plot(cut[:, j], cut[:, 0], color=f"C{c}", lw=1.5)
    axes[0].set_xlabel("time within cut (s)")
    # Above the panels: inside the narrow time panel the legend hid the cuts.
    axes[0].figure.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center",
                          ncol=len(cuts))
    axes[1].set_xlabel("S")
    axes[2].set_xlabel("n")
    for a in axes:
        a.set_ylabel("V (mV)")
    return axes


def plot_value_histograms(axes, values, increments, bins: int = 100) -> np.ndarray:
    """Histograms of each variable's values (top row) and one-step increments (bottom row,
    log count scale); ``values`` and ``increments`` of shape (N, 3) = (V mV, n, S)."""
    axes = _check_axes(axes, (2, 3))
    x, d = real_array(values, "values"), real_array(increments, "increments")
    if x.ndim != 2 or x.shape[1] != 3 or d.ndim != 2 or d.shape[1] != 3:
        raise ValueError("values and increments must have shape (N, 3)")
    for j in range(3):
        axes[0, j].hist(x[:, j], bins=bins, color="C0")
        axes[0, j].set_xlabel(VARIABLE_LABELS[j])
        axes[1, j].hist(d[:, j], bins=bins, color="C1", log=True)
        axes[1, j].set_xlabel(f"one-step increment of {VARIABLE_LABELS[j]}")
    axes[0, 0].set_ylabel("samples")
    axes[1, 0].set_ylabel("samples")
    return axes
