"""hhlib.ode.integrate: accuracy against converged references and SciPy, and validation."""
import numpy as np
import pytest

from hhlib.ode.spikes import spike_times
from hhlib.ode.integrate import simulate, simulate_ensemble, time_grid
from hhlib.ode.model import HHParams

P = HHParams()
X0 = np.array([-60.0, 0.0, 0.18])


def reference(vs, t_end, dt):
    """Converged solution: DOP853 at rtol 1e-13 (agrees with Radau at 1e-12 to ~1e-9 mV)."""
    return simulate(P.replace(V_S=vs), X0, t_end, dt, method="DOP853", rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("vs", [-38.0, -30.0])
def test_ensemble_agrees_with_simulate_over_10_s(vs):
    t, R = reference(vs, 10.0, 0.01)
    _, X = simulate(P.replace(V_S=vs), X0, 10.0, 0.01, method="Radau", rtol=1e-8, atol=1e-10)
    _, E = simulate_ensemble(P.replace(V_S=np.array([vs, vs])), np.stack([X0, X0]), 10.0, 0.01,
                             rtol=1e-8, atol=1e-10)
    assert np.abs(E[:, :, 0] - X[:, 0]).max() < 1e-3          # vs simulate at rtol 1e-8
    assert np.abs(E[0] - R).max(axis=0)[0] < 1e-3             # vs the converged solution
    _, Et = simulate_ensemble(P.replace(V_S=vs), X0[None], 10.0, 0.01, rtol=1e-10, atol=1e-12)
    assert np.abs(Et[0] - R).max(axis=0)[0] < 1e-4            # and it converges


def test_ensemble_converges_at_fifth_order():
    t, R = reference(-38.0, 5.0, 0.01)
    errs = [np.abs(simulate_ensemble(P, X0[None], 5.0, 0.01, rtol=r, atol=r * 1e-2)[1][0] - R).max()
            for r in (1e-7, 1e-9)]
    assert errs[1] < errs[0] / 10   # error falls with the tolerance


def test_ensemble_same_spike_counts_over_200_s():
    vs = np.array([-43.0, -40.0, -38.0, -36.0, -32.0, -30.0])
    t, E = simulate_ensemble(P.replace(V_S=vs), np.tile(X0, (len(vs), 1)), 200.0, 0.005)
    for i, v in enumerate(vs):
        _, X = simulate(P.replace(V_S=v), X0, 200.0, 0.005)
        assert len(spike_times(t, E[i, :, 0])) == len(spike_times(t, X[:, 0])), v


def test_ensemble_output_layout_and_input_untouched():
    x0 = np.array([[-60.0, 0.0, 0.18], [-50.0, 0.1, 0.2], [-40.0, 0.05, 0.19]])
    keep = x0.copy()
    t, X = simulate_ensemble(P.replace(V_S=np.array([-44.0, -38.0, -30.0])), x0, 2.0, 0.1)
    assert X.shape == (3, 21, 3) and t.shape == (21,)
    np.testing.assert_array_equal(x0, keep)
    np.testing.assert_array_equal(X[:, 0], x0)
    np.testing.assert_allclose(t, np.arange(21) * 0.1)


def test_simulate_methods_agree():
    t, R = reference(-38.0, 5.0, 0.01)
    for m in ("LSODA", "BDF", "Radau", "RK45"):
        _, X = simulate(P, X0, 5.0, 0.01, method=m)
        assert np.abs(X - R)[:, 0].max() < 1e-2, m


def test_simulate_fails_loudly(monkeypatch):
    """A solver failure surfaces as RuntimeError carrying the solver's own message."""
    import types

    import hhlib.ode.integrate as integrate

    def failing(*args, **kw):
        return types.SimpleNamespace(success=False, message="Required step size is less than "
                                     "spacing between numbers.", t=None, y=None)

    monkeypatch.setattr(integrate, "solve_ivp", failing)
    with pytest.raises(RuntimeError, match="LSODA.*Required step size"):
        simulate(P, X0, 1.0, 0.5)


def test_validation():
    with pytest.raises(ValueError, match="dt"):
        simulate(P, X0, 1.0, 0.0)
    with pytest.raises(ValueError, match="multiple of dt"):
        time_grid(1.0, 0.3)
    with pytest.raises(ValueError, match="method"):
        simulate(P, X0, 1.0, 0.1, method="Euler")
    with pytest.raises(ValueError, match="x0"):
        simulate(P, [1.0, 2.0], 1.0, 0.1)
    with pytest.raises(ValueError, match="x0"):
        simulate(P, [np.nan, 0.0, 0.1], 1.0, 0.1)
    with pytest.raises(ValueError, match="rtol"):
        simulate(P, X0, 1.0, 0.1, rtol=2.0)
    with pytest.raises(ValueError, match="scalars"):
        simulate(P.replace(V_S=np.array([-40.0, -38.0])), X0, 1.0, 0.1)
    with pytest.raises(ValueError, match=r"x0 must have shape \(B, 3\)"):
        simulate_ensemble(P, X0, 1.0, 0.1)
    with pytest.raises(ValueError, match="V_S"):
        simulate_ensemble(P.replace(V_S=np.array([-40.0, -38.0])), np.tile(X0, (3, 1)), 1.0, 0.1)
    with pytest.raises(TypeError, match="HHParams"):
        simulate_ensemble({"V_S": -38}, np.tile(X0, (3, 1)), 1.0, 0.1)
    with pytest.raises(RuntimeError, match="max_steps"):
        simulate_ensemble(P, X0[None], 10.0, 0.1, max_steps=5)
