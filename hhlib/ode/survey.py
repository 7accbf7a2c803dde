"""A survey of the model across V_S (chapter 1): example runs, the Z-curve's knees, the
fixed point along a grid and the bursting-to-spiking transition.

These functions only combine :mod:`hhlib.ode.model`, :mod:`hhlib.ode.integrate`,
:mod:`hhlib.ode.spikes` and :mod:`hhlib.ode.sweeps`; they live in their own module because
``spikes.py`` (like ``model.py``, ``integrate.py`` and ``sweeps.py``) is hashed into the
dataset cache key (:func:`hhlib.ode.data.DatasetConfig.key`): editing it would invalidate every
cached dataset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..checks import integer, number, real_array, state, vector
from .integrate import simulate
from .model import HHParams, check_params, fixed_points
from .spikes import BurstStats, burst_statistics, regime_transition
from .sweeps import isi_sweep

__all__ = ["example_runs", "z_curve_knees", "FixedPointSweep", "fixed_point_sweep",
           "ensemble_sweep", "refine_transition"]


def example_runs(params: HHParams, x0, V_S: Mapping[str, float], t_end: float, dt: float,
                 *, t_min: float) -> dict[str, tuple[np.ndarray, np.ndarray, BurstStats]]:
    """One LSODA run per named value of ``V_S`` (mV) from ``x0`` over [0, ``t_end``] s
    sampled every ``dt`` s: name -> ``(t, X, stats)``, the statistics over ``t >= t_min``."""
    check_params(params)
    if not isinstance(V_S, Mapping) or not V_S:
        raise TypeError(f"V_S must be a non-empty mapping name -> V_S (mV), got {V_S!r}")
    out = {}
    for name, vs in V_S.items():
        t, X = simulate(params.replace(V_S=vs), x0, t_end, dt)
        out[name] = (t, X, burst_statistics(t, X[:, 0], t_min=t_min))
    return out


def z_curve_knees(V, S) -> list[tuple[float, float]]:
    """``(V, S)`` at the knees of the fast subsystem's Z-curve S(V): the samples where the
    slope dS/dV changes sign, in order of increasing V (mV)."""
    V, S = real_array(V, "V"), real_array(S, "S")
    if V.ndim != 1 or S.shape != V.shape or V.size < 3 or not np.all(np.diff(V) > 0):
        raise ValueError("V must be an increasing 1-D grid (at least 3 values) and S match it")
    knee = np.flatnonzero(np.diff(np.sign(np.diff(S))) != 0) + 1
    return [(float(V[i]), float(S[i])) for i in knee]


@dataclass(frozen=True)
class FixedPointSweep:
    """The fixed point of lowest V along a V_S grid (mV): its state (N, 3), eigenvalues
    (N, 3, 1/s) and stability (N,), and the set of fixed-point counts met on the grid."""

    V_S: np.ndarray
    state: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    counts: frozenset


def fixed_point_sweep(params: HHParams, V_S) -> FixedPointSweep:
    """:func:`hhlib.ode.model.fixed_points` at each value of the grid ``V_S`` (mV)."""
    check_params(params)
    V_S = vector(V_S, "V_S")
    fps = [fixed_points(params.replace(V_S=v)) for v in V_S]
    return FixedPointSweep(V_S, np.array([f[0].state for f in fps]),
                           np.array([f[0].eigenvalues for f in fps]),
                           np.array([f[0].stable for f in fps]),
                           frozenset(len(f) for f in fps))


def ensemble_sweep(params: HHParams, x0, V_S, t_end: float, dt: float, *, t_min: float
                   ) -> tuple[list[BurstStats], list[np.ndarray]]:
    """One trajectory per value of ``V_S`` (mV), all from the state ``x0`` (3,), by the
    compiled ensemble integrator (default tolerances): statistics and ISIs (s) over
    ``t >= t_min`` s, as :func:`hhlib.ode.sweeps.isi_sweep`."""
    check_params(params)
    V_S = vector(V_S, "V_S")
    x0 = state(x0, "x0")
    return isi_sweep(params.replace(V_S=V_S), np.tile(x0, (V_S.size, 1)), t_end, dt,
                     t_min=t_min)


def refine_transition(params: HHParams, x0, V_S, regimes: Sequence[str], t_end: float,
                      dt: float, *, t_min: float, n_fine: int = 21) -> tuple[float, float]:
    """Bracket (mV) of the bursting-to-tonic switch: found on the grid ``V_S`` with its
    ``regimes``, then narrowed by a second sweep of ``n_fine`` values inside that bracket
    (same start, duration and sampling as :func:`ensemble_sweep`)."""
    integer(n_fine, "n_fine", 2)
    number(t_end, "t_end", low=0)
    lo, hi = regime_transition(V_S, regimes)
    fine = np.linspace(lo, hi, n_fine)
    stats, _ = ensemble_sweep(params, x0, fine, t_end, dt, t_min=t_min)
    return regime_transition(fine, [s.regime for s in stats])
