"""The other discovery methods (hhlib.dynamics.baselines): SINDy recovers a known vector field, the
RK4 maps have the vector field's fixed points and eigenvalues, shipped models load only with
their checksums, and bad input is refused before any work."""
import json
import math

import numpy as np
import pytest
import torch

from _code.ch08 import BASELINE_HEADERS, baseline_rows, baseline_text
from hhlib.dynamics.baselines import (SindyMap, derivative_error, field_eigenvalues, fit_sindy,
                                      library_names, load_model, load_sindy, map_eigenvalue_check)
from hhlib.ode.integrate import simulate
from hhlib.ode.model import HHParams
from hhlib.maps.network import VectorFieldNet, load_pretrained, save_pretrained
from hhlib.dynamics.recovery import map_fixed_points
from hhlib.maps.training import TrainConfig, train

# A linear flow with a stable focus and a slow real direction, in model-like units:
# dx/dt = A (x - X_STAR) (V mV, n, S); eigenvalues -2 +- 3i and -0.5 1/s.
X_STAR = np.array([-50.0, 0.02, 0.18])
SCALE = np.array([5.0, 0.01, 0.005])
_A_NORM = np.array([[-2.0, -3.0, 0.0], [3.0, -2.0, 0.0], [0.0, 0.3, -0.5]])
A = np.diag(SCALE) @ _A_NORM @ np.diag(1 / SCALE)
DT = 0.01


def _linear_cuts(n_cuts=40, n_steps=60, seed=0):
    """Exact samples of the linear flow (matrix exponential), V_S spread over [-44, -30]."""
    from scipy.linalg import expm
    rng = np.random.default_rng(seed)
    step = expm(A * DT)
    x = X_STAR + SCALE * rng.uniform(-2, 2, (n_cuts, 3))
    cuts = [x]
    for _ in range(n_steps):
        x = X_STAR + (x - X_STAR) @ step.T
        cuts.append(x)
    return np.stack(cuts, axis=1), rng.uniform(-44, -30, n_cuts)


def test_library_names_match_the_terms():
    for lib, deg, p in (("polynomial", 1, 5), ("polynomial", 2, 15), ("polynomial", 3, 35),
                        ("sigmoid", 2, 15 + 28)):
        names = library_names(lib, deg)
        assert len(names) == p and len(set(names)) == p
        m = SindyMap(DT, lib, deg)
        assert m.terms(torch.zeros(4, 3), torch.full((4,), -37.0)).shape == (4, p)


def test_sindy_recovers_a_known_linear_field():
    cuts, vs = _linear_cuts()
    m = fit_sindy(cuts, vs, DT, library="polynomial", degree=2, threshold=1e-4,
                  V_S_range=(-44.0, -30.0))
    # Second-order differences of exact samples: error ~ (|lambda| dt)^2 / 6 ~ 2e-4.
    x = torch.as_tensor(X_STAR + SCALE * np.random.default_rng(1).uniform(-1, 1, (20, 3)),
                        dtype=torch.float32)
    with torch.no_grad():
        f = m.field(x, torch.full((20,), -37.0)).double().numpy()
    f_true = (x.double().numpy() - X_STAR) @ A.T
    assert np.max(np.abs(f - f_true) / SCALE) < 5e-3
    # Terms the flow does not have (V_S, squares) are thresholded away.
    assert m.n_terms() <= 12
    assert all(eq.startswith(("dV/dt", "dn/dt", "dS/dt")) for eq in m.equations())


def test_rk4_map_has_the_fields_fixed_point_and_eigenvalues():
    cuts, vs = _linear_cuts()
    m = fit_sindy(cuts, vs, DT, library="polynomial", degree=1, threshold=1e-4,
                  V_S_range=(-44.0, -30.0))
    fps = map_fixed_points(m, -37.0)
    assert len(fps) == 1
    assert np.all(np.abs(fps[0].state - X_STAR) / SCALE < 1e-3)
    lam = field_eigenvalues(m, fps[0].state, -37.0)
    assert np.allclose(np.sort_complex(lam), np.sort_complex(np.linalg.eigvals(A)), rtol=1e-2)
    # RK4 error of log(mu)/dt: O((|lambda| dt)^5) ~ 1e-8 relative; float32 weights 1e-5.
    assert map_eigenvalue_check(m, -37.0) < 1e-3


def test_vector_field_net_is_one_rk4_step_of_its_field():
    torch.manual_seed(0)
    net = VectorFieldNet(DT, (8, 8), x_mean=X_STAR, x_std=SCALE, d_std=SCALE * 0.1).double()
    torch.nn.init.normal_(net.mlp[-1].weight, std=0.1)
    x = torch.as_tensor(X_STAR + SCALE * np.random.default_rng(2).uniform(-1, 1, (5, 3)))
    v = torch.full((5,), -37.0, dtype=torch.float64)
    f = lambda y: net.field(y, v)  # noqa: E731
    k1 = f(x); k2 = f(x + DT / 2 * k1); k3 = f(x + DT / 2 * k2); k4 = f(x + DT * k3)  # noqa: E702
    with torch.no_grad():
        assert torch.allclose(net(x, v), x + DT / 6 * (k1 + 2 * k2 + 2 * k3 + k4), rtol=0,
                              atol=1e-12)
    assert net.config()["kind"] == "vector_field"


def test_train_builds_the_requested_network_class():
    cuts, vs = _linear_cuts(n_cuts=24, n_steps=20)
    cfg = TrainConfig(hidden=(8,), stages=((1, 1),), val_steps=10, batch_size=64)
    net, hist = train(cuts[:16], vs[:16], cuts[16:], vs[16:], DT, cfg, progress=False,
                      net_class=VectorFieldNet)
    assert isinstance(net, VectorFieldNet) and hist["best_epoch"] == 1
    with pytest.raises(TypeError, match="net_class"):
        train(cuts[:16], vs[:16], cuts[16:], vs[16:], DT, cfg, progress=False, net_class=dict)


def test_shipped_kinds_round_trip_with_checksums(tmp_path):
    cuts, vs = _linear_cuts()
    m = fit_sindy(cuts, vs, DT, library="sigmoid", degree=1, threshold=1e-3,
                  V_S_range=(-44.0, -30.0))
    save_pretrained(m, "sindy-test", {"best_val_score": 0.0}, tmp_path)
    back, rec = load_sindy("sindy-test", tmp_path)
    assert isinstance(back, SindyMap) and back.library == "sigmoid"
    assert torch.equal(back.coef, m.coef)
    assert isinstance(load_model("sindy-test", tmp_path)[0], SindyMap)
    with pytest.raises(ValueError, match="load_sindy"):
        load_pretrained("sindy-test", tmp_path)
    net = VectorFieldNet(DT, (4,))
    save_pretrained(net, "vf-test", {}, tmp_path)
    assert isinstance(load_model("vf-test", tmp_path)[0], VectorFieldNet)
    with pytest.raises(ValueError, match="not a SINDy model"):
        load_sindy("vf-test", tmp_path)
    # An edited library in the record is caught by the checksum, not silently used.
    path = tmp_path / "sindy-test.json"
    meta = json.loads(path.read_text())
    meta["config"]["library"] = "polynomial"
    path.write_text(json.dumps(meta))
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        load_sindy("sindy-test", tmp_path)


@pytest.mark.parametrize("kwargs, match", [
    ({"library": "fourier"}, "library must be one of"),
    ({"degree": 0}, "degree must be an integer from 1 to 5"),
    ({"degree": 2.0}, "degree must be an integer"),
    ({"threshold": -1.0}, "threshold must be a finite number >= 0"),
    ({"threshold": math.nan}, "threshold must be"),
])
def test_fit_sindy_refuses_bad_arguments(kwargs, match):
    cuts, vs = _linear_cuts(n_cuts=4, n_steps=5)
    with pytest.raises(ValueError, match=match):
        fit_sindy(cuts, vs, DT, **kwargs)


def test_fit_sindy_refuses_bad_data():
    cuts, vs = _linear_cuts(n_cuts=4, n_steps=5)
    with pytest.raises(ValueError, match="cuts must be finite, of shape"):
        fit_sindy(cuts[..., :2], vs, DT)
    bad = cuts.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="cuts must be finite"):
        fit_sindy(bad, vs, DT)
    with pytest.raises(ValueError, match="cut_V_S must hold one finite V_S per cut"):
        fit_sindy(cuts, vs[:2], DT)
    with pytest.raises(ValueError, match="dt must be a finite number > 0"):
        fit_sindy(cuts, vs, 0.0)
    with pytest.raises(ValueError, match="coef must be finite, of shape"):
        SindyMap(DT, "polynomial", 2, coef=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="substeps"):
        SindyMap(DT, substeps=0)
    with pytest.raises(TypeError, match="vector field"):
        field_eigenvalues(load_pretrained("original")[0], X_STAR, -37.0)


def _result(random_ok=100, non_finite=0, hopf=-44.7):
    return ({}, {"method": "m", "train_minutes": 1.0, "val_score": 0.5, "checks_ok": 21,
                 "checks": 21, "random_ok": random_ok, "random_runs": 100,
                 "non_finite": non_finite, "exactly_one": 43, "n_grid": 43, "worst_V": 0.2,
                 "worst_n": 0.001, "worst_S": 0.001, "eig_ok": 40,
                 "ns_points": [] if math.isnan(hopf) else [hopf]})


def test_rows_and_text_follow_the_numbers():
    res = {"a": _result(), "b": _result(random_ok=10, non_finite=90, hopf=math.nan)}
    rows = baseline_rows(res)
    assert len(rows) == 2 and all(len(r) == len(BASELINE_HEADERS) for r in rows)
    assert rows[1][-1] == "none found" and rows[1][5] == "10 of 100"
    text = baseline_text(res, hopf_ode=-44.72)
    assert "0.02 mV from the ODE's Hopf point (within" in text
    assert "90 become non-finite" in text and "no Neimark–Sacker point on the searched line" in text
    assert "most random-start runs physical: `a` (100)" in text
    assert "closest to the ODE's Hopf point: `a`" in text
    tie = baseline_text({"a": _result(), "c": _result()}, hopf_ode=-44.72)
    assert "most grid values with exactly one fixed point: `a` and `c` (43)" in tie
    far = baseline_text({"a": _result(hopf=-44.0)}, hopf_ode=-44.72)
    assert "outside the 0.15 mV target" in far
    two = _result()
    two[1]["ns_points"] = [-44.7, -31.0]      # the nearest is paired, both are listed
    assert baseline_rows({"t": two})[0][-1] == "-44.700, -31.000"
    assert "of its 2 Neimark–Sacker point(s) the nearest lies 0.02 mV" in baseline_text(
        {"t": two}, hopf_ode=-44.72)
    with pytest.raises(ValueError, match="non-empty dict"):
        baseline_rows({})


@pytest.mark.parametrize("order, rate", [(2, 8.0), (4, 30.0)])
def test_derivative_error_converges_at_the_order_of_the_differences(order, rate):
    """A four times finer sampling step divides the finite-difference error of V and n by
    about 4^order (at least ``rate``) on 0.4 s of the model's trajectory at V_S = -38 mV."""
    P = HHParams().replace(V_S=-38.0)
    errs = []
    for dt in (0.004, 0.001):
        _, X = simulate(P, [-60.0, 0.001, 0.18], 0.4, dt, rtol=1e-12, atol=1e-14)
        n = (X.shape[0] - 1) // 4 * 4 + 1
        cuts = X[:n].reshape(1, n, 3)
        errs.append(derivative_error(cuts, [-38.0], dt, P, order))
    assert np.all(errs[1][:2] < errs[0][:2] / rate), errs
    with pytest.raises(ValueError, match="fd_order must be 2 or 4"):
        derivative_error(cuts, [-38.0], 0.001, P, 3)


def test_figures_have_one_legend_above_the_panels():
    """Each method once in one legend over all the panels (a legend inside each hid the
    data), and every panel labelled."""
    import matplotlib.pyplot as plt
    from _code.ch08 import plot_bifurcation_panels, plot_grid_errors
    vs = np.linspace(-46.0, -29.0, 5)
    sweeps = {n: {"isis": [np.array([0.1, 2.0])] * 5} for n in ("ODE", "a", "b")}
    fig, axes = plt.subplots(1, 2)
    plot_bifurcation_panels(axes, vs, sweeps, (-44.0, -30.0))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ODE", "a", "b"]
    assert not any(a.get_legend() for a in axes) and axes[1].get_title() == "b"
    errors = {n: {"V_S": vs, "position": np.ones(5), "eigenvalue": np.full(5, np.inf)}
              for n in ("a", "b")}
    fig2, axes2 = plt.subplots(1, 2)
    plot_grid_errors(axes2, errors)
    assert [t.get_text() for t in fig2.legends[0].get_texts()] == ["a", "b"]
    plt.close(fig)
    plt.close(fig2)
