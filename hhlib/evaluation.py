"""How well a dynamics model reproduces the ODE's oscillations: free runs side by side.

:func:`compare_free_runs` runs the ODE and a trained map from the same states and compares
their burst statistics per V_S against :class:`FreeRunTargets`; :func:`dynamics_score` folds
the same comparison into one number per network (the validation criterion of training).
Both use trajectories only, never the ODE's fixed point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .integrate import simulate_ensemble
from .model import HHParams, _real_array, is_physical
from .network import MapNet
from .spikes import burst_statistics, spike_detection

__all__ = ["FreeRunTargets", "compare_free_runs", "dynamics_score"]


@dataclass(frozen=True)
class FreeRunTargets:
    """Agreement the network's free runs must reach against the ODE (issue targets)."""

    spikes_per_burst: float = 1.0      # absolute
    burst_period: float = 0.10         # relative
    tonic_isi: float = 0.05            # relative


def compare_free_runs(net: MapNet, V_S: np.ndarray, x0: np.ndarray, t_end: float,
                      t_min: float, targets: FreeRunTargets = FreeRunTargets(),
                      ode_kw: dict | None = None) -> list[dict[str, Any]]:
    """Run the ODE (``simulate_ensemble``) and the network (``rollout``) from the same
    initial states for ``t_end`` s and compare their statistics over ``t >= t_min``.

    One row per V_S (mV): regimes, spikes per burst, burst period (s), mean ISI (s), the
    errors and whether each target is met (None where it does not apply).
    """
    if not isinstance(net, MapNet):
        raise TypeError(f"net must be a MapNet, got {type(net).__name__}")
    if not isinstance(targets, FreeRunTargets):
        raise TypeError(f"targets must be a FreeRunTargets, got {type(targets).__name__}")
    kw = spike_detection(net.variant)

    V_S = np.atleast_1d(_real_array(V_S, "V_S"))
    x0 = _real_array(x0, "x0")
    if V_S.ndim != 1 or not np.all(np.isfinite(V_S)):
        raise ValueError(f"V_S must be a finite number or 1-D array (mV), got shape {V_S.shape}")
    if x0.shape != (V_S.size, 3):
        raise ValueError(f"x0 must have shape ({V_S.size}, 3), one state per V_S, got {x0.shape}")
    for k, v in (("t_end", t_end), ("t_min", t_min)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                np.floating)):
            raise TypeError(f"{k} must be a number (s), got {v!r}")
    if not (math.isfinite(t_end) and t_end >= 2 * net.dt):
        raise ValueError(f"t_end must be finite and >= 2 dt = {2 * net.dt} s, got {t_end!r}")
    if not (math.isfinite(t_min) and 0 <= t_min < t_end):
        raise ValueError(f"t_min must lie in [0, t_end) s, got {t_min!r}")
    n = int(round(t_end / net.dt))
    t, X = simulate_ensemble(HHParams.of_variant(net.variant, V_S=V_S), x0, n * net.dt, net.dt,
                             **(ode_kw or {}))
    Y = net.rollout(x0, V_S, n, check=False)      # each row reports "physical" itself
    rows = []
    for i, v in enumerate(V_S):
        a = burst_statistics(t, X[i, :, 0], t_min=t_min, **kw)
        ok_net = bool(np.isfinite(Y[i]).all())
        b = burst_statistics(t, Y[i, :, 0], t_min=t_min, **kw) if ok_net else None
        row = {"V_S": float(v), "ode": a, "net": b, "physical": bool(is_physical(Y[i])),
               "regime_ok": b is not None and a.regime == b.regime}
        spb_err = per_err = isi_err = float("nan")
        spb_ok = per_ok = isi_ok = None
        if b is not None and a.regime == b.regime == "bursting":
            spb_err = b.spikes_per_burst - a.spikes_per_burst
            per_err = (b.burst_period - a.burst_period) / a.burst_period
            spb_ok = bool(abs(spb_err) <= targets.spikes_per_burst)
            per_ok = bool(abs(per_err) <= targets.burst_period)
        if b is not None and a.regime == b.regime == "tonic":
            isi_err = (b.isi_mean - a.isi_mean) / a.isi_mean
            isi_ok = bool(abs(isi_err) <= targets.tonic_isi)
        row.update(spb_err=spb_err, period_err=per_err, isi_err=isi_err, spb_ok=spb_ok,
                   period_ok=per_ok, isi_ok=isi_ok)
        rows.append(row)
    return rows


def dynamics_score(net: MapNet, trajectories: np.ndarray, V_S: np.ndarray,
                   targets: "FreeRunTargets | None" = None) -> float:
    """How far free runs of the map are from reference trajectories, in units of the
    targets: each run starts at a reference trajectory's first state and lasts as long; per
    trajectory the score adds |spikes-per-burst error| / 1, |burst-period error| / 10 %,
    |tonic-ISI error| / 5 %, and 10 for a wrong regime or a non-finite run. Mean over
    trajectories; 0 is perfect and < 1 meets every target on average.
    """
    targets = targets or FreeRunTargets()
    kw = spike_detection(net.variant)
    n = trajectories.shape[1] - 1
    t = np.arange(n + 1) * net.dt
    # Non-finite runs are scored here; a warning per validation epoch would be noise.
    Y = net.rollout(trajectories[:, 0], V_S, n, check=False)
    total = 0.0
    for ref, run in zip(trajectories, Y):
        if not np.all(np.isfinite(run)):
            total += 10.0
            continue
        a, b = burst_statistics(t, ref[:, 0], **kw), burst_statistics(t, run[:, 0], **kw)
        if a.regime != b.regime:
            total += 10.0
        elif a.regime == "bursting" and np.isfinite(a.spikes_per_burst + b.spikes_per_burst
                                                    + a.burst_period + b.burst_period):
            total += (abs(b.spikes_per_burst - a.spikes_per_burst) / targets.spikes_per_burst
                      + abs(b.burst_period / a.burst_period - 1) / targets.burst_period)
        elif a.regime == "tonic":
            total += abs(b.isi_mean / a.isi_mean - 1) / targets.tonic_isi
    return total / len(Y)
