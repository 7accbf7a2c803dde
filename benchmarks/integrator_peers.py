"""Benchmark: the compiled ``simulate_ensemble`` against the ODE solvers a user would pick
instead, at matched accuracy, for batch sizes B = 1, 16, 256, 4096.

Workload (as ``benchmarks/map_vs_integrator.py``): B values of V_S drawn uniformly in
[-44, -30] mV (fixed seed), every trajectory from (V, n, S) = (-60, 0, 0.18), ``--t-end`` s
of model time (default 200 s) sampled every 0.01 s, the original model. Methods:

  ``simulate_ensemble`` (numba DP5(4), all threads) and ``simulate_ensemble_1thread``;
  ``lsoda_loop``: a Python loop of ``hhlib.ode.integrate.simulate(method="LSODA")`` (analytic
  Jacobian); and, when importable (``pip install .[peers]``): ``diffrax_tsit5`` (jax, vmap +
  jit, float64, PID controller; compile time reported apart), ``torchdiffeq_dopri5`` (one
  step size shared by the batch), ``torchode_dopri5`` (per-trajectory steps), and
  ``numbalsoda_prange`` (LSODA from numbalsoda in a numba ``prange`` loop; numbalsoda has
  no wheel for every Python and needs a compiler otherwise).

Accuracy matching: before timing, each method's tolerance is calibrated on the first
``--check`` trajectories over the first 10 s (the error window; the whole run if shorter):
rtol runs over a half-decade ladder 1e-3 ... 1e-9 (atol = rtol / 100) and the loosest rtol
whose max |V - V_ref| over the window is within ``--target-mV`` is kept (default target: the
error of ``simulate_ensemble`` at its defaults rtol 1e-6, atol 1e-8). The
reference is DOP853 at rtol 1e-10, atol 1e-12 (``hhlib.ode.integrate.simulate``). Each row then
records the timed run's own accuracy: max |dV| over the window and the number of checked
trajectories whose spike count over the whole run equals the reference's
(``hhlib.ode.spikes.spike_times``).

Slow methods: a loop method stops after the trajectory that passes ``--max-seconds`` and a
batched method runs on the first B' < B trajectories when the previous batch size predicts
more than ``--max-seconds``; both are then **extrapolated** linearly to B (rows say so).
Timings: wall (``time.perf_counter``) and CPU (``time.process_time``, all threads) of one run
after a warm-up that compiles (numba, jax) outside the timed region.

A full run (B up to 4096, 200 s, every peer) takes about half an hour on a 2-core machine,
most of it in the capped peers; ``--methods`` picks a subset.

Usage (from the repository root)::

    .venv/bin/python benchmarks/integrator_peers.py                 # B = 1 16 256 4096, 200 s
    .venv/bin/python benchmarks/integrator_peers.py --quick         # smoke: B = 1 4, 2 s
    PYTHONPATH=/path/to/peers .venv/bin/python benchmarks/integrator_peers.py --max-seconds 60

Writes JSON (default ``benchmarks/results/integrator_peers.json``, atomically) with the
machine (CPU model, cores, load), package versions and date. Timings depend on the machine
and on its load; compare only rows of one run.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numba
import numpy as np
import scipy

from hhlib.ode.spikes import spike_times
from hhlib.ode.integrate import simulate, simulate_ensemble
from hhlib.ode.model import HHParams

if __package__ in (None, ""):
    # Run as a script (python benchmarks/integrator_peers.py): sys.path[0] is benchmarks/, so
    # put the repository root first for the package import below.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import load_average, workload_parser  # noqa: E402
from benchmarks.common import machine_info as _machine_info  # noqa: E402

X0 = (-60.0, 0.0, 0.18)             # initial state (V mV, n, S) of every trajectory
VS_RANGE = (-44.0, -30.0)           # V_S drawn uniformly in this interval (mV)
DT = 0.01                           # sample spacing (s)
ERROR_WINDOW = 10.0                 # V error measured over t <= this (s)
REF = {"method": "DOP853", "rtol": 1e-10, "atol": 1e-12}
LADDER = tuple(float(f"{10 ** (-k / 2):.0e}") for k in range(6, 19))   # 1e-3, 3e-4, ..., 1e-9
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "integrator_peers.json"
QUICK = {"batch": [1, 4], "t_end": 2.0, "check": 2, "max_seconds": 3.0,
         "ladder": (1e-4, 1e-6, 1e-8)}
PEER_PACKAGES = ("numba", "llvmlite", "jax", "jaxlib", "diffrax", "equinox", "torch",
                 "torchdiffeq", "torchode", "numbalsoda")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = workload_parser(__doc__)
    ap.add_argument("--check", type=int, default=8,
                    help="trajectories compared with the reference (default 8)")
    ap.add_argument("--target-mV", type=float, default=None,
                    help="accuracy target: max |dV| over the error window (default: the error "
                         "of simulate_ensemble at rtol 1e-6, atol 1e-8)")
    ap.add_argument("--no-match", action="store_true",
                    help="no calibration: every method at --rtol, atol = rtol / 100")
    ap.add_argument("--rtol", type=float, default=1e-6,
                    help="tolerance with --no-match (default 1e-6)")
    ap.add_argument("--max-seconds", type=float, default=120.0,
                    help="cap per method and B; slower runs are extrapolated (default 120)")
    ap.add_argument("--methods", nargs="+", default=None,
                    help="run only these methods (default: all that are importable)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the V_S draw (default 0)")
    ap.add_argument("--append", action="store_true",
                    help="add this run's rows to the recorded --json (same workload and "
                         "accuracy target), replacing rows of the same method and B")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON,
                    help=f"where to write the results (default: {DEFAULT_JSON})")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: B = 1 4, 2 s (error window 2 s), 2 checked, "
                         "3 tolerances, --max-seconds 3")
    args = ap.parse_args(argv)
    args.ladder = LADDER
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    if any(b < 1 for b in args.batch):
        ap.error("--batch sizes must be >= 1")
    if not (np.isfinite(args.t_end) and args.t_end >= DT):
        ap.error(f"--t-end must be a finite number >= {DT} s")
    if abs(round(args.t_end / DT) * DT - args.t_end) > 1e-9 * args.t_end:
        ap.error(f"--t-end must be a multiple of {DT} s")
    if args.check < 1:
        ap.error("--check must be >= 1")
    if not (np.isfinite(args.max_seconds) and args.max_seconds > 0):
        ap.error("--max-seconds must be a finite number > 0")
    if args.target_mV is not None and not (np.isfinite(args.target_mV) and args.target_mV > 0):
        ap.error("--target-mV must be a finite number > 0")
    if not (np.isfinite(args.rtol) and 100 * np.finfo(float).eps <= args.rtol <= 0.1):
        ap.error("--rtol must lie in [100 eps, 0.1]")
    return args


# ----------------------------------------------------------------------------- machine
def machine_info() -> dict:
    """What the timings were measured on, how busy it was, and the library versions."""
    info = _machine_info()
    info["numba_threads"] = numba.get_num_threads()
    info.setdefault("cpu_model", platform.processor() or platform.machine())
    versions = {"numpy": np.__version__, "scipy": scipy.__version__}
    from importlib import metadata
    for name in PEER_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    info["versions"] = versions
    info["numba_threading_layer_requested"] = numba.config.THREADING_LAYER
    if versions["torch"] is not None:
        import torch
        info["torch_threads"] = torch.get_num_threads()
    return info


# ----------------------------------------------------------------------------- methods
P0 = HHParams()


def _simulate_ensemble(threads: int | None) -> Callable:
    def run(vs: np.ndarray, t_end: float, rtol: float) -> np.ndarray:
        before = numba.get_num_threads()
        numba.set_num_threads(threads or before)
        try:
            return simulate_ensemble(P0.replace(V_S=vs), np.tile(X0, (len(vs), 1)), t_end, DT,
                                     rtol=rtol, atol=rtol * 1e-2, variables=("V",))[1][:, :, 0]
        finally:
            numba.set_num_threads(before)
    return run


def _lsoda_one(v: float, t_end: float, rtol: float) -> np.ndarray:
    return simulate(P0.replace(V_S=float(v)), np.array(X0), t_end, DT, method="LSODA",
                    rtol=rtol, atol=rtol * 1e-2)[1][:, 0]


def _diffrax() -> Callable:
    import jax
    jax.config.update("jax_enable_x64", True)
    import diffrax
    import jax.numpy as jnp

    p = P0

    def f(t, y, vs):
        V, n, S = y[0], y[1], y[2]
        sig = jax.nn.sigmoid
        m_inf, n_inf = sig((V - p.V_m) / p.theta_m), sig((V - p.V_n) / p.theta_n)
        S_inf = sig((V - vs) / p.theta_S)
        dV = -(p.g_Ca * m_inf * (V - p.V_Ca) + (p.g_K * n + p.g_S * S) * (V - p.V_K)) / p.tau
        return jnp.stack([dV, p.sigma * (n_inf - n) / p.tau, (S_inf - S) / p.tau_S])

    compiled: dict = {}

    def build(B: int, nt: int) -> tuple[Any, float]:
        ts = jnp.arange(nt) * DT

        def one(vs, rtol):
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(f), diffrax.Tsit5(), t0=0.0, t1=ts[-1], dt0=None,
                y0=jnp.array(X0), args=vs, saveat=diffrax.SaveAt(ts=ts, fn=lambda t, y, a: y[0]),
                stepsize_controller=diffrax.PIDController(rtol=rtol, atol=rtol * 1e-2),
                max_steps=2_000_000, throw=False)
            return sol.ys, sol.result == diffrax.RESULTS.successful

        c0 = time.perf_counter()
        fn = jax.jit(jax.vmap(one, in_axes=(0, None))).lower(
            jnp.zeros(B), jnp.float64(1e-6)).compile()
        return fn, time.perf_counter() - c0

    def run(vs: np.ndarray, t_end: float, rtol: float) -> np.ndarray:
        key = (len(vs), int(round(t_end / DT)) + 1)
        if key not in compiled:
            compiled[key] = build(*key)
        fn, _ = compiled[key]
        ys, ok = fn(jnp.asarray(vs), jnp.float64(rtol))
        ys = np.asarray(jax.block_until_ready(ys))
        if not bool(np.all(np.asarray(ok))):
            raise RuntimeError("diffrax: some trajectories failed")
        return ys

    def compile_time(B: int, t_end: float) -> float:
        key = (B, int(round(t_end / DT)) + 1)
        if key not in compiled:
            compiled[key] = build(*key)
            return compiled[key][1]
        return 0.0

    run.compile_time = compile_time                        # type: ignore[attr-defined]
    return run


def _torch_field(vs):
    import torch
    p = P0

    def f(t, y):
        V, n, S = y[..., 0], y[..., 1], y[..., 2]
        m_inf = torch.sigmoid((V - p.V_m) / p.theta_m)
        n_inf = torch.sigmoid((V - p.V_n) / p.theta_n)
        S_inf = torch.sigmoid((V - vs) / p.theta_S)
        dV = -(p.g_Ca * m_inf * (V - p.V_Ca) + (p.g_K * n + p.g_S * S) * (V - p.V_K)) / p.tau
        return torch.stack([dV, p.sigma * (n_inf - n) / p.tau, (S_inf - S) / p.tau_S], -1)
    return f


def _torch_problem(vs: np.ndarray, t_end: float):
    """The torch peers' common inputs: V_S (B,), the start state repeated (B, 3) and the
    sample times (T,), float64."""
    import torch
    nt = int(round(t_end / DT)) + 1
    return (torch.tensor(vs, dtype=torch.float64),
            torch.tensor(X0, dtype=torch.float64).repeat(len(vs), 1),
            torch.arange(nt, dtype=torch.float64) * DT)


def _torchdiffeq() -> Callable:
    import torch
    from torchdiffeq import odeint

    def run(vs: np.ndarray, t_end: float, rtol: float) -> np.ndarray:
        vs_t, y0, ts = _torch_problem(vs, t_end)
        with torch.no_grad():
            ys = odeint(_torch_field(vs_t), y0, ts, rtol=rtol, atol=rtol * 1e-2,
                        method="dopri5")
        return ys[:, :, 0].T.numpy().copy()
    return run


def _torchode() -> Callable:
    import torch
    import torchode as to

    def run(vs: np.ndarray, t_end: float, rtol: float) -> np.ndarray:
        vs_t, y0, ts = _torch_problem(vs, t_end)
        ts = ts.repeat(len(vs), 1)          # torchode: one row of sample times per run
        term = to.ODETerm(_torch_field(vs_t))
        solver = to.AutoDiffAdjoint(to.Dopri5(term=term),
                                    to.IntegralController(atol=rtol * 1e-2, rtol=rtol, term=term))
        with torch.no_grad():
            sol = solver.solve(to.InitialValueProblem(y0=y0, t_eval=ts))
        if not bool((sol.status == 0).all()):
            raise RuntimeError(f"torchode: status {sol.status.tolist()}")
        return sol.ys[:, :, 0].numpy().copy()
    return run


def _numbalsoda() -> Callable:
    from numba import carray, cfunc, njit, prange
    from numbalsoda import lsoda, lsoda_sig

    p = P0
    g_Ca, g_K, g_S, V_Ca, V_K, tau, tau_S, sigma = (p.g_Ca, p.g_K, p.g_S, p.V_Ca, p.V_K, p.tau,
                                                    p.tau_S, p.sigma)
    V_m, th_m, V_n, th_n, th_S = p.V_m, p.theta_m, p.V_n, p.theta_n, p.theta_S

    @cfunc(lsoda_sig)
    def rhs(t, u, du, data):
        x, d = carray(u, (3,)), carray(data, (1,))
        V, n, S = x[0], x[1], x[2]
        m_inf = 1.0 / (1.0 + np.exp(-(V - V_m) / th_m))
        n_inf = 1.0 / (1.0 + np.exp(-(V - V_n) / th_n))
        S_inf = 1.0 / (1.0 + np.exp(-(V - d[0]) / th_S))
        du[0] = -(g_Ca * m_inf * (V - V_Ca) + (g_K * n + g_S * S) * (V - V_K)) / tau
        du[1] = sigma * (n_inf - n) / tau
        du[2] = (S_inf - S) / tau_S

    address = rhs.address

    @njit(parallel=True)
    def loop(vs, t_eval, rtol, atol, out, ok):
        for b in prange(vs.shape[0]):
            u0 = np.array([X0[0], X0[1], X0[2]])
            data = np.array([vs[b]])
            usol, success = lsoda(address, u0, t_eval, data=data, rtol=rtol, atol=atol)
            out[b] = usol[:, 0]
            ok[b] = success

    def run(vs: np.ndarray, t_end: float, rtol: float) -> np.ndarray:
        nt = int(round(t_end / DT)) + 1
        out, ok = np.empty((len(vs), nt)), np.zeros(len(vs), dtype=np.bool_)
        loop(np.asarray(vs, dtype=float), np.arange(nt) * DT, rtol, rtol * 1e-2, out, ok)
        if not ok.all():
            raise RuntimeError("numbalsoda: some trajectories failed")
        return out
    return run


# name -> (label, kind, factory, modules needed); kind "batch": one call for all B,
# "loop": one call per trajectory.
METHODS: dict[str, tuple[str, str, Callable, tuple[str, ...]]] = {
    "simulate_ensemble": ("simulate_ensemble (numba DP5(4), all threads)", "batch",
                          lambda: _simulate_ensemble(None), ()),
    "simulate_ensemble_1thread": ("simulate_ensemble (numba DP5(4), 1 thread)", "batch",
                                  lambda: _simulate_ensemble(1), ()),
    "lsoda_loop": ("SciPy LSODA loop", "loop", lambda: _lsoda_one, ()),
    "numbalsoda_prange": ("numbalsoda LSODA, numba prange loop", "batch", _numbalsoda,
                          ("numbalsoda",)),
    "diffrax_tsit5": ("diffrax Tsit5, jax vmap + jit", "batch", _diffrax, ("jax", "diffrax")),
    "torchdiffeq_dopri5": ("torchdiffeq dopri5 (shared step)", "batch", _torchdiffeq,
                           ("torch", "torchdiffeq")),
    "torchode_dopri5": ("torchode Dopri5 (per-trajectory steps)", "batch", _torchode,
                        ("torch", "torchode")),
}


def available_methods(wanted: list[str] | None) -> tuple[dict[str, Callable], dict[str, str]]:
    """The runners of the importable methods, and why the others are skipped."""
    runners, skipped = {}, {}
    for name, (_, _, factory, modules) in METHODS.items():
        if wanted is not None and name not in wanted:
            continue
        try:
            for m in modules:
                importlib.import_module(m)
            runners[name] = factory()
        except Exception as err:                 # an optional peer that cannot be used
            skipped[name] = f"{type(err).__name__}: {err}"
    if wanted is not None:
        for name in set(wanted) - set(METHODS):
            skipped[name] = "unknown method"
    return runners, skipped


# ----------------------------------------------------------------------------- measuring
def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_method(name: str, run: Callable, vs: np.ndarray, t_end: float, rtol: float,
               n_keep: int, max_seconds: float,
               per_traj_hint: float | None) -> tuple[dict, np.ndarray]:
    """Time one method on all of ``vs`` (or a subset, extrapolated); V of the first
    ``n_keep`` trajectories comes back for the accuracy checks."""
    B = len(vs)
    kind = METHODS[name][1]
    if kind == "loop":
        kept, wall, cpu, done = [], 0.0, 0.0, 0
        for v in vs:
            V, w, c = timed(lambda v=v: run(v, t_end, rtol))
            wall, cpu, done = wall + w, cpu + c, done + 1
            if len(kept) < n_keep:
                kept.append(V)
            if wall > max_seconds and done >= min(B, n_keep):
                break
        V = np.array(kept)
    else:
        done = B
        if per_traj_hint is not None and per_traj_hint * B > max_seconds:
            done = max(min(n_keep, B), min(B, int(max_seconds / per_traj_hint)))
        if hasattr(run, "compile_time"):
            compile_s = run.compile_time(done, t_end)
        else:
            compile_s = None
        V, wall, cpu = timed(lambda: run(vs[:done], t_end, rtol))
        V = V[:n_keep]
    scale = B / done
    row = {"method": name, "label": METHODS[name][0], "B": B, "rtol": rtol, "atol": rtol * 1e-2,
           "wall_s": wall * scale, "cpu_s": cpu * scale, "timed_trajectories": done,
           "extrapolated": done < B, "measured_wall_s": wall, "measured_cpu_s": cpu}
    if kind != "loop" and compile_s is not None:
        row["compile_s"] = compile_s
    return row, V


def max_error(V: np.ndarray, R: list[np.ndarray], t10: np.ndarray) -> float:
    """max |V - V_ref| (mV) over the error window (the times ``t10``)."""
    n = len(t10)
    return float(max(np.abs(v[:n] - r[:n]).max() for v, r in zip(V, R)))


def calibrate(name: str, run: Callable, vs: np.ndarray, R10: list[np.ndarray],
              t10: np.ndarray, target: float, ladder: tuple) -> tuple[float, list]:
    """The loosest rtol of the ladder whose max |dV| over the window is within ``target``
    (the tightest if none is: the rows then say ``within_target: false``)."""
    tried = []
    window = float(t10[-1])
    for rtol in ladder:
        try:
            V = (np.array([run(v, window, rtol) for v in vs])
                 if METHODS[name][1] == "loop" else run(vs, window, rtol))
            err = max_error(V, R10, t10)
        except Exception as exc:                   # a tolerance the peer cannot meet
            tried.append({"rtol": rtol, "error": f"{type(exc).__name__}: {exc}"})
            continue
        tried.append({"rtol": rtol, "max_dV_window_mV": err})
        if err <= target:
            return rtol, tried
    return ladder[-1], tried


# ----------------------------------------------------------------------------- main
def write_json(path: Path, report: dict) -> None:
    """Write to a unique temporary name in the same folder, then rename (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(report, indent=2, default=float) + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def format_table(rows: list[dict]) -> str:
    head = (f"{'B':>5} | {'method':<46} | {'rtol':>7} | {'wall (s)':>9} | {'CPU (s)':>9} | "
            f"{'max|dV| win':>12} | spikes | in target")
    lines = [head, "-" * len(head)]
    for r in rows:
        label = r["label"] + (f" (extrap. {r['timed_trajectories']})" if r["extrapolated"] else "")
        lines.append(f"{r['B']:>5} | {label:<46} | {r['rtol']:>7.0e} | {r['wall_s']:>9.3f} | "
                     f"{r['cpu_s']:>9.3f} | {r['max_dV_window_mV']:>12.2e} | "
                     f"{r['spike_counts_equal']:>3}/{r['spike_counts_checked']:<2} | "
                     f"{'yes' if r['within_target'] else 'no'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    machine = machine_info()
    runners, skipped = available_methods(args.methods)
    for name, why in skipped.items():
        _say(f"skipped {name}: {why}")
    nt = int(round(args.t_end / DT)) + 1
    t = np.arange(nt) * DT
    window = min(ERROR_WINDOW, args.t_end)
    t10 = t[t <= window + 1e-9]
    vs_all = np.random.default_rng(args.seed).uniform(*VS_RANGE, size=max(args.batch))
    n_check = min(args.check, max(args.batch))
    vs_check = vs_all[:n_check]

    _say(f"reference (DOP853, rtol {REF['rtol']:g}) for {n_check} trajectories, "
         f"{args.t_end:g} s")
    R = [simulate(P0.replace(V_S=float(v)), np.array(X0), args.t_end, DT, **REF)[1][:, 0]
         for v in vs_check]
    R10 = [r[: len(t10)] for r in R]
    n_ref = [len(spike_times(t, r)) for r in R]

    # Warm-up: compile (numba, jax) and first calls outside every timed region.
    first_call = {}
    for name, run in runners.items():
        vs1 = vs_check[:1]
        _, w, _ = timed(lambda run=run: (run(float(vs1[0]), 1.0, 1e-6)
                                         if METHODS[name][1] == "loop" else run(vs1, 1.0, 1e-6)))
        first_call[name] = w

    target = args.target_mV
    if target is None and args.append and args.json.exists():
        # Appended rows are held to the recorded run's accuracy target.
        target = json.loads(args.json.read_text(encoding="utf-8"))["config"][
            "target_max_dV_window_mV"]
    if target is None:
        V = _simulate_ensemble(None)(vs_check, window, 1e-6)
        target = max_error(V, R10, t10)
    tolerances, calibration = {}, {}
    for name, run in runners.items():
        if args.no_match:
            tolerances[name] = args.rtol
            continue
        _say(f"calibrating {name} (target max |dV| over {window:g} s <= {target:.3g} mV)")
        tolerances[name], calibration[name] = calibrate(name, run, vs_check, R10, t10, target,
                                                        args.ladder)

    rows, hint = [], {}
    for B in args.batch:
        vs = vs_all[:B]
        n_keep = min(n_check, B)
        for name, run in runners.items():
            _say(f"B = {B}: {name} at rtol {tolerances[name]:g}")
            try:
                row, V = run_method(name, run, vs, args.t_end, tolerances[name], n_keep,
                                    args.max_seconds, hint.get(name))
            except Exception as exc:               # record a failing peer, go on
                rows.append({"method": name, "label": METHODS[name][0], "B": B,
                             "failed": f"{type(exc).__name__}: {exc}"})
                continue
            hint[name] = row["measured_wall_s"] / row["timed_trajectories"]
            counts = [len(spike_times(t, v)) for v in V]
            err = max_error(V, R10[: len(V)], t10)
            row.update({"max_dV_window_mV": err, "within_target": bool(err <= target),
                        "spike_counts_checked": len(V),
                        "spike_counts_equal": int(sum(c == r for c, r in zip(counts, n_ref))),
                        "spike_counts": counts, "spike_counts_reference": n_ref[: len(V)]})
            rows.append(row)
    run_info = {"machine": machine, "batch": args.batch, "methods": list(runners)}
    runs = [run_info]
    if args.append and args.json.exists():
        # Slow peers may be measured in a separate run at small B only: their rows join the
        # recorded ones if the workload and the accuracy target are the same.
        old = json.loads(args.json.read_text(encoding="utf-8"))
        same = {k: old["config"][k] for k in ("t_end_s", "seed", "reference", "error_window_s")}
        now = {"t_end_s": args.t_end, "seed": args.seed, "reference": REF,
               "error_window_s": window}
        if same != now or abs(old["config"]["target_max_dV_window_mV"] - target) > 1e-9 * target:
            raise SystemExit(f"--append: {args.json} was recorded with another workload or "
                             f"accuracy target ({same}); run without --append")
        new = {(r["method"], r["B"]) for r in rows}
        rows = [r for r in old["rows"] if (r["method"], r["B"]) not in new] + rows
        tolerances = {**old["tolerances"], **tolerances}
        calibration = {**old["calibration"], **calibration}
        first_call = {**old["first_call_s"], **first_call}
        skipped = {k: v for k, v in {**old["skipped"], **skipped}.items()
                   if k not in tolerances}
        runs = old.get("runs", []) + runs
        machine = old["machine"]
        args.batch = sorted(set(old["config"]["batch"]) | set(args.batch))
    ok_rows = [r for r in rows if "failed" not in r]
    for r in ok_rows:
        base = next((q for q in ok_rows if q["B"] == r["B"] and q["method"] == "simulate_ensemble"),
                    None)
        if base is not None:
            r["wall_over_simulate_ensemble"] = r["wall_s"] / base["wall_s"]

    report = {
        "benchmark": "compiled simulate_ensemble vs peer ODE solvers, matched accuracy",
        "machine": machine,
        "config": {"batch": args.batch, "t_end_s": args.t_end, "dt_s": DT, "x0": list(X0),
                   "V_S_range_mV": list(VS_RANGE), "seed": args.seed, "reference": REF,
                   "error_window_s": window, "checked_trajectories": n_check,
                   "target_max_dV_window_mV": target, "matched": not args.no_match,
                   "ladder": list(args.ladder), "atol": "rtol / 100",
                   "max_seconds": args.max_seconds, "quick": args.quick,
                   "timer": "time.perf_counter (wall); time.process_time (CPU, all threads)"},
        "tolerances": tolerances, "calibration": calibration, "first_call_s": first_call,
        "skipped": skipped, "rows": rows, "runs": runs,
    }
    run_info["machine"]["load_average_at_end"] = load_average()
    print(format_table(ok_rows))
    for r in rows:
        if "failed" in r:
            print(f"{r['B']:>5} | {r['label']}: failed: {r['failed']}")
    write_json(args.json, report)
    print(f"wrote {args.json}", file=sys.stderr)   # a log line: not in the chapter's page
    return report


if __name__ == "__main__":
    main()
