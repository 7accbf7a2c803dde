"""What a dataset contains (chapter 3): the sampling step's constraints, the splits'
separation, the spread of values and increments, how much each cut moves.

Kept apart from :mod:`hhlib.ode.data`, whose source is hashed into the dataset cache key: these
functions read a :class:`~hhlib.ode.data.Dataset`, they never change how one is made.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..checks import (cuts as check_cuts, instance, integer, real_array, runs, state, trace,
                      vector)
from .data import Dataset
from .model import HHParams, check_params, fixed_points
from .spikes import REGIMES, burst_statistics

__all__ = ["SPLITS", "spike_width", "slow_fast_eigenvalues", "sampling_step_rows",
           "smallest_gaps", "samples_and_increments", 
           "all_cuts", "cut_motion", "trajectory_regimes", "fraction_within", "pick_cuts",
           "training_states", "closest_approach", "relaxes_to_rest"]

SPLITS = ("train", "val", "test")


def _check_dataset(ds) -> None:
    instance(ds, Dataset, "ds", "hhlib.ode.data.Dataset")


def _trace(t, X) -> tuple[np.ndarray, np.ndarray]:
    t, X = real_array(t, "t"), real_array(X, "X")
    if t.ndim != 1 or X.shape != (t.size, 3) or t.size < 2 or not np.all(np.diff(t) > 0):
        raise ValueError(f"t must be increasing times (s) and X of shape (len(t), 3), got "
                         f"{t.shape} and {X.shape}")
    return t, X


def spike_width(t, V, *, threshold: float = -35.0, t_min: float = 0.0) -> float:
    """Median time (s) that V (mV) spends above ``threshold`` per spike, over
    ``t >= t_min``; only complete excursions (an upward and the next downward crossing,
    located at the samples after the crossings) count."""
    t, V = trace(t, V)
    sel = t >= t_min
    above = V[sel] > threshold
    edges = np.flatnonzero(np.diff(above.astype(int)))
    # Durations between consecutive crossings alternate above/below: start from an upward one.
    widths = np.diff(t[sel][edges])[::2] if above[0] == 0 else np.diff(t[sel][edges])[1::2]
    if widths.size == 0:
        raise ValueError(f"V never completes an excursion above {threshold} mV after "
                         f"t_min = {t_min} s")
    return float(np.median(widths))


def slow_fast_eigenvalues(eigenvalues) -> tuple[float, float]:
    """``(fast, slow)`` among the real parts of the eigenvalues (1/s): the most negative and
    the one closest to zero."""
    ev = np.asarray(eigenvalues)
    if ev.ndim != 1 or ev.size == 0 or not np.issubdtype(ev.dtype, np.number):
        raise ValueError(f"eigenvalues must be a non-empty 1-D array, got {eigenvalues!r}")
    ev = ev.real
    return ev.min(), ev[np.argmin(np.abs(ev))]


def sampling_step_rows(t, X, steps: Sequence[float], eigenvalues, *, t_min: float = 0.0,
                       threshold: float = -35.0) -> list[tuple]:
    """For each candidate step Δt (s, a multiple of the sampling of ``t``): ``(Δt, samples
    per spike, largest |ΔV| per step (mV), slow multiplier μ - 1, fast multiplier)``, from the
    trace ``(t, X)`` over ``t >= t_min`` and the fixed point's ``eigenvalues`` (1/s)."""
    t, X = _trace(t, X)
    width = spike_width(t, X[:, 0], threshold=threshold, t_min=t_min)
    lam_fast, lam_slow = slow_fast_eigenvalues(eigenvalues)
    h = t[1] - t[0]
    rows = []
    for dt in steps:
        k = int(round(dt / h))
        if k < 1 or not np.isclose(k * h, dt, rtol=1e-6):
            raise ValueError(f"steps must be multiples of the sampling step {h} s, got {dt}")
        dV = np.abs(np.diff(X[t >= t_min][::k, 0])).max()
        rows.append((dt, width / dt, dV, np.exp(lam_slow * dt) - 1, np.exp(lam_fast * dt)))
    return rows


def smallest_gaps(ds: Dataset) -> dict[str, float]:
    """Smallest distance (mV) from any training or validation V_S to a test value."""
    _check_dataset(ds)
    return {k: float(np.min(np.abs(ds.V_S[k][:, None] - ds.V_S["test"][None])))
            for k in ("train", "val")}


def samples_and_increments(cuts) -> tuple[np.ndarray, np.ndarray]:
    """The states each cut (N, L + 1, 3) maps to, (N L, 3), and the one-step increments."""
    cuts = check_cuts(cuts)
    return cuts[:, 1:].reshape(-1, 3), np.diff(cuts, axis=1).reshape(-1, 3)


def all_cuts(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The cuts of all splits, (N, L + 1, 3), and their V_S (N,), train first."""
    _check_dataset(ds)
    return (np.concatenate([ds.cuts[k] for k in SPLITS]),
            np.concatenate([ds.cut_V_S[k] for k in SPLITS]))


def cut_motion(cuts, scale) -> tuple[np.ndarray, np.ndarray]:
    """Per cut: the range of V (mV) and the path length in units of ``scale`` (3,)."""
    cuts = real_array(cuts, "cuts")
    if cuts.ndim != 3 or cuts.shape[2] != 3:
        raise ValueError(f"cuts must have shape (N, L + 1, 3), got {cuts.shape}")
    scale = state(scale, "scale", positive=True)
    return (np.ptp(cuts[:, :, 0], axis=1),
            np.linalg.norm(np.diff(cuts, axis=1) / scale, axis=-1).sum(axis=1))


def trajectory_regimes(ds: Dataset) -> dict[str, int]:
    """How many kept trajectories (all splits) are at rest, tonic or bursting."""
    _check_dataset(ds)
    regimes = [burst_statistics(np.arange(tr.shape[0]) * ds.config.dt, tr[:, 0]).regime
               for k in SPLITS for tr in ds.trajectories[k]]
    return {r: regimes.count(r) for r in REGIMES}


def fraction_within(dist, radii: Sequence[float]) -> dict[float, float]:
    """Fraction of the distances below each radius."""
    dist = real_array(dist, "dist")
    return {r: float(np.mean(dist < r)) for r in radii}


def pick_cuts(ds: Dataset, n: int = 4, seed: int = 1) -> tuple[np.ndarray, list[int]]:
    """``n`` training cuts at V_S spread over the range (lowest, ..., highest), one random
    cut of each chosen trajectory: their indices into ``ds.cuts["train"]`` and the indices
    of their trajectories."""
    _check_dataset(ds)
    integer(n, "n", 2)
    rng = np.random.default_rng(seed)
    per = ds.cuts["train"].shape[0] // len(ds.V_S["train"])
    order = np.argsort(ds.V_S["train"])
    picks = [order[k * len(order) // (n - 1)] for k in range(n - 1)] + [order[-1]]
    return np.array([i * per + rng.integers(per) for i in picks]), picks


def training_states(ds: Dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    """Everything a network is trained on, as (states (m, T, 3), V_S (m,)) blocks: the kept
    training trajectories (whose cuts are the attractor data) and each kind of
    :func:`hhlib.ode.data.augment_dataset`'s extra cuts (transient cuts, noise pairs)."""
    _check_dataset(ds)
    return [(ds.trajectories["train"], ds.V_S["train"])] + [
        (ds.extra_cuts[k], ds.extra_V_S[k]) for k in sorted(ds.extra_cuts)]


def closest_approach(ds: Dataset, params: HHParams, V_S_grid, scale) -> np.ndarray:
    """How close all of a dataset's training data (:func:`training_states`: attractor
    trajectories, transient cuts, noise pairs) come to the ODE's fixed point, at each value
    of ``V_S_grid`` (k,) mV: the smallest distance of a training state from the fixed
    point at its own V_S, over the states at the training value of V_S nearest the grid
    value. Distances in units of ``scale`` (3,) per variable. With no extra cuts this is
    :func:`hhlib.dynamics.recovery.data_proximity` of the training trajectories. Returns (k,)."""
    _check_dataset(ds)
    check_params(params)
    sc = state(scale, "scale", positive=True)
    grid = vector(V_S_grid, "V_S_grid")
    vs = ds.V_S["train"]
    index = {float(v): i for i, v in enumerate(vs)}
    fp = np.stack([fixed_points(params.replace(V_S=float(v)))[0].state for v in vs])
    closest = np.full(vs.size, np.inf)
    for X, v in training_states(ds):
        i = np.array([index[float(x)] for x in v], dtype=int)
        d = np.linalg.norm((X - fp[i][:, None]) / sc, axis=-1).min(axis=1)
        np.minimum.at(closest, i, d)
    return closest[np.abs(grid[:, None] - vs[None]).argmin(axis=1)]


def relaxes_to_rest(cuts, cut_V_S, params: HHParams, scale, *, radius: float = 0.25,
                    v_range: float = 1.0) -> np.ndarray:
    """Per cut (N, L + 1, 3) at ``cut_V_S`` (N,) mV: does it relax to a stable rest state of
    the ODE? True where the ODE has a stable fixed point at the cut's V_S, the cut's last
    state lies within ``radius`` (in units of ``scale`` (3,), per variable) of it, and V
    varies by less than ``v_range`` mV over the cut (no spike, no fast approach)."""
    c, v = runs(cuts, cut_V_S)
    check_params(params)
    sc = state(scale, "scale", positive=True)
    out = np.zeros(len(c), dtype=bool)
    for value in np.unique(v):
        rest = [fp.state for fp in fixed_points(params.replace(V_S=float(value))) if fp.stable]
        if not rest:
            continue
        k = v == value
        d = np.min([np.linalg.norm((c[k, -1] - r) / sc, axis=-1) for r in rest], axis=0)
        out[k] = (d < radius) & (np.ptp(c[k, :, 0], axis=1) < v_range)
    return out
