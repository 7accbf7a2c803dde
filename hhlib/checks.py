"""The argument checks shared by the functions users call, each turning a bad argument into a
TypeError or ValueError that names it. This module imports nothing from hhlib, so that every
module, model included, can use it; :func:`hhlib.ode.model.check_params` sits next to HHParams.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["is_torch", "is_int", "is_real", "real_array", "real_number", "number"]


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def is_int(v: Any) -> bool:
    """An integer, NumPy's included; a bool is not one (``True`` as a count is a mistake)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_real(v: Any) -> bool:
    """A real number as a Python or NumPy scalar (which may be infinite or NaN); not a bool."""
    return (isinstance(v, (int, float, np.integer, np.floating))
            and not isinstance(v, (bool, np.bool_)))


def real_array(value: Any, name: str) -> np.ndarray:
    """``value`` (number, sequence, NumPy array or torch tensor) as a float64 NumPy array;
    TypeError naming ``name`` for anything that is not real numbers. Booleans, strings and
    complex numbers are rejected: NumPy would turn them silently into numbers."""
    if is_torch(value):
        value = value.detach().cpu().numpy()
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{name} must be a real number or array of numbers, got {value!r}")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or array of numbers, "
                        f"got {value!r}") from None
    if raw.dtype.kind not in "iuf":
        if raw.dtype.kind == "O":
            try:
                return real_array(raw.astype(float), name)
            except (TypeError, ValueError):
                pass
        raise TypeError(f"{name} must be a real number or array of numbers, got "
                        f"{type(value).__name__} of dtype {raw.dtype}: {value!r}"[:300])
    return raw.astype(float)


def real_number(value: Any, name: str) -> float:
    """``value`` as one float, which may be infinite or NaN (the caller bounds it in its own
    words); TypeError naming ``name`` for anything else."""
    if value is None:       # real_array would make it NaN
        raise TypeError(f"{name} must be a real number, got None")
    a = real_array(value, name)
    if a.ndim != 0:
        raise TypeError(f"{name} must be a single real number, got an array of shape {a.shape}")
    return float(a)


def number(value: Any, name: str, *, low: float | None = None) -> float:
    """``value`` as a finite float (> ``low`` when given); TypeError/ValueError naming it."""
    v = real_number(value, name)
    if not math.isfinite(v) or (low is not None and not v > low):
        raise ValueError(f"{name} must be a finite number{'' if low is None else f' > {low}'}, "
                         f"got {value!r}")
    return v
