"""Bistability of the model's variant: where a stable rest state and bursting coexist.

The measurements that do not depend on the variant (runners for the ODE and a map,
continuation of the bursting state, basins) live in :mod:`hhlib.attractors`; this module
holds what the bistability chapter adds on top of them.
"""
from __future__ import annotations

import numpy as np

from .attractors import oscillating
from .integrate import simulate_ensemble
from .model import HHParams, fixed_points

__all__ = ["bistable_region"]


def bistable_region(params: HHParams, V_S_grid, field: str, values, x_burst, t_end: float,
                    window: float, *, rtol: float = 1e-7, atol: float = 1e-9,
                    progress: bool = False) -> dict[str, np.ndarray]:
    """Sweep a plane of the ODE spanned by ``field`` (its ``values``, k of them) and V_S: the
    fixed point's stability, and whether a trajectory started at ``x_burst`` still
    oscillates after ``t_end`` s, all grid points in one ``simulate_ensemble`` call.
    ``V_S_grid`` (mV) is one row (m,) shared by every value, or one row per value (k, m).
    Returns ``V_S`` (k, m) and boolean arrays ``stable``, ``oscillating`` and ``bistable``
    (both) of the same shape."""
    F = np.asarray(values, dtype=float)
    if F.ndim != 1 or F.size < 1:
        raise ValueError("values must be a non-empty 1-D array")
    V = np.asarray(V_S_grid, dtype=float)
    if V.ndim == 1:
        V = np.tile(V, (F.size, 1))
    if V.ndim != 2 or V.shape[0] != F.size or V.shape[1] < 1:
        raise ValueError(f"V_S_grid must have shape (m,) or ({F.size}, m), got {V.shape}")
    if field not in params.numeric_fields() or field == "V_S":
        raise ValueError(f"field must name a parameter of {params.variant!r} other than V_S, "
                         f"got {field!r}")
    FF = np.repeat(F[:, None], V.shape[1], axis=1)
    stable = np.array([all(fp.stable for fp in fixed_points(params.replace(**{field: f, "V_S": v})))
                       for f, v in zip(FF.ravel(), V.ravel())]).reshape(V.shape)
    x0 = np.tile(np.asarray(x_burst, dtype=float), (V.size, 1))
    t, X = simulate_ensemble(params.replace(**{field: FF.ravel(), "V_S": V.ravel()}), x0, t_end,
                             0.01, rtol=rtol, atol=atol, progress=progress)
    osc = oscillating(t, X, params.variant, window).reshape(V.shape)
    return {"V_S": V, "stable": stable, "oscillating": osc, "bistable": stable & osc}
