"""hhlib.ode.survey (chapter 1's survey of the model across V_S) and chapter 1's figure helpers.

The survey functions live in hhlib/ode/survey.py rather than hhlib/ode/spikes.py because spikes.py
is hashed into the dataset cache key; this file tests them with known answers and with
independent computations from hhlib.ode.model.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from _code.ch01 import (STATS_HEADERS, eigenvalue_text, fixed_point_count_text,  # noqa: E402
                        fixed_point_rows,
                        plot_fixed_point_sweep, plot_regime_examples, plot_z_curve, stats_rows)
from hhlib.ode.model import HHParams, fast_equilibria, hopf_point, rhs  # noqa: E402
from hhlib.ode.spikes import BurstStats, burst_statistics  # noqa: E402
from hhlib.ode.survey import (ensemble_sweep, example_runs, fixed_point_sweep,  # noqa: E402
                              refine_transition, z_curve_knees)

P = HHParams()
X0 = np.array([-60.0, 0.0, 0.18])


def test_knees_of_a_cubic_are_its_extrema():
    V = np.linspace(-2.0, 2.0, 4001)               # S = V^3 - 3V turns at V = -1 and V = +1
    knees = z_curve_knees(V, V**3 - 3 * V)
    assert [round(v, 6) for v, _ in knees] == [-1.0, 1.0]
    assert knees[0][1] == pytest.approx(2.0) and knees[1][1] == pytest.approx(-2.0)


def test_knees_of_the_model_bound_the_unstable_middle_branch():
    V = np.linspace(-74.0, 0.0, 3001)
    S, stable = fast_equilibria(V, P)
    (v_lo, _), (v_hi, _) = z_curve_knees(V, S)
    # The middle branch between the knees is a saddle: unstable throughout.
    assert not stable[(V > v_lo + 0.1) & (V < v_hi - 0.1)].any()
    assert stable[V < v_lo - 0.1].all()


def test_knees_validation():
    with pytest.raises(ValueError, match="V must"):
        z_curve_knees([0.0, 0.0, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="S match"):
        z_curve_knees([0.0, 1.0, 2.0], [1.0, 2.0])


def test_count_text():
    assert fixed_point_count_text({1}) == "exactly one fixed point"
    assert fixed_point_count_text(frozenset({1, 3})) == "from 1 to 3 fixed points"
    with pytest.raises(ValueError, match="counts"):
        fixed_point_count_text(set())


def test_eigenvalue_text():
    assert eigenvalue_text(np.array([-44.31, 0.1028, 15.78]), digits=3) == "-44.3, 0.103, 15.8"
    assert eigenvalue_text([-1.0, 2 + 3j, 2 - 3j]) == "-1, 2+3i, 2-3i"
    assert eigenvalue_text([1 + 1e-14j]) == "1"       # numerically real: written as real
    with pytest.raises(ValueError, match="digits"):
        eigenvalue_text([1.0], digits=0)
    with pytest.raises(ValueError, match="eigenvalues"):
        eigenvalue_text(np.eye(2))


def test_fixed_point_sweep_is_an_equilibrium_with_consistent_stability():
    vs = np.array([-50.0, -44.0, -38.0])
    fs = fixed_point_sweep(P, vs)
    assert fs.counts == {1}
    for v, x in zip(vs, fs.state):
        assert np.abs(rhs(x, P.replace(V_S=v))).max() < 1e-8
    np.testing.assert_array_equal(fs.stable, (fs.eigenvalues.real < 0).all(axis=1))
    assert fs.stable.tolist() == [True, False, False]     # Hopf point near -44.7 mV
    with pytest.raises(TypeError, match="params"):
        fixed_point_sweep({"V_S": -38.0}, vs)


def test_fixed_point_rows_change_stability_at_the_hopf_point():
    vh = hopf_point(P, (-46.0, -44.0))
    rows = fixed_point_rows(P, (vh - 0.05, vh + 0.05))
    assert [r[-1] for r in rows] == ["stable", "unstable"]
    assert rows[0][0] == pytest.approx(vh - 0.05) and len(rows[0]) == 6


def test_stats_rows():
    tonic = BurstStats("tonic", 10, 0.3, np.nan, np.nan, np.nan, np.nan, 0)
    burst = BurstStats("bursting", 40, 0.5, 15.0, 8.4, 5.5, 2.9, 3)
    rows = stats_rows([-38.0, -30.0], [burst, tonic], names=["b", "t"])
    assert rows[0] == ("b", -38.0, "bursting", 15.0, 8.4, 5.5, 0.5)
    assert len(rows[1]) == len(STATS_HEADERS) + 1
    assert stats_rows([-38.0, -30.0], [burst, tonic], keep=np.array([False, True]))[0][1] \
        == "tonic"
    with pytest.raises(ValueError, match="one value per stats"):
        stats_rows([-38.0], [burst, tonic])
    with pytest.raises(TypeError, match="BurstStats"):
        stats_rows([-38.0], ["bursting"])
    with pytest.raises(ValueError, match="keep"):
        stats_rows([-38.0], [burst], keep=[1])


def test_example_runs_match_burst_statistics():
    runs = example_runs(P, X0, {"tonic": -30.0}, 60.0, 0.002, t_min=30.0)
    t, X, b = runs["tonic"]
    again = burst_statistics(t, X[:, 0], t_min=30.0)
    assert (b.regime, b.n_spikes, b.isi_mean) == (again.regime, again.n_spikes, again.isi_mean)
    assert b.regime == "tonic" and t[-1] == pytest.approx(60.0)
    with pytest.raises(TypeError, match="V_S"):
        example_runs(P, X0, [-30.0], 60.0, 0.002, t_min=30.0)


def test_transition_is_refined_inside_the_coarse_bracket():
    # Chapter 1 (published mode) finds the bursting-to-tonic switch at V_S = -33.779 mV.
    vs = np.linspace(-36.0, -30.0, 7)
    stats, isis = ensemble_sweep(P, X0, vs, 150.0, 0.005, t_min=50.0)
    assert len(isis) == vs.size
    regimes = [s.regime for s in stats]
    assert regimes[:3] == ["bursting"] * 3 and regimes[-1] == "tonic"
    lo, hi = refine_transition(P, X0, vs, regimes, 150.0, 0.005, t_min=50.0, n_fine=11)
    assert -34.0 <= lo < hi <= -33.0
    assert hi - lo == pytest.approx(0.1)                    # one step of the fine grid
    assert abs(0.5 * (lo + hi) + 33.779) < 0.1
    with pytest.raises(ValueError, match="n_fine"):
        refine_transition(P, X0, vs, regimes, 150.0, 0.005, t_min=50.0, n_fine=1)
    with pytest.raises(ValueError, match="x0"):
        ensemble_sweep(P, X0[:2], vs, 150.0, 0.005, t_min=50.0)


def test_figure_helpers_label_units_and_check_shapes():
    t = np.linspace(0, 100, 1001)
    X = np.stack([-50 + 10 * np.sin(t), np.zeros_like(t), 0.2 + 0.01 * np.cos(t)], axis=1)
    fig, axes = plt.subplots(2, 2)
    plot_regime_examples(axes, {"a": (t, X, None), "b": (t, X, None)},
                         {"a": -38.0, "b": -30.0}, 50.0)
    assert axes[0, 0].get_ylabel() == "V (mV)" and axes[1, 1].get_xlabel() == "t (s)"
    with pytest.raises(ValueError, match="axes"):
        plot_regime_examples(axes[0], {"a": (t, X, None)}, {"a": -38.0}, 50.0)
    fig2, ax = plt.subplots()
    V = np.linspace(-74, 0, 50)
    plot_z_curve(ax, V, V**2, V < -40, X, X[0])
    assert ax.get_ylabel() == "V (mV)" and len(ax.lines) == 4
    fig3, ax2 = plt.subplots(1, 2)
    ev = np.tile([-40.0, 1 + 1j, 1 - 1j], (5, 1))
    plot_fixed_point_sweep(ax2, np.linspace(-50, -40, 5), np.zeros((5, 3)), ev, -45.0)
    assert ax2[1].get_ylabel() == "eigenvalue (1/s)" and ax2[0].get_xlabel() == "$V_S$ (mV)"
    with pytest.raises(ValueError, match="state"):
        plot_fixed_point_sweep(ax2, np.linspace(-50, -40, 5), np.zeros((4, 3)), ev, -45.0)
    plt.close("all")
