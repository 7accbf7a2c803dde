"""The bistable variant (voltage-dependent tau_S) against independent computations, and the
first Lyapunov coefficient against normal forms whose coefficient is known exactly."""
import math

import numpy as np
import pytest
import torch
from scipy import optimize
from scipy.integrate import solve_ivp

from hhlib.ode.integrate import simulate, simulate_ensemble
from hhlib.ode.model import (HHParams, batch_field, first_lyapunov_coefficient, fixed_points,
                             hopf_point, jacobian, lyapunov_coefficient, rhs, scalar_field,
                             slow_time_constant)

B = HHParams.bistable()


def rhs_reference(x, p):
    """The variant as written in book/06_bistability.md (section "Why one slow variable is not
    enough": tau_S(V)), one state at a time, with math.exp."""
    V, n, S = x
    w = lambda Vh, th: 1.0 / (1.0 + math.exp((Vh - V) / th))  # noqa: E731
    tau_S = p.tau_S_lo + (p.tau_S - p.tau_S_lo) / (1.0 + math.exp((p.V_t - V) / p.k_t))
    I = (p.g_Ca * w(p.V_m, p.theta_m) * (V - p.V_Ca) + p.g_K * n * (V - p.V_K)
         + p.g_S * S * (V - p.V_K))
    return np.array([-I / p.tau, p.sigma * (w(p.V_n, p.theta_n) - n) / p.tau,
                     (w(p.V_S, p.theta_S) - S) / tau_S])


def states(k, seed=1):
    return np.random.default_rng(seed).uniform([-80, 0, 0], [20, 1, 1], size=(k, 3))


def test_parameter_table_and_constructors():
    assert B.variant == "bistable" and (B.g_Ca, B.g_S, B.theta_S, B.tau_S) == (3.12, 1.28, 20.0, 40.0)
    assert (B.tau_S_lo, B.V_t, B.k_t) == (1.0, -45.0, 2.0)
    assert HHParams.original() == HHParams()
    assert HHParams.of_variant("bistable", V_S=-20.0) == B.replace(V_S=-20.0)
    # tau_S(V) runs from tau_S_lo (rest) to tau_S (depolarised), so the ratio to tau stays >= 50
    V = np.linspace(-90, 30, 1201)
    tS = slow_time_constant(V, B)
    assert np.all(np.diff(tS) >= 0) and tS.min() >= B.tau_S_lo and tS.max() <= B.tau_S
    assert tS.min() / B.tau >= 50
    np.testing.assert_allclose(slow_time_constant(V, HHParams()), 35.0)


def test_rhs_numpy_torch_and_fast_paths_match_reference():
    X = states(200)
    for vs in (-21.6, -21.4, -18.0):
        p = B.replace(V_S=vs)
        ref = np.array([rhs_reference(x, p) for x in X])
        np.testing.assert_allclose(rhs(X, p), ref, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(rhs(torch.as_tensor(X), p).numpy(), ref, rtol=1e-12, atol=1e-9)
        f, _ = scalar_field(p)
        np.testing.assert_allclose(np.array([f(x) for x in X]), ref, rtol=1e-12, atol=1e-9)
        out = np.empty((3, len(X)))
        batch_field(p)(np.ascontiguousarray(X.T), out)
        np.testing.assert_allclose(out.T, ref, rtol=1e-12, atol=1e-9)


def test_jacobian_matches_finite_differences_and_autograd():
    p = B.replace(V_S=-21.0)
    _, jac = scalar_field(p)
    for x in states(20, seed=2):
        J = jacobian(x, p)
        h = 1e-6 * np.maximum(1.0, np.abs(x))
        fd = np.column_stack([(rhs_reference(x + h[j] * e, p) - rhs_reference(x - h[j] * e, p))
                              / (2 * h[j]) for j, e in enumerate(np.eye(3))])
        np.testing.assert_allclose(J, fd, rtol=1e-5, atol=1e-6 * np.abs(J).max())
        auto = torch.func.jacrev(lambda y: rhs(y, p))(torch.as_tensor(x)).numpy()
        np.testing.assert_allclose(J, auto, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(jac(x), J, rtol=1e-12, atol=1e-12)


def test_fixed_point_against_independent_root_and_stability_changes_at_hopf():
    for vs in (-22.5, -21.4, -21.0, -18.0, -15.5):
        p = B.replace(V_S=vs)
        (fp,) = fixed_points(p)
        # Independent: 3-D root of the reference field from a nearby start.
        sol = optimize.root(lambda x: rhs_reference(x, p) * [p.tau, p.tau, 1.0],
                            fp.state + [0.5, 1e-5, 1e-3], tol=1e-14)
        np.testing.assert_allclose(sol.x, fp.state, rtol=1e-9, atol=1e-12)
    h = hopf_point(B, (-22.0, -21.0))
    below, above = (fixed_points(B.replace(V_S=h + d))[0] for d in (-0.01, 0.01))
    assert below.stable and not above.stable
    assert np.abs(below.eigenvalues.imag).max() > 1.0   # a complex pair crosses (Hopf)


@pytest.mark.parametrize("omega,a", [(2.0, -0.7), (3.0, 0.4)])
def test_lyapunov_coefficient_of_normal_form(omega, a):
    """x' = -omega y + a x r^2, y' = omega x + a y r^2: with <q, q> = 1, l1 = 2 a / omega."""
    def f(x):
        r2 = x[0] ** 2 + x[1] ** 2
        return torch.stack([-omega * x[1] + a * x[0] * r2, omega * x[0] + a * x[1] * r2])
    l1, w = lyapunov_coefficient(f, np.zeros(2))
    assert w == pytest.approx(omega, rel=1e-12)
    assert l1 == pytest.approx(2 * a / omega, rel=1e-10)


def test_lyapunov_coefficient_sign_is_invariant_under_quadratic_change_of_variables():
    """y = x + Q(x) adds quadratic terms (which enter l1 through B) without changing the
    bifurcation: the coefficient must keep its value (same linear part, same q)."""
    omega, a = 1.5, -0.3
    Q = torch.tensor([[0.4, -0.7, 0.2], [0.9, 0.3, -0.5]], dtype=torch.float64)

    def quad(x):
        return torch.stack([Q[k, 0] * x[0] ** 2 + Q[k, 1] * x[0] * x[1] + Q[k, 2] * x[1] ** 2
                            for k in range(2)])

    def f_x(x):
        r2 = x[0] ** 2 + x[1] ** 2
        return torch.stack([-omega * x[1] + a * x[0] * r2, omega * x[0] + a * x[1] * r2])

    def g(y):
        # x = phi^-1(y) to third order is enough for l1: x = y - Q(y) + 2 DQ(y) Q(y) - ...
        x = y
        for _ in range(6):
            x = y - quad(x)
        J = torch.func.jacrev(lambda z: z + quad(z))(x)
        return J @ f_x(x)
    l1, _ = lyapunov_coefficient(g, np.zeros(2))
    assert l1 == pytest.approx(2 * a / omega, rel=1e-8)


def test_hopf_criticality_original_super_bistable_sub():
    for p, bracket, sign in ((HHParams(), (-46.0, -44.0), -1), (B, (-22.0, -21.0), +1)):
        h = hopf_point(p, bracket)
        l1, omega = first_lyapunov_coefficient(p.replace(V_S=h))
        assert np.sign(l1) == sign and omega > 0.5
    with pytest.raises(ValueError, match="imaginary axis"):
        first_lyapunov_coefficient(B.replace(V_S=-20.0))


def test_coexistence_rest_and_bursting_at_same_V_S():
    """Inside the window a small perturbation of the fixed point decays while a start on the
    bursting attractor keeps spiking (tight LSODA reference and the batched solver)."""
    p = B.replace(V_S=-21.4)
    fp = fixed_points(p)[0].state
    t, X = simulate(p, fp + [0.1, 0.0, 0.0], 150.0, 0.01, method="LSODA")
    assert np.abs(X[t > 100] - fp).max(axis=0)[0] < 1e-3
    t, Y = simulate_ensemble(p, np.array([[-45.0, 0.01, 0.2]]), 150.0, 0.01, rtol=1e-8,
                             atol=1e-10)
    late = Y[0, t > 100, 0]
    assert late.max() > -40.0 and late.min() < -60.0     # still bursting after 100 s
    ref = solve_ivp(lambda _t, x: rhs_reference(x, p), (0, 20), [-45.0, 0.01, 0.2],
                    method="Radau", rtol=1e-10, atol=1e-12, t_eval=t[t <= 20])
    assert np.abs(ref.y[0] - Y[0, t <= 20, 0]).max() < 0.5


def test_variant_fields_validated():
    with pytest.raises(ValueError, match="tau_S_lo"):
        HHParams(variant="bistable")
    with pytest.raises(ValueError, match="k_t"):
        HHParams.bistable(k_t=0.0)
    with pytest.raises(ValueError, match="V_t"):
        HHParams(V_t=-45.0)
    with pytest.raises(ValueError, match="variant"):
        HHParams.of_variant("modified")
