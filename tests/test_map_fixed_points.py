"""hhlib.dynamics.recovery.map_fixed_points on maps whose fixed points and multipliers are known."""
import itertools

import numpy as np
import pytest
import torch
from torch import nn

from hhlib.dynamics.recovery import map_fixed_points, map_jacobian
from hhlib.ode.model import HHParams, fixed_points, jacobian, rhs


class LinearMap(nn.Module):
    """x -> x* + A (x - x*), independent of V_S."""

    def __init__(self, A, xs, dt=0.01):
        super().__init__()
        self.A = nn.Parameter(torch.as_tensor(A, dtype=torch.float64), requires_grad=False)
        self.xs = torch.as_tensor(xs, dtype=torch.float64)
        self.dt = dt

    def forward(self, x, V_S):
        return self.xs.to(x.dtype) + (x - self.xs.to(x.dtype)) @ self.A.to(x.dtype).T


class LogisticMap(nn.Module):
    """Componentwise x_i -> r_i x_i (1 - x_i): fixed points in {0, 1 - 1/r_i}^3."""

    def __init__(self, r, dt=1.0):
        super().__init__()
        self.r = nn.Parameter(torch.as_tensor(r, dtype=torch.float64), requires_grad=False)
        self.dt = dt

    def forward(self, x, V_S):
        r = self.r.to(x.dtype)
        return r * x * (1 - x)


class EulerMap(nn.Module):
    """x -> x + dt f(x, V_S): fixed points of the ODE, multipliers eig(I + dt J)."""

    def __init__(self, dt=0.01):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1, dtype=torch.float64), requires_grad=False)
        self.dt = dt

    def forward(self, x, V_S):
        return x + self.dt * rhs(x, HHParams(V_S=V_S))


def test_linear_map():
    A = np.array([[0.5, 0.2, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.02]])
    xs = np.array([-50.0, 0.01, 0.2])
    fps = map_fixed_points(LinearMap(A, xs), -40.0)
    assert len(fps) == 1
    np.testing.assert_allclose(fps[0].state, xs, atol=1e-9)
    np.testing.assert_allclose(np.sort(fps[0].multipliers.real), [0.5, 0.9, 1.02], rtol=1e-12)
    assert not fps[0].stable  # 1.02 is outside the unit circle
    np.testing.assert_allclose(fps[0].eigenvalues.real, np.log([0.5, 0.9, 1.02]) / 0.01,
                               rtol=1e-10)


def test_logistic_map_finds_all_eight_fixed_points():
    r = np.array([2.5, 3.2, 0.5 + 1.0])   # 1 - 1/r = 0.6, 0.6875, 1/3
    starts = np.stack(np.meshgrid(*[np.linspace(-0.2, 1.1, 6)] * 3, indexing="ij"), -1).reshape(-1, 3)
    fps = map_fixed_points(LogisticMap(r), 0.0, starts)
    expected = {tuple(np.round(p, 8)) for p in itertools.product(*[(0.0, 1 - 1 / ri) for ri in r])}
    assert {tuple(np.round(f.state, 8)) for f in fps} == expected
    for f in fps:
        mu = np.sort(f.multipliers.real)
        np.testing.assert_allclose(mu, np.sort(r * (1 - 2 * f.state)), atol=1e-10)
    # the origin: multipliers r_i, unstable (two of them exceed 1); x = 1 - 1/r: 2 - r_i
    origin = [f for f in fps if np.allclose(f.state, 0)][0]
    assert not origin.stable
    # a multiplier 2 - 3.2 = -1.2 < 0 has no real logarithm: flagged as aliased
    assert any(f.aliased for f in fps)


@pytest.mark.parametrize("vs", [-46.0, -44.0, -38.0, -30.0])
def test_euler_map_of_the_ode(vs):
    dt = 0.01
    fps = map_fixed_points(EulerMap(dt), vs)
    ode = fixed_points(HHParams(V_S=vs))[0]
    assert len(fps) == 1
    np.testing.assert_allclose(fps[0].state, ode.state, rtol=1e-9, atol=1e-12)
    mu = np.linalg.eigvals(np.eye(3) + dt * jacobian(ode.state, HHParams(V_S=vs)))
    np.testing.assert_allclose(np.sort_complex(fps[0].multipliers), np.sort_complex(mu),
                               rtol=1e-9)
    assert fps[0].stable == bool(np.all(np.abs(mu) < 1))
    # The implied eigenvalues of the Euler map are log(1 + dt lambda) / dt exactly
    # (they approach the ODE's lambda only as dt |lambda| -> 0).
    expect = np.log((1 + dt * ode.eigenvalues).astype(complex)) / dt
    np.testing.assert_allclose(np.sort_complex(fps[0].eigenvalues), np.sort_complex(expect),
                               rtol=1e-8)


def test_map_jacobian_batched_matches_single():
    m = EulerMap()
    X = np.array([[-50.0, 0.01, 0.2], [-60.0, 0.001, 0.18]])
    J = map_jacobian(m, X, np.array([-38.0, -40.0]))
    np.testing.assert_allclose(J[1], map_jacobian(m, X[1], -40.0))
    np.testing.assert_allclose(J[0], np.eye(3) + 0.01 * jacobian(X[0], HHParams(V_S=-38.0)),
                               rtol=1e-10)


def test_validation():
    with pytest.raises(ValueError, match="starts"):
        map_fixed_points(EulerMap(), -38.0, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="V_S"):
        map_fixed_points(EulerMap(), float("nan"))
