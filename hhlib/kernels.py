"""The numerical code paths pinned so that every x86-64 CPU computes the same bits.

MKL (torch's BLAS and vector maths) picks its kernels by CPU: an Intel CPU with AVX-512 and
an AMD EPYC run different code paths, and float32 products then differ in their last bits,
which 1000 s free runs, regime counts near a transition and Newton basins amplify into
different published numbers. MKL's conditional numerical reproducibility mode
``MKL_CBWR=COMPATIBLE`` runs one code path on every x86-64 CPU. Measured with
``../shared/tools/cpu_fingerprint.py`` (commit ae32eaf), an Intel Xeon (Sapphire Rapids)
under this setting prints the AMD EPYC (Zen 4) line of every MKL family, the network's
rollout included; ``MKL_CBWR=AVX2`` does not (its float32 products differ between the two).
NumPy's SIMD functions, OpenBLAS and the compiled integrator gave the same bits on both CPUs
without any setting, so they are left free (their spread is measured instead: see
``tests/refs.py``).

MKL reads the setting when it first runs, so it must be in the environment before the first
matrix product of the process. ``make venv`` writes a start-up file into the virtual
environment (:func:`write_pth`) that applies :data:`PINNED` in every Python process it
starts (kernels, papermill, pytest, the scripts); importing :mod:`hhlib` applies it too,
for environments without that file. ``HHLIB_PIN_KERNELS=0`` switches it off (faster torch,
CPU-dependent last bits); a variable already set by the user is never overridden.
"""
from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["PINNED", "SETTINGS", "pin", "pinning_enabled", "describe"]

PINNED = {"MKL_CBWR": "COMPATIBLE"}
# Every environment variable that changes a result's last bits: the pin, and the settings
# that tests/refs.py perturbs to measure the spread. Caches of results key on them.
SETTINGS = ("HHLIB_PIN_KERNELS", "MKL_CBWR", "NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE",
            "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")
SWITCH = "HHLIB_PIN_KERNELS"
_MKL_MODES = {0: "off", 1: "branch off", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSE4_1",
              7: "SSE4_2", 8: "AVX", 9: "AVX2", 10: "AVX512_MIC", 11: "AVX512",
              12: "AVX512_MIC_E1", 13: "AVX512_E1"}


def pinning_enabled() -> bool:
    value = os.environ.get(SWITCH, "1").strip()
    if value not in ("0", "1", ""):
        raise ValueError(f"{SWITCH} must be 0 (off) or 1 (on), got {value!r}")
    return value != "0"


def pin() -> None:
    """Put :data:`PINNED` into the environment (unless switched off or already set)."""
    if pinning_enabled():
        for key, value in PINNED.items():
            os.environ.setdefault(key, value)


def _mkl_mode() -> str | None:
    """MKL's reproducibility mode as MKL itself reports it, or None where it cannot say."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get          # MKL's mkl_cbwr_get, as torch's wheel exports it
    except (OSError, AttributeError):
        return None
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    code = get(-1)
    return _MKL_MODES.get(code, f"code {code}")


def describe() -> str:
    """One line for a chapter or a record: what is pinned, and what MKL says it runs."""
    settings = ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in PINNED)
    state = "pinned" if pinning_enabled() else f"not pinned ({SWITCH}=0)"
    mode = _mkl_mode()
    return f"{state}: {settings}" + (f"; MKL reports {mode}" if mode else "")


def pth_line() -> str:
    """The start-up line that :func:`write_pth` installs (standard library only)."""
    sets = "; ".join(f"os.environ.setdefault({k!r}, {v!r})" for k, v in PINNED.items())
    return (f"import os; exec({sets!r}) if os.environ.get({SWITCH!r}, '1').strip() != '0' "
            "else None\n")


def write_pth(site_packages: str) -> str:
    """Write ``hhlib_kernels.pth`` into ``site_packages``; Python runs it at start-up."""
    path = os.path.join(site_packages, "hhlib_kernels.pth")
    with open(path, "w", encoding="utf-8") as f:
        f.write("# hh-nn-book: pin CPU-dispatched numerical kernels (hhlib/kernels.py)\n")
        f.write(pth_line())
    return path

