"""A sweep on local processes against the same sweep on a dask cluster: wall times, and
whether the results are identical to the last bit (they should be: the compiled integrator
computes each trajectory on its own, whatever batch or machine it runs in).

``dask.distributed`` is the optional extra ``distributed`` (``pip install .[distributed]``);
where it is absent, :func:`compare_local_and_dask` returns None and chapter "Cost"'s texts
(``book/_code/ch07.py``) say so.
"""
from __future__ import annotations

import time
from dataclasses import astuple
from typing import Any

import numpy as np

from hhlib.ode.model import HHParams
from hhlib.ode.sweeps import isi_sweep

__all__ = ["sweeps_identical", "compare_with_executor", "compare_local_and_dask"]


def sweeps_identical(a: tuple[list, list], b: tuple[list, list]) -> bool:
    """Whether two results of ``hhlib.ode.sweeps.isi_sweep`` (statistics, ISIs) are identical:
    the same regimes, and every statistic and every ISI equal to the last bit (NaN = NaN)."""
    for name, r in (("a", a), ("b", b)):
        if not (isinstance(r, tuple) and len(r) == 2):
            raise TypeError(f"{name} must be an isi_sweep result (statistics, isis)")
    (sa, ia), (sb, ib) = a, b
    if len(sa) != len(sb) or len(ia) != len(ib):
        return False
    return (all(x.regime == y.regime and np.array_equal(astuple(x)[1:], astuple(y)[1:],
                                                        equal_nan=True)
                for x, y in zip(sa, sb))
            and all(np.array_equal(x, y) for x, y in zip(ia, ib)))


def compare_with_executor(params: HHParams, x0, executor: Any, **sweep_kw) -> dict:
    """Run ``isi_sweep(params, x0, **sweep_kw)`` in local processes, then on ``executor``:
    wall times (s), whether the results are identical, and how many ISIs they hold."""
    if "executor" in sweep_kw:
        raise TypeError("pass the executor as the argument executor, not in sweep_kw")
    t0 = time.perf_counter()
    local = isi_sweep(params, x0, **sweep_kw)
    t_local = time.perf_counter() - t0
    t0 = time.perf_counter()
    other = isi_sweep(params, x0, executor=executor, **sweep_kw)
    t_other = time.perf_counter() - t0
    return {"t_local": t_local, "t_other": t_other, "identical": sweeps_identical(local, other),
            "n_isi": sum(len(i) for i in local[1]), "n_values": len(local[0]),
            "chunk_size": sweep_kw.get("chunk_size")}


def compare_local_and_dask(params: HHParams, x0, *, n_workers: int = 2, **sweep_kw
                           ) -> dict | None:
    """:func:`compare_with_executor` on a ``dask.distributed`` LocalCluster of ``n_workers``
    single-threaded processes; None where the optional extra ``distributed`` is absent."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # the optional extra `distributed` (pip install .[distributed])
        return None
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        result = compare_with_executor(params, x0, client, **sweep_kw)
    result["n_workers"] = n_workers
    return result
