"""How well a dynamics model reproduces the ODE's oscillations: free runs side by side.

:func:`compare_free_runs` runs the ODE and a trained map from the same states
(:func:`paired_runs`) and compares their burst statistics per V_S against
:class:`~hhlib.maps.scores.FreeRunTargets`; :func:`~hhlib.maps.scores.dynamics_score` folds
the same comparison into one number per network (the validation criterion of training). Both
use trajectories only, never the ODE's fixed point.

For the network chapter: :func:`compare_networks` (losses and free runs of several networks
on held-out data), :func:`free_run_counts` (the per-V_S verdicts),
:func:`random_starts` and :func:`long_runs` (do long free runs stay in the physical box?),
:func:`network_targets`, and the training schedule in words (:func:`schedule_text`); the
chapter's tables and sentences are in ``book/_code/ch04.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..checks import (box as check_box, cuts as check_cuts, instance, integer, is_int, is_real,
                      real_array, record as check_record, state, vector)
from ..ode.data import PHYSICAL_START_BOX
from ..ode.integrate import simulate_ensemble
from ..ode.model import HHParams, is_physical, physical_samples
from ..maps.network import DiscreteMap, MapNet
from ..maps.scores import FreeRunTargets, rollout_loss
from .recovery import compare_fixed_points, fixed_point_checks, worst_at
from ..ode.spikes import burst_statistics, spike_detection
from ..targets import Target

__all__ = ["compare_free_runs", "paired_runs",
           "compare_networks", "free_run_summary", "free_run_counts",
           "RANDOM_START_BOX", "random_starts", "LongRuns", "long_runs", "network_targets",
           "schedule_text", "band_check"]


def _check_runs(net: Any, V_S: Any, x0: Any, t_end: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated (V_S (B,), x0 (B, 3)) for paired runs of ``t_end`` s of ``net`` and the ODE."""
    instance(net, DiscreteMap, "net", "MapNet (or another DiscreteMap)")
    V_S = np.atleast_1d(real_array(V_S, "V_S"))
    x0 = real_array(x0, "x0")
    if V_S.ndim != 1 or not np.all(np.isfinite(V_S)):
        raise ValueError(f"V_S must be a finite number or 1-D array (mV), got shape {V_S.shape}")
    if x0.shape != (V_S.size, 3):
        raise ValueError(f"x0 must have shape ({V_S.size}, 3), one state per V_S, got {x0.shape}")
    if not is_real(t_end):
        raise TypeError(f"t_end must be a number (s), got {t_end!r}")
    if not (math.isfinite(t_end) and t_end >= 2 * net.dt):
        raise ValueError(f"t_end must be finite and >= 2 dt = {2 * net.dt} s, got {t_end!r}")
    return V_S, x0


def compare_free_runs(net: MapNet, V_S: np.ndarray, x0: np.ndarray, t_end: float,
                      t_min: float, targets: FreeRunTargets = FreeRunTargets(),
                      ode_kw: dict | None = None) -> list[dict[str, Any]]:
    """Run the ODE (``simulate_ensemble``) and the network (``rollout``) from the same
    initial states for ``t_end`` s and compare their statistics over ``t >= t_min``.

    One row per V_S (mV): regimes, spikes per burst, burst period (s), mean ISI (s), the
    errors and whether each target is met (None where it does not apply).
    """
    instance(targets, FreeRunTargets, "targets")
    V_S, x0 = _check_runs(net, V_S, x0, t_end)
    if not is_real(t_min):
        raise TypeError(f"t_min must be a number (s), got {t_min!r}")
    if not (math.isfinite(t_min) and 0 <= t_min < t_end):
        raise ValueError(f"t_min must lie in [0, t_end) s, got {t_min!r}")
    kw = spike_detection(net.variant)
    t, X, Y = paired_runs(net, V_S, x0, t_end, ode_kw)   # each row reports "physical" itself
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


# --- Reporting: what the network chapter shows about a trained network ----------------------

def _check_record(record: Any, name: str = "record") -> dict:
    return check_record(record, "train_config", name)


def schedule_text(record: dict) -> str:
    """The record's training schedule in words: "20 epochs at K = 1, then 30 epochs at K = 8"."""
    stages = _check_record(record)["train_config"]["stages"]
    return ", then ".join(f"{e} epochs at K = {k}" for k, e in stages)


# --- Free runs of several networks against the ODE -----------------------------------------

def paired_runs(net: MapNet, V_S: np.ndarray, x0: np.ndarray, t_end: float,
                ode_kw: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ODE (``simulate_ensemble``) and the network (``rollout``, unchecked: callers
    judge the runs) from the same states ``x0`` (B, 3) at ``V_S`` (B,) mV for ``t_end`` s,
    rounded to whole network steps. Returns t (T,) s, ODE states (B, T, 3), network states
    (B, T, 3)."""
    V_S, x0 = _check_runs(net, V_S, x0, t_end)
    n = int(round(t_end / net.dt))
    t, X = simulate_ensemble(HHParams.of_variant(net.variant, V_S=V_S), x0, n * net.dt, net.dt,
                             **(ode_kw or {}))
    Y = net.rollout(x0, V_S, n, check=False)
    return t, X, Y


def _finite_abs(values) -> float:
    """Largest |value| over the finite ones; NaN when none is finite (nothing to judge)."""
    v = [abs(x) for x in values if np.isfinite(x)]
    return max(v) if v else float("nan")


def free_run_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What :func:`compare_free_runs` rows say in one line: regimes correct ("k/n"), the
    worst spikes-per-burst, burst-period and tonic-ISI errors (NaN where none applies) and
    the number of runs that stayed physical."""
    rows = _check_rows(rows)
    return {"regime correct": f"{sum(bool(r['regime_ok']) for r in rows)}/{len(rows)}",
            "worst spikes/burst error": _finite_abs(r["spb_err"] for r in rows),
            "worst burst-period error": _finite_abs(r["period_err"] for r in rows),
            "worst tonic-ISI error": _finite_abs(r["isi_err"] for r in rows),
            "physical runs": sum(bool(r["physical"]) for r in rows)}


def compare_networks(nets: dict[str, MapNet], cuts: np.ndarray, cut_V_S: np.ndarray,
                     V_S: np.ndarray, x0: np.ndarray, t_end: float, t_min: float
                     ) -> tuple[list[tuple], dict[str, list[dict[str, Any]]]]:
    """Each network on the same held-out data: its rollout loss over one step and over the
    whole of ``cuts`` (N, L + 1, 3) at ``cut_V_S`` (N,) (:func:`rollout_loss`,
    float32, increment-spread units), then :func:`compare_free_runs` from ``x0`` at ``V_S``.

    Returns table rows (name, loss 1 step, loss L steps, then :func:`free_run_summary`'s
    values) and the free-run rows per name."""
    if not isinstance(nets, dict) or not nets:
        raise TypeError("nets must be a non-empty dict of name -> MapNet")
    for name, m in nets.items():
        instance(m, DiscreteMap, f"nets[{name!r}]", "MapNet (or another DiscreteMap)")
    cuts = check_cuts(cuts)
    cut_V_S = real_array(cut_V_S, "cut_V_S")
    if cut_V_S.shape != cuts.shape[:1]:
        raise ValueError(f"cut_V_S must have shape ({cuts.shape[0]},), got {cut_V_S.shape}")
    vc = torch.as_tensor(cuts, dtype=torch.float32)
    vv = torch.as_tensor(cut_V_S, dtype=torch.float32)
    table, results = [], {}
    for name, m in nets.items():
        with torch.no_grad():
            l1 = float(rollout_loss(m, vc[:, :2], vv))
            l_all = float(rollout_loss(m, vc, vv))
        rows = compare_free_runs(m, V_S, x0, t_end, t_min)
        results[name] = rows
        table.append((name, l1, l_all, *free_run_summary(rows).values()))
    return table, results


def _check_rows(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("rows must be a non-empty list of compare_free_runs rows (dicts)")
    return rows


def free_run_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many test values (``n_test``) have the right regime (``n_regime``), how many
    statistic targets apply (``n_checks``) and how many are met (``n_checks_ok``)."""
    rows = _check_rows(rows)
    checks = [r[k] for r in rows for k in ("spb_ok", "period_ok", "isi_ok") if r[k] is not None]
    return {"n_test": len(rows), "n_regime": sum(bool(r["regime_ok"]) for r in rows),
            "n_checks": len(checks), "n_checks_ok": sum(checks)}


# --- Long free runs: does the map stay in the physical box? --------------------------------

# Where random initial states are drawn (V mV, n, S): around the attractor, wider than it;
# the same box the robust-training data draw their transient starts from.
RANDOM_START_BOX = PHYSICAL_START_BOX


def random_starts(V_S_pool: np.ndarray, n: int, seed: int = 7,
                  box: tuple = RANDOM_START_BOX) -> tuple[np.ndarray, np.ndarray]:
    """``n`` initial states drawn uniformly in ``box`` ((V lo, hi) mV, (n lo, hi),
    (S lo, hi)) and a V_S (mV) for each drawn from ``V_S_pool``, with
    ``numpy.random.default_rng(seed)``: V, n and S columns first, then the V_S."""
    integer(n, "n")
    if not is_int(seed):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    pool = vector(V_S_pool, "V_S_pool")
    b = check_box(box, "box")
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(lo, hi, n) for lo, hi in b])
    return x, rng.choice(pool, n)


@dataclass(frozen=True)
class LongRuns:
    """What long free runs did (see :func:`long_runs`): per run, whether it stayed physical
    (``ok``) and finite (``finite``); ``n_attractor`` runs started on the attractor, the rest
    from random states; ``onset`` (s): first unphysical sample per run (NaN if none)."""

    ok: np.ndarray
    finite: np.ndarray
    n_attractor: int
    onset: np.ndarray
    details: tuple[str, ...]
    ranges: str

    @property
    def n_long(self) -> int:
        return int(self.ok.size)

    @property
    def n_long_ok(self) -> int:
        return int(self.ok.sum())

    def text(self) -> str:
        """What happened, in sentences (the chapter's ``long_text``)."""
        na, ok, finite = self.n_attractor, self.ok, self.finite
        out = (f"Of the runs started on the attractor, {ok[:na].sum()} of {na} stayed "
               f"physical; of those from random states off the attractor, {ok[na:].sum()} of "
               f"{ok.size - na}. ")
        if (~finite).any():
            out += (f"{(~finite).sum()} runs ({(~finite[:na]).sum()} of them started on the "
                    "attractor) did not come back: the map, shown only oscillations, carried "
                    "them out of the physical box within "
                    f"{np.max(self.onset[~finite]):.2f} s of the start and on to non-finite "
                    "values.")
        else:
            out += ("Every run stayed finite; the failures dip slightly out of the physical "
                    "box (the times and depths are printed above) while approaching the "
                    "attractor.")
        return out

    def verdict(self) -> str:
        return "This target is met." if self.ok.all() else "This target is missed as stated."

    def report(self, duration: float) -> str:
        """Counts, the range of the finite runs and one line per failed run."""
        na, ok = self.n_attractor, self.ok
        head = (f"{ok.size} free runs of {duration:.0f} s: {ok.sum()} stayed physical "
                f"({ok[:na].sum()} of {na} started on the attractor, {ok[na:].sum()} of "
                f"{ok.size - na} from random states); {(~self.finite).sum()} ran off to "
                "non-finite values")
        return "\n".join([head, self.ranges, *self.details])


def long_runs(Y: np.ndarray, x0: np.ndarray, V_S: np.ndarray, n_attractor: int,
              dt: float) -> LongRuns:
    """Judge free runs ``Y`` (B, T, 3) started from ``x0`` (B, 3) at ``V_S`` (B,) mV with
    step ``dt`` s: the first ``n_attractor`` started on the attractor. A run is physical when
    every sample is finite and inside :data:`hhlib.ode.model.PHYSICAL_BOUNDS`."""
    Y = real_array(Y, "Y")
    if Y.ndim != 3 or Y.shape[-1] != 3:
        raise ValueError(f"Y must have shape (B, T, 3), got {Y.shape}")
    x0, V_S = real_array(x0, "x0"), real_array(V_S, "V_S")
    if x0.shape != (Y.shape[0], 3) or V_S.shape != (Y.shape[0],):
        raise ValueError(f"x0 and V_S must have shapes ({Y.shape[0]}, 3) and ({Y.shape[0]},), "
                         f"got {x0.shape} and {V_S.shape}")
    integer(n_attractor, "n_attractor", 0, Y.shape[0])
    if not is_real(dt) or not dt > 0:
        raise ValueError(f"dt must be a number > 0 (s), got {dt!r}")
    ok = is_physical(Y)
    finite = np.isfinite(Y).all(axis=(1, 2))
    bad = ~physical_samples(Y)                                       # (B, T)
    onset = np.where(bad.any(axis=1), np.argmax(bad, axis=1) * dt, np.nan)
    Yf = Y[finite]
    ranges = (f"range over the finite runs: V [{Yf[..., 0].min():.2f}, {Yf[..., 0].max():.2f}] "
              f"mV, n [{Yf[..., 1].min():.4f}, {Yf[..., 1].max():.4f}], S "
              f"[{Yf[..., 2].min():.4f}, {Yf[..., 2].max():.4f}]") if Yf.size else \
        "no run stayed finite"
    details = []
    for i in np.flatnonzero(~ok):
        b = np.flatnonzero(bad[i])
        details.append(f"  run {i} (V_S = {V_S[i]:.2f} mV, start {np.round(x0[i], 3)}): "
                       f"unphysical at {len(b)} samples from t = {b[0] * dt:.2f} s to "
                       f"{b[-1] * dt:.2f} s; min n = {Y[i, :, 1].min():.4f}, "
                       f"min S = {Y[i, :, 2].min():.4f}")
    return LongRuns(ok=ok, finite=finite, n_attractor=int(n_attractor), onset=onset,
                    details=tuple(details), ranges=ranges)


def network_targets(counts: dict[str, int], runs: LongRuns) -> list:
    """The chapter's targets: the regime at every held-out V_S, every applicable statistic
    target, and every long free run physical (:class:`hhlib.targets.Target` rows)."""
    instance(runs, LongRuns, "runs")
    missing = {"n_test", "n_regime", "n_checks", "n_checks_ok"} - set(counts)
    if missing:
        raise ValueError(f"counts lacks {sorted(missing)} (use free_run_counts)")
    return [
        Target("regime at every held-out V_S", "all", counts["n_regime"],
               counts["n_regime"] == counts["n_test"]),
        Target("statistic targets at held-out V_S", "all", counts["n_checks_ok"],
               counts["n_checks_ok"] == counts["n_checks"]),
        Target("long free runs stay physical", "all", runs.n_long_ok, bool(runs.ok.all())),
    ]


def band_check(net: DiscreteMap, V_S: np.ndarray, x0: np.ndarray, t_end: float, t_min: float,
               tol) -> dict[str, Any]:
    """The map against the ODE at the values ``V_S`` (mV) of a band (held out of training):
    free runs from the state ``x0`` (3,) (:func:`compare_free_runs`, statistics over
    ``t >= t_min`` s, counted by :func:`free_run_counts`), and the fixed point with its
    eigenvalues (:func:`hhlib.dynamics.recovery.compare_fixed_points`, Newton from the default
    starts, never from the ODE's fixed point; :func:`hhlib.dynamics.recovery.fixed_point_checks`
    with position tolerances ``tol`` = (V mV, n, S)).

    Returns the counts of :func:`free_run_counts`, ``n_fp_ok`` and ``n_eig_ok`` (values
    where the position, resp. all three eigenvalues, meet the targets), ``max_V_err``
    (largest |V* error|, mV) and ``worst_eig`` (largest eigenvalue error in units of its
    tolerance), both inf where the map has no fixed point, and ``rows``/``checks``."""
    V_S = np.atleast_1d(real_array(V_S, "V_S"))
    x0 = state(x0, "x0")
    rows = compare_free_runs(net, V_S, np.tile(x0, (V_S.size, 1)), t_end, t_min)
    checks = fixed_point_checks(compare_fixed_points(net, HHParams.of_variant(net.variant),
                                                     V_S, extrapolate=True), tol)
    return {**free_run_counts(rows), "n_fp_ok": int(checks.fp_ok.sum()),
            "n_eig_ok": int(checks.eig_ok.sum()),
            "max_V_err": worst_at(checks.err[:, 0], V_S)[0],
            "worst_eig": worst_at(checks.score, V_S)[0], "rows": rows, "checks": checks}
