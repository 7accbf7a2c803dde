"""hhlib.ode.dataset_stats on synthetic traces and a small hand-built Dataset (known answers),
and chapter 3's figure helpers."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from _code.ch03 import (SPLIT_HEADERS, plot_cuts, plot_split_values, spread_rows,  # noqa: E402
                        plot_value_histograms, split_rows)
from hhlib.ode.data import Dataset, DatasetConfig  # noqa: E402
from hhlib.ode.dataset_stats import (all_cuts, cut_motion, fraction_within,  # noqa: E402
                                     pick_cuts, samples_and_increments, sampling_step_rows,
                                     slow_fast_eigenvalues, smallest_gaps, spike_width,
                                     trajectory_regimes)


def square_spikes(width=0.03, period=0.2, t_end=10.0, dt=1e-4):
    t = np.arange(0.0, t_end, dt)
    V = np.where((t % period) < width, 0.0, -60.0)
    return t, V


def test_spike_width_of_known_pulses():
    t, V = square_spikes(width=0.03)
    assert spike_width(t, V) == pytest.approx(0.03, abs=2e-4)
    # Starting inside a pulse: the first, partial excursion is skipped, the width unchanged.
    assert spike_width(t, V, t_min=0.01) == pytest.approx(0.03, abs=2e-4)
    with pytest.raises(ValueError, match="excursion"):
        spike_width(t, np.full_like(t, -60.0))
    with pytest.raises(ValueError, match="equal length"):
        spike_width(t, V[:-1])


def test_slow_and_fast_eigenvalues():
    assert slow_fast_eigenvalues([-44.3, 0.103, 15.8]) == (-44.3, 0.103)
    fast, slow = slow_fast_eigenvalues(np.array([-46.0, -0.3 + 1j, -0.3 - 1j]))
    assert (fast, slow) == (-46.0, -0.3)
    with pytest.raises(ValueError, match="eigenvalues"):
        slow_fast_eigenvalues([])


def test_sampling_step_rows_of_a_sine():
    # V = A sin(2 pi f t): the largest change over a step dt is 2 A sin(pi f dt); samples
    # off the zero crossing by up to dt/2 reach at least cos(pi f dt) of it.
    A, f, h = 20.0, 2.0, 1e-4
    t = np.arange(0.0, 5.0, h)
    X = np.stack([-40 + A * np.sin(2 * np.pi * f * t), 0 * t, 0 * t], axis=1)
    ev = np.array([-40.0, 0.1, 15.0])
    rows = sampling_step_rows(t, X, (0.001, 0.01), ev, t_min=1.0)
    width = spike_width(t, X[:, 0], t_min=1.0)        # above -35 mV: a known arc of the sine
    assert width == pytest.approx((0.5 - np.arcsin(0.25) / np.pi) / f, abs=2 * h)
    for dt, row in zip((0.001, 0.01), rows):
        assert row[0] == dt and row[1] == pytest.approx(width / dt)
        bound = 2 * A * np.sin(np.pi * f * dt)             # reached at a centred zero crossing
        assert bound * np.cos(np.pi * f * dt) <= row[2] <= bound * (1 + 1e-12)
        assert row[3] == pytest.approx(np.expm1(0.1 * dt)) and row[4] == pytest.approx(
            np.exp(-40.0 * dt))
    with pytest.raises(ValueError, match="multiples"):
        sampling_step_rows(t, X, (0.00015,), ev)
    with pytest.raises(ValueError, match="shape"):
        sampling_step_rows(t, X[:, :2], (0.001,), ev)


def small_dataset():
    """Three trajectories per split of a 1 Hz oscillation ("tonic") or a constant ("rest"),
    cut into two cuts each; V_S values chosen so the gaps are known."""
    cfg = DatasetConfig().small()
    dt, L = cfg.dt, 4
    t = np.arange(0, 20.0, dt)
    osc = np.stack([-40 + 30 * np.sin(2 * np.pi * t), 0.01 + 0 * t, 0.2 + 0 * t], axis=1)
    rest = np.tile([-60.0, 0.0, 0.17], (t.size, 1))
    V_S = {"train": np.array([-40.0, -36.0, -32.0]), "val": np.array([-39.0, -33.0, -31.5]),
           "test": np.array([-38.0, -34.0, -30.0])}
    trajs = {k: np.stack([osc, osc, rest]) for k in V_S}
    cuts = {k: np.concatenate([tr[:2 * (L + 1)].reshape(2, L + 1, 3) for tr in trajs[k]])
            for k in V_S}
    cut_V_S = {k: np.repeat(V_S[k], 2) for k in V_S}
    return Dataset(cfg, V_S, cuts, cut_V_S, trajs)


def test_dataset_summaries():
    ds = small_dataset()
    rows = split_rows(ds)
    assert len(rows[0]) == len(SPLIT_HEADERS)
    assert rows == [(k, 3, 6, 24) for k in ("train", "val", "test")]
    assert smallest_gaps(ds) == {"train": pytest.approx(2.0), "val": pytest.approx(1.0)}
    assert trajectory_regimes(ds) == {"rest": 3, "tonic": 6, "bursting": 0}
    allc, allv = all_cuts(ds)
    assert allc.shape == (18, 5, 3) and allv[0] == -40.0 and allv[-1] == -30.0
    with pytest.raises(TypeError, match="Dataset"):
        split_rows({"train": None})


def test_samples_increments_and_motion():
    cuts = np.zeros((2, 4, 3))
    cuts[0, :, 0] = [0.0, 1.0, 3.0, 6.0]                 # V moves, n and S still
    x, d = samples_and_increments(cuts)
    assert x.shape == d.shape == (6, 3)
    np.testing.assert_allclose(cuts[0, 0] + np.cumsum(d[:3], axis=0), cuts[0, 1:])
    v_range, path = cut_motion(cuts, np.array([2.0, 1.0, 1.0]))
    np.testing.assert_allclose(v_range, [6.0, 0.0])
    np.testing.assert_allclose(path, [3.0, 0.0])          # 6 mV in units of 2 mV
    with pytest.raises(ValueError, match="scale"):
        cut_motion(cuts, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="cuts"):
        samples_and_increments(np.zeros((2, 1, 3)))
    rows = spread_rows(("V", "n", "S"), [4.0, 1.0, 2.0], [2.0, 1.0, 0.5])
    assert [r[-1] for r in rows] == [2.0, 1.0, 4.0]
    assert fraction_within([0.05, 0.2, 0.3, 2.0], (0.1, 0.5)) == {0.1: 0.25, 0.5: 0.75}


def test_pick_cuts_spreads_over_V_S():
    ds = small_dataset()
    k, traj = pick_cuts(ds, n=3, seed=1)
    order = np.argsort(ds.V_S["train"])
    assert list(traj) == [order[0], order[1], order[-1]]
    assert all(kk // 2 == i for kk, i in zip(k, traj))   # each cut from its own trajectory
    np.testing.assert_array_equal(k, pick_cuts(ds, n=3, seed=1)[0])   # seeded
    with pytest.raises(ValueError, match="n must"):
        pick_cuts(ds, n=1)


def test_figure_helpers():
    ds = small_dataset()
    fig, ax = plt.subplots()
    plot_split_values(ax, ds.V_S)
    assert ax.get_xlabel() == "$V_S$ (mV)" and len(ax.lines) == 3
    with pytest.raises(ValueError, match="keys"):
        plot_split_values(ax, {"train": [1.0]})
    fig, axes = plt.subplots(1, 3)
    k, i = pick_cuts(ds, n=3)
    plot_cuts(axes, ds.cuts["train"][k], ds.cut_V_S["train"][k], ds.trajectories["train"][i],
              ds.config.dt)
    assert axes[0].get_xlabel() == "time within cut (s)" and axes[2].get_ylabel() == "V (mV)"
    assert len(fig.legends[0].get_texts()) == 3 and axes[0].get_legend() is None
    fig, axes = plt.subplots(2, 3)
    x, d = samples_and_increments(ds.cuts["train"])
    plot_value_histograms(axes, x, d)
    assert axes[1, 0].get_xlabel() == "one-step increment of V (mV)"
    with pytest.raises(ValueError, match="axes"):
        plot_value_histograms(axes[0], x, d)
    plt.close("all")
