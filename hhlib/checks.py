"""The argument checks shared by the functions users call, each turning a bad argument into a
TypeError or ValueError that names it. This module imports nothing from hhlib, so that every
module, model included, can use it; :func:`hhlib.ode.model.check_params` sits next to HHParams.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["is_torch", "is_int", "is_real", "real_array", "real_number", "number", "integer",
           "flag", "instance", "interval", "vector", "state", "states", "box", "cuts", "runs",
           "trace", "record", "one_of"]


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


def number(value: Any, name: str, *, low: float | None = None, closed: bool = False) -> float:
    """``value`` as a finite float (> ``low`` when given, >= with ``closed``);
    TypeError/ValueError naming it."""
    v = real_number(value, name)
    if not math.isfinite(v) or (low is not None and not (v >= low if closed else v > low)):
        bound = "" if low is None else f" {'>=' if closed else '>'} {low}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return v


def integer(value: Any, name: str, low: int = 1, high: int | None = None, *,
            or_none: bool = False) -> int | None:
    """``value`` as an int >= ``low`` (and <= ``high`` when given; None passes with
    ``or_none``); ValueError naming ``name`` for anything else, a float or a bool included."""
    if value is None and or_none:
        return None
    if not is_int(value) or value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {allowed}{' or None' if or_none else ''}, "
                         f"got {value!r}")
    return int(value)


def flag(value: Any, name: str) -> bool:
    """``value`` as a bool; TypeError naming ``name`` unless it is True or False (NumPy's
    included): a string such as ``"false"`` is truthy."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def one_of(value: Any, name: str, options) -> str:
    """``value`` itself; ValueError naming ``name`` unless it is one of the strings
    ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def instance(value: Any, cls: type, name: str, what: str | None = None) -> Any:
    """``value`` itself; TypeError naming ``name`` unless it is a ``cls`` (called ``what``
    in the message, default the class's name)."""
    if not isinstance(value, cls):
        what = what or cls.__name__
        raise TypeError(f"{name} must be {'an' if what[0] in 'AEIOU' else 'a'} {what}, got "
                        f"{type(value).__name__}")
    return value


def interval(value: Any, name: str) -> tuple[float, float]:
    """``value`` as a pair of floats ``(low, high)`` in mV, finite, with low < high."""
    r = real_array(value, name)
    if r.shape != (2,) or not np.all(np.isfinite(r)) or not r[0] < r[1]:
        raise ValueError(f"{name} must be (low, high) in mV, finite, with low < high, "
                         f"got {value!r}")
    return float(r[0]), float(r[1])


def vector(value: Any, name: str) -> np.ndarray:
    """``value`` as a non-empty 1-D float array of finite values (a grid of V_S, mV)."""
    v = real_array(value, name)
    if v.ndim != 1 or v.size < 1 or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite values (mV), "
                         f"got shape {v.shape}")
    return v


def state(value: Any, name: str, *, positive: bool = False) -> np.ndarray:
    """``value`` as one state (V mV, n, S): 3 finite numbers, or with ``positive`` 3
    numbers > 0 (a spread per variable)."""
    x = real_array(value, name)
    if x.shape != (3,) or not (np.all(x > 0) if positive else np.all(np.isfinite(x))):
        raise ValueError(f"{name} must be 3 {'positive' if positive else 'finite'} numbers "
                         f"(V mV, n, S), got {value!r}"[:300])
    return x


def states(value: Any, name: str) -> np.ndarray:
    """``value`` as B >= 1 finite states, a float array of shape (B, 3) = (V mV, n, S)."""
    x = real_array(value, name)
    if x.ndim != 2 or x.shape[1] != 3 or x.shape[0] < 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must have shape (B, 3) = (V, n, S) per trajectory with B >= 1, "
                         f"finite, got shape {x.shape}")
    return x


def box(value: Any, name: str) -> np.ndarray:
    """``value`` as a (3, 2) array of finite (lo, hi) pairs, lo < hi, for V (mV), n and S."""
    b = real_array(value, name)
    if b.shape != (3, 2) or not np.all(np.isfinite(b)) or not np.all(b[:, 0] < b[:, 1]):
        raise ValueError(f"{name} must be ((lo, hi),) * 3 for V (mV), n, S with lo < hi, "
                         f"got {value!r}")
    return b


def cuts(value: Any, name: str = "cuts") -> np.ndarray:
    """``value`` as trajectory cuts, a float array of shape (N, L + 1 >= 2, 3)."""
    c = real_array(value, name)
    if c.ndim != 3 or c.shape[-1] != 3 or c.shape[1] < 2:
        raise ValueError(f"{name} must have shape (N, L + 1 >= 2, 3), got {c.shape}")
    return c


def runs(value: Any, V_S: Any, name: str = "cuts", V_S_name: str = "cut_V_S"
         ) -> tuple[np.ndarray, np.ndarray]:
    """``value`` as runs (N, T, 3) = (V mV, n, S) and ``V_S`` as their values (N,) mV."""
    x, v = real_array(value, name), real_array(V_S, V_S_name)
    if x.ndim != 3 or x.shape[-1] != 3 or v.shape != x.shape[:1]:
        raise ValueError(f"{name} (N, T, 3) and {V_S_name} (N,) must match, got {x.shape} and "
                         f"{v.shape}")
    return x, v


def trace(t: Any, V: Any) -> tuple[np.ndarray, np.ndarray]:
    """``t`` (s) and ``V`` (mV) as float arrays, 1-D of equal length."""
    t, V = real_array(t, "t"), real_array(V, "V")
    if t.ndim != 1 or V.shape != t.shape:
        raise ValueError(f"t and V must be 1-D arrays of equal length, got shapes {t.shape} "
                         f"and {V.shape}")
    return t, V


def record(value: Any, key: str, name: str = "record") -> dict:
    """``value`` itself; ValueError naming ``name`` unless it is a weights record, a dict
    holding the dict ``key`` (``"train_config"``, ``"dataset_config"``)."""
    if not isinstance(value, dict) or not isinstance(value.get(key), dict):
        raise ValueError(f"{name} must be a weights record (a dict with a {key!r} dict), as "
                         "returned by load_pretrained")
    return value
