"""hhlib.ode.data: disjoint splits, oscillatory cuts, determinism and the cache."""
import dataclasses

import numpy as np
import pytest

from hhlib.ode.data import (DatasetConfig, distance_to_fixed_point, draw_V_S, load_or_make_dataset,
                            make_dataset)

SMALL = DatasetConfig(n_train=4, n_val=2, n_test=3, t_transient=20.0, t_keep=25.0, cut_len=100)


def test_splits_are_disjoint_and_in_range():
    v = draw_V_S(DatasetConfig())
    lo, hi = DatasetConfig().V_S_range
    for k in ("train", "val", "test"):
        assert np.all((v[k] >= lo) & (v[k] <= hi))
    for k in ("train", "val"):
        assert np.min(np.abs(v[k][:, None] - v["test"][None])) >= DatasetConfig().min_gap
    assert not set(v["train"]) & set(v["val"])
    assert len(v["test"]) >= 10


def test_dataset_shapes_and_oscillation():
    ds = make_dataset(SMALL)
    n_cuts = int(round(SMALL.t_keep / SMALL.dt)) // SMALL.cut_len
    assert ds.cuts["train"].shape == (SMALL.n_train * n_cuts, SMALL.cut_len + 1, 3)
    np.testing.assert_array_equal(ds.cut_V_S["train"], np.repeat(ds.V_S["train"], n_cuts))
    # consecutive cuts of one trajectory join up
    np.testing.assert_array_equal(ds.cuts["train"][0, -1], ds.cuts["train"][1, 0])
    # every cut moves (none sits at rest)
    assert np.ptp(ds.cuts["train"][:, :, 0], axis=1).min() > 0.1


def test_determinism_and_cache(tmp_path):
    a = load_or_make_dataset(SMALL, tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1
    b = load_or_make_dataset(SMALL, tmp_path)            # from the cache
    c = make_dataset(SMALL)                               # recomputed
    assert a.digest() == b.digest() == c.digest()
    d = load_or_make_dataset(dataclasses.replace(SMALL, seed=1), tmp_path)
    assert d.digest() != a.digest() and len(list(tmp_path.glob("*.npz"))) == 2


def test_distance_to_fixed_point_is_zero_at_the_fixed_point():
    from hhlib.ode.model import HHParams, fixed_points
    fp = fixed_points(HHParams(V_S=-38.0))[0].state
    states = np.stack([fp, fp + [1.0, 0.0, 0.0], fp + [2.0, 0.01, 0.01]])
    d = distance_to_fixed_point(states, np.full(3, -38.0))
    assert d[0] == 0 and d[1] > 0


@pytest.mark.parametrize("kw,match", [({"V_S_range": (-30.0, -44.0)}, "V_S_range"),
                                      ({"n_train": 0}, "n_train"), ({"dt": -1.0}, "dt"),
                                      ({"t_keep": 0.1}, "t_keep")])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        DatasetConfig(**kw)


def test_from_record_rebuilds_the_training_configuration():
    import dataclasses
    import json

    from hhlib.maps.network import load_pretrained
    _, record = load_pretrained("original")
    cfg = DatasetConfig.from_record(json.loads(json.dumps(record)))   # lists, as from disk
    assert dataclasses.asdict(cfg) == {**dataclasses.asdict(DatasetConfig()),
                                       **{k: cfg.__getattribute__(k) for k in
                                          record["dataset_config"]}}
    assert cfg.V_S_range == tuple(record["dataset_config"]["V_S_range"])
    assert DatasetConfig.from_record(record, n_train=5).n_train == 5
    small = cfg.small()
    assert (small.n_train, small.n_val, small.t_keep) == (12, 3, 20.0)
    assert small.V_S_range == cfg.V_S_range and small.variant == cfg.variant
    with pytest.raises(ValueError, match="record"):
        DatasetConfig.from_record({"name": "x"})
    with pytest.raises(ValueError, match="does not know"):
        DatasetConfig.from_record({"dataset_config": {"bogus": 1}})


def test_exclude_band_keeps_train_and_val_out_of_the_band_and_changes_nothing_else():
    band = (-38.5, -37.5)
    base, held = draw_V_S(DatasetConfig()), draw_V_S(DatasetConfig(exclude_band=band))
    assert np.any((base["train"] >= band[0]) & (base["train"] <= band[1]))   # the test bites
    for k in ("train", "val"):
        assert not np.any((held[k] >= band[0]) & (held[k] <= band[1]))
        assert held[k].size == base[k].size
        assert np.min(np.abs(held[k][:, None] - held["test"][None])) >= DatasetConfig().min_gap
    np.testing.assert_array_equal(held["test"], base["test"])
    # deterministic from the seed
    again = draw_V_S(DatasetConfig(exclude_band=[-38.5, -37.5]))
    np.testing.assert_array_equal(again["train"], held["train"])
    # None is the default, leaves the key's fields as before and is what records lack
    assert DatasetConfig().exclude_band is None
    assert DatasetConfig(exclude_band=band).key() != DatasetConfig().key()
    cfg = DatasetConfig.from_record({"dataset_config": {"exclude_band": [-38.5, -37.5]}})
    assert cfg.exclude_band == band


@pytest.mark.parametrize("band", [(-37.5, -38.5), (-50.0, -40.0), (-38.0,), "x",
                                  (float("nan"), -37.0), (-38.0, -38.0), (-31.0, -29.0)])
def test_exclude_band_validation(band):
    with pytest.raises(ValueError, match="exclude_band"):
        DatasetConfig(exclude_band=band)


def test_distance_to_training_is_the_nearest_training_value():
    from hhlib.ode.data import distance_to_training
    cfg = DatasetConfig(exclude_band=(-38.5, -37.5))
    train = draw_V_S(cfg)["train"]
    d = distance_to_training(cfg, [-38.0, train[3]])
    assert d[1] == 0 and d[0] >= 0.5 and np.isclose(d[0], np.min(np.abs(train + 38.0)))
    d_test = distance_to_training(DatasetConfig())
    assert d_test.shape == (DatasetConfig().n_test,) and d_test.min() >= DatasetConfig().min_gap
    with pytest.raises(ValueError, match="values"):
        distance_to_training(cfg, [])
