"""Benchmark: a Python loop of LSODA calls against one batched ``simulate_ensemble`` call.

(The chapter "Stiff integration" reads its results. The cost of the network map against both
is measured by ``benchmarks/ensemble.py``, read by the chapter "Cost".)

For each batch size B, draws V_S uniformly in [-44, -30] mV (fixed seed), starts every
trajectory at (V, n, S) = (-60, 0, 0.18), integrates ``--t-end`` seconds of model time sampled
every 0.01 s, and times

  (a) a loop of ``hhlib.integrate.simulate(..., method="LSODA")`` over the B values of V_S,
  (b) one call of ``hhlib.integrate.simulate_ensemble`` for all B at once,

both at the same tolerances (``--rtol``, ``--atol``), with ``time.perf_counter`` (wall time;
the CPU time from ``time.process_time`` is recorded as well, since it is less affected by
other processes on a shared machine).
Accuracy of both is measured against a tight reference (DOP853, rtol 1e-12, atol 1e-14) on
at most 8 of the trajectories: the largest |V error| over the first 10 s (mV), and whether
the spike counts over the whole run equal the reference's. Near the bursting-to-spiking
transition some trajectories depend so sensitively on small perturbations (errors grow by
orders of magnitude within one burst) that any solver at these tolerances eventually
diverges from the reference there; the JSON lists the V_S values whose counts differ.

Usage (from the repository root)::

    .venv/bin/python benchmarks/integrators.py                  # B = 256, 200 s
    .venv/bin/python benchmarks/integrators.py --batch 1 16 256
    .venv/bin/python benchmarks/integrators.py --smoke          # B = 4, 20 s (for the tests)

Prints a table and writes JSON (default ``benchmarks/results/integrators.json``). Timings depend
on the machine and on its load; the JSON records both.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy

from hhlib.analysis import spike_times
from hhlib.integrate import simulate, simulate_ensemble
from hhlib.model import HHParams

X0 = (-60.0, 0.0, 0.18)             # initial state (V mV, n, S) of every trajectory
VS_RANGE = (-44.0, -30.0)           # V_S drawn uniformly in this interval (mV)
DT = 0.01                           # sample spacing (s)
ERROR_WINDOW = 10.0                 # V error measured over t <= this (s)
MAX_CHECKED = 8                     # trajectories compared with the reference
REF = {"method": "DOP853", "rtol": 1e-12, "atol": 1e-14}
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "integrators.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, nargs="+", default=[256],
                    help="batch sizes B to benchmark (default: 256)")
    ap.add_argument("--t-end", type=float, default=200.0,
                    help="model time per trajectory in s (default: 200)")
    ap.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance (default 1e-6)")
    ap.add_argument("--atol", type=float, default=1e-8, help="absolute tolerance (default 1e-8)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the V_S draw (default 0)")
    ap.add_argument("--looser", type=float, default=10.0,
                    help="factor on both tolerances for the third run, the ensemble at "
                         "looser tolerances (default 10)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON,
                    help=f"where to write the results (default: {DEFAULT_JSON})")
    ap.add_argument("--smoke", action="store_true",
                    help="quick run for the tests: B = 4, t-end = 20 s")
    args = ap.parse_args(argv)
    if args.smoke:
        args.batch, args.t_end = [4], 20.0
    if any(b < 1 for b in args.batch):
        ap.error("--batch sizes must be >= 1")
    if not args.t_end >= ERROR_WINDOW:
        ap.error(f"--t-end must be >= {ERROR_WINDOW} s (the V error is measured over "
                 f"the first {ERROR_WINDOW} s)")
    return args


def machine_info() -> dict:
    """What the timings were measured on (and how busy the machine was)."""
    info = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    try:
        info["cpus_available"] = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        if names:
            info["cpu_model"] = names[0]
    except OSError:
        pass
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def accuracy(t: np.ndarray, X: np.ndarray, R: np.ndarray) -> tuple[float, bool, int, int]:
    """(max |V - V_ref| over t <= ERROR_WINDOW in mV, spike counts equal, n, n_ref)."""
    w = t <= ERROR_WINDOW + 1e-9
    err = float(np.abs(X[w, 0] - R[w, 0]).max())
    n, n_ref = len(spike_times(t, X[:, 0])), len(spike_times(t, R[:, 0]))
    return err, n == n_ref, n, n_ref


def bench_one(B: int, args: argparse.Namespace, ref_cache: dict) -> dict:
    P = HHParams()
    x0 = np.array(X0)
    vs = np.random.default_rng(args.seed).uniform(*VS_RANGE, size=B)
    checked = list(range(min(MAX_CHECKED, B)))
    tol = {"rtol": args.rtol, "atol": args.atol}

    # (a) Python loop of LSODA calls (keep only the checked trajectories).
    kept = {}
    c0, t0 = time.process_time(), time.perf_counter()
    for i, v in enumerate(vs):
        t, X = simulate(P.replace(V_S=float(v)), x0, args.t_end, DT, method="LSODA", **tol)
        if i < len(checked):
            kept[i] = X
    wall_loop, cpu_loop = time.perf_counter() - t0, time.process_time() - c0

    # (b) one batched call.
    c0, t0 = time.process_time(), time.perf_counter()
    t, E = simulate_ensemble(P.replace(V_S=vs), np.tile(x0, (B, 1)), args.t_end, DT, **tol)
    wall_ens, cpu_ens = time.perf_counter() - t0, time.process_time() - c0

    # (c) the batched call at tolerances loosened by --looser: at the same rtol the
    # ensemble is far more accurate than LSODA, so equal tolerances are not equal accuracy.
    loose = {"rtol": args.rtol * args.looser, "atol": args.atol * args.looser}
    c0, t0 = time.process_time(), time.perf_counter()
    t, EL = simulate_ensemble(P.replace(V_S=vs), np.tile(x0, (B, 1)), args.t_end, DT, **loose)
    wall_loose, cpu_loose = time.perf_counter() - t0, time.process_time() - c0

    # Accuracy against the tight reference (not timed).
    acc = {"lsoda_loop": [], "ensemble": [], "ensemble_looser": []}
    for i in checked:
        key = (float(vs[i]), args.t_end)
        if key not in ref_cache:
            ref_cache[key] = simulate(P.replace(V_S=float(vs[i])), x0, args.t_end, DT, **REF)[1]
        R = ref_cache[key]
        acc["lsoda_loop"].append(accuracy(t, kept[i], R))
        acc["ensemble"].append(accuracy(t, E[i], R))
        acc["ensemble_looser"].append(accuracy(t, EL[i], R))

    methods = {}
    for name, wall, cpu in (("lsoda_loop", wall_loop, cpu_loop),
                            ("ensemble", wall_ens, cpu_ens),
                            ("ensemble_looser", wall_loose, cpu_loose)):
        a = acc[name]
        methods[name] = {
            "wall_time_s": wall,
            "cpu_time_s": cpu,
            "time_per_trajectory_s": wall / B,
            "time_per_trajectory_model_second_s": wall / (B * args.t_end),
            "max_V_error_first_10s_mV": max(x[0] for x in a),
            "spike_counts_match": all(x[1] for x in a),
            "spike_counts_matching": f"{sum(x[1] for x in a)}/{len(a)}",
            "spike_counts": [x[2] for x in a],
            "spike_counts_reference": [x[3] for x in a],
            "V_S_spike_count_mismatch_mV": [float(vs[i]) for i, x in zip(checked, a)
                                            if not x[1]],
        }
    return {"B": B, "t_end_s": args.t_end, "V_S_checked_mV": [float(vs[i]) for i in checked],
            "methods": methods, "speedup_loop_over_ensemble": wall_loop / wall_ens,
            "speedup_cpu_time": cpu_loop / cpu_ens,
            "tolerances": tol, "looser_tolerances": loose,
            "speedup_loop_over_ensemble_looser": wall_loop / wall_loose,
            # The looser run counts as equally accurate only if it is, measured here.
            "looser_at_least_as_accurate": bool(
                methods["ensemble_looser"]["max_V_error_first_10s_mV"]
                <= methods["lsoda_loop"]["max_V_error_first_10s_mV"]
                and sum(x[1] for x in acc["ensemble_looser"])
                >= sum(x[1] for x in acc["lsoda_loop"]))}


def format_table(results: list[dict]) -> str:
    head = ("  B | method            | wall time (s) | CPU time (s) | time/traj (s) "
            "| time/traj/model-s (s) "
            "| max |dV| 10 s (mV) | spike counts")
    lines = [head, "-" * len(head)]
    for r in results:
        for name, label in (("lsoda_loop", "LSODA loop"), ("ensemble", "simulate_ensemble"),
                            ("ensemble_looser", f"ensemble, tol x{r['looser_tolerances']['rtol'] / r['tolerances']['rtol']:g}")):
            m = r["methods"][name]
            lines.append(f"{r['B']:>3} | {label:<17} | {m['wall_time_s']:>13.3f} | "
                         f"{m['cpu_time_s']:>12.3f} | "
                         f"{m['time_per_trajectory_s']:>13.4f} | "
                         f"{m['time_per_trajectory_model_second_s']:>21.3e} | "
                         f"{m['max_V_error_first_10s_mV']:>18.2e} | "
                         f"{m['spike_counts_matching']} match")
        lines.append(f"{r['B']:>3} | speed-up (loop / ensemble), same run: "
                     f"{r['speedup_loop_over_ensemble']:.1f}x wall time, "
                     f"{r['speedup_cpu_time']:.1f}x CPU time; against the looser ensemble "
                     f"{r['speedup_loop_over_ensemble_looser']:.1f}x wall time (at least as "
                     f"accurate as the loop: {r['looser_at_least_as_accurate']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    report = {
        "benchmark": "LSODA loop vs simulate_ensemble",
        "machine": machine_info(),
        "config": {"batch": args.batch, "t_end_s": args.t_end, "dt_s": DT, "rtol": args.rtol,
                   "atol": args.atol, "seed": args.seed, "V_S_range_mV": list(VS_RANGE),
                   "x0": list(X0), "reference": REF, "error_window_s": ERROR_WINDOW,
                   "max_checked_trajectories": MAX_CHECKED, "smoke": args.smoke,
                   "timer": "time.perf_counter (wall); time.process_time (CPU)"},
        "results": [],
    }
    ref_cache: dict = {}
    for B in args.batch:
        print(f"B = {B}, t_end = {args.t_end:g} s ...", file=sys.stderr, flush=True)
        report["results"].append(bench_one(B, args, ref_cache))
    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(format_table(report["results"]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
