"""benchmarks/ensemble.py in smoke mode (B = 4, 20 s): it runs, writes valid JSON, and the
batched solver is accurate. Accuracy assertions only: timings depend on the machine."""
import json
import subprocess
import sys

from conftest import REPO

SCRIPT = REPO / "benchmarks" / "ensemble.py"


def test_benchmark_smoke(tmp_path):
    out = tmp_path / "ensemble.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "speed-up" in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["config"]["smoke"] is True
    for key in ("date", "platform", "cpu_count", "numpy", "scipy"):
        assert key in report["machine"]
    (res,) = report["results"]
    assert res["B"] == 4 and res["t_end_s"] == 20.0
    assert res["speedup_loop_over_ensemble"] > 0
    for name in ("lsoda_loop", "ensemble"):
        m = res["methods"][name]
        for key in ("wall_time_s", "time_per_trajectory_s", "time_per_trajectory_model_second_s"):
            assert m[key] > 0
        assert len(m["spike_counts"]) == 4
    ens = res["methods"]["ensemble"]
    assert ens["spike_counts_match"], ens
    assert ens["max_V_error_first_10s_mV"] < 0.5
