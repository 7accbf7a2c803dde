"""hhlib.dynamics.bistability: continuation, edge bisection and basins on runners whose answer is
known exactly, and the ODE's bistable window against an independent long integration."""
import numpy as np
import pytest

from hhlib.ode import data as hdata
from hhlib.dynamics.attractors import (basins, bursting_edge, continue_bursting, ode_runner,
                                       oscillating)
from hhlib.dynamics.bistability import bistable_region
from hhlib.ode.model import HHParams, fixed_points, hopf_point

EDGE = -21.537   # the toy runner oscillates for V_S above this value


def toy_runner(V_S, x0, t_end, dt=0.01):
    """Spikes between -50 and -10 mV at 2 Hz where V_S > EDGE, rest at -63 mV otherwise."""
    t = np.arange(int(round(t_end / dt)) + 1) * dt
    V_S = np.atleast_1d(V_S)
    X = np.zeros((V_S.size, t.size, 3))
    for i, v in enumerate(V_S):
        X[i, :, 0] = -30 + 20 * np.sin(2 * np.pi * 2 * t) if v > EDGE else -63.0
    return t, X


def test_continuation_and_edge_on_a_known_runner():
    path = np.round(np.arange(-21.0, -22.0, -0.1), 4)
    steps = continue_bursting(toy_runner, path, [-45.0, 0.01, 0.2], 20.0, 5.0, "bistable")
    assert [s.oscillating for s in steps] == [True] * 6 + [False]   # stops at first loss
    a, b = bursting_edge(toy_runner, steps[-2].V_S, steps[-1].V_S, steps[-2].state, 20.0, 5.0,
                         "bistable", tol=1e-4)
    assert b <= EDGE < a and a - b <= 1e-4


def test_basins_labels_on_a_known_runner():
    lab = basins(toy_runner, -21.0, np.zeros((3, 3)), 20.0, 5.0, "bistable", [-63.0, 0, 0])
    assert lab.tolist() == [1, 1, 1]
    lab = basins(toy_runner, -22.0, np.zeros((2, 3)), 20.0, 5.0, "bistable", [-63.0, 0, 0])
    assert lab.tolist() == [0, 0]
    lab = basins(toy_runner, -22.0, np.zeros((1, 3)), 20.0, 5.0, "bistable", [-50.0, 0, 0])
    assert lab.tolist() == [2]                   # at rest, but not at the given rest state


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="window"):
        continue_bursting(toy_runner, [-21.0], [0, 0, 0], 10.0, 10.0, "bistable")
    with pytest.raises(ValueError, match="x0"):
        continue_bursting(toy_runner, [-21.0], [0, 0], 10.0, 5.0, "bistable")
    with pytest.raises(ValueError, match="V_S_path"):
        continue_bursting(toy_runner, [], [0, 0, 0], 10.0, 5.0, "bistable")
    with pytest.raises(ValueError, match="states"):
        basins(toy_runner, -21.0, np.zeros(3), 10.0, 5.0, "bistable", [0, 0, 0])
    with pytest.raises(ValueError, match="field"):
        bistable_region(HHParams.bistable(), [-21.0], "V_S", [1.0], [0, 0, 0], 10.0, 5.0)
    with pytest.raises(TypeError, match="params"):
        ode_runner({"V_S": -21.0}, 0.01)
    t = np.linspace(0, 10, 11)
    with pytest.raises(ValueError, match="shape"):
        oscillating(t, np.zeros((2, 5, 3)), "bistable", 2.0)


def test_ode_window_edges_against_long_runs():
    """The edge that continuation finds is where a long run from the bursting state stops
    bursting: 0.02 mV above it the state still bursts after 300 s, 0.02 mV below it is lost,
    and the upper end of the window is the Hopf point (fixed point stable just below)."""
    P = HHParams.bistable()
    run = ode_runner(P, 0.01)
    steps = continue_bursting(run, [-21.4, -21.55, -21.6, -21.65], [-45.0, 0.01, 0.2], 60.0,
                              25.0, "bistable")
    assert not steps[-1].oscillating and steps[-2].oscillating
    a, b = bursting_edge(run, steps[-2].V_S, steps[-1].V_S, steps[-2].state, 60.0, 25.0,
                         "bistable", tol=5e-3)
    edge = 0.5 * (a + b)
    t, X = run(np.array([edge + 0.02]), steps[-2].state[None], 300.0)
    assert oscillating(t, X, "bistable", 30.0)[0]
    t, X = run(np.array([edge - 0.02]), steps[-2].state[None], 300.0)
    assert not oscillating(t, X, "bistable", 30.0)[0]
    h = hopf_point(P, (-22.0, -21.0))
    assert h - edge > 0.2                                         # a real window
    assert fixed_points(P.replace(V_S=edge + 0.01))[0].stable


def test_dataset_restarts_trajectories_that_come_to_rest(monkeypatch):
    """Started exactly at the stable fixed point, a trajectory in the window rests; the
    dataset must replace it by one from a new random start, so every cut oscillates."""
    calls = []
    real = hdata._random_starts

    def starts(rng, k):
        calls.append(k)
        x = real(rng, k)
        if len(calls) == 1:      # first draw: put the first trajectory at rest
            x[0] = fixed_points(HHParams.bistable(V_S=float(vs[0])))[0].state
        return x

    cfg = hdata.DatasetConfig.bistable(V_S_range=(-21.55, -21.3), n_train=3, n_val=1, n_test=1,
                                       t_transient=20.0, t_keep=30.0, min_gap=0.01)
    vs = hdata.draw_V_S(cfg)["train"]
    monkeypatch.setattr(hdata, "_random_starts", starts)
    ds = hdata.make_dataset(cfg)
    assert len(calls) >= 4                       # train, restart, val, test
    t = np.arange(ds.trajectories["train"].shape[1]) * cfg.dt
    assert oscillating(t, ds.trajectories["train"], "bistable", 10.0).all()


def test_bistable_spike_detection_counts_every_oscillation_of_a_burst():
    """The variant's spike threshold and re-arm level count the spikes an independent peak
    finder counts (local maxima with at least 1 mV prominence) within 3 %: the oscillations
    at the end of a burst shrink continuously to about 2 mV, so any fixed criterion, this
    one or the peak finder's, includes or drops the last one or two of some bursts."""
    from scipy.signal import find_peaks

    from hhlib.ode.spikes import spike_detection, spike_times
    from hhlib.ode.integrate import simulate
    for vs in (-21.5, -18.0, -15.6):
        t, X = simulate(HHParams.bistable(V_S=vs), [-45.0, 0.01, 0.2], 120.0, 0.002)
        late = t > 20
        peaks, _ = find_peaks(X[late, 0], prominence=1.0)
        n = spike_times(t[late], X[late, 0], **spike_detection("bistable")).size
        assert abs(n - peaks.size) <= 0.03 * peaks.size, (vs, n, peaks.size)
