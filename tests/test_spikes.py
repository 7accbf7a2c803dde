"""hhlib.ode.spikes on synthetic traces with known answers, and on the model."""
import numpy as np
import pytest

from hhlib.ode.spikes import burst_statistics, classify_regime, interspike_intervals, spike_times
from hhlib.ode.integrate import simulate
from hhlib.ode.model import HHParams


def pulse_train(times, t_end=30.0, dt=1e-3, width=0.02):
    t = np.arange(0, t_end, dt)
    V = np.full_like(t, -60.0)
    for s in times:
        V[(t >= s) & (t < s + width)] = -20.0
    return t, V


def test_spike_times_of_a_known_train():
    times = np.arange(1.0, 20.0, 0.5)
    t, V = pulse_train(times)
    got = spike_times(t, V)
    assert len(got) == len(times)
    assert np.abs(got - times).max() < 2e-3
    np.testing.assert_allclose(interspike_intervals(t, V), 0.5, atol=2e-3)


def test_rearm_ignores_plateau_ripples():
    t = np.linspace(0, 1, 1001)
    V = -30 + 8 * np.sin(2 * np.pi * 10 * t)       # ripples across -35 that never go below -45
    V[:50] = -60
    assert len(spike_times(t, V)) == 1


def test_bursts_of_a_known_train():
    # bursts of 5 spikes, ISI 0.2 s, period 4 s  ->  silent phase 4 - 0.8 = 3.2 s
    times = np.concatenate([k * 4.0 + 0.2 * np.arange(5) for k in range(10)]) + 0.5
    t, V = pulse_train(times, t_end=42.0)
    b = burst_statistics(t, V)
    assert b.regime == "bursting"
    assert b.spikes_per_burst == 5
    assert abs(b.burst_period - 4.0) < 1e-2
    assert abs(b.silent_phase - 3.2) < 1e-2
    assert abs(b.active_phase - 0.8) < 1e-2


def test_tonic_and_rest_of_synthetic_traces():
    t, V = pulse_train(np.arange(0.5, 29, 0.3))
    b = burst_statistics(t, V)
    assert b.regime == "tonic" and abs(b.isi_mean - 0.3) < 2e-3 and np.isnan(b.spikes_per_burst)
    t, V = pulse_train([])
    assert classify_regime(t, V) == "rest"


@pytest.mark.parametrize("vs,regime", [(-38.0, "bursting"), (-30.0, "tonic"), (-46.0, "rest")])
def test_model_regimes(vs, regime):
    t, X = simulate(HHParams(V_S=vs), [-60.0, 0.0, 0.18], 150.0, 0.005, rtol=1e-6, atol=1e-8)
    assert classify_regime(t, X[:, 0], t_min=50.0) == regime


def test_validation():
    with pytest.raises(ValueError, match="equal length"):
        spike_times(np.arange(5.0), np.zeros(4))
    with pytest.raises(ValueError, match="increasing"):
        spike_times(np.array([0.0, 0.0, 1.0]), np.zeros(3))
    with pytest.raises(ValueError, match="rearm"):
        spike_times(np.arange(5.0), np.zeros(5), threshold=-40, rearm=-30)
    with pytest.raises(ValueError, match="t_min"):
        burst_statistics(np.arange(5.0), np.zeros(5), t_min=10.0)
    with pytest.raises(ValueError, match="gap_ratio"):
        burst_statistics(np.arange(5.0), np.zeros(5), gap_ratio=1.0)
    with pytest.raises(ValueError, match="finite"):
        spike_times(np.arange(3.0), np.array([0.0, np.nan, 1.0]))
