"""Attractors of the ODE and of a network map alike: runners, continuation, basins.

Everything here works on a *runner*: a function ``run(V_S, x0, t_end) -> (t, X)`` that
advances B states ``x0`` (B, 3) at parameter values ``V_S`` (B,) mV for ``t_end`` s and
returns the sample times (T,) s and the trajectories (B, T, 3). :func:`ode_runner` and
:func:`map_runner` make one for the model and for a trained map, so the same measurement
(continuation of the bursting state, basins of attraction) is applied to both.

A trajectory counts as *oscillating* if it spikes during the last ``window`` seconds and as
*at rest* otherwise; ``window`` must exceed the longest silent phase of the bursts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..checks import flag, state, states as check_states, vector
from ..ode.spikes import spike_detection, spike_times
from ..ode.integrate import simulate, simulate_ensemble
from ..ode.model import HHParams, check_params

__all__ = ["Runner", "ode_runner", "map_runner", "oscillating", "ContinuationStep",
           "continue_bursting", "bursting_edge", "basins", "end_labels"]

Runner = Callable[[np.ndarray, np.ndarray, float], tuple[np.ndarray, np.ndarray]]


def ode_runner(params: HHParams, dt: float, *, rtol: float = 1e-8, atol: float = 1e-10
               ) -> Runner:
    """Runner for the ODE sampled every ``dt`` s: one state with LSODA (``simulate``), a batch
    with ``simulate_ensemble``, both at ``rtol``/``atol`` (a sequential continuation runs
    one state at a time, where the batched solver's per-step overhead would dominate)."""
    check_params(params)

    def run(V_S, x0, t_end):
        V_S = np.atleast_1d(np.asarray(V_S, dtype=float))
        x0 = np.atleast_2d(np.asarray(x0, dtype=float))
        if V_S.size == 1 and x0.shape[0] == 1:
            t, X = simulate(params.replace(V_S=float(V_S[0])), x0[0], t_end, dt,
                            rtol=rtol, atol=atol)
            return t, X[None]
        return simulate_ensemble(params.replace(V_S=V_S), x0, t_end, dt, rtol=rtol, atol=atol)
    return run


def map_runner(net, *, extrapolate: bool = False) -> Runner:
    """Runner for a trained map (:class:`hhlib.maps.network.MapNet`): batched ``rollout``
    (``extrapolate`` is passed on: True when V_S outside the trained range is meant)."""
    flag(extrapolate, "extrapolate")
    def run(V_S, x0, t_end):
        n = int(round(float(t_end) / net.dt))
        if n < 1 or abs(n * net.dt - t_end) > 1e-9 * max(1.0, t_end):
            raise ValueError(f"t_end ({t_end} s) must be a positive multiple of the map's "
                             f"dt ({net.dt} s)")
        V_S = np.atleast_1d(np.asarray(V_S, dtype=float))
        x0 = np.atleast_2d(np.asarray(x0, dtype=float))
        return np.arange(n + 1) * net.dt, net.rollout(x0, V_S, n, extrapolate=extrapolate)
    return run


def oscillating(t: np.ndarray, X: np.ndarray, variant: str, window: float) -> np.ndarray:
    """Per trajectory of ``X`` (B, T, 3): True if V spikes within the last ``window`` s.
    A non-finite trajectory counts as not oscillating (and not at rest: check it apart)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 3 or X.shape[-1] != 3 or X.shape[1] != len(t):
        raise ValueError(f"X must have shape (B, len(t), 3), got {X.shape}")
    if not (0 < window < t[-1] - t[0]):
        raise ValueError(f"window must lie in (0, {t[-1] - t[0]}) s, got {window}")
    late = t >= t[-1] - window
    kw = spike_detection(variant)
    return np.array([bool(np.isfinite(x).all()) and spike_times(t[late], x[late, 0], **kw).size > 0
                     for x in X])


@dataclass(frozen=True)
class ContinuationStep:
    """One step of a continuation: V_S (mV), whether the state still oscillates, and the
    state it ended in (the start of the next step)."""

    V_S: float
    oscillating: bool
    state: np.ndarray


def _check_run_args(t_run: float, window: float) -> None:
    if not (np.isfinite(t_run) and t_run > 0):
        raise ValueError(f"t_run must be a finite number of seconds > 0, got {t_run}")
    if not (0 < window < t_run):
        raise ValueError(f"window must lie in (0, t_run = {t_run}) s, got {window}")


def continue_bursting(run: Runner, V_S_path, x0, t_run: float, window: float, variant: str
                      ) -> list[ContinuationStep]:
    """Follow an oscillating state along ``V_S_path`` (mV, in order): at each value run
    ``t_run`` s from where the previous run ended. Stops after the first value at which the
    state no longer oscillates (the attractor was lost there)."""
    _check_run_args(t_run, window)
    path = vector(V_S_path, "V_S_path")
    x = state(x0, "x0")
    out = []
    for v in path:
        t, X = run(np.array([v]), x[None], t_run)
        osc = bool(oscillating(t, X, variant, window)[0])
        x = X[0, -1]
        out.append(ContinuationStep(float(v), osc, x.copy()))
        if not osc:
            break
    return out


def bursting_edge(run: Runner, V_S_osc: float, V_S_lost: float, x_osc, t_run: float,
                  window: float, variant: str, tol: float = 1e-3) -> tuple[float, float]:
    """Bisect the V_S where an oscillating attractor is lost, between ``V_S_osc`` (where
    the state ``x_osc`` oscillates) and ``V_S_lost`` (where continuation lost it). Each trial
    value starts from the last oscillating state, as a continuation would. Returns the final
    bracket (oscillating end, lost end), at most ``tol`` mV wide."""
    _check_run_args(t_run, window)
    a, b = float(V_S_osc), float(V_S_lost)
    if not (np.isfinite(a) and np.isfinite(b) and a != b):
        raise ValueError(f"V_S_osc and V_S_lost must be distinct finite values, got {a}, {b}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0 mV, got {tol}")
    x = np.asarray(x_osc, dtype=float)
    while abs(b - a) > tol:
        m = 0.5 * (a + b)
        t, X = run(np.array([m]), x[None], t_run)
        if oscillating(t, X, variant, window)[0]:
            a, x = m, X[0, -1]
        else:
            b = m
    return a, b


def basins(run: Runner, V_S: float, states, t_end: float, window: float, variant: str,
           rest_state, rest_tol: float = 1.0) -> np.ndarray:
    """Where each initial state (B, 3) ends at ``V_S``: 0 at rest (no spike in the last
    ``window`` s and within ``rest_tol`` mV of ``rest_state`` in V at the end), 1
    oscillating, 2 neither (elsewhere, or non-finite)."""
    states = check_states(states, "states")
    t, X = run(np.full(len(states), float(V_S)), states, t_end)
    return end_labels(t, X, window, variant, rest_state, rest_tol)


def end_labels(t: np.ndarray, X: np.ndarray, window: float, variant: str, rest_state,
               rest_tol: float = 1.0) -> np.ndarray:
    """The labels of :func:`basins` for trajectories already run: ``X`` (B, T, 3) sampled at
    ``t`` (T,) s; 0 at rest near ``rest_state``, 1 oscillating, 2 neither."""
    osc = oscillating(t, X, variant, window)
    rest = state(rest_state, "rest_state")
    if not rest_tol > 0:
        raise ValueError(f"rest_tol must be > 0 mV, got {rest_tol}")
    near = np.abs(X[:, -1, 0] - rest[0]) <= rest_tol
    return np.where(osc, 1, np.where(near & np.isfinite(X[:, -1, 0]), 0, 2))
