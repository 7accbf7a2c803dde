"""Sweeps of many independent simulations, on any ``concurrent.futures``-style executor.

A sweep (a dataset, a bifurcation diagram) is split into chunks of ``chunk_size``
trajectories; each chunk is one :func:`~hhlib.ode.integrate.simulate_ensemble` call, submitted to
an executor: anything with ``submit(fn, *args)`` returning an object with ``result()``, such
as :class:`concurrent.futures.ProcessPoolExecutor`, a ``dask.distributed.Client`` (or its
``get_executor()``), or an MPI or Ray pool with that interface.

Determinism: the compiled integrator computes each trajectory on its own, so the numbers
depend neither on the chunking nor on the executor nor on the thread count; results come back
in input order. ``chunk_size=None`` (the default) runs the whole sweep as one
``simulate_ensemble`` call. Across machines (other CPUs, other builds of the math library) the
last bits may differ.
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Sequence

import numpy as np

from ..checks import integer, states
from .spikes import BurstStats, sweep_statistics
from .integrate import simulate_ensemble
from .model import HHParams, check_params

__all__ = ["chunk_bounds", "run_ensemble", "isi_sweep", "map_chunks"]


def chunk_bounds(n: int, chunk_size: int | None) -> list[tuple[int, int]]:
    """``(start, stop)`` index pairs of consecutive chunks of ``chunk_size`` items (the last
    one shorter); one chunk of all ``n`` items if ``chunk_size`` is None."""
    n = integer(n, "n")
    if chunk_size is None:
        return [(0, n)]
    chunk_size = integer(chunk_size, "chunk_size", or_none=True)
    return [(i, min(i + chunk_size, n)) for i in range(0, n, chunk_size)]


def _check_executor(executor: Any) -> None:
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError("executor must have the concurrent.futures.Executor interface "
                        f"(a callable submit method), got {type(executor).__name__}")


def map_chunks(fn: Callable, chunks: Sequence[tuple], executor: Any = None,
               max_workers: int | None = None) -> list:
    """``[fn(*args) for args in chunks]``, each call submitted to ``executor``; results in
    input order.

    ``executor=None``: local processes (a :class:`ProcessPoolExecutor` with the ``spawn``
    start method, safe after torch or OpenMP threads have started, and at most
    ``max_workers`` or ``os.cpu_count()`` workers), started only when there is more than
    one chunk; a single chunk runs in this process. ``fn`` and its arguments must be
    picklable (a module-level function) for any executor that runs them elsewhere.
    """
    _check_executor(executor)
    integer(max_workers, "max_workers", or_none=True)
    chunks = list(chunks)
    if executor is None:
        if len(chunks) <= 1:
            return [fn(*args) for args in chunks]
        workers = min(len(chunks), max_workers or os.cpu_count() or 1)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            return map_chunks(fn, chunks, pool)
    futures = [executor.submit(fn, *args) for args in chunks]
    return [f.result() for f in futures]


def _slice_params(params: HHParams, B: int, lo: int, hi: int) -> HHParams:
    """The parameters of trajectories lo..hi-1: per-trajectory (B,) fields sliced."""
    changes = {}
    for f in dataclasses.fields(params):
        v = getattr(params, f.name)
        if isinstance(v, np.ndarray) and v.ndim == 1 and v.shape[0] == B:
            changes[f.name] = v[lo:hi]
    return dataclasses.replace(params, **changes) if changes else params


def _chunk_args(params: HHParams, x0, chunk_size: int | None) -> tuple[np.ndarray, list]:
    check_params(params)
    x0 = states(x0, "x0")
    B = x0.shape[0]
    return x0, [(_slice_params(params, B, lo, hi), x0[lo:hi]) for lo, hi in
                chunk_bounds(B, chunk_size)]


def _ensemble_chunk(params: HHParams, x0: np.ndarray, t_end: float, dt: float,
                    kw: dict) -> tuple[np.ndarray, np.ndarray]:
    return simulate_ensemble(params, x0, t_end, dt, **kw)


def run_ensemble(params: HHParams, x0, t_end: float, dt: float, *, executor: Any = None,
                 chunk_size: int | None = None, max_workers: int | None = None,
                 **ensemble_kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~hhlib.ode.integrate.simulate_ensemble` of B trajectories (``x0`` (B, 3): V mV,
    n, S; parameter fields scalars or shape (B,)) over [0, t_end] s sampled every ``dt`` s,
    in chunks of ``chunk_size`` run on ``executor`` (see :func:`map_chunks`). Returns
    ``(t, X)`` with ``X`` of shape (B, len(t), 3), identical for every executor; with
    ``chunk_size=None`` identical to one ``simulate_ensemble`` call. Keywords (rtol, atol,
    max_steps) go to ``simulate_ensemble``."""
    x0, chunks = _chunk_args(params, x0, chunk_size)
    kw = dict(ensemble_kw)
    if executor is not None or len(chunks) > 1:
        kw.pop("progress", None)          # no progress bars from other processes
    res = map_chunks(_ensemble_chunk, [(p, x, t_end, dt, kw) for p, x in chunks], executor,
                     max_workers)
    return res[0][0], np.concatenate([X for _, X in res], axis=0)


def _isi_chunk(params: HHParams, x0: np.ndarray, t_end: float, dt: float, t_min: float,
               kw: dict, stats_kw: dict) -> tuple[list[BurstStats], list[np.ndarray]]:
    t, X = simulate_ensemble(params, x0, t_end, dt, **kw)
    return sweep_statistics(t, X[:, :, 0], t_min=t_min, **stats_kw)


def isi_sweep(params: HHParams, x0, t_end: float, dt: float, *, t_min: float,
              executor: Any = None, chunk_size: int | None = None,
              max_workers: int | None = None, ode_kw: dict | None = None,
              stats_kw: dict | None = None) -> tuple[list[BurstStats], list[np.ndarray]]:
    """A bifurcation sweep: one trajectory per row of ``x0`` (B, 3) with its parameters
    (fields scalars or (B,), e.g. ``V_S`` in mV), integrated over [0, t_end] s and sampled
    every ``dt`` s; returns per trajectory the :class:`~hhlib.ode.spikes.BurstStats` and the
    inter-spike intervals (s) over ``t >= t_min`` s (as
    :func:`~hhlib.ode.spikes.sweep_statistics`). Each worker returns statistics, not
    trajectories, so a large sweep moves little data. ``ode_kw`` goes to
    ``simulate_ensemble``, ``stats_kw`` to ``sweep_statistics``; executor and chunking as in
    :func:`run_ensemble`."""
    if not (np.isfinite(t_min) and 0 <= t_min < t_end):
        raise ValueError(f"t_min must lie in [0, t_end) s, got {t_min!r}")
    _, chunks = _chunk_args(params, x0, chunk_size)
    res = map_chunks(_isi_chunk, [(p, x, t_end, dt, float(t_min), dict(ode_kw or {}),
                                   dict(stats_kw or {})) for p, x in chunks],
                     executor, max_workers)
    stats = [s for r in res for s in r[0]]
    isis = [i for r in res for i in r[1]]
    return stats, isis
