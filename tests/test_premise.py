"""What the networks' data show (issue 23, item 2): how close all training data come to the
ODE's fixed point (hhlib.ode.dataset_stats.closest_approach), and that no transient cut of the
robust recipe relaxes to the stable rest state of the bistable variant
(hhlib.ode.dataset_stats.relaxes_to_rest)."""
import dataclasses

import numpy as np
import pytest

from hhlib.ode.data import DatasetConfig, augment_dataset, make_dataset
from _code.ch04 import RECIPE_DATA_HEADERS, recipe_data_row
from hhlib.ode.dataset_stats import closest_approach, relaxes_to_rest, training_states
from hhlib.ode.integrate import simulate_ensemble
from hhlib.ode.model import HHParams, fixed_points
from hhlib.maps.network import load_pretrained
from hhlib.dynamics.recovery import data_proximity

SMALL = DatasetConfig(n_train=3, n_val=2, n_test=2, t_transient=10.0, t_keep=4.0, cut_len=100)


@pytest.fixture(scope="module")
def small():
    return make_dataset(SMALL)


def test_closest_approach_of_attractor_data_is_data_proximity(small):
    scale = small.cuts["train"].reshape(-1, 3).std(axis=0)
    grid = np.linspace(-44.0, -30.0, 7)
    P = HHParams()
    np.testing.assert_array_equal(
        closest_approach(small, P, grid, scale),
        data_proximity(small.trajectories["train"], small.V_S["train"], P, grid, scale))
    assert len(training_states(small)) == 1


def test_closest_approach_counts_the_extra_cuts(small):
    """Transient cuts are filtered to come no closer than the attractor (in the filter's own
    spreads): the closest approach is unchanged by them. A cut planted at the fixed point
    must bring it to zero at its V_S."""
    scale = small.cuts["train"].reshape(-1, 3).std(axis=0)
    grid = np.array(small.V_S["train"])
    P = HHParams()
    cfg = dataclasses.replace(SMALL, n_transient=9, t_transient_run=3.0)
    aug = augment_dataset(dataclasses.replace(small, config=cfg))
    assert len(aug.extra_cuts["transient"]) > 0
    base = closest_approach(small, P, grid, scale)
    np.testing.assert_array_equal(closest_approach(aug, P, grid, scale), base)
    v0 = float(small.V_S["train"][0])
    fp = fixed_points(P.replace(V_S=v0))[0].state
    planted = dataclasses.replace(aug, extra_cuts={"transient": np.tile(fp, (1, 5, 1))},
                                  extra_V_S={"transient": np.array([v0])})
    d = closest_approach(planted, P, grid, scale)
    assert d[0] == pytest.approx(0.0, abs=1e-12) and np.all(d[1:] == base[1:])
    row = recipe_data_row(["a", "b"], aug, base)
    assert len(row) == len(RECIPE_DATA_HEADERS) and row[0] == "`a`, `b`"
    n_att, n_tr = len(small.cuts["train"]), len(aug.extra_cuts["transient"])
    assert row[1:4] == (n_att, n_tr, 0)
    assert row[4] == f"{100 * n_tr / (n_att + n_tr):.0f} %"
    with pytest.raises(ValueError, match="scale"):
        closest_approach(small, P, grid, [1.0, 0.0, 1.0])


# Where the bistable variant's rest state is stable and the bursting attractor coexists.
BISTABLE_V_S = -21.5


def _stable_rest(P, v):
    return [fp.state for fp in fixed_points(P.replace(V_S=v)) if fp.stable][0]


def test_relaxes_to_rest_flags_a_cut_that_settles_and_not_a_burst():
    P = HHParams.bistable()
    rest = _stable_rest(P, BISTABLE_V_S)
    scale = np.array([9.8, 0.021, 0.0048])      # about the bistable data's state spreads
    # Negative control: 2 mV off rest the run relaxes (the rest state is a weak focus near
    # its Hopf point, so slowly): its cut after 19 s must be flagged. 3 mV off it escapes
    # to bursting: not flagged.
    _, X = simulate_ensemble(P.replace(V_S=np.full(2, BISTABLE_V_S)),
                             rest + np.array([[2.0, 0.0, 0.0], [3.0, 0.0, 0.0]]), 20.0, 0.01)
    cuts = X[:, -101:]
    assert relaxes_to_rest(cuts, np.full(2, BISTABLE_V_S), P, scale).tolist() == [True, False]
    # At a V_S without a stable fixed point nothing is flagged, whatever the cut.
    assert not any(fp.stable for fp in fixed_points(P.replace(V_S=-17.0)))
    at17 = fixed_points(P.replace(V_S=-17.0))[0].state
    assert not relaxes_to_rest(np.tile(at17, (1, 101, 1)), [-17.0], P, scale).any()
    with pytest.raises(ValueError, match="cuts"):
        relaxes_to_rest(cuts, [BISTABLE_V_S], P, scale)


def test_no_transient_cut_of_bistable_transient_relaxes_to_rest():
    """bistable-transient's recipe on the small configuration (12 training values, the same
    160 transient runs of 30 s cycled over them, a few seconds): no transient cut at a V_S
    where the ODE's rest state is stable relaxes to it, and the attractor cuts there do not
    either (the criterion does not flag the silent phase of a burst). Covers the filter of
    augment_dataset as the recipe runs it, at 12 values of V_S instead of 160."""
    _, record = load_pretrained("bistable-transient")
    cfg = DatasetConfig.from_record(record).small()
    assert cfg.n_transient == 160 and cfg.variant == "bistable"
    ds = augment_dataset(make_dataset(cfg))
    P = HHParams.bistable()
    scale = ds.cuts["train"].reshape(-1, 3).std(axis=0)
    c, v = ds.extra_cuts["transient"], ds.extra_V_S["transient"]
    values = np.unique(v)
    rest_stable = np.array([any(fp.stable for fp in fixed_points(P.replace(V_S=float(x))))
                            for x in values])
    stable = np.isin(v, values[rest_stable])
    assert stable.sum() >= 100, "the test needs transient cuts where rest is stable"
    assert not relaxes_to_rest(c[stable], v[stable], P, scale).any()
    assert not relaxes_to_rest(ds.cuts["train"], ds.cut_V_S["train"], P, scale).any()
