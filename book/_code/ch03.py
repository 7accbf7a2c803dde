"""Chapter 3's tables and figures: the splits' sizes, the spread of values and increments,
the split values of V_S, example cuts and the histograms of values and increments."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from hhlib.checks import instance, real_array
from hhlib.ode.data import Dataset
from hhlib.ode.dataset_stats import SPLITS
from hhlib.plotting import check_ax, check_axes

__all__ = ["SPLIT_HEADERS", "split_rows", "VARIABLE_LABELS", "plot_split_values", "plot_cuts",
           "plot_value_histograms",
           "spread_rows"]

SPLIT_HEADERS = ("split", "values of V_S", "cuts", "one-step pairs")


def split_rows(ds: Dataset) -> list[tuple[str, int, int, int]]:
    """Per split: (name, number of V_S values, number of cuts, number of one-step pairs),
    as :data:`SPLIT_HEADERS`; a cut of L steps holds L pairs."""
    instance(ds, Dataset, "ds", "hhlib.ode.data.Dataset")
    return [(k, len(ds.V_S[k]), ds.cuts[k].shape[0],
             ds.cuts[k].shape[0] * (ds.cuts[k].shape[1] - 1)) for k in SPLITS]


VARIABLE_LABELS = ("V (mV)", "n", "S")


def plot_split_values(ax, V_S: dict) -> plt.Axes:
    """The V_S values (mV) of the train, val and test splits as ticks on three rows."""
    check_ax(ax)
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
    axes = check_axes(axes, (3,))
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
    axes = check_axes(axes, (2, 3))
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


def spread_rows(labels: Sequence[str], spread, increment) -> list[tuple]:
    """Rows ``(variable, spread of values, spread of increments, ratio)``."""
    spread, increment = real_array(spread, "spread"), real_array(increment, "increment")
    if spread.shape != (len(labels),) or increment.shape != spread.shape:
        raise ValueError("spread and increment must hold one value per label")
    return [(labels[j], spread[j], increment[j], spread[j] / increment[j])
            for j in range(len(labels))]
