"""Spikes, bursts and regimes of voltage traces.

A spike is an upward crossing of ``threshold`` (mV), re-armed only after V falls below
``rearm`` (mV), so the small ripples of a burst's plateau are not counted twice. Spike times
are interpolated linearly between samples. A trace is

* ``"rest"`` when it has fewer than two spikes in the window analysed,
* ``"bursting"`` when its inter-spike intervals (ISIs) fall into two groups separated by a
  gap of at least ``gap_ratio`` (the long ISIs are the silent phases),
* ``"tonic"`` otherwise (one group of ISIs: regular spiking).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..checks import number, one_of, real_array, trace

__all__ = ["spike_times", "interspike_intervals", "BurstStats", "burst_statistics",
           "classify_regime", "sweep_statistics", "regime_transition", "REGIMES",
           "SPIKE_DETECTION", "spike_detection"]

REGIMES = ("rest", "tonic", "bursting")

# Spike detection per model variant (mV). The bistable variant's spikes are smaller: their
# peaks lie between about -39 and -28 mV and the troughs between them reach only -41.2 mV
# at the end of a burst, so it needs a lower threshold and a re-arm level just above those
# troughs (every oscillation of the active phase counts as a spike).
SPIKE_DETECTION = {"original": {"threshold": -35.0, "rearm": -45.0},
                   "bistable": {"threshold": -40.0, "rearm": -40.9}}


def spike_detection(variant: str) -> dict[str, float]:
    """``threshold`` and ``rearm`` (mV) for :func:`spike_times` in the given model variant."""
    return dict(SPIKE_DETECTION[one_of(variant, "variant", SPIKE_DETECTION)])


def _check_trace(t, V) -> tuple[np.ndarray, np.ndarray]:
    t, V = trace(t, V)
    if t.size < 2 or not np.all(np.diff(t) > 0):
        raise ValueError("t must hold at least two strictly increasing times (s)")
    if not np.all(np.isfinite(V)):
        raise ValueError("V must be finite")
    return t, V


def spike_times(t, V, *, threshold: float = -35.0, rearm: float = -45.0) -> np.ndarray:
    """Times (s) of upward crossings of ``threshold`` mV by V(t), with re-arming below
    ``rearm`` mV (``rearm < threshold``)."""
    t, V = _check_trace(t, V)
    threshold, rearm = number(threshold, "threshold"), number(rearm, "rearm")
    if not rearm < threshold:
        raise ValueError(f"rearm ({rearm} mV) must be below threshold ({threshold} mV)")
    up = np.flatnonzero((V[:-1] < threshold) & (V[1:] >= threshold))
    if up.size == 0:
        return np.empty(0)
    down = np.flatnonzero(V < rearm)
    # Keep a crossing only if V went below `rearm` since the previous kept crossing.
    keep, last = [], -1
    for i in up:
        if last < 0 or np.searchsorted(down, last, side="right") < np.searchsorted(down, i + 1):
            keep.append(i)
            last = i
    i = np.asarray(keep)
    frac = (threshold - V[i]) / (V[i + 1] - V[i])
    return t[i] + frac * (t[i + 1] - t[i])


def interspike_intervals(t, V, **kw) -> np.ndarray:
    """Inter-spike intervals (s) of the trace; keywords as in :func:`spike_times`."""
    return np.diff(spike_times(t, V, **kw))


@dataclass(frozen=True)
class BurstStats:
    """Summary of a voltage trace. Times in s; NaN where a quantity is undefined (for
    example burst statistics of tonic spiking, or anything of a resting trace)."""

    regime: str
    n_spikes: int
    isi_mean: float            # mean ISI over all spikes (tonic: the spiking period)
    spikes_per_burst: float    # mean over complete bursts
    burst_period: float        # mean time between the first spikes of consecutive bursts
    silent_phase: float        # mean interval between the last and first spike of bursts
    active_phase: float        # mean time from first to last spike of a burst
    n_bursts: int              # complete bursts (bounded by silent phases on both sides)


def _split_isis(isi: np.ndarray, gap_ratio: float) -> float | None:
    """Threshold (s) separating intra-burst from inter-burst ISIs, or None if the ISIs
    form one group (largest ratio between neighbouring sorted ISIs below ``gap_ratio``)."""
    s = np.sort(isi)
    if s.size < 2 or s[0] <= 0:
        return None
    ratios = s[1:] / s[:-1]
    k = int(np.argmax(ratios))
    if ratios[k] < gap_ratio:
        return None
    return float(np.sqrt(s[k] * s[k + 1]))


def burst_statistics(t, V, *, t_min: float = 0.0, gap_ratio: float = 2.0,
                     threshold: float = -35.0, rearm: float = -45.0) -> BurstStats:
    """Regime and spike/burst statistics of V(t) over ``t >= t_min`` (drop the transient).

    ``gap_ratio`` (> 1) is the smallest ratio between silent-phase and intra-burst ISIs that
    counts as bursting.
    """
    t, V = _check_trace(t, V)
    gap_ratio = number(gap_ratio, "gap_ratio", low=1.0)
    t_min = number(t_min, "t_min")
    sel = t >= t_min
    if sel.sum() < 2:
        raise ValueError(f"t_min ({t_min} s) leaves fewer than two samples (t ends at {t[-1]} s)")
    sp = spike_times(t[sel], V[sel], threshold=threshold, rearm=rearm)
    nan = float("nan")
    if sp.size < 2:
        return BurstStats("rest", int(sp.size), nan, nan, nan, nan, nan, 0)
    isi = np.diff(sp)
    cut = _split_isis(isi, gap_ratio)
    if cut is None:
        return BurstStats("tonic", int(sp.size), float(isi.mean()), nan, nan, nan, nan, 0)
    gaps = np.flatnonzero(isi > cut)          # isi[g] separates spike g and g+1
    starts = gaps[:-1] + 1                     # complete bursts: between consecutive gaps
    ends = gaps[1:]
    if starts.size == 0:
        return BurstStats("bursting", int(sp.size), float(isi.mean()), nan, nan,
                          float(isi[gaps].mean()), nan, 0)
    spb = (ends - starts + 1).astype(float)
    first = sp[starts]
    period = float(np.diff(first).mean()) if first.size > 1 else float(sp[ends[0] + 1] - first[0])
    return BurstStats("bursting", int(sp.size), float(isi.mean()), float(spb.mean()), period,
                      float(isi[gaps].mean()), float((sp[ends] - sp[starts]).mean()),
                      int(starts.size))


def classify_regime(t, V, **kw) -> str:
    """``"rest"``, ``"tonic"`` or ``"bursting"``; keywords as in :func:`burst_statistics`."""
    return burst_statistics(t, V, **kw).regime


def sweep_statistics(t, V, *, t_min: float = 0.0, **kw) -> tuple[list[BurstStats],
                                                                  list[np.ndarray]]:
    """Statistics and ISIs (s) of each trace of a sweep: ``V`` of shape (B, len(t)) in mV.

    Returns ``(stats, isis)``, one entry per trace, each over ``t >= t_min``.
    """
    t = real_array(t, "t")
    V = real_array(V, "V")
    if t.ndim != 1:
        raise ValueError(f"t must be a 1-D array of times (s), got shape {t.shape}")
    if V.ndim != 2 or V.shape[1] != t.shape[0]:
        raise ValueError(f"V must have shape (B, len(t)) = (B, {t.shape[0]}), got {V.shape}")
    sel = t >= t_min
    spike_kw = {k: kw[k] for k in ("threshold", "rearm") if k in kw}
    stats = [burst_statistics(t, v, t_min=t_min, **kw) for v in V]
    isis = [interspike_intervals(t[sel], v[sel], **spike_kw) for v in V]
    return stats, isis


def regime_transition(V_S, regimes: Sequence[str], before: str = "bursting",
                      after: str = "tonic") -> tuple[float, float]:
    """Bracket (mV) of the switch from ``before`` to ``after`` along an increasing V_S grid:
    the largest V_S with regime ``before`` and the next grid value, which must be ``after``.
    """
    V_S = real_array(V_S, "V_S")
    if isinstance(regimes, str) or not all(isinstance(r, str) for r in regimes):
        raise TypeError(f"regimes must be a sequence of regime names {REGIMES}, got {regimes!r}")
    one_of(before, "before", REGIMES)
    one_of(after, "after", REGIMES)
    if V_S.ndim != 1 or len(regimes) != V_S.size or not np.all(np.diff(V_S) > 0):
        raise ValueError("V_S must be an increasing 1-D grid with one regime per value")
    idx = [i for i, r in enumerate(regimes) if r == before]
    if not idx or idx[-1] + 1 >= V_S.size:
        raise ValueError(f"no switch from {before!r} to {after!r} on this grid")
    i = idx[-1]
    if regimes[i + 1] != after:
        raise ValueError(f"after the last {before!r} (V_S = {V_S[i]:.4g} mV) comes "
                         f"{regimes[i + 1]!r}, not {after!r}")
    return float(V_S[i]), float(V_S[i + 1])
