"""Targets: a required bound, the value measured against it, and the verdict.

A chapter that states targets builds them as :class:`Target` rows, shows them with
:func:`table_rows` and records them with :func:`as_json` (glued as ``targets``). The test
suite compares that record with the committed reference results: a target met in the
references must stay met (``tests/test_published.py``).

One rule for missing values everywhere: a measurement that could not be made (NaN, e.g. no
fixed point found) counts as a miss, never as a pass, and :func:`worst` returns it as inf.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

__all__ = ["Target", "worst", "as_json", "from_json", "table_rows", "count_met", "verdict"]


@dataclass(frozen=True)
class Target:
    """``name``: short unique label; ``required``: the bound as text (e.g. "≤ 0.5 mV");
    ``measured``: the number the verdict is taken on (inf or NaN: not measurable, a miss);
    ``met``: the verdict; ``shown``: the measured value as printed, with its unit."""

    name: str
    required: str
    measured: float
    met: bool
    shown: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        try:
            value = float(self.measured)
        except (TypeError, ValueError):
            raise TypeError(f"measured must be a real number, got {self.measured!r}") from None
        object.__setattr__(self, "measured", value)
        object.__setattr__(self, "met", bool(self.met) and not math.isnan(value))

    @classmethod
    def at_most(cls, name: str, measured: float, limit: float, unit: str = "",
                fmt: str = "{:.3g}") -> "Target":
        """``measured <= limit`` (NaN counts as a miss)."""
        m = float(measured)
        return cls(name, f"≤ {limit:g}{unit}", m, bool(m <= limit), fmt.format(m) + unit)

    @classmethod
    def at_least(cls, name: str, measured: float, limit: float, unit: str = "",
                 fmt: str = "{:.3g}") -> "Target":
        """``measured >= limit`` (NaN counts as a miss)."""
        m = float(measured)
        return cls(name, f"≥ {limit:g}{unit}", m, bool(m >= limit), fmt.format(m) + unit)


def worst(values, mask=None) -> float:
    """Largest of ``values`` (optionally where ``mask``), NaN counting as inf (a miss)."""
    v = np.asarray(values, dtype=float)
    if mask is not None:
        v = v[np.asarray(mask, dtype=bool)]
    if v.size == 0:
        raise ValueError("worst needs at least one value")
    # NaN -> inf only: nan_to_num would also turn a genuine inf into the largest float.
    return float(np.max(np.where(np.isnan(v), np.inf, v)))


def as_json(targets: Iterable[Target]) -> str:
    """The targets as JSON text (name -> met, measured), for ``glue("targets", ...)``."""
    out: dict[str, dict] = {}
    for t in targets:
        if not isinstance(t, Target):
            raise TypeError(f"targets must hold Target objects, got {type(t).__name__}")
        if t.name in out:
            raise ValueError(f"target names must be unique; {t.name!r} appears twice")
        out[t.name] = {"met": t.met, "measured": t.measured}
    return json.dumps(out, sort_keys=True)


def from_json(text: str) -> dict[str, dict]:
    """Inverse of :func:`as_json`."""
    return json.loads(text)


def count_met(targets: Sequence[Target]) -> int:
    return sum(t.met for t in targets)


def table_rows(targets: Iterable[Target]) -> list[tuple[str, str, str, str]]:
    """(target, required, measured, ✓/✗) rows for :func:`hhlib.plotting.markdown_table`."""
    return [(t.name, t.required, t.shown or f"{t.measured:.4g}", "✓" if t.met else "✗")
            for t in targets]


def verdict(targets: Sequence[Target], subject: str = "the targets") -> str:
    """One sentence from the verdicts, never typed in: every target met, or how many were
    met and which were missed, by name."""
    targets = list(targets)
    if not targets:
        raise ValueError("verdict needs at least one target")
    if not all(isinstance(t, Target) for t in targets):
        raise TypeError("targets must hold Target objects")
    missed = [t.name for t in targets if not t.met]
    if not missed:
        return f"All {len(targets)} of {subject} are met."
    if len(missed) == len(targets):
        return f"None of {subject} is met ({len(targets)} missed)."
    return (f"{len(targets) - len(missed)} of {len(targets)} of {subject} are met; missed: "
            f"{', '.join(missed)}.")
