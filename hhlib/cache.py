"""Results of long deterministic calls, kept on disk under a key of everything that fixes them.

Chapters 4 and 8 both evaluate the network ``original`` with the same arguments; with
``cache=`` the second one reads the first one's answer instead of computing it again, and a
chapter run alone computes it. The key is a SHA-256 of the function's name, its arguments
(a model by its class, constructor arguments and weights; arrays by dtype, shape and bytes),
the source of every ``hhlib`` module, the versions of the numerical packages, the kernel
settings of :mod:`hhlib.kernels` and the CPU, so a changed input cannot return a stale
result: it asks for another file. A process whose ``hhlib`` was edited after it imported it
computes without the cache. The files are pickles written by :func:`cached_call`; point
it only at a folder it filled (the chapters use ``_build/evaluations``, which ``make clean``
removes).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import platform
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy
import torch

from .kernels import SETTINGS

__all__ = ["cache_key", "cached_call"]

_PACKAGE = Path(__file__).resolve().parent


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next((line for line in f if line.startswith("model name")), "")
    except OSError:
        return platform.processor()


def _code_digest(package: Path) -> bytes:
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return h.digest()


# The library as this process imported it. A kernel still running after hhlib was edited
# runs the old code for the modules it had imported; cached_call then neither reads nor
# stores (it would file the old code's answer under the new code's key).
_IMPORTED = _code_digest(_PACKAGE)


def _environment(code: bytes) -> bytes:
    """What the same call with the same arguments may still depend on: the code (its
    digest), the numerical packages, how their kernels are pinned, the CPU."""
    import numba   # only its version is needed here; importing it takes 0.13 s

    h = hashlib.sha256(code)
    for part in (np.__version__, torch.__version__, scipy.__version__, numba.__version__,
                 repr(sorted((k, os.environ.get(k)) for k in SETTINGS)), _cpu()):
        h.update(part.encode() + b"\0")
    return h.digest()


def _feed(h, obj: Any) -> None:
    """Hash ``obj`` by value; a type this does not know is an error, never a guess."""
    if obj is None or isinstance(obj, (bool, int, float, str, np.bool_, np.integer,
                                       np.floating)):
        h.update(f"{type(obj).__name__}:{obj!r};".encode())
    elif isinstance(obj, np.ndarray):
        h.update(f"ndarray:{obj.dtype.str}:{obj.shape};".encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, torch.Tensor):
        _feed(h, obj.detach().cpu().numpy())
    elif isinstance(obj, torch.nn.Module):
        h.update(f"module:{type(obj).__module__}.{type(obj).__qualname__};".encode())
        _feed(h, obj.config() if hasattr(obj, "config") else None)
        for name, value in obj.state_dict().items():
            _feed(h, name)
            _feed(h, value)
    elif isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__name__}:{len(obj)};".encode())
        for item in obj:
            _feed(h, item)
    elif isinstance(obj, dict):
        h.update(f"dict:{len(obj)};".encode())
        for k in sorted(obj, key=repr):
            _feed(h, k)
            _feed(h, obj[k])
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(f"dataclass:{type(obj).__qualname__};".encode())
        for f in dataclasses.fields(obj):
            _feed(h, f.name)
            _feed(h, getattr(obj, f.name))
    else:
        raise TypeError(f"cannot key an argument of type {type(obj).__name__}")


def cache_key(fn: Callable, args: tuple, kwargs: dict, *, _code: bytes | None = None) -> str:
    """The SHA-256 (hex) under which :func:`cached_call` keeps ``fn(*args, **kwargs)``."""
    h = hashlib.sha256(_environment(_code_digest(_PACKAGE) if _code is None else _code))
    _feed(h, f"{fn.__module__}.{fn.__qualname__}")
    _feed(h, tuple(args))
    _feed(h, dict(kwargs))
    return h.hexdigest()


def cached_call(directory, fn: Callable, args: tuple = (), kwargs: dict | None = None,
                key: str | None = None) -> Any:
    """``fn(*args, **kwargs)``, read from ``directory`` when a call with the same
    :func:`cache_key` stored it there, else computed and stored (written to a temporary file
    and renamed, so a reader never sees half a file). ``key``: the key, if the caller
    computed it already (e.g. before sending the call to another process)."""
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path, got {type(directory).__name__}")
    kwargs = dict(kwargs or {})
    code = _code_digest(_PACKAGE)        # read once: compared, then keyed
    if code != _IMPORTED:
        warnings.warn("hhlib's source changed on disk since this process imported it: the "
                      "result is computed and not cached (restart the kernel to use the "
                      "cache again)", stacklevel=2)
        return fn(*args, **kwargs)
    path = Path(directory) / f"{key or cache_key(fn, args, kwargs, _code=code)}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    result = fn(*args, **kwargs)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as e:      # a full disk costs the next run the time, not this result
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        warnings.warn(f"could not store the result in {directory}: {e}", stacklevel=2)
    return result
