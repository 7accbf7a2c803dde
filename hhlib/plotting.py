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

__all__ = ["style", "fit_to_column", "markdown_table", "plot_voltage", "plot_isi_diagram"]


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


# --- for the figures of chapters 1 and 3 (book/_code/ch01.py, ch03.py) -----------------------

def _check_axes(axes, shape: tuple, name: str = "axes") -> np.ndarray:
    """``axes`` as an array of Axes of the given shape; ValueError naming it otherwise."""
    a = np.asarray(axes, dtype=object)
    if a.shape != shape:
        raise ValueError(f"{name} must be an array of Axes of shape {shape}, got {a.shape}")
    for ax in a.ravel():
        _check_ax(ax)
    return a


def plot_training_history(ax_loss: plt.Axes, ax_score: plt.Axes, history: dict,
                          best_epoch: int, best_score: float) -> tuple[plt.Axes, plt.Axes]:
    """A training history (``record["history"]``: per-epoch ``epoch``, ``K``, ``train_loss``,
    ``val_loss``, ``val_one_step``, ``val_score``): losses (normalised units²) on
    ``ax_loss``, the validation dynamics score on ``ax_score`` with the selected epoch
    circled; a vertical line where each rollout stage (K) starts."""
    _check_ax(ax_loss)
    _check_ax(ax_score)
    need = ("epoch", "K", "train_loss", "val_loss", "val_one_step", "val_score")
    if not isinstance(history, dict) or any(k not in history for k in need):
        raise ValueError(f"history must be a dict with keys {need}")
    h = history
    ax_score.semilogy(h["epoch"], h["val_score"], color="C3")
    ax_score.plot(best_epoch, best_score, "o", color="C3", mfc="none", ms=10)
    ax_score.set_xlabel("epoch")
    ax_score.set_ylabel("validation dynamics score")
    ax_loss.semilogy(h["epoch"], h["train_loss"], label="training loss (current K)")
    ax_loss.semilogy(h["epoch"], h["val_loss"], label="validation loss (rollout)")
    ax_loss.semilogy(h["epoch"], h["val_one_step"], label="validation loss (one step)")
    for a in (ax_loss, ax_score):
        for e, k, kp in zip(h["epoch"], h["K"], [None] + list(h["K"][:-1])):
            if k != kp:
                a.axvline(e - 0.5, color="k", lw=0.5)
                a.text(e - 0.3, a.get_ylim()[1], f"K={k}", va="top")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss (normalised units²)")
    ax_loss.legend()
    return ax_loss, ax_score


def plot_paired_runs(axes: np.ndarray, t: np.ndarray, X: np.ndarray, Y: np.ndarray,
                     V_S: np.ndarray) -> np.ndarray:
    """ODE runs ``X`` (black) and network runs ``Y`` (colour), both (B, T, 3), against t (s):
    V (mV) in the top row and S in the bottom row of ``axes`` (2, B), one column per V_S."""
    axes = np.asarray(axes)
    X, Y = real_array(X, "X"), real_array(Y, "Y")
    V_S = np.atleast_1d(real_array(V_S, "V_S"))
    if axes.shape != (2, V_S.size) or X.shape != Y.shape or X.shape[::2] != (V_S.size, 3) \
            or X.shape[1] != np.size(t):
        raise ValueError(f"need axes (2, B), X and Y (B, T, 3), t (T,), V_S (B,); got axes "
                         f"{axes.shape}, X {X.shape}, Y {Y.shape}, t {np.shape(t)}, V_S "
                         f"{V_S.shape}")
    for c, v in enumerate(V_S):
        _check_ax(axes[0, c])
        axes[0, c].plot(t, X[c, :, 0], "k", lw=0.7, label="ODE")
        axes[0, c].plot(t, Y[c, :, 0], color="C1", lw=0.7, alpha=0.8, label="network")
        axes[0, c].set_title(f"$V_S$ = {v:.2f} mV (held out)")
        axes[0, c].set_ylabel("V (mV)")
        axes[1, c].plot(t, X[c, :, 2], "k", lw=0.9)
        axes[1, c].plot(t, Y[c, :, 2], color="C1", lw=0.9)
        axes[1, c].set_ylabel("S")
        axes[1, c].set_xlabel("t (s)")
    # Above the panels: inside a panel the legend hid the bursts.
    axes[0, 0].figure.legend(*axes[0, 0].get_legend_handles_labels(),
                             loc="outside upper center", ncol=2)
    return axes


def plot_phase_pair(ax_ode: plt.Axes, ax_net: plt.Axes, t: np.ndarray, X: np.ndarray,
                    Y: np.ndarray, V_S: np.ndarray, t_min: float = 0.0
                    ) -> tuple[plt.Axes, plt.Axes]:
    """Phase portraits in the (S, V) plane for t >= ``t_min`` s: ODE runs ``X`` on
    ``ax_ode``, network runs ``Y`` on ``ax_net`` (both (B, T, 3)), one colour per V_S (mV)."""
    _check_ax(ax_ode)
    _check_ax(ax_net)
    X, Y = real_array(X, "X"), real_array(Y, "Y")
    V_S = np.atleast_1d(real_array(V_S, "V_S"))
    if X.shape != Y.shape or X.shape[::2] != (V_S.size, 3) or X.shape[1] != np.size(t):
        raise ValueError(f"need X and Y (B, T, 3), t (T,), V_S (B,); got X {X.shape}, "
                         f"Y {Y.shape}, t {np.shape(t)}, V_S {V_S.shape}")
    sel = np.asarray(t) >= t_min
    for c, v in enumerate(V_S):
        ax_ode.plot(X[c, sel, 2], X[c, sel, 0], lw=0.5, color=f"C{c}", label=f"$V_S$ = {v:.2f} mV")
        ax_net.plot(Y[c, sel, 2], Y[c, sel, 0], lw=0.5, color=f"C{c}")
    ax_ode.set_title("ODE")
    ax_net.set_title("network map")
    for a in (ax_ode, ax_net):
        a.set_xlabel("S")
    ax_ode.set_ylabel("V (mV)")
    ax_ode.legend()
    return ax_ode, ax_net
