"""Chapter 1's tables, sentences and figures: the burst statistics table, the fixed-point count
in words, the example runs, the Z-curve and the fixed point along V_S."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from hhlib.checks import real_array
from hhlib.ode.model import HHParams, check_params, fixed_points
from hhlib.plotting import check_ax, check_axes, plot_voltage
from hhlib.ode.spikes import BurstStats

__all__ = ["STATS_HEADERS", "stats_rows", "fixed_point_count_text", "plot_regime_examples",
           "plot_z_curve", "plot_fixed_point_sweep",
           "eigenvalue_text", "fixed_point_rows"]

# Column headers matching the rows of :func:`stats_rows` (without the optional name column).
STATS_HEADERS = ("V_S (mV)", "regime", "spikes/burst", "burst period (s)", "silent phase (s)",
                 "mean ISI (s)")


def stats_rows(V_S, stats: Sequence[BurstStats], *, names: Sequence[str] | None = None,
               keep=None) -> list[tuple]:
    """Table rows ``(V_S, regime, spikes/burst, burst period, silent phase, mean ISI)``
    (:data:`STATS_HEADERS`), preceded by ``names`` when given; ``keep`` (booleans, one per
    value) selects rows."""
    V_S = real_array(V_S, "V_S")
    if V_S.ndim != 1 or len(stats) != V_S.size:
        raise ValueError(f"V_S must be 1-D with one value per stats entry, got {V_S.shape} "
                         f"and {len(stats)} stats")
    if not all(isinstance(s, BurstStats) for s in stats):
        raise TypeError("stats must hold BurstStats (from hhlib.ode.spikes.burst_statistics)")
    keep = np.ones(V_S.size, bool) if keep is None else np.asarray(keep)
    if keep.shape != V_S.shape or keep.dtype != bool:
        raise ValueError(f"keep must be {V_S.size} booleans, got {keep!r}")
    if names is not None and len(names) != V_S.size:
        raise ValueError(f"names must hold one name per value ({V_S.size}), got {len(names)}")
    rows = []
    for k, (v, s) in enumerate(zip(V_S, stats)):
        if keep[k]:
            row = (v, s.regime, s.spikes_per_burst, s.burst_period, s.silent_phase, s.isi_mean)
            rows.append(row if names is None else (names[k], *row))
    return rows


def fixed_point_count_text(counts) -> str:
    """The number of fixed points in words: "exactly one fixed point" or a range."""
    counts = set(counts)
    if not counts or not all(isinstance(c, (int, np.integer)) and c >= 0 for c in counts):
        raise ValueError(f"counts must be a non-empty set of counts >= 0, got {counts!r}")
    if counts == {1}:
        return "exactly one fixed point"
    return f"from {min(counts)} to {max(counts)} fixed points"


def plot_regime_examples(axes, runs: dict, V_S: dict, t_min: float,
                         window: float = 40.0) -> np.ndarray:
    """V (mV, top row) and S (bottom row) against t (s) over ``[t_min, t_min + window]``,
    one column per named run ``name -> (t, X, ...)`` at ``V_S[name]`` mV."""
    if not isinstance(runs, dict) or set(runs) != set(V_S):
        raise ValueError("runs and V_S must be dicts with the same names")
    axes = check_axes(axes, (2, len(runs)))
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
    check_ax(ax)
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
    axes = check_axes(axes, (2,))
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


def eigenvalue_text(eigenvalues, digits: int = 4) -> str:
    """Eigenvalues as ``"a, b+ci, ..."`` with ``digits`` significant digits; a value whose
    imaginary part is below 1e-12 in size is written as real."""
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    ev = np.asarray(eigenvalues)
    if ev.ndim != 1 or not np.issubdtype(ev.dtype, np.number):
        raise ValueError(f"eigenvalues must be a 1-D array of numbers, got {eigenvalues!r}")
    g = f".{digits}g"
    return ", ".join(f"{z.real:{g}}{z.imag:+{g}}i" if abs(z.imag) > 1e-12 else f"{z.real:{g}}"
                     for z in ev.astype(complex))


def fixed_point_rows(params: HHParams, V_S: Sequence[float]) -> list[tuple]:
    """Rows ``(V_S, V*, n*, S*, eigenvalues, stability)`` of the fixed point of lowest V at
    each value of ``V_S`` (mV)."""
    check_params(params)
    rows = []
    for vs in V_S:
        f = fixed_points(params.replace(V_S=vs))[0]
        rows.append((vs, *f.state, eigenvalue_text(f.eigenvalues),
                     "stable" if f.stable else "unstable"))
    return rows
