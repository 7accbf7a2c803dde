"""Reading a report of ``benchmarks/map_vs_integrator.py``: the tables, ratios, break-even
batch sizes and verdict that chapter "Cost" shows (``book/_code/ch07.py``, which the chapter
imports as ``bench``), on small synthetic reports whose answers are known, and on the
recorded full run (structure and consistency, never timings)."""
import copy
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from conftest import REPO  # noqa: E402


@pytest.fixture(scope="module")
def bench():
    import sys

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from _code import ch07
    return ch07


def _method(wall, cpu, within=4, n=4, **extra):
    acc = {"n_checked": n, "regimes_match": n, "within_targets": within,
           "max_abs_spikes_per_burst_err": 0.5, "max_abs_burst_period_rel_err": 0.02,
           "max_abs_isi_rel_err": 0.01}
    return {"wall_time_s": wall, "cpu_time_s": cpu, "peak_memory_MB": None,
            "accuracy": acc, **extra}


def _report(ens_cpu, net_cpu, loop_wall=(1.0, 16.0), t_end=10.0, cuda=None):
    """Two batch sizes, B = 1 and 16; ``ens_cpu``/``net_cpu`` the CPU times per B (the wall
    times equal them), the loop's wall times ``loop_wall``."""
    results = []
    for B, e, m, lw in zip((1, 16), ens_cpu, net_cpu, loop_wall):
        methods = {"lsoda_loop": _method(lw, lw, extrapolated=B > 1, timed_trajectories=1),
                   "ensemble": _method(e, e, within=3),
                   "rollout_cpu_1thread": _method(m, m, achieved_GFLOP_s=5.0,
                                                  fraction_of_mm_rate=0.25, step_GFLOP_s=6.0,
                                                  step_fraction_of_mm_rate=0.3),
                   "rollout_cuda": ({"skipped": "no CUDA device"} if cuda is None else
                                    _method(m / 10, m / 10, device=cuda))}
        for name, v in methods.items():
            if "wall_time_s" in v:
                v["time_per_trajectory_model_second_s"] = v["wall_time_s"] / (B * t_end)
                v["speedup_over_lsoda_loop"] = lw / v["wall_time_s"]
                v["speedup_over_ensemble"] = e / v["wall_time_s"]
        results.append({"B": B, "n_steps": int(t_end / 0.01), "methods": methods})
    return {"machine": {"processor": "x86_64", "cpus_available": 2, "cuda_available": False},
            "config": {"t_end_s": t_end, "threads_min_batch": 256,
                       "targets": {"spikes_per_burst": 1.0, "burst_period_rel": 0.1,
                                   "tonic_isi_rel": 0.05}},
            "mm_rate": {"cpu_1thread": {"square_GFLOP_s": 20.0, "size": 2048}},
            "results": results}


def test_time_rows_label_and_units(bench):
    rows = bench.time_rows(_report((0.1, 0.2), (0.5, 0.4)))
    assert len(rows) == 6                                       # CUDA skipped: not a row
    loop16 = next(r for r in rows if r[0] == 16 and r[1].startswith("LSODA"))
    assert loop16[1] == "LSODA loop (extrapolated from 1)"
    assert loop16[3] == pytest.approx(1e3 * 16.0 / (16 * 10.0))  # ms per trajectory-second
    assert math.isnan(loop16[4]) and loop16[5] == "4/4"
    assert all(len(r) == len(bench.TIME_HEAD) for r in rows)


def test_accuracy_and_float64_rows(bench):
    rep = _report((0.1, 0.2), (0.5, 0.4))
    acc = bench.accuracy_rows(rep)
    assert acc[0][4:] == (0.5, pytest.approx(2.0), pytest.approx(1.0))   # errors in %
    assert bench.float64_rows(rep) == []                                 # none ran
    rep["results"][0]["methods"]["rollout_cpu_float64"] = _method(1.5, 1.5)
    (row,) = bench.float64_rows(rep)
    assert row[0] == 1 and row[-1] == pytest.approx(1.5 / 0.5)


def test_break_even_and_ratios(bench):
    rep = _report((0.1, 0.2), (0.5, 0.4))
    assert bench.break_even(rep, "rollout_cpu_1thread", "lsoda_loop") == 1
    assert bench.break_even(rep, "rollout_cpu_1thread", "ensemble") is None
    assert bench.cpu_ratios(rep) == {1: pytest.approx(0.2), 16: pytest.approx(0.5)}
    assert bench.ratios_text(rep) == "0.2× at B = 1, 0.5× at B = 16"
    with pytest.raises(ValueError, match="rollout_cuda"):
        bench.break_even(rep, "rollout_cuda", "ensemble")


@pytest.mark.parametrize("ens, net, phrase", [
    ((0.1, 0.2), (0.5, 0.4), "is slower than the batched integrator at every B"),
    ((0.5, 0.4), (0.1, 0.2), "is faster than the batched integrator at every B"),
    ((0.5, 0.2), (0.1, 0.4), "up to B = 1 and slower from B = 16 on"),
    ((0.1, 0.4), (0.5, 0.2), "at some B and slower at others"),
])
def test_verdict_branches(bench, ens, net, phrase):
    text = bench.verdict(_report(ens, net))
    assert phrase in text
    assert "no GPU" in text and "25 % of the machine's matrix-multiply rate" in text
    assert "4/4 checked trajectories against 3/4 for the integrator" in text


def test_verdict_when_the_loop_is_never_beaten(bench):
    text = bench.verdict(_report((0.1, 0.2), (5.0, 40.0)))
    assert "of LSODA calls at no B" in text


def test_accuracy_and_gpu_texts(bench):
    rep = _report((0.1, 0.2), (0.5, 0.4))
    assert bench.accuracy_text(rep).startswith("The map met the targets on a larger share")
    worse = copy.deepcopy(rep)
    worse["results"][1]["methods"]["rollout_cpu_1thread"]["accuracy"]["within_targets"] = 2
    assert bench.accuracy_text(worse).startswith("The map is also no more accurate")
    assert "(2/4 against 3/4 within the targets)" in bench.accuracy_text(worse)
    gpu = _report((0.1, 0.2), (0.5, 0.4), cuda="Some GPU")
    assert bench.gpu_text(rep, rep) == ("the last full run had no GPU, and neither had this "
                                        "build's run.")
    assert bench.gpu_text(gpu, rep).startswith("the last full run measured it on Some GPU")
    assert bench.gpu_text(rep, gpu).endswith("and this build's run on Some GPU.")


def test_training_payoff(bench):
    rep = _report((0.2, 0.8), (0.5, 0.4))          # at B = 16 the map saves 0.4 s of 160
    pay = bench.training_payoff(rep, {"dataset_seconds": 30.0, "train_seconds": 70.0})
    saving = (0.8 - 0.4) / (16 * 10.0)             # s per trajectory-second
    assert pay["saving"] == pytest.approx(saving)
    assert pay["amort_traj"] == pytest.approx(100.0 / saving / 10.0)
    slower = bench.training_payoff(_report((0.1, 0.2), (0.5, 0.4)),
                                   {"dataset_seconds": 1.0, "train_seconds": 1.0})
    assert slower["amort_traj"] == math.inf
    record = {"date": "d", "machine": "m", "threads": 1}
    assert "training never pays off" in bench.payoff_text(slower, record)
    assert "pay off after" in bench.payoff_text(pay, record)
    with pytest.raises(ValueError, match="train_seconds"):
        bench.training_payoff(rep, {"dataset_seconds": 1.0})


def test_words_and_validation(bench):
    assert bench.layers_text((128, 128, 128)) == "3 hidden layers of 128 units"
    assert bench.layers_text([64, 32]) == "hidden layers of 64, 32 units"
    with pytest.raises(ValueError, match="hidden"):
        bench.layers_text(())
    assert bench.targets_text(_report((1, 1), (1, 1))) == (
        "1 spike per burst, 10 % burst period, 5 % tonic ISI")
    with pytest.raises(TypeError, match="rep"):
        bench.time_rows([])
    with pytest.raises(ValueError, match="rep"):
        bench.time_rows({"machine": {}, "config": {}})


def test_plot_times_draws_each_timed_method(bench):
    fig, ax = plt.subplots()
    bench.plot_times(ax, _report((0.1, 0.2), (0.5, 0.4)), "t")
    assert len(ax.get_lines()) == 3                  # loop, ensemble, 1 thread; CUDA skipped
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "(s)" in ax.get_ylabel()
    plt.close(fig)


def test_recorded_full_run_is_consistent(bench):
    """The recorded report reads back: its headline numbers agree with an independent
    computation from the same records (the map's step cost over its step is its cost per
    trajectory-second)."""
    rep = bench.load_report()
    head = bench.headline(rep)
    B_max, top = bench.largest_batch(rep)
    assert head["B_max"] == B_max == max(rep["config"]["batch"])
    dt = rep["config"]["dt_s"]
    assert bench.map_step_ns(rep) / dt / 1e6 == pytest.approx(head["ms_net"], rel=1e-9)
    assert head["x_ens"] == pytest.approx(head["ms_ens"] / head["ms_net"], rel=1e-9)
    # The step's share of torch.mm is the median of its paired timings' ratios.
    pairs = np.array(top["rollout_cpu_1thread"]["step_pairs_GFLOP_s"])
    assert head["frac_mm_step"] == pytest.approx(100 * np.median(pairs[:, 0] / pairs[:, 1]),
                                                 rel=1e-9)
    assert head["gflops_step"] == pytest.approx(np.median(pairs[:, 0]), rel=1e-9)
    text = bench.run_description(rep, rep["config"]["weights_sha256"])
    assert text.endswith("the shipped weights")
    assert "NOT the shipped weights" in bench.run_description(rep, "0" * 64)
    assert "torch.mm (float32" in bench.rate_lines(rep)
