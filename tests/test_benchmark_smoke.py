"""The benchmarks in smoke mode: they run, write valid JSON, and the accuracy figures are
within their targets. Accuracy assertions only, never timings: those depend on the machine
and on its load."""
import json
import subprocess
import sys

from conftest import REPO

BENCH = REPO / "benchmarks"


def _run(script: str, out) -> tuple[str, dict]:
    proc = subprocess.run([sys.executable, str(BENCH / script), "--smoke", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads(out.read_text(encoding="utf-8"))


def test_cost_benchmark_smoke(tmp_path):
    """benchmarks/map_vs_integrator.py (B = 4, 60 s): every method completes, reports its
    cost, and its burst statistics match the tight reference within the book's targets."""
    stdout, report = _run("map_vs_integrator.py", tmp_path / "map_vs_integrator.json")
    assert "torch.mm rate" in stdout
    assert report["config"]["smoke"] is True
    for key in ("date", "cpu_count", "torch", "load_average_at_start", "load_average_at_end"):
        assert key in report["machine"]
    assert report["mm_rate"]["cpu_1thread"]["square_GFLOP_s"] > 0
    (res,) = report["results"]
    assert res["B"] == 4 and res["t_end_s"] == 60.0
    m = res["methods"]
    expected = {"lsoda_loop", "ensemble", "rollout_cpu_1thread", "rollout_cpu_float64",
                "rollout_cuda"}
    assert expected <= set(m)
    if "skipped" in m["rollout_cuda"]:
        assert "CUDA" in m["rollout_cuda"]["skipped"]
    for name, v in m.items():
        if "skipped" in v:
            continue
        for key in ("wall_time_s", "cpu_time_s", "time_per_trajectory_model_second_s",
                    "speedup_over_lsoda_loop", "speedup_over_ensemble"):
            assert v[key] > 0, (name, key)
        a = v["accuracy"]
        assert a["n_checked"] == 4
        assert a["regimes_match"] == 4, (name, a)
        assert a["within_targets"] == 4, (name, a)
    assert 0 < m["rollout_cpu_1thread"]["fraction_of_mm_rate"]
    # The step alone does the rollout's arithmetic without converting and checking its
    # result: not slower than the rollout, up to the noise of a shared machine.
    one = m["rollout_cpu_1thread"]
    assert one["step_GFLOP_s"] > 0.5 * one["achieved_GFLOP_s"] > 0
