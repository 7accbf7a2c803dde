"""hhlib.dynamics.recovery: continuation, Neimark–Sacker point and eigenvalue matching, on the Euler map
of the ODE, whose fixed points and multipliers are known independently."""
import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from hhlib.dynamics.recovery import continue_map_fixed_point, map_hopf_point, match_eigenvalues
from hhlib.ode.model import HHParams, fixed_points, jacobian

from test_map_fixed_points import EulerMap

DT = 0.01


class ScaledEulerMap(EulerMap):
    """The Euler map with a state spread ``x_std`` like the network's. map_fixed_points
    measures residuals in units of ``x_std``; without it the V residual, whose second-order
    term is ~1e-3 mV for a 0.1 mV Newton step, swamps the S residual (~1e-7) that drives a
    continuation step, and damped Newton crawls."""

    def __init__(self, dt=DT):
        super().__init__(dt)
        self.register_buffer("x_std", torch.tensor([10.0, 0.02, 0.005], dtype=torch.float64))


def euler_ns_point(bracket, dt=DT):
    """Independent Neimark–Sacker point of x -> x + dt f(x): where |1 + dt lambda| = 1 for the
    ODE's slow pair (the two eigenvalues of smallest modulus; complex near the root)."""
    def h(vs):
        p = HHParams(V_S=vs)
        lam = np.linalg.eigvals(jacobian(fixed_points(p)[0].state, p))
        slow = lam[np.argsort(np.abs(lam))[:2]]
        return float(np.abs(1 + dt * slow).max() - 1)
    return brentq(h, *bracket, xtol=1e-12)


@pytest.mark.parametrize("bracket", [(-45.5, -44.0), (-46.0, -44.0)])
def test_map_hopf_point_of_the_euler_map(bracket):
    # (-46, -44): the ODE's slow pair is real at -46 mV, so the bracket end uses the fallback.
    expect = euler_ns_point((-45.5, -44.0))
    x0 = fixed_points(HHParams(V_S=bracket[0]))[0].state + np.array([0.3, 1e-5, 1e-4])
    got = map_hopf_point(ScaledEulerMap(DT), bracket, x0)
    assert abs(got - expect) < 1e-6
    # Below the ODE's Hopf point: Re lambda = -dt |lambda|^2 / 2 < 0 there.
    assert got < -44.7215


def test_map_hopf_point_without_crossing():
    x0 = fixed_points(HHParams(V_S=-40.0))[0].state
    with pytest.raises(ValueError, match="no Neimark"):
        map_hopf_point(ScaledEulerMap(DT), (-40.0, -36.0), x0)


@pytest.mark.parametrize("grid", [np.linspace(-46.0, -30.0, 9), np.linspace(-30.0, -46.0, 5)])
def test_continuation_follows_the_ode_fixed_point(grid):
    x0 = fixed_points(HHParams(V_S=grid[0]))[0].state + np.array([0.5, 1e-4, 1e-3])
    states, mults, conv = continue_map_fixed_point(ScaledEulerMap(DT), grid, x0)
    assert states.shape == (len(grid), 3) and mults.shape == (len(grid), 3) and conv.all()
    for vs, x, mu in zip(grid, states, mults):
        p = HHParams(V_S=vs)
        ode = fixed_points(p)[0]
        np.testing.assert_allclose(x, ode.state, rtol=1e-9, atol=1e-12)
        expect = np.linalg.eigvals(np.eye(3) + DT * jacobian(ode.state, p))
        np.testing.assert_allclose(np.sort_complex(mu), np.sort_complex(expect), rtol=1e-9)
        assert np.all(np.diff(np.abs(mu)) >= 0)   # sorted by modulus


def test_continuation_validation():
    m = ScaledEulerMap(DT)
    x0 = np.array([-52.5, 0.0015, 0.19])
    with pytest.raises(ValueError, match="V_S_grid"):
        continue_map_fixed_point(m, np.array([-40.0, -38.0, -39.0]), x0)
    with pytest.raises(ValueError, match="V_S_grid"):
        continue_map_fixed_point(m, np.zeros((2, 2)), x0)
    with pytest.raises(ValueError, match="V_S_grid"):
        continue_map_fixed_point(m, np.array([-40.0, np.nan]), x0)
    with pytest.raises(ValueError, match="x_start"):
        continue_map_fixed_point(m, np.array([-40.0]), x0[:2])
    with pytest.raises(ValueError, match="bracket"):
        map_hopf_point(m, (-44.0, -46.0), x0)
    with pytest.raises(ValueError, match="x_start"):
        map_hopf_point(m, (-46.0, -44.0), [np.nan, 0, 0])


def test_match_eigenvalues_undoes_a_permutation():
    a = np.array([-45.9 + 0j, 0.777 - 0.802j, 0.777 + 0.802j])
    noisy = a * (1 + 0.03) + 0.01
    for perm in itertools.permutations(range(3)):
        got = match_eigenvalues(a, noisy[list(perm)])
        np.testing.assert_array_equal(got, noisy)
    # real input works and comes back complex
    got = match_eigenvalues([1.0, 5.0, -3.0], [-2.9, 1.1, 4.8])
    np.testing.assert_allclose(got, [1.1, 4.8, -2.9])
    with pytest.raises(ValueError, match="b must"):
        match_eigenvalues(a, a[:2])
    with pytest.raises(ValueError, match="a must"):
        match_eigenvalues(np.zeros((3, 1)), np.zeros((3, 1)))
