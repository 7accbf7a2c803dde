"""How far a map's free runs are from reference trajectories, in one number: the criterion
training selects its epoch by (:func:`dynamics_score`), its targets, and the rollout loss.

Trajectories only, never the ODE's fixed point; :mod:`hhlib.dynamics.evaluation` compares the same
burst statistics run by run.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import real_array
from .network import MapNet
from ..ode.spikes import burst_statistics, spike_detection

__all__ = ["FreeRunTargets", "check_references", "dynamics_score", "rollout_loss"]


@dataclass(frozen=True)
class FreeRunTargets:
    """Agreement the network's free runs must reach against the ODE (issue targets)."""

    spikes_per_burst: float = 1.0      # absolute
    burst_period: float = 0.10         # relative
    tonic_isi: float = 0.05            # relative


def check_references(trajectories, V_S, dt: float, variant: str, *, strict: bool = True
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Reference trajectories (n >= 1, T >= 2, 3) sampled every ``dt`` s at ``V_S`` (n,)
    mV, checked; every one must show at least two spikes, since one too short to leave a
    silent phase reads as "rest", and a map that never moves would match it perfectly.
    ``strict``: such references are a ValueError (else a RuntimeWarning)."""
    X = real_array(trajectories, "trajectories")
    vs = real_array(V_S, "V_S")
    if X.ndim != 3 or X.shape[0] < 1 or X.shape[1] < 2 or X.shape[2] != 3:
        raise ValueError(f"trajectories must have shape (n >= 1, T >= 2, 3), got {X.shape}")
    if vs.shape != (X.shape[0],):
        raise ValueError(f"V_S must hold one value per trajectory (shape ({X.shape[0]},)), "
                         f"got {vs.shape}")
    kw = spike_detection(variant)
    t = np.arange(X.shape[1]) * dt
    silent = [i for i, ref in enumerate(X) if np.all(np.isfinite(ref))
              and burst_statistics(t, ref[:, 0], **kw).regime == "rest"]
    if silent:
        msg = (f"{len(silent)} of {X.shape[0]} reference trajectories (the first at V_S = "
               f"{vs[silent[0]]:g} mV) show fewer than two spikes in their {t[-1]:g} s: too "
               "short to judge a regime (a map that never moves scores 0 against them); "
               "pass references spanning at least two bursts")
        if strict:
            raise ValueError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
    return X, vs


def dynamics_score(net: MapNet, trajectories: np.ndarray, V_S: np.ndarray,
                   targets: "FreeRunTargets | None" = None) -> float:
    """How far free runs of the map are from reference trajectories, in units of the
    targets: each run starts at a reference trajectory's first state and lasts as long; per
    trajectory the score adds |spikes-per-burst error| / 1, |burst-period error| / 10 %,
    |tonic-ISI error| / 5 %, and 10 for a wrong regime or a non-finite run. Mean over
    trajectories; 0 is perfect and < 1 meets every target on average.
    """
    targets = targets or FreeRunTargets()
    trajectories, _ = check_references(trajectories, V_S, net.dt, net.variant, strict=False)
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


def rollout_loss(net: MapNet, windows: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
    """Mean squared error of a free rollout from each window's first state over the
    window (B, K + 1, 3), each variable in units of its increment spread ``d_std``."""
    x = windows[:, 0]
    err = 0.0
    K = windows.shape[1] - 1
    for k in range(1, K + 1):
        x = net(x, V_S)
        err = err + (((x - windows[:, k]) / net.d_std) ** 2).mean()
    return err / K
