"""hhlib.dynamics.evaluation's reporting for the network chapter: free runs side by side, the
per-V_S verdicts, random starts and long-run boundedness, the targets, and the plain
descriptions of a network and its training record (known answers on small inputs)."""
from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hhlib.dynamics import evaluation as ev  # noqa: E402
from hhlib.ode.integrate import simulate_ensemble  # noqa: E402
from hhlib.ode.model import PHYSICAL_BOUNDS, PHYSICAL_SLACK, HHParams  # noqa: E402
from hhlib.maps.network import MapNet  # noqa: E402
from _code.ch04 import (better_or_worse, free_run_table, network_rows,  # noqa: E402
                        plot_paired_runs, plot_phase_pair, plot_training_history, record_rows,
                        records_side_by_side, training_kind)
from hhlib.maps.training import TrainConfig, train_on_dataset  # noqa: E402


def _record(stages, score=0.5, seconds=120.0, patience=8):
    return {"train_config": {"stages": [list(s) for s in stages], "batch_size": 64, "lr": 1e-3,
                             "lr_final": 1e-4, "seed": 0, "patience": patience},
            "train_seconds": seconds, "stopped": "schedule completed", "best_epoch": 3,
            "selection": "val_score", "best_val_score": score, "best_val_loss": 1.5,
            "dataset_sha256": "a" * 64, "sha256": "b" * 64, "torch": "x", "machine": "y",
            "threads": 1, "date": "today", "command": "python train.py"}


def _drift_net(drift=(0.5, 0.0, 0.0), d_std=(2.0, 1.0, 1.0)):
    """A fresh MapNet is the identity plus ``d_mean``: x_{k+1} = x_k + drift exactly."""
    return MapNet(0.01, (4,), (-44.0, -30.0), d_mean=drift, d_std=d_std)


# --- training records --------------------------------------------------------------------

def test_schedule_and_kind_from_the_record():
    one, multi = _record([(1, 80)]), _record([(1, 20), (8, 30), (32, 60)])
    assert ev.schedule_text(one) == "80 epochs at K = 1"
    assert ev.schedule_text(multi) == ("20 epochs at K = 1, then 30 epochs at K = 8, then "
                                       "60 epochs at K = 32")
    assert training_kind(one) == "one-step" and training_kind(multi) == "multi-step"
    with pytest.raises(ValueError, match="record"):
        ev.schedule_text({"dataset_config": {}})


def test_better_or_worse_lower_score_is_better():
    assert better_or_worse(0.02, 1.2) == "better"
    assert better_or_worse(0.5, 0.5) == "better"      # a tie keeps the shipped choice
    assert better_or_worse(2.0, 1.2) == "worse"
    with pytest.raises(TypeError, match="score"):
        better_or_worse(True, 1.0)


def test_record_rows_and_side_by_side():
    rec = _record([(1, 80)])
    rows = dict(record_rows(rec))
    assert rows["learning rate"] == "0.001 → 0.0001"
    assert rows["weights sha256 (checked on load)"] == "b" * 16 + "…"
    headers, table = records_side_by_side({"a": rec, "b": _record([(1, 5), (8, 5)], 2.0)})
    assert headers == ["", "a", "b"]
    assert dict((r[0], r[1:]) for r in table)["training"] == ("one-step", "multi-step")
    assert dict((r[0], r[1:]) for r in table)["validation dynamics score"] == (0.5, 2.0)
    with pytest.raises(ValueError, match=r"records\['x'\]"):
        records_side_by_side({"x": {}})


def test_train_config_from_record_round_trips():
    cfg = TrainConfig(stages=((1, 3), (4, 2)), hidden=(16, 16), patience=5)
    record = {"train_config": {k: (list(map(list, v)) if k == "stages" else
                                   list(v) if isinstance(v, tuple) else v)
                               for k, v in cfg.__dict__.items()}}
    assert TrainConfig.from_record(record) == cfg
    assert TrainConfig.from_record(record, seed=3).seed == 3
    with pytest.raises(ValueError, match="does not know"):
        TrainConfig.from_record({"train_config": {"colour": 1}})
    with pytest.raises(TypeError, match="ds"):
        train_on_dataset({"cuts": {}}, cfg)


def test_network_rows_count_parameters():
    net = MapNet(0.01, (8, 8))
    rows = dict(network_rows(net))
    assert rows["parameters"] == (4 * 8 + 8) + (8 * 8 + 8) + (8 * 3 + 3)
    assert rows["time step Δt (s)"] == 0.01
    with pytest.raises(TypeError, match="net"):
        network_rows("net")


# --- free runs ---------------------------------------------------------------------------

def test_paired_runs_start_together_and_follow_their_own_law():
    net = _drift_net()
    V_S = np.array([-38.0, -31.0])
    x0 = np.array([[-55.0, 0.01, 0.18], [-50.0, 0.02, 0.19]])
    t, X, Y = ev.paired_runs(net, V_S, x0, 0.05)
    assert t.shape == (6,) and np.allclose(np.diff(t), 0.01)
    assert X.shape == Y.shape == (2, 6, 3)
    assert np.allclose(X[:, 0], x0) and np.allclose(Y[:, 0], x0, atol=1e-5)
    # The network adds its drift each step (float32): V rises by 0.5 mV per step.
    assert np.allclose(Y[:, -1, 0] - Y[:, 0, 0], 5 * 0.5, atol=1e-4)
    # The ODE half is simulate_ensemble itself.
    _, X_ref = simulate_ensemble(HHParams(V_S=V_S), x0, 0.05, 0.01)
    assert np.allclose(X, X_ref, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="x0"):
        ev.paired_runs(net, V_S, x0[:1], 0.05)
    with pytest.raises(ValueError, match="t_end"):
        ev.paired_runs(net, V_S, x0, 0.01)
    with pytest.raises(TypeError, match="t_end"):
        ev.paired_runs(net, V_S, x0, "1")


def test_compare_networks_losses_have_the_known_answer():
    # Cuts that move by (1, 0, 0) per step; the map moves by (0.5, 0, 0): after k steps the
    # error in V is 0.5 k mV, i.e. 0.25 k in units of d_std = 2 mV, in one of 3 variables.
    L = 4
    base = np.array([-55.0, 0.01, 0.18])
    cuts = np.stack([base + np.outer(np.arange(L + 1), [1.0, 0, 0])] * 3)
    cut_V_S = np.full(3, -38.0)
    net = _drift_net()
    table, results = ev.compare_networks({"drift": net}, cuts, cut_V_S, cut_V_S[:1],
                                         base[None], t_end=0.2, t_min=0.0)
    name, l1, l_all = table[0][:3]
    assert name == "drift"
    assert l1 == pytest.approx(0.25 ** 2 / 3, rel=1e-5)
    expected = np.mean([(0.25 * k) ** 2 / 3 for k in range(1, L + 1)])
    assert l_all == pytest.approx(expected, rel=1e-5)
    assert list(results) == ["drift"] and len(results["drift"]) == 1
    with pytest.raises(TypeError, match="nets"):
        ev.compare_networks({}, cuts, cut_V_S, cut_V_S[:1], base[None], 0.2, 0.0)
    with pytest.raises(ValueError, match="cut_V_S"):
        ev.compare_networks({"d": net}, cuts, cut_V_S[:2], cut_V_S[:1], base[None], 0.2, 0.0)


def _stats(regime, spb=np.nan, period=np.nan, isi=np.nan):
    return SimpleNamespace(regime=regime, spikes_per_burst=spb, burst_period=period,
                           isi_mean=isi)


def _rows():
    """Three test values: a burst met, a tonic run 10 % off (missed), a diverged run."""
    return [
        {"V_S": -40.0, "ode": _stats("bursting", 12, 8.5, 0.7),
         "net": _stats("bursting", 12, 8.6, 0.7), "physical": True, "regime_ok": True,
         "spb_err": 0.0, "period_err": 0.1 / 8.5, "isi_err": np.nan, "spb_ok": True,
         "period_ok": True, "isi_ok": None},
        {"V_S": -31.0, "ode": _stats("tonic", isi=0.40), "net": _stats("tonic", isi=0.44),
         "physical": True, "regime_ok": True, "spb_err": np.nan, "period_err": np.nan,
         "isi_err": -0.1, "spb_ok": None, "period_ok": None, "isi_ok": False},
        {"V_S": -35.0, "ode": _stats("bursting", 23, 9.7, 0.4), "net": None,
         "physical": False, "regime_ok": False, "spb_err": np.nan, "period_err": np.nan,
         "isi_err": np.nan, "spb_ok": None, "period_ok": None, "isi_ok": None},
    ]


def test_free_run_counts_summary_and_table():
    rows = _rows()
    assert ev.free_run_counts(rows) == {"n_test": 3, "n_regime": 2, "n_checks": 3,
                                        "n_checks_ok": 2}
    s = ev.free_run_summary(rows)
    assert s["regime correct"] == "2/3" and s["physical runs"] == 2
    assert s["worst spikes/burst error"] == 0.0
    assert s["worst tonic-ISI error"] == pytest.approx(0.1)       # the magnitude
    headers, table = free_run_table(rows)
    assert headers[5:12:3] == ["±1", "±10%", "±5%"]
    assert [r[2] for r in table] == ["bursting", "tonic", "diverged"]
    assert [r[5] for r in table] == ["✓", "–", "–"] and table[1][11] == "✗"
    assert np.isnan(table[2][4])                                  # no network value
    with pytest.raises(ValueError, match="rows"):
        ev.free_run_counts([])


# --- long runs ---------------------------------------------------------------------------

def test_random_starts_are_the_seeded_draws_in_the_box():
    pool = np.array([-40.0, -35.0, -31.0])
    x, vs = ev.random_starts(pool, 50, seed=7)
    rng = np.random.default_rng(7)
    cols = [rng.uniform(lo, hi, 50) for lo, hi in ev.RANDOM_START_BOX]
    assert np.array_equal(x, np.column_stack(cols))
    assert np.array_equal(vs, rng.choice(pool, 50))
    box = np.array(ev.RANDOM_START_BOX)
    assert np.all((x >= box[:, 0]) & (x <= box[:, 1]))
    assert set(vs) <= set(pool)
    with pytest.raises(ValueError, match="n"):
        ev.random_starts(pool, 0)
    with pytest.raises(ValueError, match="box"):
        ev.random_starts(pool, 3, box=((0, 1), (1, 0), (0, 1)))


def _long_Y():
    """Four runs of 11 samples (dt = 0.1 s): on the attractor fine; on the attractor with
    n < 0 beyond the box's slack at samples 3-4 (and within it at 7); random start fine;
    random start non-finite from sample 6."""
    Y = np.tile(np.array([-55.0, 0.02, 0.18]), (4, 11, 1))
    Y[1, 3:5, 1] = -2 * PHYSICAL_SLACK
    Y[1, 7, 1] = -0.5 * PHYSICAL_SLACK
    Y[3, 5, 0] = PHYSICAL_BOUNDS["V"][1] + 10.0
    Y[3, 6:] = np.nan
    return Y


def test_long_runs_judge_each_run():
    Y = _long_Y()
    x0, V_S = Y[:, 0], np.array([-40.0, -38.0, -35.0, -31.0])
    r = ev.long_runs(Y, x0, V_S, n_attractor=2, dt=0.1)
    assert r.ok.tolist() == [True, False, True, False]
    assert r.finite.tolist() == [True, True, True, False]
    assert (r.n_long, r.n_long_ok) == (4, 2)
    assert np.allclose(r.onset, [np.nan, 0.3, np.nan, 0.5], equal_nan=True)
    text = r.text()
    assert "started on the attractor, 1 of 2 stayed physical" in text
    assert "random states off the attractor, 1 of 2" in text
    assert "1 runs (0 of them started on the attractor)" in text and "0.50 s" in text
    assert r.verdict() == "This target is missed as stated."
    report = r.report(1.0).splitlines()
    assert report[0].startswith("4 free runs of 1 s: 2 stayed physical")
    assert len(report) == 2 + 2                      # counts, range, one line per failure
    assert "from t = 0.30 s to 0.40 s" in report[2]


def test_long_runs_all_physical_and_targets():
    Y = _long_Y()[[0, 2]]
    r = ev.long_runs(Y, Y[:, 0], np.array([-40.0, -35.0]), 1, 0.1)
    assert r.ok.all() and r.verdict() == "This target is met."
    assert "Every run stayed finite" in r.text()
    counts = ev.free_run_counts(_rows())
    t = {x.name: x for x in ev.network_targets(counts, r)}
    assert not t["regime at every held-out V_S"].met
    assert t["regime at every held-out V_S"].measured == 2
    assert not t["statistic targets at held-out V_S"].met
    long_target = t["long free runs stay physical"]
    assert long_target.met and long_target.measured == 2
    with pytest.raises(ValueError, match="n_attractor"):
        ev.long_runs(Y, Y[:, 0], np.array([-40.0, -35.0]), 3, 0.1)
    with pytest.raises(ValueError, match="counts"):
        ev.network_targets({"n_test": 1}, r)
    with pytest.raises(TypeError, match="runs"):
        ev.network_targets(counts, "runs")


# --- figures -----------------------------------------------------------------------------

def test_plot_helpers_draw_and_label():
    t = np.arange(11) * 0.1
    Y = _long_Y()[:2]
    fig, axes = plt.subplots(2, 2)
    plot_paired_runs(axes, t, Y, Y, np.array([-40.0, -38.0]))
    assert axes[0, 0].get_ylabel() == "V (mV)" and axes[1, 1].get_xlabel() == "t (s)"
    assert [x.get_text() for x in fig.legends[0].get_texts()] == ["ODE", "network"]
    with pytest.raises(ValueError, match="axes"):
        plot_paired_runs(axes[0], t, Y, Y, np.array([-40.0, -38.0]))
    ax1, ax2 = plot_phase_pair(*plt.subplots(1, 2)[1], t, Y, Y, np.array([-40.0, -38.0]), 0.5)
    assert len(ax1.lines) == 2 and ax1.get_ylabel() == "V (mV)"
    h = {"epoch": [1, 2, 3], "K": [1, 1, 8], "train_loss": [3, 2, 1], "val_loss": [3, 2, 1],
         "val_one_step": [1, 0.5, 0.2], "val_score": [5, 1, 2]}
    a, b = plot_training_history(*plt.subplots(1, 2)[1], h, 2, 1.0)
    # A stage starts at epoch 1 (K = 1) and at epoch 3 (K = 8): a vertical line before each.
    vertical = {ln.get_xdata()[0] for ln in b.lines
                if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] == ln.get_xdata()[1]}
    assert vertical == {0.5, 2.5}
    with pytest.raises(ValueError, match="history"):
        plot_training_history(a, b, {"epoch": []}, 1, 1.0)
    plt.close("all")


def test_train_on_dataset_trains_on_the_datasets_splits():
    """The retrain path of the network chapter, on a tiny dataset: one epoch of a tiny net,
    selected by the dynamics score against the validation trajectories."""
    from hhlib.ode.data import Dataset, DatasetConfig

    cfg = DatasetConfig(n_train=2, n_val=1, n_test=1, t_keep=1.0, cut_len=10)
    x0 = np.array([-55.0, 0.01, 0.18])
    V_S = {"train": np.array([-40.0, -34.0]), "val": np.array([-37.0]),
           "test": np.array([-36.0])}
    traj, cuts, cut_V_S = {}, {}, {}
    for split, v in V_S.items():
        # Validation references long enough to show their regime (train checks that).
        _, X = simulate_ensemble(HHParams(V_S=v), np.tile(x0, (v.size, 1)),
                                 20.0 if split == "val" else 1.0, cfg.dt)
        traj[split] = X
        cuts[split] = np.concatenate([X[:, i:i + 11] for i in range(0, 90, 10)])
        cut_V_S[split] = np.tile(v, 9)             # cuts are ordered start-major
    ds = Dataset(config=cfg, V_S=V_S, cuts=cuts, cut_V_S=cut_V_S, trajectories=traj)
    net, hist = train_on_dataset(ds, TrainConfig(hidden=(8,), stages=((1, 1),), val_steps=10,
                                                 batch_size=8), progress=False)
    assert isinstance(net, MapNet) and net.dt == cfg.dt
    assert net.V_S_range == cfg.V_S_range
    assert hist["best_epoch"] == 1 and np.isfinite(hist["best_val_score"])


# --- a band of V_S held out of training ----------------------------------------------------

TOL = np.array([0.5, 0.005, 0.002])
X0 = np.array([-60.0, 0.001, 0.18])


def test_band_check_counts_a_map_without_fixed_point_as_a_miss():
    vs = np.array([-38.2, -37.8])
    out = ev.band_check(_drift_net(), vs, X0, 30.0, 10.0, TOL)   # x -> x + (0.5 mV, 0, 0)
    assert out["n_test"] == 2 and out["n_regime"] == 0
    assert out["n_fp_ok"] == out["n_eig_ok"] == 0
    assert out["max_V_err"] == out["worst_eig"] == np.inf


def test_band_check_is_the_free_runs_and_fixed_point_checks_it_names():
    from hhlib.maps.network import load_pretrained
    from hhlib.dynamics.recovery import compare_fixed_points, fixed_point_checks

    net, _ = load_pretrained("original")
    vs = np.array([-40.0, -36.0])
    out = ev.band_check(net, vs, X0, 60.0, 20.0, TOL)
    rows = ev.compare_free_runs(net, vs, np.tile(X0, (2, 1)), 60.0, 20.0)
    assert {k: out[k] for k in ev.free_run_counts(rows)} == ev.free_run_counts(rows)
    checks = fixed_point_checks(compare_fixed_points(net, HHParams(), vs), TOL)
    np.testing.assert_allclose(out["max_V_err"], checks.err[:, 0].max())
    np.testing.assert_allclose(out["worst_eig"], checks.score.max())
    assert out["n_fp_ok"] == int(checks.fp_ok.sum()) and out["n_eig_ok"] == int(checks.eig_ok.sum())
    with pytest.raises(ValueError, match="x0"):
        ev.band_check(net, vs, np.tile(X0, (2, 1)), 60.0, 20.0, TOL)


def _band_out(n_regime=5, ok=10, n_fp=5, n_eig=5, v=0.02, eig=0.4):
    return {"n_test": 5, "n_regime": n_regime, "n_checks": 10, "n_checks_ok": ok,
            "n_fp_ok": n_fp, "n_eig_ok": n_eig, "max_V_err": v, "worst_eig": eig}


def test_band_row_and_verdict_say_hit_or_miss():
    from _code.ch05 import BAND_HEADERS, band_row, band_verdict

    assert band_row("x-band", _band_out(), False) == ("x-band", "no", "5 of 5", "10 of 10",
                                                      "5 of 5", 0.02, 0.4)
    assert len(BAND_HEADERS) == len(band_row("x", _band_out(), True)) <= 7
    hit = band_verdict("the paper's recipe", _band_out(), _band_out())
    assert hit.startswith("For the paper's recipe") and "every target holds" in hit
    for miss in (_band_out(n_regime=4), _band_out(ok=9), _band_out(n_fp=4), _band_out(n_eig=0)):
        text = band_verdict("r", _band_out(), miss)
        assert "a miss" in text and "every target holds" not in text
    assert "inf mV" in band_verdict("r", _band_out(), _band_out(n_fp=0, v=np.inf))
    # a miss the parent shares is not blamed on the band
    both = band_verdict("r", _band_out(n_fp=3), _band_out(n_fp=4))
    assert "as for its parent" in both and "does not cause it" in both
    assert "that its parent, trained with data there, meets" in band_verdict(
        "r", _band_out(), _band_out(n_fp=4))


def test_training_data_text_names_the_band_and_the_extra_cuts():
    from _code.ch05 import training_data_text

    rec = {"dataset_config": {"V_S_range": [-44.0, -30.0], "n_train": 160, "n_val": 24,
                              "t_keep": 60.0, "exclude_band": [-38.5, -37.5]},
           "train_config": {"stages": [[1, 80]], "seed": 3, "random_runs": 48},
           "extra_cuts": {"transient": 4375}, "train_seconds": 700.4,
           "stopped": "schedule completed"}
    text = training_data_text(rec)
    for part in ("160 attractor trajectories of 60 s", "24 more", "[-44, -30] mV",
                 "outside the band [-38.5, -37.5] mV", "4375 transient cuts", "80 epochs at K = 1",
                 "seed 3", "48 random-start runs", "700 s", "schedule completed"):
        assert part in text, part
    rec["dataset_config"].pop("exclude_band")
    rec["train_config"]["random_runs"] = 0
    assert "band" not in training_data_text({**rec, "extra_cuts": {}})
    assert "random-start" not in training_data_text(rec)


def test_physical_box_text_says_the_bounds_in_words():
    from _code.ch04 import physical_box_text
    from hhlib.ode.model import PHYSICAL_BOUNDS

    text = physical_box_text()
    (v0, v1), (n0, n1), (s0, s1) = PHYSICAL_BOUNDS.values()
    assert text == (f"{v0:g} ≤ V ≤ {v1:g} mV, {n0:g} ≤ n ≤ {n1:g} and {s0:g} ≤ S ≤ {s1:g}"
                    .replace("-", "−"))
    assert "-" not in text and "V" in text and "mV" in text
