"""hhlib.dynamics.bistability, the functions the bistability chapter calls: each on a case whose
answer is known (a toy runner, a linear map built from the ODE's own Jacobian, synthetic
branches and datasets) or against an independent computation, plus named argument errors.
"""
import ast
import json
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

matplotlib.use("Agg")

from _code.ch06 import (plot_area, plot_basins, plot_fast_slow_planes,
                        plot_network_fixed_points, plot_rest_and_burst, plot_slow_eigenvalues)
from hhlib.dynamics.attractors import basins, end_labels
from hhlib.dynamics.bistability import (FixedPointBranch, basin_slice,
                                        bistability_targets, coexistence, compare_map_branch,
                                        eigenvalue_rows, fixed_point_branch, hopf_kind,
                                        locate_hopf, lower_bursting_edge, map_fixed_point_near,
                                        pair_beyond_hopf, rest_free_check)
from hhlib.ode.data import Dataset, DatasetConfig
from hhlib.ode.model import HHParams, fixed_points, gates, jacobian

PB = HHParams.bistable()
REFERENCE = Path(__file__).resolve().parents[1] / "references" / "06_bistability.json"
EDGE = -21.537   # the toy runner oscillates for V_S above this value


def toy_runner(V_S, x0, t_end, dt=0.01):
    """Spikes between -50 and -10 mV at 2 Hz where V_S > EDGE and the start is not below
    -55 mV; otherwise stays at the start's V (rest)."""
    t = np.arange(int(round(t_end / dt)) + 1) * dt
    V_S, x0 = np.atleast_1d(V_S), np.atleast_2d(x0)
    X = np.zeros((V_S.size, t.size, 3))
    for i, (v, x) in enumerate(zip(V_S, x0)):
        X[i] = x
        if v > EDGE and x[0] >= -55.0:
            X[i, :, 0] = -30 + 20 * np.sin(2 * np.pi * 2 * t)
    return t, X


class LinearMap(nn.Module):
    """x -> x* + A (x - x*), whatever V_S; trained on ``V_S_range``."""

    def __init__(self, A, xs, dt=0.01, V_S_range=(-21.6, -15.5)):
        super().__init__()
        self.A = nn.Parameter(torch.as_tensor(A, dtype=torch.float64), requires_grad=False)
        self.xs = torch.as_tensor(xs, dtype=torch.float64)
        self.dt = dt
        self.V_S_range = V_S_range

    def forward(self, x, V_S):
        return self.xs.to(x.dtype) + (x - self.xs.to(x.dtype)) @ self.A.to(x.dtype).T


def ode_as_map(V_S=-21.4, dt=0.01):
    """The exact time-dt map of the ODE linearised at its fixed point: its fixed point and
    eigenvalues log(mu)/dt are the ODE's (|Im lambda| dt << pi)."""
    fp = fixed_points(PB.replace(V_S=V_S))[0]
    return LinearMap(scipy.linalg.expm(jacobian(fp.state, PB.replace(V_S=V_S)) * dt),
                     fp.state, dt), fp


# ---------------------------------------------------------------------------- the ODE
def test_fixed_point_branch_is_the_models_fixed_point():
    V = np.array([-22.0, -21.4, -17.0])
    b = fixed_point_branch(PB, V)
    for i, v in enumerate(V):
        fp = fixed_points(PB.replace(V_S=v))[0]
        np.testing.assert_allclose(b.states[i], fp.state, rtol=1e-12)
        np.testing.assert_allclose(b.eigenvalues[i], fp.eigenvalues, rtol=1e-12)
        assert b.stable[i] == fp.stable
    assert b.stable.tolist() == [True, True, False]   # the Hopf point lies near -21.19 mV
    assert b.count_text() == "one fixed point"
    two = FixedPointBranch(V, b.states, b.eigenvalues, b.stable, np.array([1, 3, 1]))
    assert two.count_text() == "from 1 to 3 fixed points"


def test_hopf_point_has_a_pair_on_the_imaginary_axis_and_the_known_kind():
    h = locate_hopf(PB, (-22.0, -21.0))
    ev = fixed_points(PB.replace(V_S=h.V_S))[0].eigenvalues
    pair = ev[np.abs(ev.imag) > 1e-6]
    assert pair.size == 2 and np.all(np.abs(pair.real) < 1e-6)
    assert h.omega == pytest.approx(abs(pair[0].imag), rel=1e-6)
    np.testing.assert_allclose(h.state, fixed_points(PB.replace(V_S=h.V_S))[0].state)
    # stable just below, unstable just above: the crossing direction of a Hopf point
    assert fixed_points(PB.replace(V_S=h.V_S - 0.01))[0].stable
    assert not fixed_points(PB.replace(V_S=h.V_S + 0.01))[0].stable
    assert h.kind == "subcritical"                 # the variant's reason to exist
    assert locate_hopf(HHParams.original(), (-46.0, -44.0)).kind == "supercritical"
    assert "subcritical" in h.describe("x")


def test_hopf_kind_is_the_sign_of_l1():
    assert hopf_kind(1e-3) == "subcritical"
    assert hopf_kind(-1e-3) == "supercritical"
    with pytest.raises(ValueError, match="l1"):
        hopf_kind(np.nan)


def _branch(eigs):
    eigs = np.asarray(eigs, dtype=complex)
    V = np.linspace(-22.0, -18.0, len(eigs))
    return FixedPointBranch(V, np.zeros((len(V), 3)), eigs, np.zeros(len(V), bool),
                            np.ones(len(V), int))


def test_pair_beyond_hopf_names_where_the_pair_turns_real_and_what_follows():
    cplx = [-40, 0.1 + 1j, 0.1 - 1j]
    node = _branch([cplx, cplx, [-40, 0.5, 0.2], [-40, 0.6, 0.1], [-40, 1.0, 0.1]])
    text = pair_beyond_hopf(node, -21.5)
    assert "-20.0 mV" in text and "unstable node" in text   # the third value, -20 mV
    saddle = _branch([cplx, cplx, cplx, [-40, 0.5, -0.2], cplx])
    assert "-19.0 mV" in pair_beyond_hopf(saddle, -21.5) and "saddle" in pair_beyond_hopf(
        saddle, -21.5)
    assert "whole grid, up to -18.0 mV" in pair_beyond_hopf(_branch([cplx] * 3), -21.5)
    # a real pair below the Hopf point does not count: only values above it
    assert "whole grid" in pair_beyond_hopf(_branch([[-40, -0.5, -0.2], cplx, cplx]), -21.0)
    with pytest.raises(TypeError, match="branch"):
        pair_beyond_hopf(np.zeros((3, 3)), -21.0)


def test_lower_bursting_edge_finds_the_toy_edge():
    path = np.round(np.arange(-21.0, -22.0, -0.1), 4)
    e = lower_bursting_edge(toy_runner, path, [-45.0, 0.01, 0.2], 20.0, 5.0, "bistable",
                            tol=1e-4)
    a, b = e.bracket
    assert b <= EDGE < a and a - b <= 1e-4
    assert e.V_S == pytest.approx(EDGE, abs=1e-4)
    assert [s.oscillating for s in e.steps] == [True] * 6 + [False]
    assert "lost at -21.6 mV" in e.describe()
    survived = lower_bursting_edge(toy_runner, [-21.0, -21.2], [-45.0, 0.01, 0.2], 20.0, 5.0,
                                   "bistable")
    assert survived.bracket is None and np.isnan(survived.V_S)
    assert "whole path" in survived.describe()


def test_lower_bursting_edge_arguments():
    with pytest.raises(ValueError, match="path"):
        lower_bursting_edge(toy_runner, [-22.0, -21.0], [-45.0, 0, 0], 20.0, 5.0, "bistable")
    with pytest.raises(ValueError, match="x0 does not oscillate"):
        lower_bursting_edge(toy_runner, [-21.8, -21.9], [-45.0, 0, 0], 20.0, 5.0, "bistable")
    with pytest.raises(ValueError, match="window"):
        lower_bursting_edge(toy_runner, [-21.0, -21.1], [-45.0, 0, 0], 5.0, 5.0, "bistable")


# ---------------------------------------------------------------------------- the data
def _dataset(V_S, X, dt=0.01):
    cfg = DatasetConfig(variant="bistable", V_S_range=(-21.6, -15.5), dt=dt)
    V_S = np.asarray(V_S, dtype=float)
    empty = {"val": np.zeros(0), "test": np.zeros(0)}
    return Dataset(cfg, {"train": V_S, **empty}, {"train": X[:, :3]}, {"train": V_S},
                   {"train": X, "val": np.zeros((0,) + X.shape[1:]),
                    "test": np.zeros((0,) + X.shape[1:])})


def test_rest_free_check_counts_spikes_only_where_rest_is_possible():
    t = np.arange(3000) * 0.01                                 # 30 s, thirds of 10 s
    spiking = np.zeros((t.size, 3))
    spiking[:, 0] = -45 + 15 * np.sin(2 * np.pi * 0.5 * t)      # 5 upward crossings a third
    resting = spiking.copy()
    resting[2000:, 0] = -63.0                                   # stops in the last third
    # -21.4 mV: rest stable; -20 mV: unstable (above the Hopf point), not examined
    n, fewest = rest_free_check(_dataset([-21.4, -20.0], np.stack([spiking, resting])), PB)
    assert (n, fewest) == (1, 5)
    n, fewest = rest_free_check(_dataset([-21.4, -21.5], np.stack([spiking, resting])), PB)
    assert (n, fewest) == (2, 0)
    n, fewest = rest_free_check(_dataset([-20.0], spiking[None]), PB)
    assert n == 0 and fewest == np.inf
    with pytest.raises(TypeError, match="ds"):
        rest_free_check({"train": spiking}, PB)
    with pytest.raises(TypeError, match="params"):
        rest_free_check(_dataset([-20.0], spiking[None]), {"V_S": -20.0})


# ---------------------------------------------------------------------------- the map
def test_map_fixed_point_and_eigenvalues_of_the_odes_own_linear_map():
    net, fp = ode_as_map(-21.4)
    f = map_fixed_point_near(net, -21.4, fp.state + [0.5, 0.0, 0.001])
    np.testing.assert_allclose(f.state, fp.state, atol=1e-8)
    np.testing.assert_allclose(np.sort_complex(f.eigenvalues), np.sort_complex(fp.eigenvalues),
                               rtol=1e-8)
    assert f.stable == fp.stable
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # outside the range: silent when meant
        map_fixed_point_near(net, -22.5, fp.state, extrapolate=True)
    with pytest.warns(UserWarning, match="outside the trained range"):
        map_fixed_point_near(net, -22.5, fp.state)
    with pytest.raises(ValueError, match="state"):
        map_fixed_point_near(net, -21.4, [0.0, 0.0])


def test_eigenvalue_rows_of_the_linear_map_match_the_ode_where_it_was_built():
    net, fp = ode_as_map(-21.4)
    rows = eigenvalue_rows(net, PB, [-21.4, -22.5])
    v, V_ode, V_net, lam_ode, lam_net, st_ode, st_net = rows[0]
    assert v == -21.4 and V_net == pytest.approx(V_ode, abs=1e-8)
    assert complex(lam_ode) == pytest.approx(complex(lam_net), abs=2e-3)   # printed to 1e-3
    assert st_ode and st_net
    assert rows[1][2] == pytest.approx(fp.state[0], abs=1e-8)   # the map does not move


def test_compare_map_branch_is_zero_for_the_ode_and_measures_known_errors():
    grid = np.linspace(-22.5, -15.5, 15)
    ode = fixed_point_branch(PB, grid)
    dt = 0.01
    mu = np.exp(ode.eigenvalues * dt)
    cmp = compare_map_branch(ode, ode.states, mu, dt, -21.19)
    assert cmp.worst_V == 0 and cmp.worst_re < 1e-9 and cmp.worst_im_percent < 1e-7
    assert cmp.stable_ok == cmp.n_far == int(np.sum(np.abs(grid + 21.19) >= 0.1))
    assert cmp.has_pair.sum() == int(np.sum(ode.eigenvalues.imag.max(1) > 1e-9))
    # known errors: V* off by 0.4 mV near the window, the pair's real part by 0.02 1/s and
    # its imaginary part by 5 % everywhere
    st = ode.states.copy()
    st[grid <= -20, 0] += 0.4
    lam = ode.eigenvalues.copy()
    pair = np.abs(lam.imag) > 1e-9
    lam[pair] = lam[pair] + 0.02 + 0.05j * lam[pair].imag
    cmp = compare_map_branch(ode, st, np.exp(lam * dt), dt, -21.19)
    assert cmp.near_V == pytest.approx(0.4) and cmp.worst_V == pytest.approx(0.4)
    assert cmp.worst_re == pytest.approx(0.02, rel=1e-6)
    assert cmp.near_im_percent == pytest.approx(5.0, rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        compare_map_branch(ode, st[:3], mu, dt, -21.19)
    with pytest.raises(TypeError, match="ode"):
        compare_map_branch(ode.states, st, mu, dt, -21.19)


def test_a_missing_map_fixed_point_is_a_miss():
    grid = np.array([-21.5, -21.4])
    ode = fixed_point_branch(PB, grid)
    mu = np.exp(ode.eigenvalues * 0.01)
    st = ode.states.copy()
    st[1], mu[1] = np.nan, np.nan
    cmp = compare_map_branch(ode, st, mu, 0.01, -21.19)
    assert cmp.worst_V == np.inf and cmp.worst_re == np.inf and cmp.has_pair.all()


def test_coexistence_labels_rest_and_bursting():
    rest = np.array([-63.0, 0.0005, 0.11])
    c = coexistence(toy_runner, -21.4, rest, [-45.0, 0.01, 0.2], 20.0, 5.0, "bistable")
    assert c.labels.tolist() == [0, 1] and c.coexist
    assert c.X.shape == (2, c.t.size, 3) and c.X[0, 0, 0] == pytest.approx(-62.9)
    assert "0.1 mV -> rest" in c.describe()
    c = coexistence(toy_runner, -21.4, rest, [-60.0, 0.0, 0.1], 20.0, 5.0, "bistable")
    assert c.labels.tolist() == [0, 2] and not c.coexist     # rests, but elsewhere
    # the same labels as basins() computes from the same runs
    states = np.stack([rest + [0.1, 0, 0], [-45.0, 0.01, 0.2]])
    assert basins(toy_runner, -21.4, states, 20.0, 5.0, "bistable", rest).tolist() == [0, 1]
    t, X = toy_runner(np.full(2, -21.4), states, 20.0)
    assert end_labels(t, X, 5.0, "bistable", rest).tolist() == [0, 1]
    with pytest.raises(ValueError, match="rest_state"):
        coexistence(toy_runner, -21.4, rest[:2], [-45.0, 0.01, 0.2], 20.0, 5.0, "bistable")


def test_basin_slice_lies_on_n_inf_and_is_centred_on_the_rest_state():
    fp = fixed_points(PB.replace(V_S=-21.4))[0].state
    Vg, Sg, X0 = basin_slice(PB, fp, 5)
    assert X0.shape == (25, 3)
    np.testing.assert_allclose(X0[:, 1], gates(X0[:, 0], PB)[1])
    np.testing.assert_allclose([Vg[0], Vg[-1], Sg[0], Sg[-1]],
                               [fp[0] - 5, fp[0] + 5, fp[2] - 0.012, fp[2] + 0.012])
    np.testing.assert_allclose(X0[12, [0, 2]], fp[[0, 2]])     # the middle cell
    assert np.all(X0[:5, 2] == Sg[0])                          # S varies slowest
    with pytest.raises(ValueError, match="n must"):
        basin_slice(PB, fp, 1)
    with pytest.raises(TypeError, match="params"):
        basin_slice(None, fp, 5)


def test_targets_keep_the_reference_names_and_apply_their_bounds():
    grid = np.linspace(-22.5, -15.5, 15)
    ode = fixed_point_branch(PB, grid)
    cmp = compare_map_branch(ode, ode.states, np.exp(ode.eigenvalues * 0.01), 0.01, -21.19)
    rest = np.array([-63.0, 0.0005, 0.11])
    coexist = {v: coexistence(toy_runner, v, rest, [-45.0, 0.01, 0.2], 20.0, 5.0, "bistable")
               for v in (-21.3, -21.5)}
    targets = bistability_targets(cmp, 0.2, coexist, -21.4, 95.0)
    glued = json.loads(REFERENCE.read_text())["glue"]["targets"]["text"]
    ref = json.loads(ast.literal_eval(glued))      # the glued repr of the JSON text
    assert [t.name for t in targets] != [] and {t.name for t in targets} == set(ref)
    met = {t.name: t.met for t in targets}
    assert met["Hopf point"] is False                        # 0.2 mV > 0.15 mV
    assert met["coexistence at −21.3 mV"] and met["basin agreement at −21.4 mV"]
    assert all(met[k] for k in met if k != "Hopf point")     # an exact map meets the rest
    assert not bistability_targets(cmp, 0.1, coexist, -21.4, 89.0)[-1].met
    with pytest.raises(TypeError, match="coexist"):
        bistability_targets(cmp, 0.1, {-21.3: True}, -21.4, 95.0)


# ---------------------------------------------------------------------------- figures
def test_figures_draw_with_units():
    import matplotlib.pyplot as plt

    grid = np.linspace(-22.5, -15.5, 8)
    ode = fixed_point_branch(PB, grid)
    cmp = compare_map_branch(ode, ode.states, np.exp(ode.eigenvalues * 0.01), 0.01, -21.19)
    figs = [plot_slow_eigenvalues(ode, -21.19),
            plot_network_fixed_points(cmp, ode, ode, ode.states, -21.6, (-21.6, -21.19),
                                      -21.19)]
    area = {"bistable": np.eye(2, 3, dtype=bool), "stable": np.ones((2, 3), bool)}
    figs.append(plot_area(area, [-0.1, 0.0, 0.1], [1.0, 40.0], "tau (s)"))
    fp = fixed_points(PB.replace(V_S=-21.4))[0].state
    Vg, Sg, _ = basin_slice(PB, fp, 3)
    figs.append(plot_basins(Vg, Sg, np.zeros(9, int), np.ones(9, int), fp))
    fig, ax = plt.subplots()
    t, X = toy_runner(np.full(2, -21.4), np.array([[-63.0, 0, 0.1], [-45.0, 0, 0.2]]), 5.0)
    plot_rest_and_burst(ax, t, X[0], X[1], ("rest", "burst"), title="toy")
    figs.append(fig)
    z = plot_fast_slow_planes([(HHParams.original(), -38.0, "original"), (PB, -21.4, "variant")],
                              [-45.0, 0.01, 0.2], np.linspace(-90.0, 10.0, 50))
    assert len(z.axes) == 3 and z.axes[-1].get_ylabel() == r"$\tau_S(V)$ (s)"
    figs.append(z)
    for f in figs:
        for a in f.axes:
            if a.get_xlabel():
                assert "(" in a.get_xlabel()              # a unit in parentheses
        plt.close(f)
    assert [line.get_label() for line in ax.lines] == ["burst", "rest"]
