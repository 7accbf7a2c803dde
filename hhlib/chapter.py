"""Checks for the chapters' papermill parameters.

``papermill -p fast false`` injects the *string* ``'false'``, which is truthy: without a
check the chapter would silently run in fast mode (or ``-p retrain no`` start a long
retraining). A misspelt name (``-p fats True``) is worse: papermill only warns and the
chapter runs in its published mode. Each chapter calls
``check_parameters(globals(), fast=fast, ...)`` right after its parameters cell.
"""
from __future__ import annotations

import ast
from typing import Any, Mapping

__all__ = ["check_parameters", "injected_names", "ParameterError", "PARAMETERS"]

# Every chapter parameter and what it means; all are booleans.
PARAMETERS = {"fast": "shorter runs and coarser grids (the test suite's setting)",
              "retrain": "train the network from scratch instead of loading shipped weights"}


class ParameterError(TypeError):
    """A chapter parameter that papermill (or a caller) got wrong; the message says how."""


def injected_names(namespace: Mapping[str, Any]) -> list[str]:
    """The names papermill assigned in its injected-parameters cell, in order.

    papermill runs that cell (its source starts with ``# Parameters``) right after the
    chapter's parameters cell, and IPython keeps every executed cell's source in ``In``. Read
    from there rather than from every name defined so far, so that re-running a chapter's
    settings cell in JupyterLab, after the chapter's own variables exist, stays silent."""
    names: list[str] = []
    for source in namespace.get("In", ()) or ():
        if not (isinstance(source, str) and source.startswith("# Parameters")):
            continue
        try:
            body = ast.parse(source).body
        except SyntaxError:
            continue
        for node in body:
            if isinstance(node, ast.Assign):
                names += [t.id for t in node.targets
                          if isinstance(t, ast.Name) and t.id not in names]
    return names


def check_parameters(namespace: Mapping[str, Any] | None = None, /, **values: Any) -> None:
    """Raise :class:`ParameterError` (a ``TypeError``) unless every value is a bool, every
    name a known parameter and, given the chapter's ``globals()`` as ``namespace``, every
    parameter papermill injected one of the chapter's (the keyword names).

    Pass ``True``/``False`` from the command line as ``papermill -p fast True`` (papermill
    turns ``True`` into a bool; ``-p fast false`` gives the string ``'false'``), or in
    Python as ``parameters={"fast": True}``."""
    import numpy as np

    for name, value in values.items():
        if name not in PARAMETERS:
            raise ParameterError(f"unknown chapter parameter {name!r}; known: "
                                 f"{sorted(PARAMETERS)}")
        if not isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"chapter parameter {name} must be True or False, got "
                                 f"{value!r} ({type(value).__name__}); with papermill pass "
                                 f"-p {name} True or -p {name} False (capitalised), or "
                                 f"-y '{name}: true'")
    if namespace is not None:
        unknown = [n for n in injected_names(namespace) if n not in values]
        if unknown:
            raise ParameterError(f"unknown parameter(s) {', '.join(map(repr, unknown))} "
                                 f"passed to this chapter; its parameters are "
                                 f"{', '.join(values)}; the chapter stopped before any work")
