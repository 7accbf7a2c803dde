"""hhlib.dynamics.ablation: the same evaluation for every variant of the map."""
import numpy as np
import pytest

from _code.ch04 import ABLATION_HEADERS, ablation_rows
from hhlib.dynamics.ablation import describe_recipe, evaluate_all, evaluate_variant
from hhlib.ode.model import HHParams
from hhlib.maps.network import load_pretrained
from hhlib.dynamics.recovery import compare_fixed_points, fixed_point_checks

TOL = (0.5, 0.005, 0.002)


def test_describe_recipe_names_what_differs():
    base = {"train_config": {"stages": [[1, 80]], "seed": 3}, "dataset_config": {}}
    assert describe_recipe(base) == "K=1 × 80; seed 3"
    robust = {"train_config": {"stages": [[1, 80]], "seed": 0, "random_runs": 48},
              "dataset_config": {"n_transient": 160, "transient_box": [[-75, -15], [0, 0.3],
                                                                        [0, 0.35]]}}
    text = describe_recipe(robust)
    assert "160 transient runs from V in [-75, -15] mV" in text and "48 random-start" in text
    with pytest.raises(ValueError, match="record"):
        describe_recipe({"name": "x"})


def test_evaluate_variant_columns_agree_with_direct_computations():
    net, rec = load_pretrained("original")
    P = HHParams()
    vs = np.array([-40.0, -32.0])
    x0 = np.array([[-60.0, 0.001, 0.18], [-60.0, 0.001, 0.18]])
    grid = np.array([-42.0, -36.0])
    val = np.tile(x0[:1, None], (1, 501, 1))        # one "trajectory" at rest, 5 s
    r = evaluate_variant(net, rec, val_trajectories=val, val_V_S=np.array([-41.0]),
                         test_V_S=vs, test_x0=x0, t_compare=20.0, t_min=10.0,
                         params=P, V_S_grid=grid, tol=TOL, n_random=4, t_random=2.0)
    cmp = compare_fixed_points(net, P, grid)
    checks = fixed_point_checks(cmp, TOL)
    assert r["exactly_one"] == int((cmp.n_found == 1).sum()) and r["n_grid"] == 2
    assert r["worst_V"] == pytest.approx(np.nanmax(checks.err[:, 0]))
    assert r["eig_ok"] == int(checks.eig_ok.sum())
    assert 0 <= r["random_ok"] <= r["random_runs"] == 4 and 0 <= r["non_finite"] <= 4
    assert r["n_test"] == 2 and 0 <= r["checks_ok"] <= r["checks"]
    assert r["val_score"] == pytest.approx(rec["best_val_score"])
    rows = ablation_rows({"original": (rec, r)})
    assert len(rows) == 1 and len(rows[0]) == len(ABLATION_HEADERS)
    assert rows[0][4] == f"{r['random_ok']} of 4"


def test_evaluate_variant_rejects_bad_input():
    net, rec = load_pretrained("original")
    kw = dict(val_trajectories=np.zeros((1, 11, 3)) + [-60.0, 0.001, 0.18], val_V_S=[-40.0],
              test_V_S=[-40.0], test_x0=[[-60.0, 0.001, 0.18]], t_compare=20.0, t_min=10.0,
              params=HHParams(), V_S_grid=[-40.0], tol=TOL, n_random=1, t_random=1.0)
    with pytest.raises(TypeError, match="net"):
        evaluate_variant("original", rec, **kw)
    with pytest.raises(ValueError, match="record"):
        evaluate_variant(net, {}, **kw)
    with pytest.raises(ValueError, match="params"):
        evaluate_variant(net, rec, **{**kw, "params": HHParams.bistable()})
    with pytest.raises(ValueError, match="n_random"):
        evaluate_variant(net, rec, **{**kw, "n_random": -1})
    with pytest.raises(ValueError, match="t_random"):
        evaluate_variant(net, rec, **{**kw, "t_random": 0})
    with pytest.raises(ValueError, match="V_S_grid"):
        evaluate_variant(net, rec, **{**kw, "V_S_grid": []})
    with pytest.raises(ValueError, match="results"):
        ablation_rows({})


def test_choice_uses_the_validation_score_only():
    from _code.ch04 import ablation_text
    from hhlib.dynamics.ablation import chosen_by_validation
    res = {"a": ({}, {"criterion": 0.05, "random_ok": 60, "exactly_one": 43}),
           "b": ({}, {"criterion": 0.02, "random_ok": 90, "exactly_one": 20}),
           "c": ({}, {"criterion": 0.03, "random_ok": 90, "exactly_one": 10})}
    assert chosen_by_validation(res) == "b"          # not the one with the best fixed points
    text = ablation_text(res, "b")
    assert "The chosen variant keeps the most random-start runs physical (tied with 1 other)" \
        in text
    assert "`a` has exactly one fixed point at the most grid values (43, against 20" in text
    with pytest.raises(ValueError, match="chosen"):
        ablation_text(res, "z")
    with pytest.raises(ValueError, match="results"):
        chosen_by_validation({"a": 1})


def test_selection_criterion_penalises_leaving_the_box():
    from hhlib.dynamics.ablation import selection_criterion
    from hhlib.maps.network import MapNet
    val = np.zeros((2, 51, 3)) + [-60.0, 0.001, 0.18]      # reference runs at rest
    vs = np.array([-40.0, -35.0])
    # the untrained map is the identity: it stays where it starts, at rest, in the box
    still = MapNet(dt=0.01, hidden=(4,))
    assert selection_criterion(still, val, vs, n_random=4, t_random=1.0) == 0.0
    # a map that adds 5 mV to V every step: still "at rest" by its spikes (one crossing),
    # but every random-start run leaves the box within a second: the full penalty of 10
    drift = MapNet(dt=0.01, hidden=(4,), d_mean=(5.0, 0.0, 0.0))
    assert selection_criterion(drift, val, vs, n_random=4, t_random=1.0) == \
        pytest.approx(10.0)
    with pytest.raises(ValueError, match="n_random"):
        selection_criterion(still, val, vs, n_random=0)


def test_evaluate_all_in_processes_gives_the_in_process_numbers():
    """evaluate_all runs each evaluation in its own (spawned) process; the numbers are the
    ones evaluate_variant gives here, bit for bit (same code, one thread each)."""
    import torch
    torch.set_num_threads(1)
    net, rec = load_pretrained("original")
    other, other_rec = load_pretrained("original-transient")
    kw = dict(val_trajectories=np.zeros((1, 201, 3)) + [-60.0, 0.001, 0.18],
              val_V_S=[-40.0], test_V_S=[-40.0, -32.0], test_x0=[[-60.0, 0.001, 0.18]] * 2,
              t_compare=20.0, t_min=10.0, params=HHParams(), V_S_grid=[-40.0, -34.0],
              tol=TOL, n_random=3, t_random=5.0)
    both = evaluate_all({"a": (net, rec), "b": (other, other_rec)}, **kw)
    assert list(both) == ["a", "b"] and both["b"][0] is other_rec
    for name, m, r in (("a", net, rec), ("b", other, other_rec)):
        here = evaluate_variant(m, r, **kw)
        assert both[name][1] == here
    with pytest.raises(TypeError, match="models must be a non-empty dict"):
        evaluate_all({"a": net}, **kw)
    with pytest.raises(TypeError, match="evaluate must be callable"):
        evaluate_all({"a": (net, rec)}, evaluate="evaluate_variant", **kw)


def test_random_start_runs_report_the_regime_each_run_ends_in():
    from hhlib.dynamics.ablation import _with_random_runs, random_start_runs
    from hhlib.maps.network import MapNet
    still = MapNet(dt=0.01, hidden=(4,))             # the identity: every run stays at rest
    runs = random_start_runs(still, [-40.0, -32.0], 6, 2.0, seed=1)
    assert runs["random_ok"] == 6 and runs["non_finite"] == 0
    assert [r for _, r in runs["random_regimes"]] == ["rest"] * 6
    # counted against the ODE's regime at each run's V_S: rest at -40 mV only here
    out = _with_random_runs({"ode_regimes": [(-40.0, "rest"), (-32.0, "bursting")]}, runs)
    n40 = sum(v == -40.0 for v, _ in runs["random_regimes"])
    assert 0 < n40 < 6 and out["random_attractor"] == n40
    drift = MapNet(dt=0.01, hidden=(4,), d_mean=(5.0, 0.0, 0.0))    # leaves the box
    gone = random_start_runs(drift, [-40.0], 3, 2.0)
    assert gone["random_ok"] == 0 and [r for _, r in gone["random_regimes"]] == [None] * 3
    assert random_start_runs(still, [-40.0], 0, 2.0)["random_regimes"] == []


def test_robust_targets_follow_the_numbers():
    from hhlib.dynamics.ablation import robust_targets
    r = dict(random_ok=98, random_runs=100, non_finite=0, random_attractor=97, exactly_one=41,
             fp_ok=39, eig_ok=33, n_grid=43, checks_ok=21, checks=21, regime_ok=12, n_test=12)
    met = {t.name: t.met for t in robust_targets(r)}
    assert met["random starts physical"] and met["random starts non-finite"]
    assert not met["physical random starts ending in the ODE's regime"]   # 97 of 98
    assert met["exactly one fixed point"]                   # 41 / 43 = 95.3 %
    assert met["fixed-point position within tolerance"]     # 39 / 43 = 90.7 %
    assert met["eigenvalues within tolerance"]              # 33 / 43 = 76.7 %
    assert met["held-out regimes and statistic targets"]
    assert len(met) == 7
    with_hopf = robust_targets(r, hopf_error=-0.2)
    assert with_hopf[-1].name.startswith("Neimark") and not with_hopf[-1].met
    assert not robust_targets(r, hopf_error=float("nan"))[-1].met     # none found: a miss
    assert not {t.name: t.met for t in robust_targets({**r, "exactly_one": 40})}[
        "exactly one fixed point"]                          # 93 %
    with pytest.raises(ValueError, match="evaluate_variant"):
        robust_targets({"random_ok": 1})
    with pytest.raises(ValueError, match="random-start"):
        robust_targets({**r, "random_runs": 0})


def test_outside_starts_lie_in_the_outer_box_and_outside_the_inner():
    from hhlib.dynamics.ablation import OUTSIDE_BOX, outside_starts
    from hhlib.ode.data import PHYSICAL_START_BOX
    from hhlib.dynamics.evaluation import random_starts
    x, vs = outside_starts([-40.0, -32.0], 500, seed=7)
    outer, inner = np.array(OUTSIDE_BOX), np.array(PHYSICAL_START_BOX)
    assert x.shape == (500, 3) and set(vs) <= {-40.0, -32.0}
    assert np.all((x >= outer[:, 0]) & (x <= outer[:, 1]))
    assert not np.any(np.all((x >= inner[:, 0]) & (x <= inner[:, 1]), axis=1))
    # every part of the shell is drawn: V beyond the inner box's, n above 0.1, S outside it
    assert (x[:, 0] > inner[0, 1]).any() and (x[:, 1] > inner[1, 1]).any() \
        and (x[:, 2] < inner[2, 0]).any()
    again, _ = outside_starts([-40.0, -32.0], 500, seed=7)
    np.testing.assert_array_equal(again, x)
    # a generator of its own: not random_starts' draws for the same seed
    assert not np.allclose(random_starts(np.array([-40.0]), 5, seed=7)[0], x[:5])
    # the outer box is the widest training box of the variants: original-transient-wide's
    _, wide = load_pretrained("original-transient-wide")
    assert tuple(map(tuple, wide["dataset_config"]["transient_box"])) == OUTSIDE_BOX
    with pytest.raises(ValueError, match="n must"):
        outside_starts([-40.0], 0)
    with pytest.raises(ValueError, match="inside inner"):
        outside_starts([-40.0], 3, outer=PHYSICAL_START_BOX)


def test_outside_runs_leave_the_other_columns_alone():
    from hhlib.dynamics.ablation import _with_random_runs, random_start_runs
    from hhlib.maps.network import MapNet
    net, rec = load_pretrained("original")
    vs = [-40.0, -32.0]
    plain = random_start_runs(net, vs, 4, 3.0, seed=5)
    both = random_start_runs(net, vs, 4, 3.0, seed=5, n_outside=3)
    assert {k: both[k] for k in plain} == plain and "outside_ok" not in plain
    assert both["outside_runs"] == 3 and 0 <= both["outside_ok"] <= 3
    drift = MapNet(dt=0.01, hidden=(4,), d_mean=(5.0, 0.0, 0.0))    # leaves the box
    gone = random_start_runs(drift, vs, 0, 2.0, n_outside=4)
    assert gone["random_runs"] == 0 and gone["outside_ok"] == 0 and gone["outside_runs"] == 4
    still = MapNet(dt=0.01, hidden=(4,))
    assert random_start_runs(still, vs, 2, 2.0, n_outside=4)["outside_ok"] == 4
    # in evaluate_variant and evaluate_all (split into processes) alike
    kw = dict(val_trajectories=np.zeros((1, 201, 3)) + [-60.0, 0.001, 0.18],
              val_V_S=[-40.0], test_V_S=vs, test_x0=[[-60.0, 0.001, 0.18]] * 2,
              t_compare=20.0, t_min=10.0, params=HHParams(), V_S_grid=[-40.0],
              tol=TOL, n_random=3, t_random=3.0)
    r0 = evaluate_variant(net, rec, **kw)
    r1 = evaluate_variant(net, rec, **kw, n_outside=2)
    assert {k: r1[k] for k in r0} == r0 and r1["outside_runs"] == 2
    assert evaluate_all({"a": (net, rec)}, **kw, n_outside=2)["a"][1] == r1
    rows = ablation_rows({"a": (rec, r1), "b": (rec, r0)})
    col = ABLATION_HEADERS.index("physical from outside the training box")
    assert rows[0][col] == f"{r1['outside_ok']} of 2" and rows[1][col] == "–"
    assert all(len(r) == len(ABLATION_HEADERS) for r in rows)
    with pytest.raises(ValueError, match="n_outside"):
        evaluate_variant(net, rec, **kw, n_outside=-1)
    assert _with_random_runs({"ode_regimes": []}, both)["outside_ok"] == both["outside_ok"]


def test_selection_margin_and_seed_spread():
    from _code.ch04 import seed_spread_rows
    from hhlib.dynamics.ablation import selection_margin
    res = {"a": ({}, {"criterion": 0.05, "random_ok": 60, "random_runs": 100,
                      "exactly_one": 43, "eig_ok": 30, "n_grid": 43, "worst_V": 0.2}),
           "b": ({}, {"criterion": 0.02, "random_ok": 90, "random_runs": 100,
                      "exactly_one": 20, "eig_ok": 35, "n_grid": 43, "worst_V": 0.5}),
           "c": ({}, {"criterion": 0.03, "random_ok": 95, "random_runs": 100,
                      "exactly_one": 10, "eig_ok": 40, "n_grid": 43, "worst_V": 0.1})}
    m = selection_margin(res)
    assert (m["chosen"], m["runner_up"]) == ("b", "c")
    assert m["margin"] == pytest.approx(0.01) and m["criterion"] == 0.02
    with pytest.raises(ValueError, match="two"):
        selection_margin({"a": res["a"]})
    rows = seed_spread_rows(res, ["a", "b", "c"])
    by = {r[0]: r[1:] for r in rows}
    assert by["random starts physical"] == ("60 to 95", "90", "100")
    assert by["exactly one fixed point"] == ("10 to 43", "20", "43")
    assert by["worst V* (mV)"] == ("0.1 to 0.5", "0.2", "–")
    assert "physical from outside the training box" not in by       # not measured here
    assert seed_spread_rows(res, ["c"])[0][1] == "95 to 95"
    with pytest.raises(ValueError, match="names"):
        seed_spread_rows(res, ["z"])
