"""``benchmarks/step_cost.py`` and ``benchmarks/sweep_executors.py``, the in-build
measurements of chapter "Cost", and the table and texts it makes of them
(``book/_code/ch07.py``): counts checked against known answers and an independent
computation, timings only for being positive and finite, and the sweep comparison on an
executor from the standard library."""
import math
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from conftest import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from _code import ch07  # noqa: E402
from benchmarks import step_cost, sweep_executors  # noqa: E402
from hhlib.ode.model import HHParams, scalar_field  # noqa: E402
from hhlib.maps.network import MapNet, load_pretrained  # noqa: E402
from hhlib.ode.spikes import BurstStats  # noqa: E402


def test_count_torch_calls_known_answer():
    a = torch.ones(3)
    assert step_cost.count_torch_calls(lambda: torch.add(torch.mul(a, 2.0), 1.0)) == 2
    assert step_cost.count_torch_calls(lambda: None) == 0
    with pytest.raises(TypeError, match="fn"):
        step_cost.count_torch_calls(3)


@pytest.mark.parametrize("hidden", [(8,), (8, 8), (16, 8, 4)])
def test_ops_per_fused_step(hidden):
    # One step: subtract the mean, then per hidden layer a matrix product and an activation,
    # then the output product and the residual add: 2 L + 3 operations for L hidden layers.
    net = MapNet(dt=0.01, hidden=hidden)
    assert step_cost.ops_per_fused_step(net) == 2 * len(hidden) + 3
    with pytest.raises(TypeError, match="net"):
        step_cost.ops_per_fused_step("not a net")


def test_rk45_evaluations_match_solve_ivp():
    P = HHParams()
    f, _ = scalar_field(P.replace(V_S=-38.0))
    sol = solve_ivp(lambda _t, x: f(x), (0, 5.0), [-60.0, 0.0, 0.18], method="RK45",
                    rtol=1e-6, atol=1e-8)
    assert step_cost.rk45_evaluations_per_second(P, [-38.0], 5.0) == sol.nfev / 5.0
    two = step_cost.rk45_evaluations_per_second(P, [-38.0, -38.0], 5.0)
    assert two == pytest.approx(sol.nfev / 5.0, rel=1e-12)
    with pytest.raises(ValueError, match="V_S_values"):
        step_cost.rk45_evaluations_per_second(P, [], 5.0)
    with pytest.raises(ValueError, match="t_end"):
        step_cost.rk45_evaluations_per_second(P, [-38.0], 0.0)


def test_vector_field_ns_and_validation():
    ns = step_cost.vector_field_ns(HHParams(), 64, 3)
    assert math.isfinite(ns) and ns > 0
    with pytest.raises(ValueError, match="batch"):
        step_cost.vector_field_ns(HHParams(), 0, 3)
    with pytest.raises(TypeError, match="reps"):
        step_cost.vector_field_ns(HHParams(), 8, 2.5)


def test_rollout_variants_times_every_variant():
    net, _ = load_pretrained("original")
    times = step_cost.rollout_variants(net, 2, 3)
    assert list(times) == ["module per step, autograd on", "module per step, inference_mode",
                           "MapNet.rollout (fused, in place, float32)",
                           "MapNet.rollout in float64"]
    assert all(math.isfinite(t) and t > 0 for t in times.values())
    assert next(net.parameters()).dtype == torch.float32       # the float64 copy is a copy


def test_cost_rows_known_answer():
    rows = ch07.cost_rows(ns_rhs=100.0, evals_per_s=1000.0, batch=8,
                          ns_ens_model_s=2e5, ns_step=500.0, dt=0.01, B_full=16)
    assert rows[0][1:] == ("100 ns", "1000 per s", "0.1 ms")     # 100 ns x 1000 per s
    assert rows[1][3] == "0.2 ms"
    assert rows[2][1:] == ("500 ns", "100 per s", "0.05 ms")     # 500 ns / 0.01 s
    assert all(len(r) == len(ch07.COST_HEAD) for r in rows)
    with pytest.raises(ValueError, match="dt"):
        ch07.cost_rows(ns_rhs=1, evals_per_s=1, batch=1, ns_ens_model_s=1, ns_step=1,
                       dt=0.0, B_full=1)


def _stats(period):
    return BurstStats("bursting", 10, 0.1, 5.0, period, 1.0, 0.5, 2)


def test_sweeps_identical():
    a = ([_stats(2.0), _stats(float("nan"))], [np.array([0.1, 0.2]), np.array([])])
    same = ([_stats(2.0), _stats(float("nan"))], [np.array([0.1, 0.2]), np.array([])])
    assert sweep_executors.sweeps_identical(a, same)                 # NaN equals NaN
    off = ([_stats(np.nextafter(2.0, 3.0)), _stats(float("nan"))], a[1])
    assert not sweep_executors.sweeps_identical(a, off)              # one bit apart
    assert not sweep_executors.sweeps_identical(a, (a[0][:1], a[1][:1]))
    with pytest.raises(TypeError, match="b"):
        sweep_executors.sweeps_identical(a, [1, 2, 3])


def test_compare_with_executor_thread_pool():
    vs = np.linspace(-42.0, -32.0, 3)
    with ThreadPoolExecutor(max_workers=2) as pool:
        res = sweep_executors.compare_with_executor(
            HHParams().replace(V_S=vs), np.tile([-60.0, 0.0, 0.18], (3, 1)), pool,
            t_end=10.0, dt=0.01, t_min=2.0, chunk_size=2)
    assert res["identical"] and res["n_values"] == 3 and res["chunk_size"] == 2
    assert res["n_isi"] > 0 and res["t_local"] > 0 and res["t_other"] > 0
    text, summary = ch07.executor_texts(res)
    assert "3 values of $V_S$ in chunks of 2" in text
    assert summary == "here a dask cluster and local processes gave results identical to the last bit"
    assert "wall time" in ch07.timing_text(res)
    with pytest.raises(TypeError, match="executor"):
        sweep_executors.compare_with_executor(HHParams(), [[-60.0, 0.0, 0.18]], None,
                                              executor=pool, t_end=1.0, dt=0.01, t_min=0.0)


def test_without_dask(monkeypatch):
    # The optional extra absent: importing `distributed` fails, the comparison is skipped.
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert sweep_executors.compare_local_and_dask(HHParams(), [[-60.0, 0.0, 0.18]],
                                                  t_end=1.0, dt=0.01, t_min=0.0) is None
    text, summary = ch07.executor_texts(None)
    assert "not installed" in text
    assert summary == "the comparison with a dask cluster did not run in this build"
    assert "not installed" in ch07.timing_text(None)
