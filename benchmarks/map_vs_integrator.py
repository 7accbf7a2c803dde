"""Benchmark: is the network map a faster way to simulate the model than its integrators?

For each batch size B, draws B values of V_S uniformly in the network's training range
(fixed seed), starts every trajectory at (V, n, S) = (-60, 0, 0.18), and simulates
``--t-end`` seconds of model time sampled at the network's step (0.01 s) with

  (a) ``lsoda_loop``: a Python loop of ``hhlib.ode.integrate.simulate(..., method="LSODA")``,
      the baseline a user would write. For B > ``--loop-max`` the loop is timed on the
      first ``--loop-max`` trajectories and **extrapolated** linearly to B (the loop is
      linear in B by construction); table and JSON say so;
  (b) ``ensemble``: one ``hhlib.ode.integrate.simulate_ensemble`` call for all B;
  (c) ``rollout_cpu_1thread``: the shipped network's batched ``MapNet.rollout`` on the CPU
      with one torch thread (the ODE methods use one core), and ``rollout_cpu_<N>threads``
      with all N available cores; ``rollout_cpu_float64``: the same network in float64
      (for B <= ``--float64-max-batch``), to measure what float32 costs in accuracy;
  (d) ``rollout_cuda``: the same on a CUDA device when one is present (skipped with a
      message otherwise).

Each method: wall time (``time.perf_counter``), CPU time (``time.process_time``), time per
trajectory-second of model time, peak memory (the rise of the process's peak resident set
over its size before the call, from /proc/self/status after resetting the peak; on CUDA,
``torch.cuda.max_memory_allocated``), and accuracy. Accuracy of chaotic-looking spike trains
is measured by their statistics, not pointwise: for the first ``--check`` trajectories, the
regime, spikes per burst, burst period and mean inter-spike interval (ISI) over
t >= ``--t-min`` s, against a tight reference (DOP853, rtol 1e-10, atol 1e-12), and whether
the errors are within the book's targets (one spike per burst, 10 % burst period, 5 % tonic
ISI: ``hhlib.maps.scores.FreeRunTargets``). Ratios are of times measured in the same run.

Hardware limit: a ``torch.mm`` micro-benchmark (float32, 2048 x 2048, best of several) in
the same run at each thread setting, and at the network's own shape (B x 128 by 128 x 128);
the network's achieved rate counts the multiply-adds of its layers as they run (2 FLOP
each; the V_S input is folded into a bias, so the first layer has 3 inputs), once over the
whole timed rollout (which includes converting its float32 result to float64 NumPy and the
physical-box check) and once for the step alone, in short runs each paired with a
``torch.mm`` timing right after it (``step_rates``, the median of the pairs' ratios): on a
shared machine whose speed drifts by tens of per cent from minute to minute, only timings
taken a moment apart compare.

Usage (from the repository root)::

    .venv/bin/python benchmarks/map_vs_integrator.py              # B = 1 16 256 4096, 200 s
    .venv/bin/python benchmarks/map_vs_integrator.py --batch 1 16 --t-end 30 --t-min 10
    .venv/bin/python benchmarks/map_vs_integrator.py --smoke      # B = 4, 60 s (the tests)
    .venv/bin/python benchmarks/map_vs_integrator.py --smoke --weights bistable

Prints a table and writes JSON (default ``benchmarks/results/map_vs_integrator.json``), with
the machine, its load average before and after each batch size, and the library versions.
Chapter "Cost" reads that JSON through the functions at the end of this module and shows
it through its companion ``book/_code/ch07.py`` (tables, break-even batch sizes, the
verdict), so the numbers it shows are computed in one place.
"""
from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from hhlib.ode.spikes import BurstStats, burst_statistics, spike_detection
from hhlib.ode.integrate import simulate, simulate_ensemble
from hhlib.ode.model import HHParams
from hhlib.maps.scores import FreeRunTargets
from hhlib.maps.network import MapNet, load_pretrained

if __package__ in (None, ""):
    # Run as a script (python benchmarks/map_vs_integrator.py): sys.path[0] is benchmarks/, so
    # put the repository root first for the package import below, the one chapter "Cost" uses.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import (cpus_available, load_average, machine_info,  # noqa: E402
                               workload_parser)

X0 = (-60.0, 0.0, 0.18)             # initial state (V mV, n, S) of every trajectory
REF = {"method": "DOP853", "rtol": 1e-10, "atol": 1e-12}
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "map_vs_integrator.json"
MM_SIZE = 2048
SMOKE = {"batch": [4], "t_end": 60.0, "t_min": 10.0, "check": 4, "loop_max": 4,
         "threads_min_batch": 10**9}
LABELS = {"lsoda_loop": "LSODA loop", "ensemble": "simulate_ensemble",
          "rollout_cpu_1thread": "network, CPU, 1 thread",
          "rollout_cpu_float64": "network, CPU, float64, 1 thread",
          "rollout_cuda": "network, CUDA"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = workload_parser(__doc__)
    ap.add_argument("--t-min", type=float, default=50.0,
                    help="statistics over t >= this, in s (default: 50, the transient)")
    ap.add_argument("--rtol", type=float, default=1e-6,
                    help="relative tolerance of LSODA and simulate_ensemble (default 1e-6)")
    ap.add_argument("--atol", type=float, default=1e-8, help="absolute tolerance (default 1e-8)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the V_S draw (default 0)")
    ap.add_argument("--check", type=int, default=16,
                    help="trajectories compared with the reference (default 16)")
    ap.add_argument("--loop-max", type=int, default=32,
                    help="LSODA loop timed on at most this many trajectories, then "
                         "extrapolated linearly to B (default 32)")
    ap.add_argument("--float64-max-batch", type=int, default=256,
                    help="run the float64 network only up to this B (default 256)")
    ap.add_argument("--threads-min-batch", type=int, default=256,
                    help="run the all-cores network only from this B on (default 256: for "
                         "small batches thread synchronisation costs more than it saves)")
    ap.add_argument("--weights", default="original", help="shipped weights (default original)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON,
                    help=f"where to write the results (default: {DEFAULT_JSON})")
    ap.add_argument("--smoke", action="store_true",
                    help="quick run for the tests: B = 4, 60 s, statistics over t >= 10 s")
    args = ap.parse_args(argv)
    if args.smoke:
        for k, v in SMOKE.items():
            setattr(args, k, v)
    if any(b < 1 for b in args.batch):
        ap.error("--batch sizes must be >= 1")
    if not 0 <= args.t_min < args.t_end:
        ap.error("--t-min must lie in [0, --t-end)")
    if args.check < 1 or args.loop_max < 1:
        ap.error("--check and --loop-max must be >= 1")
    args.loop_max = max(args.loop_max, args.check)   # checked trajectories come from the loop
    return args


# ----------------------------------------------------------------------------- measuring
def _status_kb(key: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for ln in fh:
                if ln.startswith(key + ":"):
                    return float(ln.split()[1])
    except OSError:
        pass
    return None


def _trim_heap() -> None:
    # glibc keeps freed heap pages resident and hands them out again: a call that reuses them
    # shows no rise at all (chapter 7 once showed 0 MB for a 37 MB result). Give them back
    # to the system first; elsewhere (no glibc) there is nothing to do.
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(fn: Callable[[], Any], device: str = "cpu") -> tuple[Any, dict]:
    """Run ``fn`` once: its result and wall time, CPU time and peak memory (MB)."""
    gc.collect()
    _trim_heap()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    # the peak is reset to the resident size of that moment, so the size to subtract is read
    # after the reset: read before, pages freed in between made the rise negative
    can_reset = _reset_peak_rss()
    rss0 = _status_kb("VmRSS")
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = {"wall_time_s": wall, "cpu_time_s": cpu}
    hwm = _status_kb("VmHWM")
    # a rise is never negative; the two readings are a few instructions apart, and a page
    # released between them would still show as one
    m["peak_memory_MB"] = (max(hwm - rss0, 0) / 1024 if can_reset and hwm is not None
                           and rss0 is not None else None)
    m["peak_memory_how"] = ("rise of VmHWM over VmRSS before the call, freed heap returned first (Linux)"
                            if m["peak_memory_MB"] is not None else "unavailable")
    if device == "cuda":
        m["peak_device_memory_MB"] = torch.cuda.max_memory_allocated() / 2**20
    return out, m


def mm_rate(threads: int, n: int = MM_SIZE, device: str = "cpu", shape: tuple | None = None,
            reps: int = 5) -> float:
    """Best float32 ``torch.mm`` rate (GFLOP/s) of (n x n) @ (n x n), or of
    ``shape = (M, K, N)``, with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    M, K, N = shape or (n, n, n)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(M, K, generator=g).to(device)
    b = torch.randn(K, N, generator=g).to(device)
    out = torch.empty(M, N, device=device)
    inner = max(1, int(2e9 // (2 * M * K * N)))   # about 2 GFLOP per timed repetition
    best = float("inf")
    with torch.inference_mode():
        torch.mm(a, b, out=out)
        for _ in range(reps):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(inner):
                torch.mm(a, b, out=out)
            if device == "cuda":
                torch.cuda.synchronize()
            best = min(best, (time.perf_counter() - t0) / inner)
    return 2 * M * K * N / best / 1e9


def step_rates(model: MapNet, x0: np.ndarray, vs: np.ndarray, threads: int,
               seconds: float = 0.2, pairs: int = 12, n: int = MM_SIZE) -> dict[str, Any]:
    """The map's step against ``torch.mm`` on a machine whose speed drifts: ``pairs`` times,
    about ``seconds`` of steps as :meth:`MapNet.rollout` runs them (the fused in-place step,
    inference mode; without the conversion of the result to float64 NumPy and the
    physical-box check that a rollout adds), then right after it about 2 GFLOP of (n x n)
    float32 ``torch.mm``, both with ``threads`` threads. Returns the pairs' rates (GFLOP/s)
    and the medians of the step's rate, of mm's and of their ratio: each ratio compares two
    timings a moment apart."""
    torch.set_num_threads(threads)
    xt, vt, _, _ = model._prepare(x0, vs, "x0", False)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
    inner = max(1, int(2e9 // (2 * n ** 3)))
    rates = []
    with torch.inference_mode():
        step = model._fused_step(vt)
        buf = [xt.clone(), torch.empty_like(xt)]

        def steps(k: int) -> float:
            t0 = time.perf_counter()
            for i in range(k):
                step(buf[i % 2], out=buf[1 - i % 2])
            return time.perf_counter() - t0

        n_steps = int(np.clip(seconds * 20 / steps(20), 20, 100_000))
        torch.mm(a, b, out=out)
        for _ in range(pairs):
            t_step = steps(n_steps)
            t0 = time.perf_counter()
            for _ in range(inner):
                torch.mm(a, b, out=out)
            t_mm = time.perf_counter() - t0
            rates.append([net_flops_per_step(model) * x0.shape[0] * n_steps / t_step / 1e9,
                          inner * 2 * n ** 3 / t_mm / 1e9])
    r = np.array(rates)
    return {"step_GFLOP_s": float(np.median(r[:, 0])),
            "step_mm_GFLOP_s": float(np.median(r[:, 1])),
            "step_fraction_of_mm_rate": float(np.median(r[:, 0] / r[:, 1])),
            "step_pairs_GFLOP_s": rates, "step_n_steps": n_steps}


def net_flops_per_step(net: MapNet) -> int:
    """Multiply-adds x 2 of one step of one trajectory, as the fused map runs them."""
    widths = [3, *net.hidden, 3]
    return 2 * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


# ----------------------------------------------------------------------------- accuracy
def burst_errors(ref: BurstStats, got: BurstStats | None, targets: FreeRunTargets) -> dict:
    """Errors of one trajectory's statistics against the reference's: regime, spikes per
    burst (absolute), burst period and mean ISI (relative), and whether the targets hold
    (bursting: spikes per burst and period; tonic: ISI; rest: the regime)."""
    nan = float("nan")
    if got is None:
        return {"regime": "non-finite", "regime_ok": False, "spb_err": nan,
                "period_rel_err": nan, "isi_rel_err": nan, "within_targets": False}
    spb = per = nan
    if ref.regime == got.regime == "bursting":
        spb = got.spikes_per_burst - ref.spikes_per_burst
        per = got.burst_period / ref.burst_period - 1
    isi = got.isi_mean / ref.isi_mean - 1 if ref.regime != "rest" != got.regime else nan
    ok = ref.regime == got.regime
    # A check applies where the reference's statistic is defined over the window (a short
    # window may hold no complete burst); then the method's must be defined and close.
    if ok and ref.regime == "bursting":
        if np.isfinite(ref.spikes_per_burst):
            ok = bool(abs(spb) <= targets.spikes_per_burst)      # False if spb is NaN
        if np.isfinite(ref.burst_period):
            ok = ok and bool(abs(per) <= targets.burst_period)
    elif ok and ref.regime == "tonic":
        ok = bool(abs(isi) <= targets.tonic_isi)
    return {"regime": got.regime, "regime_ok": ref.regime == got.regime, "spb_err": spb,
            "period_rel_err": per, "isi_rel_err": isi, "within_targets": bool(ok)}


def summarise(errors: list[dict]) -> dict:
    def biggest(key: str) -> float:
        v = [abs(e[key]) for e in errors if np.isfinite(e[key])]
        return float(max(v)) if v else float("nan")

    def median(key: str) -> float:
        v = [abs(e[key]) for e in errors if np.isfinite(e[key])]
        return float(np.median(v)) if v else float("nan")

    return {"n_checked": len(errors),
            "regimes_match": sum(e["regime_ok"] for e in errors),
            "within_targets": sum(e["within_targets"] for e in errors),
            "max_abs_spikes_per_burst_err": biggest("spb_err"),
            "max_abs_burst_period_rel_err": biggest("period_rel_err"),
            "median_abs_burst_period_rel_err": median("period_rel_err"),
            "max_abs_isi_rel_err": biggest("isi_rel_err"),
            "median_abs_isi_rel_err": median("isi_rel_err"),
            "per_trajectory": errors}


def _stats(t: np.ndarray, V: np.ndarray, t_min: float, detect: dict) -> BurstStats | None:
    return burst_statistics(t, V, t_min=t_min, **detect) if np.all(np.isfinite(V)) else None


# ----------------------------------------------------------------------------- one B
def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def bench_one(B: int, args: argparse.Namespace, net: MapNet, ref_cache: dict,
              mm: dict) -> dict:
    P = HHParams.of_variant(net.variant)
    # Spike threshold and re-arm level of the network's model variant: the bistable variant's
    # spikes peak below the original model's threshold.
    detect = spike_detection(net.variant)
    vs = np.random.default_rng(args.seed).uniform(*net.V_S_range, size=B)
    x0 = np.tile(np.array(X0), (B, 1))
    n_steps = int(round(args.t_end / net.dt))
    t = np.arange(n_steps + 1) * net.dt
    checked = list(range(min(args.check, B)))
    tol = {"rtol": args.rtol, "atol": args.atol}
    targets = FreeRunTargets()
    load_start = load_average()

    # Reference statistics of the checked trajectories (not timed; shared between B).
    _say(f"  reference for {len(checked)} trajectories")
    ref = []
    for i in checked:
        key = (float(vs[i]), args.t_end)
        if key not in ref_cache:
            _, R = simulate(P.replace(V_S=float(vs[i])), np.array(X0), args.t_end, net.dt,
                            **REF)
            ref_cache[key] = burst_statistics(t, R[:, 0], t_min=args.t_min, **detect)
        ref.append(ref_cache[key])

    methods: dict[str, dict] = {}
    V_checked: dict[str, np.ndarray] = {}

    # (a) Python loop of LSODA calls, on at most loop_max trajectories.
    n_loop = min(B, args.loop_max)

    def loop():
        keep = []
        for i in range(n_loop):
            _, X = simulate(P.replace(V_S=float(vs[i])), np.array(X0), args.t_end, net.dt,
                            method="LSODA", **tol)
            if i < len(checked):
                keep.append(X[:, 0].copy())
        return np.array(keep)

    _say(f"  LSODA loop over {n_loop} trajectories")
    V_checked["lsoda_loop"], m = measure(loop)
    scale = B / n_loop
    m.update({"timed_trajectories": n_loop, "extrapolated": n_loop < B,
              "measured_wall_time_s": m["wall_time_s"], "measured_cpu_time_s": m["cpu_time_s"]})
    m["wall_time_s"] *= scale
    m["cpu_time_s"] *= scale
    methods["lsoda_loop"] = m

    # (b) one batched call of the ensemble integrator.
    def ens():
        _, X = simulate_ensemble(P.replace(V_S=vs), x0, args.t_end, net.dt, **tol)
        return X[: len(checked), :, 0].copy()

    # warm-up: the first call in a process loads the compiled code and starts its threads
    simulate_ensemble(P.replace(V_S=vs[:1]), x0[:1], 10 * net.dt, net.dt, **tol)
    _say("  simulate_ensemble")
    V_checked["ensemble"], methods["ensemble"] = measure(ens)

    # (c) the network's batched rollout on the CPU.
    flops = net_flops_per_step(net) * B * n_steps
    cpus = cpus_available()
    variants = [("rollout_cpu_1thread", net, 1)]
    if cpus > 1 and B >= args.threads_min_batch:
        variants.append((f"rollout_cpu_{cpus}threads", net, cpus))
    if B <= args.float64_max_batch:
        variants.append(("rollout_cpu_float64", copy.deepcopy(net).double(), 1))
    for name, model, threads in variants:
        torch.set_num_threads(threads)
        model.rollout(x0[:1], vs[:1], 2)           # warm-up (first-call costs)

        def roll(model=model):
            return model.rollout(x0, vs, n_steps)[: len(checked), :, 0].copy()

        _say(f"  {name}")
        V_checked[name], m = measure(roll)
        m["torch_threads"] = threads
        m["dtype"] = str(next(model.parameters()).dtype).replace("torch.", "")
        m["achieved_GFLOP_s"] = flops / m["wall_time_s"] / 1e9
        key = f"cpu_{threads}thread{'s' if threads > 1 else ''}"
        if m["dtype"] == "float32" and key in mm:
            m["fraction_of_mm_rate"] = m["achieved_GFLOP_s"] / mm[key]["square_GFLOP_s"]
            shape = mm_rate(threads, shape=(B, net.hidden[0], net.hidden[0]))
            m["mm_rate_network_shape_GFLOP_s"] = shape
            m["fraction_of_mm_rate_network_shape"] = m["achieved_GFLOP_s"] / shape
            m.update(step_rates(model, x0, vs, threads))
        methods[name] = m
    torch.set_num_threads(1)

    # (d) the same on CUDA, if there is a device.
    if torch.cuda.is_available():
        gpu = copy.deepcopy(net).to("cuda")
        gpu.rollout(x0[:1], vs[:1], 2)

        def roll_gpu():
            return gpu.rollout(x0, vs, n_steps)[: len(checked), :, 0].copy()

        V_checked["rollout_cuda"], m = measure(roll_gpu, device="cuda")
        m["device"] = torch.cuda.get_device_name(0)
        m["achieved_GFLOP_s"] = flops / m["wall_time_s"] / 1e9
        m["fraction_of_mm_rate"] = m["achieved_GFLOP_s"] / mm["cuda"]["square_GFLOP_s"]
        methods["rollout_cuda"] = m
        del gpu
        torch.cuda.empty_cache()
    else:
        methods["rollout_cuda"] = {"skipped": "no CUDA device (torch.cuda.is_available() "
                                              "is False)"}

    for name, V in V_checked.items():
        errs = [burst_errors(r, _stats(t, v, args.t_min, detect), targets) for r, v in zip(ref, V)]
        methods[name]["accuracy"] = summarise(errs)
    for name, m in methods.items():
        if "wall_time_s" in m:
            m["time_per_trajectory_s"] = m["wall_time_s"] / B
            m["time_per_trajectory_model_second_s"] = m["wall_time_s"] / (B * args.t_end)
            m["speedup_over_lsoda_loop"] = methods["lsoda_loop"]["wall_time_s"] / m["wall_time_s"]
            m["speedup_over_ensemble"] = methods["ensemble"]["wall_time_s"] / m["wall_time_s"]
    return {"B": B, "t_end_s": args.t_end, "n_steps": n_steps,
            "V_S_checked_mV": [float(vs[i]) for i in checked],
            "reference_regimes": [r.regime for r in ref],
            "network_flops_per_trajectory_step": net_flops_per_step(net),
            "load_average_before": load_start, "load_average_after": load_average(),
            "methods": methods}


# ----------------------------------------------------------------------------- report
def _fmt(x, spec: str) -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def _label(name: str) -> str:
    return LABELS.get(name, name.replace("rollout_cpu_", "network, CPU, ")
                      .replace("threads", " threads"))


def format_table(results: list[dict]) -> str:
    head = ("     B | method                          | wall (s) | CPU (s) | per traj-s (ms) "
            "| peak MB | regimes | in targets | max|dspb| | max|dper| | max|dISI| "
            "| x LSODA | x ensemble")
    lines = [head, "-" * len(head)]
    for r in results:
        for name, m in r["methods"].items():
            label = _label(name)
            if "skipped" in m:
                lines.append(f"{r['B']:>6} | {label:<31} | skipped: {m['skipped']}")
                continue
            if m.get("extrapolated"):
                label += f" (extrap. {m['timed_trajectories']})"
            a = m["accuracy"]
            lines.append(
                f"{r['B']:>6} | {label:<31} | {m['wall_time_s']:>8.2f} | {m['cpu_time_s']:>7.2f} | "
                f"{m['time_per_trajectory_model_second_s'] * 1e3:>15.4f} | "
                f"{_fmt(m['peak_memory_MB'], '>7.0f')} | "
                f"{a['regimes_match']:>3}/{a['n_checked']:<3} | {a['within_targets']:>6}/{a['n_checked']:<3} | "
                f"{_fmt(a['max_abs_spikes_per_burst_err'], '>9.2f')} | "
                f"{_fmt(a['max_abs_burst_period_rel_err'], '>9.3f')} | "
                f"{_fmt(a['max_abs_isi_rel_err'], '>9.3f')} | "
                f"{m['speedup_over_lsoda_loop']:>7.2f} | {m['speedup_over_ensemble']:>10.2f}")
        for name, m in r["methods"].items():
            if "fraction_of_mm_rate" in m:
                lines.append(f"{r['B']:>6} | {_label(name)}: "
                             f"{m['achieved_GFLOP_s']:.1f} GFLOP/s = "
                             f"{100 * m['fraction_of_mm_rate']:.0f} % of the torch.mm rate"
                             + (f" ({100 * m['fraction_of_mm_rate_network_shape']:.0f} % of mm at "
                                f"the network's shape)" if "fraction_of_mm_rate_network_shape"
                                in m else "")
                             + (f"; the step alone {m['step_GFLOP_s']:.1f} GFLOP/s = "
                                f"{100 * m['step_fraction_of_mm_rate']:.0f} %"
                                if "step_fraction_of_mm_rate" in m else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    net, record = load_pretrained(args.weights)
    cpus = cpus_available()
    report = {
        "benchmark": "network map vs LSODA loop vs simulate_ensemble",
        "machine": machine_info(include_torch=True),
        "config": {"batch": args.batch, "t_end_s": args.t_end, "t_min_s": args.t_min,
                   "dt_s": net.dt, "rtol": args.rtol, "atol": args.atol, "seed": args.seed,
                   "V_S_range_mV": list(net.V_S_range), "x0": list(X0), "reference": REF,
                   "checked_trajectories": args.check, "lsoda_loop_max": args.loop_max,
                   "float64_max_batch": args.float64_max_batch,
                   "threads_min_batch": args.threads_min_batch, "weights": args.weights,
                   "weights_sha256": record["sha256"], "network_hidden": list(net.hidden),
                   "targets": {"spikes_per_burst": FreeRunTargets().spikes_per_burst,
                               "burst_period_rel": FreeRunTargets().burst_period,
                               "tonic_isi_rel": FreeRunTargets().tonic_isi},
                   "smoke": args.smoke,
                   "timer": "time.perf_counter (wall); time.process_time (CPU)"},
        "results": [],
    }
    print("torch.mm micro-benchmark ...", file=sys.stderr, flush=True)
    mm = {"cpu_1thread": {"threads": 1}}
    if cpus > 1:
        mm[f"cpu_{cpus}threads"] = {"threads": cpus}
    for v in mm.values():
        v["square_GFLOP_s"] = mm_rate(v["threads"])
        v["size"] = MM_SIZE
    if torch.cuda.is_available():
        mm["cuda"] = {"square_GFLOP_s": mm_rate(1, n=4096, device="cuda"), "size": 4096,
                      "device": torch.cuda.get_device_name(0)}
    else:
        print("CUDA: skipped, no device (torch.cuda.is_available() is False)", file=sys.stderr)
    torch.set_num_threads(1)
    report["mm_rate"] = mm
    ref_cache: dict = {}
    for B in args.batch:
        print(f"B = {B}, t_end = {args.t_end:g} s ...", file=sys.stderr, flush=True)
        report["results"].append(bench_one(B, args, net, ref_cache, mm))
    report["machine"]["load_average_at_end"] = load_average()
    print(format_table(report["results"]))
    print("torch.mm rate (float32, GFLOP/s): " + ", ".join(
        f"{k} {v['square_GFLOP_s']:.1f}" for k, v in mm.items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name, then an atomic rename: an interrupted run never leaves a
    # truncated JSON where the chapter reads the results.
    tmp = args.json.with_name(f".{args.json.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=float) + "\n", encoding="utf-8")
    os.replace(tmp, args.json)
    print(f"wrote {args.json}", file=sys.stderr)   # a log line: not in the chapter's page
    return report


# ----------------------------------------------------------------------------- reading a report
# Chapter "Cost" runs this benchmark small and reads the recorded full run through these
# functions; its tables, ratios and verdict are in book/_code/ch07.py.
def _check_report(rep: dict) -> dict:
    """The report if it has this benchmark's shape; else a ValueError naming ``rep``."""
    if not isinstance(rep, dict):
        raise TypeError(f"rep must be a report dict (the benchmark's JSON), got {type(rep)}")
    missing = {"machine", "config", "results"} - set(rep)
    if missing or not rep["results"]:
        raise ValueError(f"rep is not a report of this benchmark: missing {sorted(missing)} "
                         "or no results")
    return rep


def load_report(path: str | Path = DEFAULT_JSON) -> dict:
    """The JSON report a run of this benchmark wrote (default: the recorded full run)."""
    return _check_report(json.loads(Path(path).read_text(encoding="utf-8")))


def run_small(*, batch: list[int], t_end: float, t_min: float, check: int,
              loop_max: int) -> dict:
    """Run this benchmark in-process on a small workload and return its report; the JSON it
    writes goes to a temporary directory, so a small run never replaces the recorded one."""
    import tempfile

    argv = ["--batch", *map(str, batch), "--t-end", f"{t_end:g}", "--t-min", f"{t_min:g}",
            "--check", str(check), "--loop-max", str(loop_max)]
    with tempfile.TemporaryDirectory() as tmp:
        return main(argv + ["--json", str(Path(tmp) / "map_vs_integrator.json")])


if __name__ == "__main__":
    main()
