"""hhlib.ode.model against independent computations."""
import math

import numpy as np
import pytest
import torch
from scipy import optimize

from hhlib.ode.model import (HHParams, batch_field, fast_equilibria, fixed_points, hopf_point,
                             jacobian, rhs, scalar_field)

P = HHParams()


def rhs_reference(x, p):
    """The model as written in book/01_model.md (section "Equations"), one state at a time,
    with math.exp."""
    V, n, S = x
    w = lambda Vh, th: 1.0 / (1.0 + math.exp((Vh - V) / th))  # noqa: E731
    I_Ca = p.g_Ca * w(p.V_m, p.theta_m) * (V - p.V_Ca)
    I_K = p.g_K * n * (V - p.V_K)
    I_S = p.g_S * S * (V - p.V_K)
    return np.array([(-I_Ca - I_K - I_S) / p.tau, p.sigma * (w(p.V_n, p.theta_n) - n) / p.tau,
                     (w(p.V_S, p.theta_S) - S) / p.tau_S])


def random_states(k, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([-80, 0, 0], [20, 1, 1], size=(k, 3))


def fd_jacobian(f, x, h=1e-6):
    J = np.empty((3, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = h * max(1.0, abs(x[j]))
        J[:, j] = (f(x + e) - f(x - e)) / (2 * e[j])
    return J


def test_rhs_matches_scalar_reference():
    X = random_states(200)
    for vs in (-44.0, -38.0, -30.0):
        p = P.replace(V_S=vs)
        ref = np.array([rhs_reference(x, p) for x in X])
        np.testing.assert_allclose(rhs(X, p), ref, rtol=1e-12, atol=1e-9)


def test_rhs_broadcasts_array_parameters_and_leading_dims():
    X = random_states(12).reshape(3, 4, 3)
    VS = np.linspace(-44, -30, 4)
    got = rhs(X, P.replace(V_S=VS))
    for i in range(3):
        for j in range(4):
            np.testing.assert_allclose(got[i, j], rhs_reference(X[i, j], P.replace(V_S=VS[j])),
                                       rtol=1e-12, atol=1e-9)


def test_torch_matches_numpy_and_has_gradients():
    X = random_states(50)
    VS = np.linspace(-44, -30, 50)
    p = P.replace(V_S=VS)
    Xt = torch.tensor(X, requires_grad=True)
    out = rhs(Xt, p)
    np.testing.assert_allclose(out.detach().numpy(), rhs(X, p), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(jacobian(Xt, p).detach().numpy(), jacobian(X, p), rtol=1e-12,
                               atol=1e-9)
    # autograd Jacobian of the first state equals the analytic one
    Ja = torch.autograd.functional.jacobian(lambda x: rhs(x, P), torch.tensor(X[0]))
    np.testing.assert_allclose(Ja.numpy(), jacobian(X[0], P), rtol=1e-10, atol=1e-8)


def test_fast_paths_match_rhs():
    X = random_states(64, seed=3)
    p = P.replace(V_S=np.linspace(-44, -30, 64))
    out = np.empty((3, 64))
    np.testing.assert_allclose(batch_field(p)(np.ascontiguousarray(X.T), out).T, rhs(X, p),
                               rtol=1e-12, atol=1e-9)
    f, jac = scalar_field(P)
    for x in X[:10]:
        np.testing.assert_allclose(f(x), rhs(x, P), rtol=1e-13, atol=1e-10)
        np.testing.assert_allclose(jac(x), jacobian(x, P), rtol=1e-13, atol=1e-10)


def test_jacobian_matches_finite_differences():
    for x in random_states(30, seed=1):
        x[0] = np.clip(x[0], -75, 10)
        num = fd_jacobian(lambda y: rhs_reference(y, P), x)
        np.testing.assert_allclose(jacobian(x, P), num, rtol=1e-6, atol=1e-6 * np.abs(num).max())


def independent_fixed_point(vs, guess=(-52.0, 0.001, 0.19)):
    """3-D root of the vector field by scipy's hybrid method from a guess."""
    p = P.replace(V_S=vs)
    sol = optimize.root(lambda x: rhs_reference(x, p), guess, tol=1e-12)
    assert np.abs(rhs_reference(sol.x, p)).max() < 1e-7   # hybr may stop at its xtol floor
    return sol.x, np.linalg.eigvals(fd_jacobian(lambda y: rhs_reference(y, p), sol.x))


@pytest.mark.parametrize("vs", [-60.0, -46.0, -44.0, -38.0, -30.0, 0.0, 30.0])
def test_fixed_point_residual_and_uniqueness(vs):
    fps = fixed_points(P.replace(V_S=vs))
    assert len(fps) == 1
    x = fps[0].state
    assert P.V_K < x[0] < P.V_Ca
    assert np.abs(rhs(x, P.replace(V_S=vs))).max() < 1e-8


def test_fixed_point_and_eigenvalues_at_minus_38():
    fp = fixed_points(P.replace(V_S=-38.0))[0]
    x, ev = independent_fixed_point(-38.0)
    np.testing.assert_allclose(fp.state, x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.sort(fp.eigenvalues.real), np.sort(ev.real), rtol=1e-5)
    assert not fp.stable
    # a saddle with one fast stable and two unstable directions
    assert (fp.eigenvalues.real < 0).sum() == 1


def test_hopf_point_against_eigenvalue_root():
    """Independent: the V_S where the largest real part of the fixed point's (finite-
    difference) eigenvalues vanishes, from root solves of the 3-D field."""
    def max_re(vs):
        return np.max(independent_fixed_point(vs, guess=(-59.0, 4e-4, 0.17))[1].real)
    ref = optimize.brentq(max_re, -46.0, -44.0, xtol=1e-9)
    got = hopf_point(P, (-46.0, -44.0))
    assert abs(got - ref) < 1e-5
    lo = fixed_points(P.replace(V_S=got - 0.01))[0]
    hi = fixed_points(P.replace(V_S=got + 0.01))[0]
    assert lo.stable and not hi.stable
    assert abs(hi.eigenvalues[-1].imag) > 0.1  # a complex pair crosses, as a Hopf point needs


def test_fast_equilibria_is_z_shaped():
    V = np.linspace(-74, 0, 4000)
    S, stable = fast_equilibria(V, P)
    knees = np.flatnonzero(np.diff(np.sign(np.diff(S))) != 0)
    assert len(knees) == 2                       # two folds: a Z
    # the fast subsystem is at equilibrium on the curve
    _, n_inf, _ = (None, 1 / (1 + np.exp((P.V_n - V) / P.theta_n)), None)
    r = rhs(np.stack([V, n_inf, S], -1), P)
    assert np.abs(r[:, :2]).max() < 1e-9
    assert stable[0]                             # the lower branch is stable


@pytest.mark.parametrize("field,value", [("tau", 0.0), ("tau_S", -1.0), ("g_K", -2.0),
                                         ("theta_m", 0.0), ("sigma", -0.1), ("V_S", np.nan),
                                         ("g_Ca", np.inf)])
def test_params_validation_names_field(field, value):
    with pytest.raises(ValueError, match=field):
        HHParams(**{field: value})


def test_params_validation_types_and_variant():
    with pytest.raises(TypeError, match="V_S"):
        HHParams(V_S="low")
    with pytest.raises(ValueError, match="variant"):
        HHParams(variant="other")
    with pytest.raises(ValueError, match="shape"):
        rhs(np.zeros((4, 2)), P)
    with pytest.raises(ValueError, match="array-valued"):
        fixed_points(P.replace(V_S=np.array([-40.0, -38.0])))
    with pytest.raises(ValueError, match="V_S_bracket"):
        hopf_point(P, (-44.0, -46.0))
    with pytest.raises(ValueError, match="no Hopf point"):
        hopf_point(P, (-40.0, -35.0))
