"""hhlib.dynamics.recovery, ODE against map: sweeps, the transition, the fixed-point comparison, the
targets (one NaN rule), and chapter 5's verdict and figures (_code.ch05), on maps whose answers
are known."""
import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from _code.ch05 import (
    plot_burst_statistics, plot_eigenvalue_comparison, plot_fixed_point_comparison,
    plot_isi_overlay, plot_isi_side_by_side, plot_slow_pair, recovery_summary,
    recovery_verdict, target_table, fixed_point_rows, format_eigenvalues)
from hhlib.ode.model import HHParams, fixed_points, jacobian
from hhlib.dynamics.recovery import (
    Branch, FixedPointComparison, Transition, agree_up_to, distinct_branches,
    neimark_sacker_points, pair_with_ode, fixed_point_census, nearest_to_data_agrees, compare_burst_statistics,
    compare_fixed_points, continue_both_ways, first_bursting, fixed_point_checks,
    fold_description, locate_transition,
    recovery_targets, slow_pair, sweep_regimes, sweep_runner,
    worst_at)
from hhlib.ode.spikes import BurstStats
from hhlib.targets import from_json, as_json

from test_map_continuation import ScaledEulerMap, euler_ns_point

matplotlib.use("Agg")
DT = 0.01


class TwoRootMap(nn.Module):
    """x_i -> x_i - c (x_i - a_i)(x_i - b_i) / s_i: fixed points at every mix of a and b (8),
    multipliers at x = a: 1 - c (a_i - b_i) / s_i."""

    def __init__(self, a, b, c=0.1, dt=DT):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1, dtype=torch.float64), requires_grad=False)
        self.register_buffer("a", torch.as_tensor(a, dtype=torch.float64))
        self.register_buffer("b", torch.as_tensor(b, dtype=torch.float64))
        self.register_buffer("x_std", torch.tensor([10.0, 0.02, 0.005], dtype=torch.float64))
        self.c, self.dt = c, dt

    def forward(self, x, V_S):
        a, b, s = self.a.to(x.dtype), self.b.to(x.dtype), self.x_std.to(x.dtype)
        return x - self.c * (x - a) * (x - b) / s


class ShiftMap(ScaledEulerMap):
    """x -> x + c: no fixed point anywhere."""

    def forward(self, x, V_S):
        return x + torch.tensor([0.5, 0.0, 0.0], dtype=x.dtype)


# ---------------------------------------------------------------------------- sweeps
def test_ode_sweep_runner_shapes_and_start():
    run = sweep_runner(HHParams(), [-60.0, 0.001, 0.18], 200, 0.01)
    t, V = run(np.array([-40.0, -35.0]))
    np.testing.assert_allclose(t, np.arange(201) * 0.01, atol=1e-12)
    assert V.shape == (2, 201)
    np.testing.assert_allclose(V[:, 0], -60.0)
    assert np.all(np.isfinite(V))


def test_map_sweep_runner_is_the_rollout_and_extrapolates_silently():
    from hhlib.maps.network import load_pretrained
    import warnings
    net, _ = load_pretrained("original")
    x0 = np.array([-60.0, 0.001, 0.18])
    run = sweep_runner(net, x0, 50)
    vs = np.array([-46.0, -40.0])              # -46 mV lies outside the trained range
    with warnings.catch_warnings():
        warnings.simplefilter("error")         # any warning fails the test
        t, V = run(vs)
    expect = net.rollout(np.tile(x0, (2, 1)), vs, 50, extrapolate=True)[:, :, 0]
    np.testing.assert_allclose(V, expect, rtol=0, atol=0)
    np.testing.assert_allclose(t, np.arange(51) * net.dt)


def test_sweep_runner_validation():
    with pytest.raises(ValueError, match="dt"):
        sweep_runner(HHParams(), [-60.0, 0.001, 0.18], 10)
    with pytest.raises(ValueError, match="x0"):
        sweep_runner(HHParams(), [-60.0, 0.001], 10, 0.01)
    with pytest.raises(ValueError, match="n_steps"):
        sweep_runner(HHParams(), [-60.0, 0.001, 0.18], 0, 0.01)
    with pytest.raises(TypeError, match="net"):
        sweep_runner("not a model", [-60.0, 0.001, 0.18], 10)
    run = sweep_runner(HHParams(), [-60.0, 0.001, 0.18], 10, 0.01)
    with pytest.raises(ValueError, match="V_S"):
        run(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="run"):
        sweep_regimes(None, [-40.0], 1.0)


def test_locate_transition_of_the_ode():
    # The ODE bursts at -34.5 mV and spikes tonically at -33 mV (chapter 5's sweep puts the
    # switch near -33.78 mV): the refined bracket must lie inside the coarse one, one fine
    # step wide, bursting at its low end and tonic at its high end.
    run = sweep_runner(HHParams(), [-60.0, 0.001, 0.18], 12000, 0.01)
    tr = locate_transition(run, [-34.5, -33.0], ["bursting", "tonic"], 7, 50.0)
    assert -34.5 <= tr.lo < tr.hi <= -33.0
    assert tr.hi - tr.lo == pytest.approx(1.5 / 6, rel=1e-9)
    assert tr.at == pytest.approx(0.5 * (tr.lo + tr.hi))
    ends = sweep_regimes(run, [tr.lo, tr.hi], 50.0)["regimes"]
    assert ends == ["bursting", "tonic"]
    assert abs(tr.at - (-33.78)) < 0.3


def test_locate_transition_without_switch_is_nan_and_runs_nothing():
    def run(V_S):
        raise AssertionError("no refinement without a bracket")
    tr = locate_transition(run, [-40.0, -39.0, -38.0], ["rest", "rest", "tonic"], 5, 1.0)
    assert isinstance(tr, Transition) and all(math.isnan(v) for v in tr)
    with pytest.raises(ValueError, match="n_fine"):
        locate_transition(run, [-40.0, -39.0], ["bursting", "tonic"], 2, 1.0)


def test_first_bursting():
    assert first_bursting([-3.0, -2.0, -1.0], ["rest", "bursting", "bursting"]) == -2.0
    assert math.isnan(first_bursting([-3.0, -2.0], ["rest", "tonic"]))
    with pytest.raises(ValueError, match="regimes"):
        first_bursting([-3.0, -2.0], ["rest"])


def _bs(regime, spikes=np.nan, period=np.nan, silent=np.nan):
    return BurstStats(regime, 10, 0.1, spikes, period, silent, 0.5, 3)


def test_compare_burst_statistics_counts():
    vs = np.array([-46.0, -44.0, -40.0, -35.0, -29.0])
    ode = [_bs("bursting", 5, 10.0, 4.0), _bs("bursting", 5, 10.0, 4.0),
           _bs("bursting", 6, 10.0, 4.0), _bs("tonic"), _bs("bursting", 7, 8.0, 3.0)]
    net = [_bs("bursting", 9, 20.0, 9.0), _bs("bursting", 6, 10.5, 4.8),
           _bs("bursting", 8, 10.0, 4.0), _bs("tonic"), _bs("rest")]
    counts, rows = compare_burst_statistics(vs, ode, net, (-44.0, -30.0))
    # Both burst at -46 (outside), -44 and -40 (inside); -29 differs, -35 agrees (tonic).
    assert counts == {"n_same_regime": 4, "n_both_in": 2, "n_within_spikes_per_burst": 1,
                      "n_within_burst_period": 2, "n_within_silent_phase": 1}
    spikes = rows[0]
    assert spikes[2] == pytest.approx(1.5) and spikes[3] == pytest.approx(2.0)
    assert spikes[4] == -40.0 and spikes[5] == "1 of 2"
    assert rows[2][3] == pytest.approx(0.2)        # silent phase 4.8 against 4.0


# ---------------------------------------------------------------------------- fixed points
def test_compare_fixed_points_on_the_euler_map():
    vs = np.array([-44.0, -38.0, -31.0])
    cmp = compare_fixed_points(ScaledEulerMap(DT), HHParams(), vs)
    for i, v in enumerate(vs):
        p = HHParams(V_S=v)
        ode = fixed_points(p)[0]
        np.testing.assert_allclose(cmp.ode_state[i], ode.state)
        np.testing.assert_allclose(cmp.map_state[i], ode.state, rtol=1e-9, atol=1e-12)
        # Matched to the ODE's eigenvalues, the Euler map's are log(1 + dt lambda) / dt.
        lam = ode.eigenvalues
        np.testing.assert_allclose(cmp.map_eigenvalues[i], np.log(1 + DT * lam.astype(complex))
                                   / DT, rtol=1e-8)
    assert np.all(cmp.n_found >= 1) and cmp.n_aliased == 0


def test_compare_fixed_points_keeps_the_nearest_and_nan_for_none():
    p = HHParams(V_S=-40.0)
    a = fixed_points(p)[0].state
    b = a + np.array([8.0, 0.015, 0.004])
    cmp = compare_fixed_points(TwoRootMap(a, b), HHParams(), [-40.0])
    assert cmp.n_found[0] == 8
    np.testing.assert_allclose(cmp.map_state[0], a, atol=1e-9)
    mu = 1 - 0.1 * (a - b) / np.array([10.0, 0.02, 0.005])
    np.testing.assert_allclose(np.sort(cmp.map_eigenvalues[0].real), np.sort(np.log(mu) / DT),
                               rtol=1e-8)
    none = compare_fixed_points(ShiftMap(DT), HHParams(), [-40.0, -35.0])
    assert np.all(none.n_found == 0)
    assert np.all(np.isnan(none.map_state)) and np.all(np.isnan(none.map_eigenvalues))


def test_compare_fixed_points_validation():
    with pytest.raises(TypeError, match="params"):
        compare_fixed_points(ScaledEulerMap(DT), {"V_S": -40.0}, [-40.0])
    with pytest.raises(TypeError, match="net"):
        compare_fixed_points(object(), HHParams(), [-40.0])
    with pytest.raises(ValueError, match="V_S"):
        compare_fixed_points(ScaledEulerMap(DT), HHParams(), [])


def test_continue_both_ways_finds_its_own_starts_and_fold_description():
    grid = np.linspace(-40.0, -36.0, 5)
    branches = continue_both_ways(ScaledEulerMap(DT), grid)
    # the Euler map's fixed points are the ODE's: found without being told where they are
    assert [b.direction for b in branches] == ["up", "down"]
    ode = np.array([fixed_points(HHParams(V_S=v))[0].state for v in grid])
    for b in branches:
        assert b.converged.all()
        np.testing.assert_allclose(b.states, ode, rtol=1e-7, atol=1e-9)
    scale = np.array([10.0, 0.02, 0.005])
    assert distinct_branches(branches, scale) == [[0, 1]]
    text = fold_description(grid, branches, scale)
    assert text.startswith("Newton from the default starts finds 1 fixed point(s) of the "
                           "network at -40 mV and 1 at -36 mV") and "no branch folds" in text
    # a down continuation on another branch: two distinct branches, each from one end only
    other = Branch(branches[1].states + [1.0, 0.0, 0.0], *branches[1][1:])
    assert distinct_branches([branches[0], other], scale) == [[0], [1]]
    text = fold_description(grid, [branches[0], other], scale)
    assert "2 distinct branch(es), of which 2 is reached from one end only" in text
    # eight fixed points, constant in V_S: eight branches, each reached both ways
    two = TwoRootMap([-50.0, 0.01, 0.2], [-40.0, 0.03, 0.25])
    br8 = continue_both_ways(two, grid)
    assert len(br8) == 16 and len(distinct_branches(br8, scale)) == 8
    assert continue_both_ways(ShiftMap(DT), grid) == []
    with pytest.raises(ValueError, match="increasing"):
        continue_both_ways(ScaledEulerMap(DT), grid[::-1])


def test_neimark_sacker_points_along_the_maps_own_branches():
    grid = np.linspace(-46.0, -44.0, 9)
    m = ScaledEulerMap(DT)
    branches = continue_both_ways(m, grid)
    ns = neimark_sacker_points(m, grid, branches)
    assert len(ns) == 1
    np.testing.assert_allclose(ns[0][0], euler_ns_point((-46.0, -44.0)), atol=1e-7)
    assert neimark_sacker_points(m, grid[:3], continue_both_ways(m, grid[:3])) == []
    assert neimark_sacker_points(m, grid, []) == []


def test_format_eigenvalues_and_slow_pair():
    assert format_eigenvalues([-10.0, 0.5 + 2j, 0.5 - 2j]) == "-10, 0.5+2i, 0.5-2i"
    assert format_eigenvalues(np.array([np.nan + 0j])) == "nan"
    lam = np.array([[-100.0, -0.1 + 1j, -0.1 - 1j], [-3.0, -50.0, 0.2]])
    s = slow_pair(lam)
    assert s.shape == (2, 2)
    np.testing.assert_allclose(np.sort_complex(s[0]), [-0.1 - 1j, -0.1 + 1j])
    np.testing.assert_allclose(np.sort(s[1].real), [-3.0, 0.2])


# ---------------------------------------------------------------------------- targets
def _comparison(map_state_delta, map_lam):
    vs = np.array([-44.0, -40.0, -36.0, -32.0])
    ode_state = np.tile([-50.0, 0.01, 0.2], (4, 1))
    ode_lam = np.tile(np.array([-10.0, -1.0, 0.02], dtype=complex), (4, 1))
    return FixedPointComparison(V_S=vs, ode_state=ode_state, ode_eigenvalues=ode_lam,
                                map_state=ode_state + map_state_delta,
                                map_eigenvalues=np.asarray(map_lam, dtype=complex),
                                n_found=np.ones(4, int), n_aliased=0)


TOL = np.array([0.5, 0.10, 0.002])           # V* mV, n* relative, S*
GOOD_LAM = [-10.5, -1.2, 0.024]                # scores 0.5, 0.8, 0.8 of their tolerances


def test_checks_and_targets_all_met():
    cmp = _comparison(np.array([0.1, 0.001, 0.0005]), np.tile(GOOD_LAM, (4, 1)))
    checks = fixed_point_checks(cmp, TOL)
    assert checks.fp_ok.all() and checks.type_ok.all() and checks.eig_ok.all()
    np.testing.assert_allclose(checks.score[0], [0.5, 0.8, 0.8])
    targets, where = recovery_targets(-33.8, -33.7, checks)
    assert [t.name for t in targets] == ["transition", "V*", "n*", "S*", "type", "eig_big",
                                         "eig_small", "eig_type"]
    assert all(t.met for t in targets)
    by = {t.name: t for t in targets}
    assert by["transition"].measured == pytest.approx(0.1)
    assert by["V*"].measured == pytest.approx(0.1) and by["eig_big"].measured == pytest.approx(0.05)
    assert by["eig_small"].measured == pytest.approx(0.8)
    assert recovery_verdict(targets, checks).startswith("The claim holds for this network")
    assert len(target_table(targets, where, checks)) == len(targets) + 1


def test_one_nan_rule_and_the_partial_verdict():
    delta = np.tile([0.1, 0.001, 0.0005], (4, 1))
    delta[2] = [0.9, 0.006, 0.003]             # position missed at -36 mV
    delta[3] = np.nan                          # no fixed point at -32 mV
    lam = np.tile(np.array(GOOD_LAM, dtype=complex), (4, 1))
    lam[2] = [-12.0, -1.2, 0.3 + 0.1j]
    lam[3] = np.nan
    checks = fixed_point_checks(_comparison(delta, lam), TOL)
    np.testing.assert_array_equal(checks.fp_ok, [True, True, False, False])
    np.testing.assert_array_equal(checks.type_ok, [True, True, True, False])
    assert np.isinf(checks.score[3]).all()
    targets, where = recovery_targets(-33.8, -33.8, checks)
    by = {t.name: t for t in targets}
    for name in ("V*", "n*", "S*", "eig_big", "eig_small"):
        assert math.isinf(by[name].measured) and not by[name].met, name
    assert not by["eig_type"].met and by["eig_type"].measured == 2.0   # -36 (complex) and -32
    assert by["transition"].met and not by["type"].met and by["type"].measured == 1.0
    assert where[1] == "-32.00"                # the missing fixed point is the worst case
    record = from_json(as_json(targets))
    assert record["V*"]["met"] is False and record["transition"]["met"] is True
    verdict = recovery_verdict(targets, checks)
    assert "reproduced (transition within 0.5 mV: ✓; stability type everywhere: ✗)" in verdict
    assert "without a miss from -44.00 to -40.00 mV" in verdict and "at worst by inf" in verdict
    summary = recovery_summary(targets, checks)
    assert summary["fp_ok_upto"] == -40.0 and summary["n_fp_ok"] == 2
    assert summary["n_targets_met"] == 1 and summary["n_targets"] == 8
    assert summary["n_char_bad"] == 1 and summary["char_bad_from"] == -36.0
    assert summary["char_desc"].startswith("the network's fixed point has a complex")
    assert summary["fp_tol_text"] == "0.5 mV, 10 % of n*, 0.002"
    for name, value in summary.items():        # plain Python values, as glue prints them
        assert type(value) in (int, float, str), name


def test_verdict_when_some_fixed_point_targets_are_met():
    delta = np.tile([0.1, 0.001, 0.0005], (4, 1))
    delta[1, 0] = 2.0                           # only V* missed
    checks = fixed_point_checks(_comparison(delta, np.tile(GOOD_LAM, (4, 1))), TOL)
    targets, _ = recovery_targets(-33.8, -30.0, checks)
    text = recovery_verdict(targets, checks)
    assert text.startswith("The claim holds in part: 6 of 8") and "transition, V*" in text


def test_each_eigenvalue_check_includes_its_type_and_n_is_relative():
    cmp = _comparison(np.zeros(3), np.tile(GOOD_LAM, (4, 1)))
    lam = np.tile(np.array(GOOD_LAM, dtype=complex), (4, 1))
    lam[1, 2] = -0.016                          # the wrong sign (and too far)
    lam[2, 2] = 0.02 + 0.001j                   # right size, complex where the ODE's is real
    checks = fixed_point_checks(_comparison(np.zeros(3), lam), TOL)
    np.testing.assert_array_equal(checks.eig_ok, [True, False, False, True])
    np.testing.assert_array_equal(checks.pair_type_ok[:, 2], [True, False, False, True])
    assert fixed_point_checks(cmp, TOL).eig_ok.all()
    # n* = 0.01: 9 % passes, 11 % misses; an absolute 0.005 would have passed 50 %
    delta = np.zeros((4, 3))
    delta[:, 1] = [0.0009, 0.0011, 0.005, -0.0009]
    np.testing.assert_array_equal(fixed_point_checks(_comparison(delta, lam), TOL).fp_ok,
                                  [True, False, False, True])
    with pytest.raises(ValueError, match="relative"):
        fixed_point_checks(cmp, [0.5, 1.5, 0.002])


def test_checks_validation():
    cmp = _comparison(np.zeros(3), np.tile(GOOD_LAM, (4, 1)))
    with pytest.raises(ValueError, match="tol"):
        fixed_point_checks(cmp, [0.5, 0.005])
    with pytest.raises(ValueError, match="where"):
        fixed_point_checks(cmp, TOL, where=np.zeros(4, bool))


def test_worst_at_and_agree_up_to():
    vs = np.array([-3.0, -2.0, -1.0])
    assert worst_at([0.1, 0.5, 0.2], vs) == (0.5, -2.0)
    assert worst_at([0.1, np.nan, 0.2], vs) == (math.inf, -2.0)
    assert worst_at(np.array([[0.0, 0.1], [0.0, 0.0], [0.3, 0.0]]), vs) == (0.3, -1.0)
    assert agree_up_to(vs, [True, True, True]) == -1.0
    assert agree_up_to(vs, [True, False, True]) == -3.0
    assert math.isnan(agree_up_to(vs, [False, True, True]))
    with pytest.raises(ValueError, match="values"):
        worst_at([1.0, 2.0], vs)
    with pytest.raises(ValueError, match="ok"):
        agree_up_to(vs, [True])


# ---------------------------------------------------------------------------- figures
def test_figures_draw_with_units_and_training_range():
    import matplotlib.pyplot as plt
    vs = np.linspace(-46.0, -29.0, 5)
    sweeps = {name: {"isis": [np.array([0.1, 2.0])] * 5,
                     "stats": [_bs("bursting", 5, 10.0, 4.0)] * 5} for name in ("ODE", "network")}
    tr = {"ODE": Transition(-33.8, -33.9, -33.7), "network": Transition(-33.7, -33.8, -33.6)}
    fig, axes = plt.subplots(1, 2)
    plot_isi_side_by_side(axes, vs, sweeps, tr, (-44.0, -30.0))
    assert axes[0].get_xlim() == pytest.approx((-46.2, -28.8))
    assert axes[0].get_xlabel() == "$V_S$ (mV)" and "(s)" in axes[0].get_ylabel()
    # The transition in the title: a legend inside the panel covered the longest intervals.
    assert axes[0].get_title() == "ODE: bursting → spiking at -33.80 mV"
    assert axes[0].get_legend() is None
    fig, ax = plt.subplots()
    plot_isi_overlay(ax, vs, sweeps, tr, (-44.0, -30.0))
    fig, axes = plt.subplots(1, 3)
    plot_burst_statistics(axes, vs, sweeps, (-44.0, -30.0))
    assert axes[1].get_ylabel() == "burst period (s)"
    cmp = _comparison(np.zeros(3), np.tile(GOOD_LAM, (4, 1)))
    line = np.tile([-50.0, 0.01, 0.2], (5, 1))
    fig, axes = plt.subplots(2, 3)
    br = [Branch(line, np.ones((5, 3), complex), np.ones(5, bool), d) for d in ("up", "down")]
    plot_fixed_point_comparison(axes, cmp, vs, line, vs, br, TOL, (-44.0, -30.0))
    assert axes[1, 1].get_ylabel() == "relative error in n*"
    assert axes[1, 0].get_ylabel() == "error in V* (mV)"
    lam = np.tile(np.array([-10.0, -0.1 + 1j, -0.1 - 1j]), (5, 1))
    fig, axes = plt.subplots(1, 3)
    plot_eigenvalue_comparison(axes, cmp, vs, lam, (-44.0, -30.0))
    assert axes[1].get_ylim() == pytest.approx((-2.5, 2.5)) and "(1/s)" in axes[0].get_ylabel()
    fig, ax = plt.subplots()
    plot_slow_pair(ax, vs, lam, vs, np.exp(lam * DT), DT, -44.7, -44.8, (-44.0, -30.0))
    assert ax.get_xlim() == pytest.approx((-46.0, -42.0))
    plt.close("all")
    with pytest.raises(TypeError, match="axes"):
        plot_burst_statistics(["not an axes"] * 3, vs, sweeps, (-44.0, -30.0))


def test_jacobian_is_used_consistently():
    # The ODE's eigenvalues in the comparison are those of its Jacobian at the fixed point.
    cmp = compare_fixed_points(ScaledEulerMap(DT), HHParams(), [-38.0])
    p = HHParams(V_S=-38.0)
    lam = np.linalg.eigvals(jacobian(cmp.ode_state[0], p))
    np.testing.assert_allclose(np.sort_complex(cmp.ode_eigenvalues[0]), np.sort_complex(lam),
                               rtol=1e-8)
    rows = fixed_point_rows(cmp, [-38.2])
    assert rows[0][0] == -38.0 and rows[0][-1] == cmp.n_found[0]


def test_sweep_regimes_marks_runs_that_blow_up():
    """A run that becomes non-finite is "diverged" with no ISIs; the others are summarised
    as before."""
    import numpy as np
    from hhlib.dynamics.recovery import sweep_regimes
    t = np.arange(0, 20.0, 0.01)
    spiking = np.where(np.sin(2 * np.pi * t / 0.5) > 0.95, 0.0, -60.0)

    def run(V_S):
        V = np.tile(spiking, (len(V_S), 1))
        V[1, 500:] = np.nan
        return t, V

    out = sweep_regimes(run, np.array([-40.0, -35.0, -30.0]), 2.0)
    assert out["regimes"][1] == "diverged" and out["isis"][1].size == 0
    assert out["regimes"][0] == out["regimes"][2] == "tonic"
    assert np.isnan(out["stats"][1].isi_mean)


def test_pairing_census_and_the_data_nearest_choice():
    assert pair_with_ode([(-44.7, 1), (-31.0, 0)], -44.72) == (-44.7, 1)
    v, k = pair_with_ode([], -44.72)
    assert math.isnan(v) and k is None
    two = TwoRootMap([-50.0, 0.01, 0.2], [-40.0, 0.03, 0.25])
    P = HHParams()
    cmp = compare_fixed_points(two, P, [-40.0, -38.0], starts=np.array(
        [[-50.0, 0.01, 0.2], [-40.0, 0.03, 0.25], [-49.0, 0.011, 0.21]]))
    assert fixed_point_census(cmp).startswith("2 fixed point(s) at 2 of 2 values")
    scale = np.array([10.0, 0.02, 0.005])
    near_a = np.tile([-50.5, 0.0101, 0.2], (10, 1))       # data around the fixed point a
    near_b = np.tile([-40.5, 0.0301, 0.25], (10, 1))      # ... around b
    agree_a = nearest_to_data_agrees(cmp, near_a, scale)
    agree_b = nearest_to_data_agrees(cmp, near_b, scale)
    assert agree_a + agree_b == 2 and {agree_a, agree_b} == {0, 2}
