"""benchmarks/integrator_peers.py --quick: runs, writes valid JSON with the machine and the
versions, and every method it ran is accurate. Accuracy only, never timings (they depend on
the machine and its load); the peers run only where they are importable."""
import json
import subprocess
import sys

from conftest import REPO


def test_integrator_peers_quick(tmp_path):
    out = tmp_path / "peers.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "integrator_peers.py"),
                           "--quick", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert not list(tmp_path.glob("*.tmp"))                   # written atomically
    for key in ("date", "cpu_model", "cpu_count", "versions"):
        assert key in report["machine"]
    assert report["machine"]["versions"]["numba"]
    assert report["config"]["quick"] is True
    rows = [r for r in report["rows"] if "failed" not in r]
    assert {r["method"] for r in rows} >= {"simulate_ensemble", "lsoda_loop"}
    assert {r["B"] for r in rows} == {1, 4}
    target = report["config"]["target_max_dV_window_mV"]
    for r in rows:
        assert r["wall_s"] > 0 and r["cpu_s"] >= 0
        assert r["spike_counts_equal"] == r["spike_counts_checked"], r
        assert r["within_target"] == (r["max_dV_window_mV"] <= target)
        if r["method"].startswith("simulate_ensemble"):     # it sets the target
            assert r["within_target"], r
