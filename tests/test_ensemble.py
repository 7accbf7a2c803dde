"""hhlib.maps.network.EnsembleMap and load_ensemble: the mean of several network maps."""
import numpy as np
import pytest
import torch

from hhlib.dynamics.ablation import describe_recipe
from hhlib.maps.network import EnsembleMap, MapNet, VectorFieldNet, load_ensemble, seed_members
from hhlib.dynamics.recovery import map_fixed_points


def random_net(seed, hidden=(16, 16), dt=0.01):
    torch.manual_seed(seed)
    net = MapNet(dt, hidden, (-44.0, -30.0), x_mean=(-50, 0.01, 0.18),
                 x_std=(10, 0.02, 0.005), d_mean=(0, 0, 0), d_std=(2, 0.01, 4e-5))
    with torch.no_grad():           # not the identity map: a small random last layer
        net.mlp[-1].weight.normal_(0.0, 0.05)
        net.mlp[-1].bias.normal_(0.0, 0.05)
    return net.eval()


STATES = np.array([[-60.0, 0.001, 0.18], [-40.0, 0.05, 0.19], [-30.0, 0.2, 0.17]])
V_S = np.array([-40.0, -35.0, -31.0])


def test_step_is_the_mean_of_the_members_increments():
    members = [random_net(k) for k in range(3)]
    ens = EnsembleMap(members)
    x, v = torch.tensor(STATES, dtype=torch.float32), torch.tensor(V_S, dtype=torch.float32)
    with torch.no_grad():
        want = x + sum(m.increment(x, v) for m in members) / 3
    np.testing.assert_allclose(ens.step(STATES, V_S), want.double().numpy(), rtol=0,
                               atol=1e-5)
    # The fused (batched over members) rollout follows the plain one step by step.
    fused = ens.rollout(STATES, V_S, 20)
    plain = ens.rollout(torch.tensor(STATES, dtype=torch.float32),
                        torch.tensor(V_S, dtype=torch.float32), 20, grad=True)
    np.testing.assert_allclose(fused, plain.detach().double().numpy(), rtol=0, atol=1e-4)


def test_copies_of_one_network_are_that_network():
    net = random_net(5)
    ens = EnsembleMap([net, net, net])
    np.testing.assert_allclose(ens.rollout(STATES, V_S, 50), net.rollout(STATES, V_S, 50),
                               rtol=0, atol=1e-4)
    a = map_fixed_points(net, -38.0)
    b = map_fixed_points(ens, -38.0)
    assert len(a) == len(b)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p.state, q.state, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("members, err, match", [
    ([], TypeError, "at least two"),
    (lambda: [random_net(0)], TypeError, "at least two"),
    (lambda: [random_net(0), "net"], TypeError, "MapNet"),
    (lambda: [random_net(0), VectorFieldNet(0.01, (16, 16))], TypeError, "MapNet"),
    (lambda: [random_net(0), random_net(1, hidden=(8, 8))], ValueError, "hidden"),
    (lambda: [random_net(0), random_net(1, dt=0.02)], ValueError, "dt"),
])
def test_refuses_members_that_do_not_make_one_map(members, err, match):
    with pytest.raises(err, match=match):
        EnsembleMap(members() if callable(members) else members)


def test_load_ensemble_checks_the_recipe():
    with pytest.raises(ValueError, match="not trained alike"):
        load_ensemble(["original", "original-transient-80"])
    with pytest.raises(ValueError, match="two different"):
        load_ensemble(["original", "original"])
    with pytest.raises(TypeError, match="sequence"):
        load_ensemble("original")
    net, rec = load_ensemble(["original", "original-seed1"])
    assert isinstance(net, EnsembleMap) and rec["member_seeds"] == [0, 1]
    assert np.isnan(rec["best_val_score"]) and rec["train_seconds"] > 0
    assert "mean of 2 networks, seeds 0, 1" in describe_recipe(rec)


def test_seed_members_finds_a_recipes_seeds_in_seed_order(tmp_path):
    for stem in ["net", "net-seed10", "net-seed2", "net-seedx", "net-wide", "net-wide-seed1"]:
        (tmp_path / f"{stem}.pt").write_bytes(b"")
    assert seed_members("net", tmp_path) == ["net", "net-seed2", "net-seed10"]
    assert seed_members("net-wide", tmp_path) == ["net-wide", "net-wide-seed1"]
    with pytest.raises(ValueError, match="no saved network named 'other'"):
        seed_members("other", tmp_path)
    with pytest.raises(ValueError, match="name must be a plain file stem"):
        seed_members("../net", tmp_path)
    # The shipped ensembles: the paper's recipe and the transient recipe, each its seeds.
    assert seed_members("original") == ["original"] + [f"original-seed{k}" for k in range(1, 6)]
    assert seed_members("original-transient-80") == ["original-transient-80"] + [
        f"original-transient-80-seed{k}" for k in range(1, 5)]
    net, rec = load_ensemble(seed_members("original-transient-80"))
    assert rec["member_seeds"] == [0, 1, 2, 3, 4]
