"""What one step costs: the model's vector field as ``simulate_ensemble`` evaluates it, how
many evaluations an explicit Dormand–Prince integrator needs per second of model time, the
torch operations of one step of the network map, and what each device of the map's fast
rollout (inference mode, fused in-place step, float32) buys against a plain loop.

Chapter "Cost" runs these measurements in its build (small enough for that) and puts them
beside the recorded full run of ``benchmarks/map_vs_integrator.py``. Timings depend on the
machine and its load; the counts (evaluations, operations) do not.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable

import numpy as np
import torch
from scipy.integrate import solve_ivp
from torch.overrides import TorchFunctionMode

from hhlib.ode.model import HHParams, batch_field, scalar_field
from hhlib.maps.network import MapNet

__all__ = ["vector_field_ns", "rk45_evaluations_per_second", "count_torch_calls",
           "ops_per_fused_step", "rollout_variants"]

X0 = (-60.0, 0.0, 0.18)            # the benchmarks' initial state (V mV, n, S)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def vector_field_ns(params: HHParams, batch: int, reps: int,
                    V_S_range: tuple[float, float] = (-44.0, -30.0)) -> float:
    """Wall time (ns) per trajectory of one evaluation of the batched vector field
    (``hhlib.ode.model.batch_field``, as ``simulate_ensemble`` calls it) for ``batch`` states near
    the bursting orbit with V_S drawn in ``V_S_range`` (fixed seeds), the mean of ``reps``
    calls after one warm-up call."""
    batch, reps = _positive_int(batch, "batch"), _positive_int(reps, "reps")
    vs = np.random.default_rng(1).uniform(V_S_range[0], V_S_range[1], batch)
    # States scattered around a typical point of the orbit: the exponentials' cost does not
    # depend on where, but identical columns could let a cache flatter the timing.
    Y = np.tile(np.array([[-50.0], [0.01], [0.2]]), (1, batch)) + np.random.default_rng(2).normal(
        0, [[5.0], [0.005], [0.01]], (3, batch))
    out = np.empty_like(Y)
    field = batch_field(params.replace(V_S=vs))
    field(Y, out)
    t0 = time.perf_counter()
    for _ in range(reps):
        field(Y, out)
    return (time.perf_counter() - t0) / reps / batch * 1e9


def rk45_evaluations_per_second(params: HHParams, V_S_values, t_end: float, *,
                                rtol: float = 1e-6, atol: float = 1e-8) -> float:
    """Vector-field evaluations per second of model time that SciPy's RK45 (the same
    Dormand–Prince pair as ``simulate_ensemble``) needs from the benchmarks' initial state,
    averaged over ``V_S_values`` (mV). A count of the method, not a timing."""
    V_S_values = np.asarray(V_S_values, dtype=float).ravel()
    if V_S_values.size == 0:
        raise ValueError("V_S_values must hold at least one value")
    if not np.isfinite(t_end) or t_end <= 0:
        raise ValueError(f"t_end must be a positive number of seconds, got {t_end!r}")
    per_s = []
    for v in V_S_values:
        f, _ = scalar_field(params.replace(V_S=float(v)))
        sol = solve_ivp(lambda _t, x: f(x), (0, t_end), list(X0), method="RK45",
                        rtol=rtol, atol=atol)
        per_s.append(sol.nfev / t_end)
    return float(np.mean(per_s))


class _CountCalls(TorchFunctionMode):
    """Counts the torch functions called while it is active (each pays torch's per-call
    overhead, which is what dominates a step of a small batch)."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.n += 1
        return func(*args, **(kwargs or {}))


def count_torch_calls(fn: Callable[[], Any]) -> int:
    """The number of torch functions ``fn()`` calls (counted, not assumed)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with _CountCalls() as counter:
        fn()
    return counter.n


def ops_per_fused_step(net: MapNet, V_S: float = -38.0) -> int:
    """Torch operations one step of ``net``'s fused rollout issues, for one trajectory."""
    if not isinstance(net, MapNet):
        raise TypeError(f"net must be a MapNet, got {type(net).__name__}")
    with torch.inference_mode():
        x = torch.tensor([list(X0)], dtype=next(net.parameters()).dtype)
        out = torch.empty_like(x)
        fused = net._fused_step(torch.tensor([V_S], dtype=x.dtype))
        return count_torch_calls(lambda: fused(x, out))


def rollout_variants(net: MapNet, batch: int, n_steps: int, seed: int = 3) -> dict[str, float]:
    """Wall time (s) of ``n_steps`` steps of ``batch`` trajectories (V_S drawn in the
    training range with ``seed``) for each way of running the map: the module per step with
    autograd on (what a user writes first), the same under ``torch.inference_mode``, the
    library's fused ``MapNet.rollout`` in float32, and the same in float64. Each is called
    once before it is timed."""
    batch, n_steps = _positive_int(batch, "batch"), _positive_int(n_steps, "n_steps")
    if not isinstance(net, MapNet):
        raise TypeError(f"net must be a MapNet, got {type(net).__name__}")
    lo, hi = net.V_S_range
    vs = np.random.default_rng(seed).uniform(lo, hi, batch)
    x0 = np.tile(list(X0), (batch, 1))
    net64 = copy.deepcopy(net).double()

    def naive():
        x, v = torch.tensor(x0, dtype=torch.float32), torch.tensor(vs, dtype=torch.float32)
        out = [x]
        for _ in range(n_steps):
            out.append(net(out[-1], v))
        return torch.stack(out, 1).detach().numpy()

    def no_grad_module():
        with torch.inference_mode():
            return naive()

    variants = {"module per step, autograd on": naive,
                "module per step, inference_mode": no_grad_module,
                "MapNet.rollout (fused, in place, float32)": lambda: net.rollout(x0, vs, n_steps),
                "MapNet.rollout in float64": lambda: net64.rollout(x0, vs, n_steps)}
    times = {}
    for name, fn in variants.items():
        fn()
        t0 = time.perf_counter()
        fn()
        times[name] = time.perf_counter() - t0
    return times
