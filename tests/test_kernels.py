"""The CPU-dispatched kernels are pinned in every process of the project's environment, and
under the pin they compute the same bits on an Intel Xeon and an AMD EPYC.

The digests below are those of ``../shared/tools/cpu_fingerprint.py`` (same inputs, same
hash): under ``MKL_CBWR=COMPATIBLE`` both an Intel Xeon (Sapphire Rapids, AVX-512) and an
AMD EPYC (Zen 4, AVX-512) printed them (``cpu_fingerprints.md``, and this project's
measurement on the Intel machine, commit ae32eaf). Without the pin the two CPUs differ in
every one of these rows. They depend on the pinned torch (``requirements.lock``).
"""
from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from hhlib import kernels

PINNED_DIGESTS = {"torch float32 matmul": "9b74c21a198d",
                  "torch float32 addmm": "cc159627363a",
                  "torch exp": "4156d4cec8e9",
                  "network rollout 64 x 200 s": "22237e703e37"}
PROBE = r"""
import hashlib, numpy as np, torch
from hhlib.maps.network import load_pretrained
torch.set_num_threads(1)
d = lambda a: hashlib.sha256(np.ascontiguousarray(np.asarray(a)).tobytes()).hexdigest()[:12]
g = torch.Generator().manual_seed(0)
a = torch.randn(256, 128, generator=g); b = torch.randn(128, 128, generator=g)
print("torch float32 matmul", d((a @ b).numpy()), sep="=")
print("torch float32 addmm", d(torch.addmm(a[:, :1].repeat(1, 128), a, b).numpy()), sep="=")
print("torch exp", d(torch.exp(a).numpy()), sep="=")
rng = np.random.default_rng(0)
A = rng.standard_normal((300, 200)); np.linalg.eigvals(A[:3, :3])
net, _ = load_pretrained("original")
x0 = np.column_stack([rng.uniform(-70, -20, 64), rng.uniform(0, 0.1, 64), rng.uniform(0.1, 0.3, 64)])
import warnings; warnings.simplefilter("ignore")
Z = np.asarray(net.rollout(x0, rng.uniform(-44, -30, 64), 20_000), np.float64)
print("network rollout 64 x 200 s", d(Z), sep="=")
"""


def _run(code: str, **env) -> str:
    full = {k: v for k, v in os.environ.items() if k not in ("MKL_CBWR", kernels.SWITCH)}
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_the_environment_pins_every_process_at_start_up():
    pth = Path(sysconfig.get_paths()["purelib"]) / "hhlib_kernels.pth"
    assert pth.exists(), f"{pth} is missing: run `make venv` (it writes the start-up pin)"
    assert pth.read_text().splitlines()[-1] + "\n" == kernels.pth_line()
    # a process that never imports hhlib is pinned all the same
    assert _run("import os; print(os.environ.get('MKL_CBWR'))").strip() == "COMPATIBLE"
    assert _run("import os; print(os.environ.get('MKL_CBWR'))",
                HHLIB_PIN_KERNELS="0").strip() == "None"
    # a setting of the user's own wins over the pin
    assert _run("import os; print(os.environ.get('MKL_CBWR'))",
                MKL_CBWR="AVX2").strip() == "AVX2"


def test_switch_takes_only_zero_or_one():
    old = os.environ.get(kernels.SWITCH)
    try:
        os.environ[kernels.SWITCH] = "no"
        with pytest.raises(ValueError, match="HHLIB_PIN_KERNELS"):
            kernels.pin()
    finally:
        if old is None:
            os.environ.pop(kernels.SWITCH, None)
        else:
            os.environ[kernels.SWITCH] = old


def test_mkl_reports_the_pinned_mode():
    out = _run("import torch, hhlib.kernels as k; torch.ones(4, 4) @ torch.ones(4, 4); "
               "print(k.describe())")
    assert "pinned: MKL_CBWR=COMPATIBLE" in out and "MKL reports COMPATIBLE" in out, out


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="MKL's code paths and the recorded digests are x86-64's")
def test_pinned_kernels_give_the_bits_measured_on_intel_and_amd():
    out = dict(line.split("=", 1) for line in _run(PROBE).strip().splitlines())
    assert out == PINNED_DIGESTS, (
        f"under MKL_CBWR=COMPATIBLE this CPU computes other bits than the Intel Xeon and the "
        f"AMD EPYC did: {out} (expected {PINNED_DIGESTS}); the chaotic results of the book "
        "will then differ in their last digits and are compared within their measured spread")
