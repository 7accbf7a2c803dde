"""hhlib.maps.network: interface, validation, save/load, training, and the shipped weights."""
import warnings

import numpy as np
import pytest
import torch

from hhlib.dynamics.evaluation import compare_free_runs
from hhlib.ode.model import is_physical
from hhlib.maps.network import MapNet, load_pretrained, save_pretrained, WEIGHTS_DIR
from hhlib.maps.training import TrainConfig, train


def small_net(**kw):
    return MapNet(0.01, (8, 8), (-44.0, -30.0), x_mean=(-50, 0.01, 0.18), x_std=(10, 0.02, 0.005),
                  d_mean=(0, 0, 0), d_std=(2, 0.01, 4e-5), **kw)


def test_starts_as_identity_and_shapes():
    net = small_net()
    x = np.array([[-60.0, 0.001, 0.18], [-40.0, 0.05, 0.19]])
    np.testing.assert_allclose(net.step(x, np.array([-40.0, -35.0])), x, rtol=1e-6)
    assert net.step(x[0], -40.0).shape == (3,)
    r = net.rollout(x, -40.0, 5)
    assert r.shape == (2, 6, 3) and r.dtype == np.float64
    np.testing.assert_allclose(r[:, 0], x)
    assert net.rollout(x[0], -40.0, 3).shape == (4, 3)


def test_torch_path_keeps_gradients():
    net = small_net()
    x = torch.tensor([[-60.0, 0.001, 0.18]], requires_grad=True)
    y = net.rollout(x, torch.tensor([-40.0]), 3)
    assert isinstance(y, torch.Tensor) and y.requires_grad
    y[:, -1].sum().backward()
    assert x.grad is not None


def test_validation_errors_and_range_warning():
    net = small_net()
    with pytest.raises(ValueError, match="shape"):
        net.step(np.zeros((2, 4)), -40.0)
    with pytest.raises(ValueError, match="V_S"):
        net.step(np.zeros((2, 3)), np.array([-40.0, -38.0, -36.0]))
    with pytest.raises(ValueError, match="finite"):
        net.step(np.array([np.nan, 0.0, 0.2]), -40.0)
    with pytest.raises(ValueError, match="finite"):
        net.step(np.array([-50.0, 0.0, 0.2]), np.nan)
    with pytest.raises(ValueError, match="n_steps"):
        net.rollout(np.array([-50.0, 0.0, 0.2]), -40.0, -1)
    with pytest.warns(UserWarning, match=r"\[-44.0, -30.0\]"):
        net.step(np.array([-50.0, 0.0, 0.2]), -20.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.step(np.array([-50.0, 0.0, 0.2]), -40.0)        # inside: no warning
    with pytest.raises(ValueError, match="dt"):
        MapNet(0.0)
    with pytest.raises(ValueError, match="d_std"):
        MapNet(0.01, d_std=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="stages"):
        TrainConfig(stages=((0, 3),))


def test_save_load_round_trip_and_hash_check(tmp_path):
    net = small_net()
    torch.nn.init.normal_(net.mlp[-1].weight)
    save_pretrained(net, "tiny", {"note": "test"}, tmp_path)
    loaded, rec = load_pretrained("tiny", tmp_path)
    x = np.array([[-55.0, 0.01, 0.18]])
    np.testing.assert_array_equal(loaded.step(x, -40.0), net.step(x, -40.0))
    assert rec["note"] == "test" and rec["config"]["hidden"] == [8, 8]
    # tamper with the weights: the checksum must catch it
    pt = tmp_path / "tiny.pt"
    raw = bytearray(pt.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    pt.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="checksum"):
        load_pretrained("tiny", tmp_path)
    with pytest.raises(ValueError, match="no pretrained weights named"):
        load_pretrained("nothing", tmp_path)


def test_tiny_training_lowers_the_loss():
    # cuts of a damped linear map: the network must learn it
    rng = np.random.default_rng(0)
    A = np.diag([0.9, 0.8, 0.95])
    x0 = rng.normal(size=(64, 3)) * [5, 0.01, 0.01] + [-50, 0.02, 0.18]
    c = [x0]
    for _ in range(10):
        c.append((c[-1] - [-50, 0.02, 0.18]) @ A + [-50, 0.02, 0.18])
    cuts = np.stack(c, axis=1)
    vs = rng.uniform(-44, -30, 64)
    net, hist = train(cuts[:48], vs[:48], cuts[48:], vs[48:], 0.01,
                      TrainConfig(hidden=(16, 16), stages=((1, 10), (4, 10)), batch_size=16,
                                  val_steps=10, lr=5e-3), progress=False)
    assert hist["best_val_loss"] < 0.2 * hist["val_loss"][0]
    assert hist["best_val_loss"] == min(hist["val_loss"])


def test_is_physical():
    X = np.zeros((2, 5, 3))
    X[..., 0] = -50
    X[1, 3, 1] = -0.01
    np.testing.assert_array_equal(is_physical(X), [True, False])


SHIPPED = (WEIGHTS_DIR / "original.pt").exists()


@pytest.mark.skipif(not SHIPPED, reason="no shipped weights")
def test_shipped_weights_record_is_consistent():
    net, rec = load_pretrained("original")
    assert rec["torch"].startswith(torch.__version__.split("+")[0])
    assert rec["train_seconds"] < 15 * 60
    assert (WEIGHTS_DIR / "original.pt").stat().st_size < 5e6


@pytest.mark.skipif(not SHIPPED, reason="no shipped weights")
def test_shipped_network_reproduces_held_out_dynamics():
    """Two held-out V_S (one bursting, one tonic): regime and burst statistics agree with
    the ODE within the targets."""
    net, rec = load_pretrained("original")
    from hhlib.ode.data import DatasetConfig, draw_V_S
    vs = draw_V_S(DatasetConfig(**{**rec["dataset_config"], "V_S_range": tuple(
        rec["dataset_config"]["V_S_range"])}))["test"][[3, 10]]   # held out: never trained on
    x0 = np.array([[-60.0, 0.001, 0.18], [-60.0, 0.001, 0.18]])
    rows = compare_free_runs(net, vs, x0, 250.0, 50.0)
    for r in rows:
        assert r["regime_ok"], r["V_S"]
        assert r["physical"]
        for k in ("spb_ok", "period_ok", "isi_ok"):
            assert r[k] in (None, True), (r["V_S"], k, r)


def test_extrapolate_switch_silences_only_the_range_warning():
    import warnings
    net = MapNet(dt=0.01, hidden=(8,), V_S_range=(-44.0, -30.0))
    x0 = np.array([[-60.0, 0.001, 0.18]])
    with pytest.warns(UserWarning, match="outside the trained range"):
        net.rollout(x0, -50.0, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = net.rollout(x0, -50.0, 3, extrapolate=True)
        b = net.step(x0, -50.0, extrapolate=True)
    assert np.allclose(a[0, 1], b[0])
    with pytest.raises(TypeError, match="extrapolate"):
        net.rollout(x0, -40.0, 3, extrapolate="yes")
