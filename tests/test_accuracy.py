"""Tests for hhlib.ode.accuracy: stiffness along an orbit, explicit steps against their
stability bound, work-precision runs and their summaries."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from _code.ch02 import (peer_benchmark, plot_orbit_stiffness, plot_step_sizes,  # noqa: E402
                        plot_work_precision)
from hhlib.ode.accuracy import (DOPRI5_STABILITY, Reference, WorkPrecision, cpu_best,  # noqa: E402
                                ensemble_speedup, explicit_steps, listed, orbit_stiffness,
                                reference_solution, run_solver, silent_phase, work_precision)
from hhlib.ode.integrate import simulate  # noqa: E402
from hhlib.ode.model import HHParams, fixed_points, rhs  # noqa: E402

P38 = HHParams().replace(V_S=-38.0)
P50 = HHParams().replace(V_S=-50.0)
X0 = np.array([-60.0, 0.0, 0.18])


def _fd_eigenvalues(x, p, eps=1e-6):
    """Eigenvalues of a central finite-difference Jacobian of rhs (independent of
    hhlib.ode.model.jacobian)."""
    J = np.empty((3, 3))
    for j in range(3):
        d = np.zeros(3)
        d[j] = eps * max(1.0, abs(x[j]))
        J[:, j] = (np.asarray(rhs(x + d, p)) - np.asarray(rhs(x - d, p))) / (2 * d[j])
    return np.linalg.eigvals(J)


# ------------------------------------------------------------------------ silent phase
def test_silent_phase_known_answer():
    spikes = np.array([1.0, 1.2, 5.0])
    times = np.array([0.0, 0.6, 1.1, 1.6, 1.8, 3.0, 4.6, 6.0])
    got = silent_phase(times, spikes, gap=0.5)
    # 0.6 is 0.4 s before a spike, 1.6 is 0.4 s after one, 4.6 is 0.4 s before one.
    assert got.tolist() == [True, False, False, False, True, True, False, True]


def test_silent_phase_without_spikes_is_all_silent():
    assert silent_phase(np.linspace(0, 10, 11), np.array([])).all()


@pytest.mark.parametrize("kw, exc, word", [
    (dict(times="a", spikes=[1.0]), TypeError, "times"),
    (dict(times=[0.0], spikes=[2.0, 1.0]), ValueError, "spikes"),
    (dict(times=[0.0], spikes=[1.0], gap=-1.0), ValueError, "gap"),
    (dict(times=[0.0], spikes=[1.0], gap=True), TypeError, "gap"),
])
def test_silent_phase_validation(kw, exc, word):
    with pytest.raises(exc, match=word):
        silent_phase(**kw)


# ---------------------------------------------------------------------- orbit stiffness
def test_orbit_stiffness_at_rest_matches_fixed_point_and_finite_differences():
    fp = fixed_points(P50)[0]
    t = np.linspace(0.0, 5.0, 6)
    X = np.tile(fp.state, (t.size, 1))
    orb = orbit_stiffness(t, X, P50, t_skip=1.0)
    assert orb.t[0] == 0.0 and orb.t.size == 5          # the transient is dropped
    assert orb.spikes.size == 0 and orb.silent.all()    # at rest: no spikes
    lam = np.sort_complex(orb.lam[0])
    np.testing.assert_allclose(lam, np.sort_complex(fp.eigenvalues), rtol=1e-8)
    np.testing.assert_allclose(lam, np.sort_complex(_fd_eigenvalues(fp.state, P50)),
                               rtol=1e-5)
    re = np.abs(fp.eigenvalues.real)
    assert orb.ratio[0] == pytest.approx(re.max() / re.min(), rel=1e-10)
    s = orb.summary()
    assert s["lam_rest_min"] == pytest.approx(fp.eigenvalues.real.min(), rel=1e-8)
    assert s["ratio_median"] == pytest.approx(orb.ratio[0], rel=1e-12)


@pytest.fixture(scope="module")
def bursting_orbit():
    t, X = simulate(P38, X0, 50.0 + 15.0, 0.002)
    return orbit_stiffness(t, X, P38, t_skip=50.0)


def test_orbit_stiffness_on_the_bursting_orbit(bursting_orbit):
    orb = bursting_orbit
    s = orb.summary()
    # Silent phase: a real fast eigenvalue of order -1/tau (tau = 0.02 s gives -50 1/s).
    assert -80.0 < s["lam_rest_min"] <= s["lam_rest_max"] < -20.0
    # Spikes: a complex pair of large modulus, larger than the damped real mode.
    assert s["lam_big_abs"] > 2 * abs(s["lam_rest_min"])
    k = np.argmax(np.abs(orb.lam).max(axis=1))
    assert np.abs(orb.lam[k].imag).max() > 0
    assert orb.spikes.size > 5 and 0 < orb.silent.mean() < 1
    assert s["ratio_median"] <= s["ratio_p95"] <= s["ratio_max"]
    # Eigenvalues at a few samples against an independent finite-difference Jacobian.
    for i in (0, orb.t.size // 3, k):
        np.testing.assert_allclose(np.sort_complex(orb.lam[i]),
                                   np.sort_complex(_fd_eigenvalues(orb.X[i], P38)),
                                   rtol=1e-4, atol=1e-4)
    assert "stiffness ratio" in orb.report()


@pytest.mark.parametrize("args, kw, exc, word", [
    (([0.0, 1.0], np.zeros((3, 3)), P38), {}, ValueError, "samples"),
    (([0.0, 1.0], np.zeros((2, 2)), P38), {}, ValueError, "X"),
    (([1.0, 0.0], np.zeros((2, 3)), P38), {}, ValueError, "increasing"),
    (([0.0, 1.0], np.zeros((2, 3)), "p"), {}, TypeError, "params"),
    (([0.0, 1.0], np.zeros((2, 3)), P38.replace(V_S=np.array([-38.0, -40.0]))), {},
     ValueError, "params"),
    (([0.0, 1.0], np.zeros((2, 3)), P38), {"t_skip": 5.0}, ValueError, "t_skip"),
])
def test_orbit_stiffness_validation(args, kw, exc, word):
    with pytest.raises(exc, match=word):
        orbit_stiffness(*args, **kw)


# ------------------------------------------------------------------------ explicit steps
def test_explicit_steps_at_rest_run_at_the_stability_bound():
    """Near a stable rest state with a tight tolerance the solution barely changes, so
    RK45's step is set by stability: it hovers around 3.31/|lambda_fast|."""
    fp = fixed_points(P50)[0]
    steps = explicit_steps(P50, fp.state + np.array([0.5, 0, 0]), 20.0, np.array([]),
                           rtol=1e-6, atol=1e-8)
    lam_fast = np.abs(fp.eigenvalues.real).max()
    late = steps.t > 5.0
    np.testing.assert_allclose(steps.h_stab[late], DOPRI5_STABILITY / lam_fast, rtol=1e-2)
    ratio = np.median(steps.h[late] / steps.h_stab[late])
    assert 0.6 < ratio < 1.3
    s = steps.summary()
    assert s["rk45_steps"] == steps.h.size
    assert s["h_bound_ms"] == pytest.approx(1e3 * DOPRI5_STABILITY / lam_fast, rel=1e-2)
    assert steps.t[0] == 0.0 and steps.t[-1] + steps.h[-1] == pytest.approx(20.0)


def test_explicit_steps_on_the_bursting_orbit(bursting_orbit):
    orb = bursting_orbit
    steps = explicit_steps(P38, orb.X[0], 15.0, orb.spikes)
    s = steps.summary()
    # Steps in the bursts are set by accuracy: far below the stability bound, and shorter
    # than those of the silent phase.
    assert s["h_burst"] < 0.5 * s["h_silent"]
    # Stability-limited steps are few but long: a larger share of the time than of steps.
    assert 0 < s["rk45_stab_frac"] < 50 and s["rk45_stab_time"] > s["rk45_stab_frac"]
    assert s["h_silent_frac"] > 50
    assert "RK45" in steps.report()


def test_explicit_steps_validation():
    with pytest.raises(ValueError, match="x0"):
        explicit_steps(P38, [1.0, 2.0], 1.0, [])
    with pytest.raises(ValueError, match="t_end"):
        explicit_steps(P38, X0, -1.0, [])
    with pytest.raises(TypeError, match="params"):
        explicit_steps(None, X0, 1.0, [])


# ------------------------------------------------------------------------ work-precision
def test_cpu_best_returns_result_and_a_nonnegative_time():
    calls = []
    out, cpu = cpu_best(lambda: calls.append(1) or 42, repeats=3)
    assert out == 42 and cpu >= 0 and len(calls) == 3
    with pytest.raises(TypeError, match="fn"):
        cpu_best(42)
    with pytest.raises(ValueError, match="repeats"):
        cpu_best(lambda: 0, repeats=0)


def test_listed():
    assert listed(["a"]) == "a"
    assert listed(["a", "b", "c"]) == "a, b and c"
    with pytest.raises(ValueError, match="at least one"):
        listed([])


@pytest.fixture(scope="module")
def short_reference():
    return reference_solution(P38, X0, 2.0, 0.01)


def test_reference_is_converged(short_reference):
    ref = short_reference
    assert ref.X.shape == (201, 3) and ref.t_end == 2.0 and ref.dt == 0.01
    assert ref.convergence < 1e-6


def test_run_solver_errors_shrink_with_the_tolerance(short_reference):
    ref = short_reference
    for method in ("Radau", "ensemble"):
        err = [np.abs(run_solver(method, P38, X0, 2.0, 0.01, r)[:, 0] - ref.X[:, 0]).max()
               for r in (1e-4, 1e-8)]
        assert err[1] < 0.1 * err[0], method
        assert err[1] < 1e-3, method
    with pytest.raises(ValueError, match="method"):
        run_solver("Euler", P38, X0, 2.0, 0.01, 1e-6)


def test_work_precision_small_run(short_reference):
    wp = work_precision(P38, X0, ["RK45", "ensemble"], [1e-5, 1e-8], short_reference,
                        window=1.0)
    assert set(wp.runs) == {(m, r) for m in ("RK45", "ensemble") for r in (1e-5, 1e-8)}
    for (m, r), (cpu, err, err_w) in wp.runs.items():
        assert cpu >= 0 and 0 <= err_w <= err
    # An independent check of one entry: the same solver call, the same error.
    X = run_solver("RK45", P38, X0, 2.0, 0.01, 1e-8)
    assert wp.runs["RK45", 1e-8][1] == pytest.approx(
        np.abs(X[:, 0] - short_reference.X[:, 0]).max(), rel=1e-12)
    wb = wp.with_batch(P38.replace(V_S=np.array([-38.0, -40.0, -35.0])), X0, short_reference)
    assert wb.batch == "ensemble, B=3" and wb.labels[-1] == wb.batch
    # Each trajectory keeps its own step control: the batch member's error is the B=1 run's.
    for r in (1e-5, 1e-8):
        assert wb.runs[wb.batch, r][1] == pytest.approx(wb.runs["ensemble", r][1], rel=1e-9)
    headers, rows = wb.table()
    assert len(rows) == 3 * 2 and "(mV)" in headers[3]
    with pytest.raises(ValueError, match="methods"):
        work_precision(P38, X0, ["Euler"], [1e-6], short_reference)
    with pytest.raises(ValueError, match="rtols"):
        work_precision(P38, X0, ["RK45"], [2.0], short_reference)
    with pytest.raises(TypeError, match="reference"):
        work_precision(P38, X0, ["RK45"], [1e-6], "ref")


def _synthetic_wp():
    """Made-up runs with known answers: (cpu s, err mV, err over window mV)."""
    rtols = (1e-4, 1e-6, 1e-8)
    cpu = {"RK45": 1.0, "LSODA": 2.0, "BDF": 8.0, "Radau": 16.0, "ensemble": 0.5,
           "ensemble, B=4": 0.1}
    err = {"RK45": 3.0, "LSODA": 2.0, "BDF": 0.5, "Radau": 0.25, "ensemble": 1.5,
           "ensemble, B=4": 1.5}
    runs = {}
    for m in cpu:
        for k, r in enumerate(rtols):        # each decade of rtol: 10x cheaper error
            runs[m, r] = (cpu[m] * 2 ** k, err[m] * 0.01 ** k, err[m] * 0.01 ** k / 2)
    return WorkPrecision(runs, ("RK45", "LSODA", "BDF", "Radau", "ensemble"), rtols, 20.0,
                         10.0, "ensemble, B=4", {"ensemble, B=4": "simulate_ensemble, B=4"})


def test_timing_ratios_and_cheapest_known_answers():
    wp = _synthetic_wp()
    t = wp.timing_ratios()
    assert t["wp_ratio_b1"] == pytest.approx(0.5)
    assert t["wp_gain_b64"] == pytest.approx(5.0)
    assert t["wp_vs_lsoda"] == pytest.approx(20.0)
    assert t["wp_vs_rk45"] == pytest.approx(10.0)
    assert t["radau_lsoda_cost"] == pytest.approx(8.0)
    # Errors <= 0.01 mV: RK45 and LSODA only at 1e-8 (3e-4, 2e-4 mV); BDF and Radau at
    # 1e-6 (5e-3, 2.5e-3 mV); the batch at 1e-6 (1.5e-2 > 0.01) no, at 1e-8.
    cheap = wp.cheapest(0.01)
    assert cheap["Radau"] == (32.0, 1e-6) and cheap["LSODA"] == (8.0, 1e-8)
    assert cheap["ensemble, B=4"] == (0.4, 1e-8)
    assert t["acc_vs_lsoda"] == pytest.approx(20.0)
    assert t["acc_vs_radau"] == pytest.approx(80.0)
    with pytest.raises(ValueError, match="reaches"):
        wp.cheapest(1e-9)


def test_errors_and_findings_known_answers():
    wp = _synthetic_wp()
    e = wp.errors()
    assert e["b64_rel"] == pytest.approx(0.0, abs=1e-15)
    assert e["err_lsoda4"] == 2.0 and e["err_radau6"] == pytest.approx(0.0025)
    assert e["err_ens6"] == pytest.approx(0.0075)
    assert e["wp_errors"]["RK45 rtol 1e-06"] == pytest.approx(0.03)
    assert len(e["wp_errors"]) == 5 * 3
    f = wp.findings()
    text, costs = f["wp_accuracy"], f["wp_costs"]
    assert "`simulate_ensemble` with B = 1 is the cheapest solver at every tolerance" in costs
    assert "RK45, LSODA and `simulate_ensemble` with B = 1 are off by more than" in text
    assert "the most accurate is 2 times as accurate as the next" in text
    assert "most expensive per trajectory at rtol 1e-6 are Radau and BDF" in costs
    assert "0.5 to 0.5 times RK45's error" in text and "0.5 times RK45's CPU time" in costs
    assert "CPU" not in text and "cheap" not in text   # the compared part holds no timing
    assert f["lsoda8_cost_text"].startswith("although RK45 was cheaper")
    assert f["radau8_text"] == "more accurate" and f["ens6_vs_lsoda6"] == "smaller"
    assert "cheapest run" in wp.cost_report() and "CPU" not in wp.report()
    assert "max |V error| at rtol 1e-4 / 1e-6 / 1e-8" in wp.report()


def test_summaries_need_their_runs():
    wp = _synthetic_wp()
    small = WorkPrecision({k: v for k, v in wp.runs.items() if k[0] != "Radau"},
                          ("RK45",), wp.rtols, 20.0, 10.0)
    with pytest.raises(ValueError, match="missing"):
        small.errors()
    no_batch = WorkPrecision(wp.runs, wp.methods, wp.rtols, 20.0, 10.0)
    with pytest.raises(ValueError, match="batch"):
        no_batch.timing_ratios()


# ------------------------------------------------------------------- speed-up and peers
def test_ensemble_speedup_small():
    sp = ensemble_speedup(HHParams(), np.array([-38.0, -40.0, -42.0]), X0, 1.0, 0.01,
                          n_loop=2)
    s = sp.summary()
    assert s["B_big"] == 3 and s["n_loop"] == 2 and s["t_big"] == 1.0
    assert s["per_ens"] == pytest.approx(1e3 * sp.wall_ens / 3)
    assert s["speedup_chapter"] == pytest.approx(s["per_lsoda"] / s["per_ens"])
    with pytest.raises(ValueError, match="n_loop"):
        ensemble_speedup(HHParams(), np.array([-38.0]), X0, 1.0, 0.01, n_loop=2)
    with pytest.raises(ValueError, match="V_S"):
        ensemble_speedup(HHParams(), np.zeros((2, 2)), X0, 1.0, 0.01, n_loop=1)


def test_peer_benchmark(tmp_path):
    missing = peer_benchmark(tmp_path / "none.json", lambda r: ([], [], ""))
    assert missing["rows"] == [] and "No recorded run" in missing["where"]
    report = {"machine": {"date": "2026-01-02T03:04:05", "cpu_model": "Some CPU",
                          "cpus_available": 4, "load_average_at_start": [0.25, 0, 0]},
              "config": {"t_end_s": 60.0}, "rows": []}
    path = tmp_path / "peers.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    got = peer_benchmark(path, lambda r: (["method"], [("x",)], "faster"))
    assert got["rows"] == [("x",)] and got["sentence"] == "faster"
    assert "2026-01-02, Some CPU, 4 cores, load average 0.2" in got["where"]
    assert "60 s per trajectory" in got["where"]
    with pytest.raises(TypeError, match="summarize"):
        peer_benchmark(path, None)


# ------------------------------------------------------------------------------ figures
def test_figures_have_units(bursting_orbit):
    fig, axes = plt.subplots(3, 1)
    plot_orbit_stiffness(axes, bursting_orbit, t_skip=50.0)
    assert axes[1].get_ylabel() == "eigenvalue (1/s)" and "(s)" in axes[2].get_xlabel()
    fig2, ax = plt.subplots()
    steps = explicit_steps(P38, bursting_orbit.X[0], 5.0, bursting_orbit.spikes)
    plot_step_sizes(ax, steps)
    assert ax.get_ylabel() == "step size (ms)"
    fig3, ax3 = plt.subplots()
    plot_work_precision(ax3, _synthetic_wp())
    assert "(mV)" in ax3.get_ylabel() and "(s)" in ax3.get_xlabel()
    assert len(ax3.get_lines()) == 6
    with pytest.raises(ValueError, match="axes"):
        plot_orbit_stiffness([ax], bursting_orbit)
    for f in (fig, fig2, fig3):
        plt.close(f)


def test_reference_type():
    ref = Reference(np.zeros(2), np.zeros((2, 3)), 0.0, 1.0, 1.0)
    assert ref.convergence == 0.0


def _peer_row(method, label, B, wall, extrapolated=False, within=True):
    return {"method": method, "label": label, "B": B, "rtol": 1e-6, "wall_s": wall,
            "extrapolated": extrapolated, "within_target": within}


def test_peer_summary_table_and_sentence():
    """Chapter 2's reading of the recorded peer benchmark: one row per method, a column per
    batch size with its marks, and a sentence computed from the rows (the faster of the
    compiled integrator's thread settings at each B)."""
    from _code.ch02 import summary

    rows = [_peer_row("simulate_ensemble", "simulate_ensemble (1 thread)", 1, 0.02),
            _peer_row("simulate_ensemble", "simulate_ensemble (all threads)", 1, 0.01),
            _peer_row("simulate_ensemble", "simulate_ensemble (all threads)", 16, 0.1),
            _peer_row("lsoda_loop", "LSODA loop", 1, 1.0),
            _peer_row("lsoda_loop", "LSODA loop", 16, 20.0, extrapolated=True),
            _peer_row("diffrax", "diffrax", 16, 0.05, within=False)]
    headers, table, sentence = summary({"rows": rows})
    assert headers == ["method", "rtol", "B = 1", "B = 16"]
    assert table[0] == ("simulate_ensemble (1 thread)", "1e-06", "0.02", "–")
    assert table[2] == ("LSODA loop", "1e-06", "1", "20*")
    assert table[3] == ("diffrax", "1e-06", "–", "0.05†")
    assert "faster than LSODA loop (100× to 200× over B = 1, 16, wall time)" in sentence
    assert "slower than diffrax (0.5× at B = 16, wall time)" in sentence
    assert "than simulate_ensemble" not in sentence               # not compared with itself


def test_peer_summary_of_the_recorded_benchmark():
    import json
    from pathlib import Path

    from _code.ch02 import summary

    report = json.loads((Path(__file__).resolve().parent.parent / "benchmarks" / "results"
                         / "integrator_peers.json").read_text())
    headers, table, sentence = summary(report)
    assert len(table) == len({r["label"] for r in report["rows"]})
    assert all(len(row) == len(headers) for row in table)
    assert sentence.startswith("The compiled `simulate_ensemble`")
