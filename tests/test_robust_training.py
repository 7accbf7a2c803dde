"""Robust-training options (issue 11): transient cuts and noise pairs from the ODE
(hhlib.ode.data.augment_dataset), extra training data and boundedness in the selection
(hhlib.maps.training.train). All are off by default, so the shipped recipe is unchanged."""
import dataclasses

import numpy as np
import pytest

from hhlib.ode.data import DatasetConfig, augment_dataset, make_dataset
from hhlib.ode.integrate import simulate_ensemble
from hhlib.ode.model import HHParams, fixed_points
from hhlib.maps.training import TrainConfig, train

SMALL = DatasetConfig(n_train=3, n_val=2, n_test=2, t_transient=10.0, t_keep=4.0, cut_len=100)


@pytest.fixture(scope="module")
def small():
    return make_dataset(SMALL)


def test_defaults_are_off_and_leave_the_cache_key_alone(small):
    cfg = DatasetConfig()
    assert cfg.n_transient == 0 and cfg.n_noise == 0
    assert TrainConfig().random_runs == 0
    # The augmentation does not change the cached attractor data, so not the key either.
    assert DatasetConfig(n_transient=5, n_noise=7).key() == cfg.key()
    assert augment_dataset(small) is small
    assert small.extra_cuts == {}


def test_transient_cuts_start_in_the_box_and_keep_off_the_fixed_point(small):
    cfg = dataclasses.replace(SMALL, n_transient=6, t_transient_run=2.0)
    ds = augment_dataset(dataclasses.replace(small, config=cfg))
    c, v = ds.extra_cuts["transient"], ds.extra_V_S["transient"]
    assert c.ndim == 3 and c.shape[1:] == (cfg.cut_len + 1, 3) and v.shape == (len(c),)
    assert 0 < len(c) <= 6 * 2                                   # 2 cuts per 2 s run
    assert set(np.unique(v)) <= set(small.V_S["train"])
    scale = small.cuts["train"].reshape(-1, 3).std(axis=0)
    for vs in np.unique(v):
        i = int(np.flatnonzero(small.V_S["train"] == vs)[0])
        fp = fixed_points(HHParams(V_S=float(vs)))[0].state
        attractor = np.linalg.norm((small.trajectories["train"][i] - fp) / scale, axis=-1).min()
        cuts = c[v == vs]
        assert np.linalg.norm((cuts - fp) / scale, axis=-1).min() >= attractor
    # A transient cut is the ODE's flow: integrating from its first state reproduces it.
    _, X = simulate_ensemble(HHParams(V_S=v[:1]), c[:1, 0], cfg.cut_len * cfg.dt, cfg.dt,
                             rtol=cfg.rtol, atol=cfg.atol)
    np.testing.assert_allclose(X[0, :, 1:], c[0, :, 1:], atol=1e-6)
    np.testing.assert_allclose(X[0, :, 0], c[0, :, 0], atol=1e-3)       # mV
    # Deterministic.
    again = augment_dataset(dataclasses.replace(small, config=cfg))
    np.testing.assert_array_equal(again.extra_cuts["transient"], c)
    assert again.digest() == ds.digest() != small.digest()


def test_transient_box_sets_the_start_states(small):
    box = ((-60.0, -59.0), (0.2, 0.3), (0.05, 0.1))
    cfg = dataclasses.replace(SMALL, n_transient=5, t_transient_run=1.0, transient_box=box)
    ds = augment_dataset(dataclasses.replace(small, config=cfg))
    x0 = ds.extra_cuts["transient"][:, 0]                 # one cut per 1 s run: its start
    assert len(x0) >= 1
    for j, (lo, hi) in enumerate(box):
        assert np.all((x0[:, j] >= lo) & (x0[:, j] <= hi))


def test_noise_pairs_are_perturbed_states_with_ode_targets(small):
    cfg = dataclasses.replace(SMALL, n_noise=200, noise_sigma=0.05)
    ds = augment_dataset(dataclasses.replace(small, config=cfg))
    p, v = ds.extra_cuts["noise"], ds.extra_V_S["noise"]
    assert p.shape[1:] == (2, 3) and 150 <= len(p) <= 200 and v.shape == (len(p),)
    # Perturbed: the inputs are not attractor samples, and lie about sigma spreads away.
    samples = small.cuts["train"].reshape(-1, 3)
    scale = samples.std(axis=0)
    d = np.linalg.norm((p[:, None, 0] - samples[None]) / scale, axis=-1).min(axis=1)
    assert 0.01 < np.median(d) < 0.2                      # sigma = 0.05 per variable
    assert np.all((p[:, 0, 1:] >= 0) & (p[:, 0, 1:] <= 1))
    # The target is one ODE step from the perturbed state.
    _, X = simulate_ensemble(HHParams(V_S=v[:5]), p[:5, 0], cfg.dt, cfg.dt,
                             rtol=cfg.rtol, atol=cfg.atol)
    np.testing.assert_allclose(X[:, -1], p[:5, 1], rtol=1e-6, atol=1e-9)


def test_train_uses_extra_cuts_and_random_run_boundedness(small):
    cfg = dataclasses.replace(SMALL, n_transient=3, t_transient_run=1.0, n_noise=50)
    ds = augment_dataset(dataclasses.replace(small, config=cfg))
    tc = TrainConfig(hidden=(8,), stages=((1, 1), (4, 1)), val_steps=10, random_runs=4,
                     random_run_time=0.5, batch_size=64)
    extra = {k: (ds.extra_cuts[k], ds.extra_V_S[k]) for k in ds.extra_cuts}
    net, hist = train(ds.cuts["train"], ds.cut_V_S["train"], ds.cuts["val"], ds.cut_V_S["val"],
                      cfg.dt, tc, V_S_range=cfg.V_S_range, val_trajectories=ds.trajectories["val"],
                      val_traj_V_S=ds.V_S["val"], extra_cuts=extra, progress=False)
    assert len(hist["random_physical"]) == 2
    assert all(0.0 <= f <= 1.0 for f in hist["random_physical"])
    # The normalisation stays that of the attractor cuts, not of the transients.
    np.testing.assert_allclose(net.d_std.double().numpy(),
                               np.diff(ds.cuts["train"], axis=1).reshape(-1, 3).std(0), rtol=1e-5)
    with pytest.raises(ValueError, match="random_runs"):
        train(ds.cuts["train"], ds.cut_V_S["train"], ds.cuts["val"], ds.cut_V_S["val"], cfg.dt,
              tc, progress=False)
    with pytest.raises(TypeError, match="extra_cuts"):
        train(ds.cuts["train"], ds.cut_V_S["train"], ds.cuts["val"], ds.cut_V_S["val"], cfg.dt,
              TrainConfig(hidden=(8,), stages=((1, 1),), val_steps=10), extra_cuts=[1, 2],
              progress=False)


@pytest.mark.parametrize("kw,match", [({"n_transient": -1}, "n_transient"),
                                      ({"n_noise": 1.5}, "n_noise"),
                                      ({"noise_sigma": -0.1}, "noise_sigma"),
                                      ({"n_transient": 2, "t_transient_run": 0.5},
                                       "t_transient_run"),
                                      ({"transient_box": ((0, 1), (0, 2), (0, 1))},
                                       "transient_box"),
                                      ({"transient_box": ((0, 1), (0, 1))}, "transient_box")])
def test_config_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        DatasetConfig(**kw)


def test_train_config_validation():
    with pytest.raises(ValueError, match="random_runs"):
        TrainConfig(random_runs=-1)
    with pytest.raises(ValueError, match="random_run_time"):
        TrainConfig(random_run_time=0.0)


def test_jacobian_penalty_estimates_the_frobenius_norm():
    """The Hutchinson estimate converges to the mean squared Frobenius norm of the MLP's
    Jacobian with respect to the state inputs, computed exactly by autograd; a network
    that starts as the identity map (last layer zero) has none."""
    import torch
    from hhlib.maps.network import MapNet
    from hhlib.maps.training import jacobian_penalty
    torch.manual_seed(0)
    net = MapNet(0.01, (16,), x_mean=(-50, 0.05, 0.2), x_std=(10, 0.03, 0.03))
    assert float(jacobian_penalty(net, 64, torch.Generator().manual_seed(1))) == 0.0
    torch.nn.init.normal_(net.mlp[-1].weight)
    est = float(jacobian_penalty(net, 40000, torch.Generator().manual_seed(2)))
    gen = torch.Generator().manual_seed(3)
    from hhlib.ode.data import PHYSICAL_START_BOX
    box = torch.tensor(PHYSICAL_START_BOX)
    x = box[:, 0] + (box[:, 1] - box[:, 0]) * torch.rand((2000, 3), generator=gen)
    vs = -44 + 14 * torch.rand(2000, generator=gen)
    z = torch.cat([(x - net.x_mean) / net.x_std, net._vs_norm(vs)[:, None]], dim=-1)
    J = torch.func.vmap(torch.func.jacrev(net.mlp))(z)[:, :, :3]
    exact = float((J ** 2).sum(dim=(1, 2)).mean())
    assert est == pytest.approx(exact, rel=0.05)
