"""What the benchmarks share: a description of the machine the timings were measured on."""
from __future__ import annotations

import datetime as _dt
import os
import platform

import numpy as np
import scipy

__all__ = ["cpus_available", "load_average", "machine_info", "workload_parser"]


def workload_parser(doc: str):
    """An argument parser with the options of the shared workload: the batch sizes B and
    the model time per trajectory (the benchmarks add their own options to it)."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 16, 256, 4096],
                    help="batch sizes B (default: 1 16 256 4096)")
    ap.add_argument("--t-end", type=float, default=200.0,
                    help="model time per trajectory in s (default: 200)")
    return ap


def cpus_available() -> int:
    """CPUs this process may run on (its affinity mask), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_average() -> list[float] | None:
    """1, 5 and 15 min load averages, or None where the OS has none (a busy machine makes
    timings slower, so every run records how busy it was)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_info(*, include_torch: bool = False) -> dict:
    """What the timings were measured on (and how busy the machine was).

    ``include_torch`` adds torch's version, CPU capability and CUDA device; it is a switch so
    that benchmarks of the integrators alone do not import torch.
    """
    if not isinstance(include_torch, bool):
        raise TypeError(f"include_torch must be True or False, got {include_torch!r}")
    info = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_available": cpus_available(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "load_average_at_start": load_average(),
        # MKL's pinned code path is slower than its own choice (hhlib/kernels.py): say which
        "kernels": {k: os.environ.get(k, "") for k in ("HHLIB_PIN_KERNELS", "MKL_CBWR")},
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        if names:
            info["cpu_model"] = names[0]
    except OSError:
        pass
    if include_torch:
        import torch

        info.update({"torch": torch.__version__,
                     "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                     "cuda_available": torch.cuda.is_available()})
        if torch.cuda.is_available():
            info["cuda_device"] = torch.cuda.get_device_name(0)
    return info
