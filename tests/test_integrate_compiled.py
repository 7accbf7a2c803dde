"""hhlib.ode.integrate.simulate_ensemble (numba-compiled Dormand–Prince 5(4)): the same numbers as
the NumPy reference it replaced, independence from the batch and the thread count, spike
counts against a tight SciPy solution, the output options, and its errors."""
import numba
import numpy as np
import pytest

from hhlib.ode.spikes import spike_times
from hhlib.ode.integrate import simulate, simulate_ensemble, time_grid
from hhlib.ode.model import HHParams
from reference_integrator import simulate_ensemble_reference

X0 = np.array([-60.0, 0.0, 0.18])
TIGHT = {"rtol": 1e-8, "atol": 1e-10}
VARIANTS = {"original": (HHParams(), np.array([-44.0, -39.5, -35.0, -31.0])),
            "bistable": (HHParams.bistable(), np.array([-26.0, -23.0, -21.4, -18.0]))}


def _batch(variant, vs):
    base, _ = VARIANTS[variant]
    return base.replace(V_S=vs), np.tile(X0, (len(vs), 1))


def _rel_err(X, R):
    """Largest deviation of each component over all samples, relative to the component's
    largest magnitude (n starts at 0, so pointwise relative errors are undefined)."""
    return (np.abs(X - R).max(axis=(0, 1)) / np.abs(R).max(axis=(0, 1))).max()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_matches_the_numpy_reference_over_2_s(variant):
    P, x0 = _batch(variant, VARIANTS[variant][1])
    t, X = simulate_ensemble(P, x0, 2.0, 0.01, **TIGHT)
    tr, R = simulate_ensemble_reference(P, x0, 2.0, 0.01, **TIGHT)
    np.testing.assert_array_equal(t, tr)
    assert X.shape == R.shape == (4, 201, 3)
    assert _rel_err(X, R) <= 1e-10
    # the runs move (a comparison of two resting states would prove little)
    assert np.ptp(R[:, :, 0], axis=1).min() > 1.0


def test_a_trajectory_does_not_depend_on_its_batch_or_the_thread_count():
    vs = np.array([-44.0, -41.0, -38.0, -35.0, -32.0, -30.0])
    P, x0 = _batch("original", vs)
    _, X = simulate_ensemble(P, x0, 5.0, 0.01)
    # alone, and in a reversed batch
    _, alone = simulate_ensemble(P.replace(V_S=vs[2:3]), x0[2:3], 5.0, 0.01)
    _, rev = simulate_ensemble(P.replace(V_S=vs[::-1]), x0[::-1], 5.0, 0.01)
    np.testing.assert_allclose(alone[0], X[2], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rev[::-1], X, rtol=1e-12, atol=1e-12)
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one CPU: no second thread count to compare")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        _, one = simulate_ensemble(P, x0, 5.0, 0.01)
        numba.set_num_threads(2)
        _, two = simulate_ensemble(P, x0, 5.0, 0.01)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_allclose(one, two, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(one, X, rtol=1e-12, atol=1e-12)


def test_sweeps_no_longer_depend_on_the_chunking():
    from hhlib.ode.sweeps import run_ensemble

    class Serial:                    # runs each chunk at once, in this process
        def submit(self, fn, *args):
            value = fn(*args)
            return type("Done", (), {"result": lambda self: value})()

    vs = np.linspace(-44.0, -30.0, 5)
    P, x0 = _batch("original", vs)
    _, whole = run_ensemble(P, x0, 5.0, 0.01)
    _, chunked = run_ensemble(P, x0, 5.0, 0.01, chunk_size=2, executor=Serial())
    np.testing.assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12)


def test_progress_bar_runs_in_chunks_with_the_same_results():
    vs = np.linspace(-44.0, -30.0, 4 * numba.get_num_threads() + 3)   # more than one chunk
    P, x0 = _batch("original", vs)
    _, X = simulate_ensemble(P, x0, 2.0, 0.01)
    _, Xp = simulate_ensemble(P, x0, 2.0, 0.01, progress=True)
    np.testing.assert_allclose(Xp, X, rtol=1e-12, atol=1e-12)


def test_spike_counts_over_200_s_match_a_tight_scipy_solution():
    vs = np.array([-41.3, -36.9, -32.2])
    P, x0 = _batch("original", vs)
    t, E = simulate_ensemble(P, x0, 200.0, 0.005)             # default tolerances
    for i, v in enumerate(vs):
        tr, R = simulate(HHParams(V_S=float(v)), X0, 200.0, 0.005, method="DOP853",
                         rtol=1e-10, atol=1e-12)
        n_ref = len(spike_times(tr, R[:, 0]))
        assert n_ref > 100, v                                  # these values spike
        assert len(spike_times(t, E[i, :, 0])) == n_ref, v


def test_output_options_change_storage_only():
    vs = np.array([-40.0, -33.0])
    P, x0 = _batch("original", vs)
    t, X = simulate_ensemble(P, x0, 4.0, 0.01)
    assert X.dtype == np.float64 and X.shape == (2, 401, 3)
    np.testing.assert_array_equal(t, time_grid(4.0, 0.01))
    _, XV = simulate_ensemble(P, x0, 4.0, 0.01, variables=("S", "V"))
    assert XV.shape == (2, 401, 2)
    np.testing.assert_allclose(XV, X[:, :, [2, 0]], rtol=1e-12, atol=0)
    _, Xn = simulate_ensemble(P, x0, 4.0, 0.01, variables="n")
    np.testing.assert_allclose(Xn[:, :, 0], X[:, :, 1], rtol=1e-12, atol=0)
    _, X32 = simulate_ensemble(P, x0, 4.0, 0.01, dtype=np.float32)
    assert X32.dtype == np.float32
    np.testing.assert_allclose(X32, X, rtol=2 * np.finfo(np.float32).eps, atol=1e-30)
    t5, X5 = simulate_ensemble(P, x0, 4.0, 0.01, sample_every=5, variables=["V"],
                               dtype="float32")
    assert X5.shape == (2, 81, 1)
    np.testing.assert_allclose(t5, t[::5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(X5[:, :, 0], X[:, ::5, 0], rtol=2 * np.finfo(np.float32).eps)
    assert t5[-1] == pytest.approx(4.0)


@pytest.mark.parametrize("kw,exc,match", [
    ({"rtol": 0.5}, ValueError, "rtol"),
    ({"rtol": 1e-17}, ValueError, "rtol"),
    ({"rtol": float("nan")}, ValueError, "rtol"),
    ({"rtol": "1e-6"}, TypeError, "rtol"),
    ({"atol": 0.0}, ValueError, "atol"),
    ({"atol": 2.0}, ValueError, "atol"),
    ({"atol": float("inf")}, ValueError, "atol"),
    ({"atol": None}, TypeError, "atol"),
    ({"max_steps": 0}, ValueError, "max_steps"),
    ({"max_steps": 10.5}, ValueError, "max_steps"),
    ({"progress": "yes"}, TypeError, "progress"),
    ({"variables": ("V", "x")}, ValueError, "variables"),
    ({"variables": ()}, ValueError, "variables"),
    ({"variables": ("V", "V")}, ValueError, "variables"),
    ({"variables": 3}, TypeError, "variables"),
    ({"dtype": np.int32}, ValueError, "dtype"),
    ({"dtype": "float16"}, ValueError, "dtype"),
    ({"sample_every": 0}, ValueError, "sample_every"),
    ({"sample_every": 3}, ValueError, "sample_every"),      # 100 samples: not a multiple of 3
    ({"sample_every": 2.0}, ValueError, "sample_every"),
])
def test_bad_options_are_refused(kw, exc, match):
    with pytest.raises(exc, match=match):
        simulate_ensemble(HHParams(), X0[None], 1.0, 0.01, **kw)


@pytest.mark.parametrize("x0,exc,match", [
    (X0, ValueError, r"x0 must have shape \(B, 3\)"),
    (np.zeros((0, 3)), ValueError, "B >= 1"),
    (np.array([[np.nan, 0.0, 0.1]]), ValueError, "finite"),
    (np.array([[-300.0, 0.0, 0.1]]), ValueError, r"x0\[:, 0\] \(V\)"),
    (np.array([[-60.0, 0.0, 5.0]]), ValueError, r"x0\[:, 2\] \(S\)"),
    ([["a", "b", "c"]], TypeError, "x0"),
    (np.array([[-60.0 + 1j, 0.0, 0.1]]), TypeError, "x0"),
])
def test_bad_x0_is_refused(x0, exc, match):
    with pytest.raises(exc, match=match):
        simulate_ensemble(HHParams(), x0, 1.0, 0.01)


def test_bad_grid_and_params_are_refused():
    with pytest.raises(ValueError, match="V_S"):
        simulate_ensemble(HHParams(V_S=np.array([-40.0, -38.0])), np.tile(X0, (3, 1)), 1.0, 0.1)
    with pytest.raises(TypeError, match="HHParams"):
        simulate_ensemble({"V_S": -38.0}, X0[None], 1.0, 0.1)
    with pytest.raises(ValueError, match="multiple of dt"):
        simulate_ensemble(HHParams(), X0[None], 1.0, 0.3)
    with pytest.raises(TypeError, match="t_end"):
        simulate_ensemble(HHParams(), X0[None], "1.0", 0.1)
    with pytest.raises(MemoryError, match="float32"):               # refused before any work
        simulate_ensemble(HHParams(), np.tile(X0, (65536, 1)), 1e5, 1e-3)


def test_leaving_the_physical_box_names_the_trajectory_and_time():
    # A legitimate ODE whose V runs to the Ca reversal potential, far above 200 mV.
    P = HHParams(V_S=np.array([-38.0, -36.5]), V_Ca=np.array([25.0, 1000.0]))
    with pytest.raises(RuntimeError, match=r"trajectory 1 \(V_S = -36.5 mV\) failed at "
                                           r"t = [0-9.e-]+ s: .*physical box"):
        simulate_ensemble(P, np.tile(X0, (2, 1)), 5.0, 0.01)


def test_loose_tolerances_cannot_give_nonsense():
    """The issue's case (rtol 0.5, atol 1 gave V of 1e80 mV) is refused; the loosest allowed
    tolerances either stay in the physical box or raise."""
    with pytest.raises(ValueError, match="rtol"):
        simulate_ensemble(HHParams(), X0[None], 20.0, 0.01, rtol=0.5, atol=1.0)
    try:
        _, X = simulate_ensemble(HHParams(V_S=np.linspace(-44, -30, 4)), np.tile(X0, (4, 1)),
                                 20.0, 0.01, rtol=3e-3, atol=1e-3)
    except RuntimeError as err:
        assert "trajectory" in str(err)
    else:
        assert np.abs(X[:, :, 0]).max() <= 200.0


def test_non_finite_state_and_max_steps_raise():
    with pytest.raises(RuntimeError, match=r"trajectory 0 \(V_S = -38 mV\).*non-finite"):
        simulate_ensemble(HHParams(tau=1e-300), X0[None], 1.0, 0.1)
    with pytest.raises(RuntimeError, match=r"trajectory 0 .*max_steps=5"):
        simulate_ensemble(HHParams(), X0[None], 10.0, 0.1, max_steps=5)


def test_accepts_torch_inputs():
    torch = pytest.importorskip("torch")
    _, X = simulate_ensemble(HHParams(V_S=np.array([-38.0])), X0[None], 1.0, 0.1)
    _, Xt = simulate_ensemble(HHParams(V_S=torch.tensor([-38.0], dtype=torch.float64)),
                              torch.tensor(X0[None]), 1.0, 0.1)
    np.testing.assert_allclose(Xt, X, rtol=1e-12)
