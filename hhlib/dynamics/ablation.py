"""Variants of the learned map side by side: one evaluation, the same columns for each.

A variant is a trained :class:`~hhlib.maps.network.MapNet` with its weights record (the training
recipe: data, schedule, seed, augmentation). :func:`evaluate_variant` measures what a user
of the map needs, each column computed the same way for every variant:

* the selection criterion, computed the same way for every variant from validation data
  only (:func:`selection_criterion`): the dynamics score of free runs against the
  validation trajectories plus ten times the fraction of random-start runs at validation
  values of V_S that leave the physical box;
* held-out dynamics: statistic targets met in free runs at the test values of V_S
  (:func:`hhlib.dynamics.evaluation.compare_free_runs`);
* boundedness: free runs from random states in the physical box, how many stay physical,
  how many become non-finite, and how many end (in their second half) in the regime the
  ODE has at their V_S: bursting, tonic spiking or rest; and, with ``n_outside``, how many
  runs from states outside that box (:data:`OUTSIDE_BOX` minus it,
  :func:`outside_starts`) stay physical: the transient recipes start their training data
  in the physical box, so only these runs are out of their training distribution;
* fixed points (what the map is meant to discover, never used to select it): at how many
  values of a grid the map has exactly one fixed point, the worst position errors and at
  how many values all three eigenvalues meet their tolerances
  (:func:`hhlib.dynamics.recovery.fixed_point_checks`);
* the training time of its record.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..cache import cache_key, cached_call
from ..checks import (box, instance, integer, is_real, record as check_record, runs as check_runs,
                      vector)
from ..ode.data import PHYSICAL_START_BOX
from .evaluation import compare_free_runs, free_run_counts, random_starts
from ..maps.scores import dynamics_score
from ..ode.spikes import burst_statistics, spike_detection
from ..ode.model import HHParams, is_physical
from ..maps.network import DiscreteMap, MapNet
from .recovery import compare_fixed_points, fixed_point_checks
from ..ode.sweeps import map_chunks
from ..targets import Target

__all__ = ["SELECTION_RULE", "OUTSIDE_BOX", "describe_recipe",
           "selection_criterion", "evaluate_variant", "evaluate_all", "random_start_runs",
           "outside_starts", "robust_targets", "chosen_by_validation",
           "selection_margin", "read_candidates"]

# The parameters of the selection rule (selection_criterion's defaults, chosen_by_validation):
# book/candidates.toml states them, and a test checks that the two agree.
SELECTION_RULE = {"escape_weight": 10.0, "n_random": 48, "t_random": 100.0, "seed": 303}
# Where the out-of-distribution random starts come from: the widest training start box of
# the variants (original-transient-wide's), minus the physical start box that the other
# transient recipes start their training data in (outside_starts).
OUTSIDE_BOX = ((-75.0, -15.0), (0.0, 0.3), (0.0, 0.35))

def describe_recipe(record: dict) -> str:
    """The training recipe of a weights record in a few words: schedule, seed and the
    robust-training additions (transient runs, noise pairs, random-run selection)."""
    check_record(record, "train_config")
    tc, dc = record["train_config"], record.get("dataset_config", {})
    stages = ", ".join(f"K={k} × {e}" for k, e in tc["stages"])
    if record.get("member_seeds"):
        seeds = record["member_seeds"]
        parts = [stages, f"mean of {len(seeds)} networks, seeds "
                 + ", ".join(str(s) for s in seeds)]
    else:
        parts = [stages, f"seed {tc.get('seed', 0)}"]
    if tuple(tc.get("hidden", (128, 128, 128))) != (128, 128, 128):
        parts.append("hidden layers " + " × ".join(str(h) for h in tc["hidden"]))
    if dc.get("n_transient"):
        box = dc.get("transient_box")
        parts.append(f"{dc['n_transient']} transient runs"
                     + (f" from V in [{box[0][0]:g}, {box[0][1]:g}] mV" if box else ""))
    if dc.get("n_noise"):
        parts.append(f"{dc['n_noise']} noisy pairs (σ = {dc.get('noise_sigma'):g})")
    if tc.get("random_runs"):
        parts.append(f"selection penalises {tc['random_runs']} random-start runs")
    if tc.get("jacobian_weight"):
        parts.append(f"Jacobian penalty {tc['jacobian_weight']:g} in the physical box")
    return "; ".join(parts)


def selection_criterion(net: MapNet, val_trajectories, val_V_S, *,
                        n_random: int = SELECTION_RULE["n_random"],
                        t_random: float = SELECTION_RULE["t_random"],
                        seed: int = SELECTION_RULE["seed"]) -> float:
    """The trajectories-only criterion that picks a variant (lower is better):
    :func:`hhlib.maps.scores.dynamics_score` of free runs against ``val_trajectories``
    (n, T, 3) at ``val_V_S`` (n,) mV, plus ``SELECTION_RULE["escape_weight"]`` (10) times
    the fraction of ``n_random`` runs of
    ``t_random`` s from random states in the physical box (``seed``), at the validation
    values in turn, that leave the physical box. The same for every variant, whatever
    its training selected its epoch by; it never looks at the fixed point."""
    X, vs = check_runs(val_trajectories, val_V_S, "val_trajectories", "val_V_S")
    integer(n_random, "n_random")
    score = dynamics_score(net, X, vs)
    x, _ = random_starts(vs, n_random, seed=seed)
    v = vs[np.arange(n_random) % vs.size]
    Y = net.rollout(x, v, int(round(t_random / net.dt)), check=False)
    return float(score + SELECTION_RULE["escape_weight"] * (1.0 - is_physical(Y).mean()))


def evaluate_variant(net: DiscreteMap, record: dict, *, val_trajectories, val_V_S, test_V_S,
                     test_x0, t_compare: float,
                     t_min: float, params: HHParams, V_S_grid, tol, n_random: int,
                     t_random: float, seed: int = 7, n_outside: int = 0,
                     details: bool = False) -> dict[str, Any]:
    """The columns of chapter 4's ``ABLATION_HEADERS`` (after name and recipe) for one variant.

    ``val_trajectories``/``val_V_S``: the validation data of :func:`selection_criterion`;
    ``test_V_S`` (k,) mV and ``test_x0`` (k, 3): held-out values and start states for free
    runs of ``t_compare`` s, statistics over ``t >= t_min``; ``V_S_grid`` (m,) mV and ``tol``
    (V mV, n, S): the fixed-point grid and position tolerances; ``n_random`` runs of
    ``t_random`` s from random states in the physical box at random held-out values
    (``seed``), and ``n_outside`` more from states outside the physical box
    (:func:`outside_starts`, their own generator: the first runs are the same with or
    without them). Returns a dict of plain numbers; with ``details``, also the fixed-point
    comparison and its checks under ``"fixed_points"`` (per grid value, for plots)."""
    instance(net, DiscreteMap, "net", "MapNet (or another DiscreteMap: a vector field's or a "
             "fitted model's step)")
    if not isinstance(record, dict) or "best_val_score" not in record:
        raise ValueError("record must be the network's weights record (load_pretrained)")
    if not isinstance(params, HHParams) or params.variant != net.variant:
        raise ValueError(f"params must be HHParams of the network's variant {net.variant!r}")
    for k, v in (("n_random", n_random), ("seed", seed), ("n_outside", n_outside)):
        integer(v, k, 0)
    for k, v in (("t_random", t_random), ("t_compare", t_compare)):
        if not is_real(v) or not v > 0:
            raise ValueError(f"{k} must be a number > 0 (s), got {v!r}")
    grid = vector(V_S_grid, "V_S_grid")
    rows = compare_free_runs(net, test_V_S, test_x0, t_compare, t_min)
    counts = free_run_counts(rows)
    out: dict[str, Any] = {
        "criterion": selection_criterion(net, val_trajectories, val_V_S),
        "val_score": float(record["best_val_score"]),
        "checks_ok": counts["n_checks_ok"], "checks": counts["n_checks"],
        "regime_ok": counts["n_regime"], "n_test": counts["n_test"]}
    out["ode_regimes"] = [(row["V_S"], row["ode"].regime) for row in rows]
    _with_random_runs(out, random_start_runs(net, test_V_S, n_random, t_random, seed,
                                             n_outside=n_outside))
    cmp = compare_fixed_points(net, params, grid)
    checks = fixed_point_checks(cmp, tol)
    err = np.where(np.isnan(checks.err), np.inf, checks.err)
    out.update(exactly_one=int((cmp.n_found == 1).sum()), n_grid=int(grid.size),
               fp_ok=int(checks.fp_ok.sum()),
               worst_V=float(err[:, 0].max()), worst_n=float(err[:, 1].max()),
               worst_S=float(err[:, 2].max()), eig_ok=int(checks.eig_ok.sum()),
               train_minutes=float(record.get("train_seconds", float("nan"))) / 60.0)
    if details:
        out["fixed_points"] = (cmp, checks)
    return out


def random_start_runs(net: DiscreteMap, test_V_S, n_random: int, t_random: float,
                      seed: int = 7, *, n_outside: int = 0) -> dict[str, Any]:
    """Boundedness from random states: ``n_random`` free runs of ``t_random`` s from random
    states in the physical box (:func:`hhlib.dynamics.evaluation.random_starts`, ``seed``) at random
    values of ``test_V_S`` (mV), one batch. Returns how many stay physical
    (``random_ok``), ``random_runs``, how many become non-finite (``non_finite``) and
    ``random_regimes``: per run (V_S, the regime of its second half, or None if it left
    the box). All zero (and no regimes) when ``n_random`` is 0.

    With ``n_outside`` > 0, as many runs of ``t_random`` s more from states outside the
    physical box (:func:`outside_starts` with ``seed``; a generator of their own, so the
    first ``n_random`` runs are the same with or without them), in a second batch:
    ``outside_ok`` of ``outside_runs`` stay physical."""
    out = _outside_runs(net, test_V_S, n_outside, t_random, seed)
    if not n_random:
        return {"random_ok": 0, "random_runs": 0, "non_finite": 0, "random_regimes": [], **out}
    x, vs = random_starts(np.asarray(test_V_S, dtype=float), n_random, seed=seed)
    Y = net.rollout(x, vs, int(round(t_random / net.dt)), check=False)
    ok = is_physical(Y)
    t = np.arange(Y.shape[1]) * net.dt
    kw = spike_detection(net.variant)
    regimes = [(float(v), burst_statistics(t, y[:, 0], t_min=0.5 * t[-1], **kw).regime
                if good else None) for v, y, good in zip(vs, Y, ok)]
    return {"random_ok": int(ok.sum()), "random_runs": int(n_random),
            "non_finite": int((~np.isfinite(Y).all(axis=(1, 2))).sum()),
            "random_regimes": regimes, **out}


def _outside_runs(net: DiscreteMap, test_V_S, n: int, t_random: float,
                  seed: int) -> dict[str, int]:
    if not n:
        return {}
    x, vs = outside_starts(test_V_S, n, seed=seed)
    Y = net.rollout(x, vs, int(round(t_random / net.dt)), check=False)
    return {"outside_ok": int(is_physical(Y).sum()), "outside_runs": int(n)}


def outside_starts(V_S_pool, n: int, seed: int = 7, *, outer: tuple = OUTSIDE_BOX,
                   inner: tuple = PHYSICAL_START_BOX) -> tuple[np.ndarray, np.ndarray]:
    """``n`` states drawn uniformly in ``outer`` ((V lo, hi) mV, (n lo, hi), (S lo, hi))
    but outside ``inner`` (by rejection), and a V_S (mV) for each from ``V_S_pool``. The
    generator is ``numpy.random.default_rng([seed, 1])``, not
    :func:`hhlib.dynamics.evaluation.random_starts`' ``default_rng(seed)``: the same ``seed``
    gives other draws. By default: the widest training start box of the variants
    (:data:`OUTSIDE_BOX`, ``original-transient-wide``'s) minus the physical box the other
    transient recipes start their training data in (``PHYSICAL_START_BOX``)."""
    integer(n, "n")
    integer(seed, "seed", 0)
    pool = vector(V_S_pool, "V_S_pool")
    o, i = box(outer, "outer"), box(inner, "inner")
    inside = np.prod(np.clip(np.minimum(o[:, 1], i[:, 1]) - np.maximum(o[:, 0], i[:, 0]),
                             0.0, None)) / np.prod(o[:, 1] - o[:, 0])
    if inside > 0.99:
        raise ValueError("outer lies (almost) inside inner: nothing to draw outside it")
    rng = np.random.default_rng([int(seed), 1])
    kept: list[np.ndarray] = []
    while sum(len(k) for k in kept) < n:
        x = np.column_stack([rng.uniform(lo, hi, n) for lo, hi in o])
        out = ~np.all((x >= i[:, 0]) & (x <= i[:, 1]), axis=1)
        kept.append(x[out])
    return np.concatenate(kept)[:n], rng.choice(pool, n)


def _with_random_runs(out: dict[str, Any], runs: dict[str, Any]) -> dict[str, Any]:
    """``out`` with the random-start counts and ``random_attractor``: runs that stay
    physical and end in the regime of the ODE at their V_S (``out["ode_regimes"]``)."""
    ode = dict(out["ode_regimes"])
    out.update(runs)
    out["random_attractor"] = sum(r is not None and r == ode.get(v)
                                  for v, r in runs["random_regimes"])
    return out


def _evaluate_part(fn, args: tuple, kwargs: dict, cache=None, key=None) -> dict[str, Any]:
    torch.set_num_threads(1)       # one core per task, as in the chapters
    if cache is None:
        return fn(*args, **kwargs)
    return cached_call(cache, fn, args, kwargs, key=key)


def evaluate_all(models: dict[str, tuple[DiscreteMap, dict]], *, evaluate=evaluate_variant,
                 executor: Any = None, max_workers: int | None = None, cache=None,
                 **kwargs: Any) -> dict[str, tuple[dict, dict]]:
    """``{name: (record, evaluate(net, record, **kwargs))}`` for ``models`` = ``{name: (net,
    record)}``, in the order given. The evaluations are independent and single-threaded, so
    they run in separate processes (:func:`hhlib.ode.sweeps.map_chunks`: local processes, one
    per core, unless ``executor`` is given); every number is the one an evaluation in this
    process gives. ``evaluate`` is :func:`evaluate_variant` or another module-level function
    with its signature (e.g. :func:`hhlib.dynamics.baselines.evaluate_model`).

    ``cache``: a folder for :func:`hhlib.cache.cached_call`. The random-start runs (most of
    the cost) are then read from it when another evaluation, in this or another process,
    made the same runs of the same model: chapter 8 reads chapter 4's runs of
    ``original``. The numbers are the same with or without it."""
    if not isinstance(models, dict) or not models or not all(
            isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], DiscreteMap)
            and isinstance(v[1], dict) for v in models.values()):
        raise TypeError("models must be a non-empty dict name -> (model, record), as "
                        "load_pretrained returns them")
    if not callable(evaluate):
        raise TypeError(f"evaluate must be callable, got {type(evaluate).__name__}")
    if cache is not None and not isinstance(cache, (str, os.PathLike)):
        raise TypeError(f"cache must be None or a folder's path, got {type(cache).__name__}")
    # Tasks per model, so that the cores share uneven work evenly: the random-start runs
    # (most of the cost), all models' first, then those from outside the box, then the rest
    # of each evaluation without them. The numbers are those of one evaluate() call with all
    # the arguments.
    split = bool(kwargs.get("n_random")) and all(k in kwargs for k in ("test_V_S", "t_random"))
    n_outside = kwargs.get("n_outside") or 0
    tasks = []
    if split:
        args = (kwargs["test_V_S"], kwargs["n_random"], kwargs["t_random"],
                kwargs.get("seed", 7))
        tasks = [(random_start_runs, (net, *args), {}) for net, _ in models.values()]
        if n_outside:
            tasks += [(_outside_runs, (net, kwargs["test_V_S"], n_outside, kwargs["t_random"],
                                       kwargs.get("seed", 7)), {}) for net, _ in models.values()]
    rest = {**kwargs, "n_random": 0} if split else kwargs
    if split and n_outside:
        rest["n_outside"] = 0
    tasks += [(evaluate, (net, rec), rest) for net, rec in models.values()]
    if cache is not None:
        tasks = [(fn, a, kw, cache, cache_key(fn, a, kw)) for fn, a, kw in tasks]
    out = map_chunks(_evaluate_part, tasks, executor, max_workers)
    res = out[-len(models):]
    if split:
        k = len(models)
        outside = out[k:2 * k] if n_outside else [{}] * k
        for r, runs, more in zip(res, out[:k], outside):
            _with_random_runs(r, {**runs, **more})
    return {name: (rec, r) for (name, (_, rec)), r in zip(models.items(), res)}


def robust_targets(r: dict[str, Any], hopf_error: float | None = None) -> list:
    """The targets of a map that holds off the attractor, as
    :class:`hhlib.targets.Target` rows, for one :func:`evaluate_variant` result: at least
    98 % of the random-start runs physical, none non-finite, every physical one ending in
    the ODE's regime; exactly one fixed point at >= 95 % of the grid, the position
    tolerances met at >= 90 % and all eigenvalues within tolerance at >= 75 %; every
    held-out regime and statistic target met; with ``hopf_error`` (mV: the map's
    Neimark-Sacker point minus the ODE's Hopf point, NaN if the map has none), that it is
    within 0.15 mV."""
    need = {"random_ok", "random_runs", "non_finite", "random_attractor", "exactly_one",
            "fp_ok", "eig_ok", "n_grid", "checks_ok", "checks", "regime_ok", "n_test"}
    if not isinstance(r, dict) or need - set(r):
        raise ValueError(f"r must be an evaluate_variant result (keys {sorted(need)})")
    if not r["random_runs"]:
        raise ValueError("r has no random-start runs (n_random was 0)")

    def pct(k: int, n: int) -> float:
        return 100.0 * k / n if n else float("nan")

    return [
        Target.at_least("random starts physical", pct(r["random_ok"], r["random_runs"]), 98,
                        " %", "{:.0f}"),
        Target.at_most("random starts non-finite", r["non_finite"], 0, "", "{:.0f}"),
        Target.at_least("physical random starts ending in the ODE's regime",
                        pct(r["random_attractor"], r["random_ok"]), 100, " %", "{:.0f}"),
        Target.at_least("exactly one fixed point", pct(r["exactly_one"], r["n_grid"]), 95,
                        " % of the grid", "{:.0f}"),
        Target.at_least("fixed-point position within tolerance", pct(r["fp_ok"], r["n_grid"]),
                        90, " % of the grid", "{:.0f}"),
        Target.at_least("eigenvalues within tolerance", pct(r["eig_ok"], r["n_grid"]), 75,
                        " % of the grid", "{:.0f}"),
        Target("held-out regimes and statistic targets", "all",
               r["checks_ok"] + r["regime_ok"],
               r["checks_ok"] == r["checks"] and r["regime_ok"] == r["n_test"],
               f"{r['regime_ok']} of {r['n_test']} regimes, {r['checks_ok']} of "
               f"{r['checks']} statistics"),
    ] + ([] if hopf_error is None else [
        Target.at_most("Neimark–Sacker point from the ODE's Hopf point", abs(hopf_error),
                       0.15, " mV", "{:.3f}")])


def _check_results(results: Any) -> dict:
    if not isinstance(results, dict) or not results or not all(
            isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], dict)
            for v in results.values()):
        raise ValueError("results must be a non-empty dict name -> (record, evaluation)")
    return results


def chosen_by_validation(results: dict[str, tuple[dict, dict]]) -> str:
    """The variant a trajectories-only rule picks: the lowest :func:`selection_criterion`
    (validation data only); ties go to the first."""
    results = _check_results(results)
    return min(results, key=lambda name: results[name][1]["criterion"])


def selection_margin(results: dict[str, tuple[dict, dict]]) -> dict[str, Any]:
    """How close the choice was: the chosen variant (:func:`chosen_by_validation`), the
    runner-up (the lowest criterion among the others; ties to the first), their criteria
    and ``margin``, the runner-up's minus the chosen one's (>= 0). Needs two variants."""
    results = _check_results(results)
    if len(results) < 2:
        raise ValueError("results must hold at least two variants to have a runner-up")
    chosen = chosen_by_validation(results)
    others = {k: v for k, v in results.items() if k != chosen}
    runner = chosen_by_validation(others)
    a, b = results[chosen][1]["criterion"], results[runner][1]["criterion"]
    return {"chosen": chosen, "runner_up": runner, "criterion": float(a),
            "runner_up_criterion": float(b), "margin": float(b - a)}


def read_candidates(path) -> dict[str, Any]:
    """The pre-registered comparison of chapter 4 from its TOML file (``book/candidates.toml``):
    ``candidates`` (the variant names, in the order of the table; ties of the rule go to the
    first), ``rule`` (the selection rule in words) and its parameters, which must be those
    :func:`selection_criterion` uses (:data:`SELECTION_RULE`), and ``headline`` (the
    recipe whose seeds are reported as a spread: a list of candidate names)."""
    with open(Path(path), "rb") as f:
        data = tomllib.load(f)
    names = data.get("candidates")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names) \
            or len(set(names)) != len(names):
        raise ValueError(f"{path}: 'candidates' must be a non-empty list of distinct names")
    rule = data.get("rule")
    if not isinstance(rule, dict) or not isinstance(rule.get("text"), str):
        raise ValueError(f"{path}: needs a [rule] table with a 'text'")
    params = {k: rule.get(k) for k in SELECTION_RULE}
    if params != SELECTION_RULE:
        raise ValueError(f"{path}: the rule's parameters {params} are not those "
                         f"selection_criterion uses {SELECTION_RULE}")
    headline = data.get("headline", [])
    if not isinstance(headline, list) or not set(headline) <= set(names):
        raise ValueError(f"{path}: 'headline' must list candidates, got {headline!r}")
    return {"candidates": names, "rule": rule["text"], "parameters": params,
            "headline": headline}
