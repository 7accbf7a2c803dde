"""The benchmarks' shared helper (``benchmarks/common.py``), the package import that chapter
"Cost" uses, and ``benchmarks/map_vs_integrator.py`` on the bistable network (its quickest
mode). Accuracy and structure only, never timings."""
import json
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.fixture()
def benchmarks_pkg(monkeypatch):
    # Chapter "Cost" imports the benchmarks as a package with the repository root on the path.
    monkeypatch.syspath_prepend(str(REPO))
    import benchmarks.common
    return benchmarks.common


def test_machine_info_keys(benchmarks_pkg):
    info = benchmarks_pkg.machine_info()
    for key in ("date", "platform", "cpu_count", "cpus_available", "python", "numpy", "scipy",
                "load_average_at_start"):
        assert key in info
    assert 1 <= info["cpus_available"] <= info["cpu_count"]
    assert "torch" not in info      # the integrator benchmark does not need torch
    with_torch = benchmarks_pkg.machine_info(include_torch=True)
    assert {"torch", "torch_cpu_capability", "cuda_available"} <= set(with_torch)


def test_machine_info_rejects_non_bool(benchmarks_pkg):
    with pytest.raises(TypeError, match="include_torch"):
        benchmarks_pkg.machine_info(include_torch="yes")


def test_both_benchmarks_share_the_helper(benchmarks_pkg):
    import benchmarks.map_vs_integrator
    import benchmarks.integrator_peers
    assert benchmarks.map_vs_integrator.machine_info is benchmarks_pkg.machine_info
    assert benchmarks.integrator_peers._machine_info is benchmarks_pkg.machine_info


def test_cost_benchmark_bistable_weights_smoke(tmp_path):
    """``--weights bistable`` runs the bistable variant with its own spike detection: every
    method's burst statistics match the tight reference within the book's targets."""
    out = tmp_path / "map_vs_integrator_bistable.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "map_vs_integrator.py"),
                           "--smoke", "--weights", "bistable", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["config"]["weights"] == "bistable"
    (res,) = report["results"]
    for name, m in res["methods"].items():
        if "skipped" in m:
            continue
        a = m["accuracy"]
        assert a["regimes_match"] == a["n_checked"] == 4, (name, a)
        assert a["within_targets"] == 4, (name, a)


def test_peak_memory_is_a_rise_never_negative(benchmarks_pkg):
    """Chapter 7 once published -0.082 MB: the size before the call was read before the peak
    was reset, so pages freed in between made the rise negative."""
    import numpy as np

    import benchmarks.map_vs_integrator as bench

    big = np.ones(2**22)                     # 32 MB the call below frees

    def free_then_nothing():
        nonlocal big
        big = None

    _, m = bench.measure(free_then_nothing)
    assert m["peak_memory_MB"] is None or m["peak_memory_MB"] >= 0
    _, m = bench.measure(lambda: np.ones(2**23).sum())          # 64 MB, then freed
    if m["peak_memory_MB"] is not None:
        assert m["peak_memory_MB"] > 32
