"""Checks for the chapters' papermill parameters.

``papermill -p fast false`` injects the *string* ``'false'``, which is truthy: without a
check the chapter would silently run in fast mode (or ``-p retrain no`` start a long
retraining). Each chapter calls :func:`check_parameters` right after its parameters cell.
"""
from __future__ import annotations

from typing import Any

__all__ = ["check_parameters", "PARAMETERS"]

# Every chapter parameter and what it means; all are booleans.
PARAMETERS = {"fast": "shorter runs and coarser grids (the test suite's setting)",
              "retrain": "train the network from scratch instead of loading shipped weights"}


def check_parameters(**values: Any) -> None:
    """Raise ``TypeError`` unless every value is a bool and every name a known parameter.

    Pass ``True``/``False`` from the command line as ``papermill -p fast True`` (papermill
    turns ``True`` into a bool; ``-p fast false`` gives the string ``'false'``), or in
    Python as ``parameters={"fast": True}``."""
    import numpy as np

    for name, value in values.items():
        if name not in PARAMETERS:
            raise TypeError(f"unknown chapter parameter {name!r}; known: {sorted(PARAMETERS)}")
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"chapter parameter {name} must be True or False, got {value!r} "
                            f"({type(value).__name__}); with papermill pass -p {name} True or "
                            f"-p {name} False (capitalised), or -y '{name}: true'")
