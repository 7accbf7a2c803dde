"""Checks for the chapters' papermill parameters.

``papermill -p fast false`` injects the *string* ``'false'``, which is truthy: without a
check the chapter would silently run in fast mode (or ``-p retrain no`` start a long
retraining). A misspelt name (``-p fats True``) is worse: papermill only warns and the
chapter runs in its published mode. Each chapter calls
``check_parameters(globals(), fast=fast, ...)`` right after its parameters cell.

A chapter about the model itself also takes the model's own parameters
(``papermill -p g_K 9.0``): ``check_parameters(globals(), model=HHParams, fast=fast)``
accepts an injected name that is a field of the model, checks it by building the model, and
returns the changed fields for the chapter to build its model with.
"""
from __future__ import annotations

import ast
import dataclasses
from typing import Any, Mapping

import numpy as np

from .checks import is_real

__all__ = ["check_parameters", "injected_names", "model_fields", "ParameterError",
           "PARAMETERS"]

# Every chapter parameter and what it means: flags are booleans, names are strings.
PARAMETERS = {"fast": "shorter runs and coarser grids (the test suite's setting)",
              "retrain": "train the network from scratch instead of loading shipped weights",
              "network": "the name of the network the chapter examines",
              "weights_dir": "the folder of that network's weights, relative to book/ "
                             "('' for the shipped networks, hhlib/weights)"}
_NAMES = {"network", "weights_dir"}


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


def model_fields(model: type) -> list[str]:
    """The fields of the dataclass ``model`` (e.g. :class:`hhlib.ode.model.HHParams`) that a chapter
    may take as parameters: those with a number as default, without ``V_S``, the control
    parameter that the chapters set and sweep themselves."""
    if not dataclasses.is_dataclass(model) or not isinstance(model, type):
        raise TypeError(f"model must be a dataclass type such as HHParams, got {model!r}")
    return [f.name for f in dataclasses.fields(model) if f.name != "V_S"
            and isinstance(f.default, (int, float)) and not isinstance(f.default, bool)]


def check_parameters(namespace: Mapping[str, Any] | None = None, /, *, model: type | None = None,
                     **values: Any) -> dict[str, float]:
    """Raise :class:`ParameterError` (a ``TypeError``) unless every flag is a bool, every
    name (``network``, ``weights_dir``) a string, every parameter a known one and, given the
    chapter's ``globals()`` as ``namespace``, every parameter papermill injected one of the
    chapter's (the keyword names) or, with ``model``, one of :func:`model_fields` of it.

    Returns ``{field: value}`` of the model's fields that papermill injected (empty without
    ``model`` or when none was), after checking that ``model(**those)`` builds: a value
    the model refuses (``-p tau_S -1``) stops the chapter here, before any work.

    Pass ``True``/``False`` from the command line as ``papermill -p fast True`` (papermill
    turns ``True`` into a bool; ``-p fast false`` gives the string ``'false'``), or in
    Python as ``parameters={"fast": True}``; a model parameter as ``-p g_K 9.0``."""
    for name, value in values.items():
        if name not in PARAMETERS:
            raise ParameterError(f"unknown chapter parameter {name!r}; known: "
                                 f"{sorted(PARAMETERS)}")
        if name in _NAMES:
            if not isinstance(value, str) or (name == "network" and not value):
                raise ParameterError(f"chapter parameter {name} must be a "
                                     f"{'non-empty ' if name == 'network' else ''}string, got "
                                     f"{value!r} ({type(value).__name__}); with papermill "
                                     f"pass -p {name} NAME")
        elif not isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"chapter parameter {name} must be True or False, got "
                                 f"{value!r} ({type(value).__name__}); with papermill pass "
                                 f"-p {name} True or -p {name} False (capitalised), or "
                                 f"-y '{name}: true'")
    fields = model_fields(model) if model is not None else []
    if namespace is None:
        return {}
    injected = injected_names(namespace)
    unknown = [n for n in injected if n not in values and n not in fields]
    if unknown:
        also = f", and the model's {', '.join(fields)}" if fields else ""
        raise ParameterError(f"unknown parameter(s) {', '.join(map(repr, unknown))} "
                             f"passed to this chapter; its parameters are "
                             f"{', '.join(values)}{also}; the chapter stopped before any work")
    changed = {n: namespace[n] for n in injected if n in fields}
    for name, value in changed.items():
        if not is_real(value):
            raise ParameterError(f"model parameter {name} must be a number, got {value!r} "
                                 f"({type(value).__name__}); with papermill pass -p {name} 9.0")
    if not changed:
        return {}
    try:
        model(**changed)
    except (TypeError, ValueError) as e:
        raise ParameterError(f"the model refuses these parameters: {e}") from None
    return {n: float(v) for n, v in changed.items()}
