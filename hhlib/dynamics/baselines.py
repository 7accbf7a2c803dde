"""Other discovery methods on the same data: a learned vector field and sparse regression.

The paper's method learns the step map x_{k+1} = F(x_k, V_S). Two standard alternatives
learn the vector field dx/dt = f(x, V_S) instead, from the same training cuts:

* a neural vector field (:class:`hhlib.maps.network.VectorFieldNet`, trained like the map by
  :func:`hhlib.maps.training.train` through one RK4 step of length dt);
* sparse identification of nonlinear dynamics (SINDy, Brunton, Proctor & Kutz 2016):
  derivatives of the cuts by finite differences (``pysindy.FiniteDifference``), a library
  of candidate terms, and sequentially thresholded least squares (``pysindy.STLSQ``).
  :class:`SindyMap` holds the fitted right-hand side and steps it with RK4.

Every model is then a :class:`hhlib.maps.network.DiscreteMap` with the same time step, and
:func:`evaluate_model` measures it with the code of chapters 4 and 5
(:func:`hhlib.dynamics.ablation.evaluate_variant`), plus the Neimark-Sacker point of its slow pair
(:func:`hhlib.dynamics.recovery.map_hopf_point`). The fixed points of the RK4 map of f are the
zeros of f, and log(mu)/dt of its multipliers differs from the eigenvalues of df/dx by
the RK4 error only: :func:`field_eigenvalues` computes the latter directly as a check.

Candidate libraries (in the normalised state z = (x - mean)/spread and normalised V_S):

* ``"polynomial"``: every monomial in (z_V, z_n, z_S, v) up to ``degree``;
* ``"sigmoid"``: the monomials up to ``degree`` plus, for generic centres c every 10 mV
  from -70 to -10 mV (:data:`SIGMOID_CENTRES`, width :data:`SIGMOID_WIDTH`), the sigmoid
  s_c(V) = 1 / (1 + exp((c - V) / width)) alone and times z_V, z_n and v. The centres are
  a plain grid, not the model's half-activation voltages.
"""
from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np
import torch

from .ablation import evaluate_variant
from ..checks import integer, is_int, one_of, is_real, real_array, runs, state
from ..ode.model import HHParams, check_params, rhs
from ..maps.network import (DiscreteMap, VectorFieldNet, fused_rk4, load_pretrained,
                            load_state, normalisation, read_verified)
from .recovery import (_state_scale, continue_both_ways, error_in_tolerances, map_fixed_points,
                       map_jacobian, neimark_sacker_points)

__all__ = ["LIBRARIES", "SIGMOID_CENTRES", "SIGMOID_WIDTH", "library_names", "SindyMap",
           "fit_sindy", "load_sindy", "load_model", "field_eigenvalues", "evaluate_model",
           "method_of", "map_eigenvalue_check", "matched_hopf_gap", "derivative_error",
           "grid_errors"]

LIBRARIES = ("polynomial", "sigmoid")
SIGMOID_CENTRES = (-70.0, -60.0, -50.0, -40.0, -30.0, -20.0, -10.0)   # mV, a plain grid
SIGMOID_WIDTH = 6.0                                                   # mV
_VARS = ("V", "n", "S", "V_S")


def _check_library(library: Any, degree: Any) -> tuple[str, int]:
    one_of(library, "library", LIBRARIES)
    if not is_int(degree) or not 1 <= degree <= 5:
        raise ValueError(f"degree must be an integer from 1 to 5, got {degree!r}")
    return library, int(degree)


def _monomials(degree: int) -> list[tuple[int, ...]]:
    return [m for d in range(degree + 1)
            for m in itertools.combinations_with_replacement(range(4), d)]


def library_names(library: str, degree: int) -> list[str]:
    """Names of the candidate terms, in the order of the coefficients: ``"1"``, ``"V n"``,
    ``"S^2"``, ``"s(-40) n"`` (the sigmoid centred at -40 mV times z_n), ... Variables are
    normalised (state by its spread, V_S to [-1, 1] over the trained range)."""
    library, degree = _check_library(library, degree)
    names = []
    for m in _monomials(degree):
        if not m:
            names.append("1")
            continue
        names.append(" ".join(_VARS[i] + (f"^{m.count(i)}" if m.count(i) > 1 else "")
                              for i in sorted(set(m))))
    if library == "sigmoid":
        for c in SIGMOID_CENTRES:
            s = f"s({c:g})"
            names += [s, f"{s} V", f"{s} n", f"{s} V_S"]
    return names


def _monomial_index(degree: int) -> torch.Tensor:
    """(p, degree) column indices of the monomials in the order of :func:`_monomials`,
    padded with 4, the index of a column of ones: one gather and one product give them
    all, the constant term included."""
    rows = [list(m) + [4] * (degree - len(m)) for m in _monomials(degree)]
    return torch.tensor(rows, dtype=torch.long)


def _features(u: torch.Tensor, V: torch.Tensor, library: str,
              index: torch.Tensor) -> torch.Tensor:
    """Candidate terms (B, p) from normalised inputs ``u`` (B, 4) and raw V (B,) in mV, in
    the order of :func:`library_names`; ``index`` from :func:`_monomial_index`. A handful
    of tensor operations per call, whatever the number of terms: a free run calls this
    four times per step."""
    ue = torch.cat([u, torch.ones_like(u[:, :1])], dim=-1)              # V, n, S, V_S, 1
    terms = ue[:, index].prod(dim=-1)
    if library == "polynomial":
        return terms
    c = torch.as_tensor(SIGMOID_CENTRES, dtype=u.dtype, device=u.device)
    s = torch.sigmoid((V[:, None] - c) * (1.0 / SIGMOID_WIDTH))         # (B, 7)
    g = ue[:, _SIGMOID_FACTORS]                                          # 1, V, n, V_S
    return torch.cat([terms, (s[:, :, None] * g[:, None, :]).flatten(1)], dim=-1)


_SIGMOID_FACTORS = torch.tensor([4, 0, 1, 3])


class SindyMap(DiscreteMap):
    """A fitted right-hand side f(x, V_S) = (d_std / dt) * coef @ terms(x, V_S), stepped by
    ``substeps`` RK4 steps per ``dt``. ``coef`` (3, p) holds one row per variable (V, n,
    S) over :func:`library_names`; it is a (frozen) parameter, saved with the model."""

    def __init__(self, dt: float, library: str = "polynomial", degree: int = 3,
                 V_S_range: tuple[float, float] = (-44.0, -30.0),
                 x_mean=(0.0, 0.0, 0.0), x_std=(1.0, 1.0, 1.0),
                 d_mean=(0.0, 0.0, 0.0), d_std=(1.0, 1.0, 1.0), variant: str = "original",
                 substeps: int = 1, coef=None):
        super().__init__(dt, V_S_range, x_mean, x_std, d_mean, d_std, variant)
        self.library, self.degree = _check_library(library, degree)
        self.substeps = integer(substeps, "substeps")
        self._index = _monomial_index(self.degree)
        p = len(library_names(self.library, self.degree))
        c = np.zeros((3, p)) if coef is None else real_array(coef, "coef")
        if c.shape != (3, p) or not np.all(np.isfinite(c)):
            raise ValueError(f"coef must be finite, of shape (3, {p}) for the {library!r} "
                             f"library of degree {degree}, got shape {c.shape}")
        self.coef = torch.nn.Parameter(torch.as_tensor(c, dtype=torch.float32),
                                       requires_grad=False)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "kind": "sindy", "library": self.library,
                "degree": self.degree, "substeps": self.substeps}

    def terms(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        """The candidate terms (B, p) at states ``x`` (B, 3) and ``V_S`` (B,)."""
        return _features(self._inputs(x, V_S), x[:, 0], self.library, self._index)

    def field(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        """f(x, V_S) in (mV, 1, 1) per s, tensors (B, 3) and (B,)."""
        return (self.terms(x, V_S) @ self.coef.T) * (self.d_std / self._dt)

    def forward(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        h = self._dt / self.substeps
        for _ in range(self.substeps):
            k1 = self.field(x, V_S)
            k2 = self.field(x + 0.5 * h * k1, V_S)
            k3 = self.field(x + 0.5 * h * k2, V_S)
            k4 = self.field(x + h * k3, V_S)
            x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return x

    def _fused_step(self, V_S: torch.Tensor):
        """The RK4 steps of :meth:`forward` for a rollout at fixed ``V_S``: the V_S column,
        the coefficient scale and the step length folded in once, stage sums in place."""
        h = self._dt / self.substeps
        W = (self.coef.T * (self.d_std * (h / self._dt))).contiguous()       # (p, 3): h f
        v = self._vs_norm(V_S)[:, None]
        mean, std, lib, index = self.x_mean, self.x_std, self.library, self._index

        def inc(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
            u = torch.cat([(x - mean) / std, v], dim=-1)
            return torch.mm(_features(u, x[:, 0], lib, index), W, out=out)

        return fused_rk4(inc, V_S, self.substeps)

    def n_terms(self) -> int:
        """Number of non-zero coefficients over the three equations."""
        return int((self.coef != 0).sum())

    def equations(self, digits: int = 3) -> list[str]:
        """The fitted equations, one string per variable, in normalised variables:
        ``dV/dt = (dV scale) * (c1 * 1 + c2 * V n + ...)``; zero terms are left out."""
        names = library_names(self.library, self.degree)
        out = []
        for var, row, scale in zip(_VARS[:3], self.coef.double().numpy(),
                                   (self.d_std / self._dt).double().tolist()):
            terms = [f"{c:+.{digits}g} {n}" if n != "1" else f"{c:+.{digits}g}"
                     for c, n in zip(row, names) if c != 0]
            out.append(f"d{var}/dt = {scale:.4g} * ({' '.join(terms) or '0'})")
        return out


def fit_sindy(cuts, cut_V_S, dt: float, *, library: str = "polynomial", degree: int = 3,
              threshold: float = 0.01, alpha: float = 1e-5, fd_order: int = 2,
              V_S_range=None, variant: str = "original", substeps: int = 1) -> SindyMap:
    """Fit a :class:`SindyMap` to cuts (N, L + 1, 3) sampled every ``dt`` s at ``cut_V_S``
    (N,) mV: finite-difference derivatives of order ``fd_order`` (2 or 4) along each cut
    (``pysindy.FiniteDifference``), the candidate
    terms of ``library`` (``degree``), and ``pysindy.STLSQ`` (``threshold`` on the
    coefficients, ridge ``alpha``). The normalisation is that of the
    cuts (:func:`hhlib.maps.network.normalisation`), as for the networks."""
    import pysindy as ps   # only the SINDy functions need it; importing it takes 0.45 s

    library, degree = _check_library(library, degree)
    cuts = real_array(cuts, "cuts")
    vs = real_array(cut_V_S, "cut_V_S")
    if cuts.ndim != 3 or cuts.shape[-1] != 3 or cuts.shape[1] < 3 or not np.all(np.isfinite(cuts)):
        raise ValueError(f"cuts must be finite, of shape (N, L + 1 >= 3, 3), got {cuts.shape}")
    if vs.shape != (cuts.shape[0],) or not np.all(np.isfinite(vs)):
        raise ValueError(f"cut_V_S must hold one finite V_S per cut (shape ({cuts.shape[0]},)), "
                         f"got {vs.shape}")
    for k, v in (("dt", dt), ("threshold", threshold), ("alpha", alpha)):
        if not is_real(v) or not math.isfinite(v) or v < 0 or (k == "dt" and v == 0):
            raise ValueError(f"{k} must be a finite number {'> 0' if k == 'dt' else '>= 0'}, "
                             f"got {v!r}")
    if fd_order not in (2, 4) or isinstance(fd_order, bool):
        raise ValueError(f"fd_order must be 2 or 4, got {fd_order!r}")
    if V_S_range is None and not vs.min() < vs.max():
        raise ValueError(f"cut_V_S must hold at least two different V_S values to span a "
                         f"range (or pass V_S_range), got only {float(vs.min()):g} mV")
    V_S_range = (float(vs.min()), float(vs.max())) if V_S_range is None else V_S_range
    model = SindyMap(dt, library, degree, V_S_range, variant=variant, substeps=substeps,
                     **normalisation(cuts))
    dxdt = ps.FiniteDifference(order=fd_order, axis=1)(cuts, t=float(dt))
    m = model.double()
    with torch.no_grad():
        x = torch.as_tensor(cuts.reshape(-1, 3))
        v = torch.as_tensor(np.repeat(vs, cuts.shape[1]))
        theta = m.terms(x, v).numpy()
    y = dxdt.reshape(-1, 3) * (dt / m.d_std.numpy())
    # The terms are already of unit scale (normalised variables), so the threshold applies
    # to the coefficients as they are: a term below it moves the derivative by less than
    # that fraction of a typical step per dt.
    opt = ps.STLSQ(threshold=float(threshold), alpha=float(alpha))
    opt.fit(theta, y)
    coef = np.asarray(opt.coef_, dtype=float)
    if not np.all(np.isfinite(coef)):
        raise RuntimeError("the sparse regression returned non-finite coefficients")
    model = model.float()
    model.coef.data = torch.as_tensor(coef, dtype=torch.float32)
    return model.eval()


def load_sindy(name: str, directory=None) -> tuple[SindyMap, dict[str, Any]]:
    """A shipped :class:`SindyMap` and its record, after the checksums of
    :func:`hhlib.maps.network.read_verified`."""
    meta, pt_bytes, pt = read_verified(name, directory)
    cfg = dict(meta["config"])
    if cfg.pop("kind", "map") != "sindy":
        raise ValueError(f"{pt.with_suffix('.json')} is not a SINDy model (load it with "
                         "hhlib.maps.network.load_pretrained)")
    try:
        model = SindyMap(cfg.pop("dt"), **{k: tuple(v) if isinstance(v, list) else v
                                          for k, v in cfg.items()})
        model.load_state_dict(load_state(pt_bytes, pt))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"{pt} does not match its record: {e}") from None
    return model.eval(), meta


def load_model(name: str, directory=None) -> tuple[DiscreteMap, dict[str, Any]]:
    """Any shipped model by name: a network (:func:`hhlib.maps.network.load_pretrained`) or a
    fitted SINDy model (:func:`load_sindy`), by the ``kind`` in its record."""
    meta, _, _ = read_verified(name, directory)
    if meta["config"].get("kind") == "sindy":
        return load_sindy(name, directory)
    return load_pretrained(name, directory)


def method_of(model: DiscreteMap) -> str:
    """What a model learned, in words."""
    if isinstance(model, SindyMap):
        return (f"SINDy, {model.library} library of degree {model.degree} "
                f"({model.n_terms()} terms)")
    if isinstance(model, VectorFieldNet):
        return f"neural vector field {list(model.hidden)}, one RK4 step per Δt"
    if hasattr(model, "hidden"):
        return f"network map {list(model.hidden)} (the paper's method)"
    return type(model).__name__


def field_eigenvalues(model: DiscreteMap, x, V_S: float) -> np.ndarray:
    """Eigenvalues (1/s, sorted by real part) of df/dx at state ``x`` (3,) for a model with
    a vector field (:class:`VectorFieldNet`, :class:`SindyMap`), by autograd in float64;
    for comparison with log(mu)/dt of the map's multipliers at its fixed points."""
    if not hasattr(model, "field"):
        raise TypeError(f"model must have a vector field (a VectorFieldNet or SindyMap), got "
                        f"{type(model).__name__}")
    x = state(x, "x")
    m = copy.deepcopy(model).double().eval()
    vs = torch.tensor([float(V_S)], dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda y: m.field(y[None], vs)[0],
                                           torch.as_tensor(x)).numpy()
    lam = np.linalg.eigvals(J)
    return lam[np.argsort(lam.real)]


def evaluate_model(model: DiscreteMap, record: dict, *, hopf_grid,
                   **kwargs: Any) -> dict[str, Any]:
    """:func:`hhlib.dynamics.ablation.evaluate_variant` (the columns of chapter 4's variant table,
    same arguments in ``kwargs``, ``details=True``) plus ``"ns_points"``: the V_S (mV) of
    every Neimark-Sacker point of the map along the increasing ``hopf_grid``, found
    without the ODE (:func:`hhlib.dynamics.recovery.continue_both_ways` from Newton at the grid's
    ends, then :func:`hhlib.dynamics.recovery.neimark_sacker_points`)."""
    out = evaluate_variant(model, record, details=True, **kwargs)
    branches = continue_both_ways(model, hopf_grid, extrapolate=True)
    out["ns_points"] = [v for v, _ in neimark_sacker_points(model, hopf_grid, branches,
                                                            extrapolate=True)]
    out["method"] = method_of(model)
    return out


def matched_hopf_gap(ns_points, hopf_ode: float) -> float:
    """|V_S| distance (mV) from the ODE's Hopf point ``hopf_ode`` to the nearest of the map's
    Neimark-Sacker points ``ns_points`` (found without it); NaN if there are none."""
    return min((abs(v - hopf_ode) for v in ns_points), default=float("nan"))


def map_eigenvalue_check(model: DiscreteMap, V_S: float, near=None) -> float:
    """Largest relative difference between log(mu)/dt of the map's multipliers and the
    eigenvalues of df/dx (:func:`field_eigenvalues`) at the fixed points Newton finds from
    :func:`hhlib.dynamics.recovery.default_starts` at ``V_S``: the RK4 error of the map's
    eigenvalues, so that a reader can see that the map's fixed-point columns are the vector
    field's. With ``near`` (V mV, n, S), only at the fixed point nearest it in state spreads
    (the one a comparison pairs with ``near`` after the search); else at all of them. NaN
    when Newton finds none."""
    fps = map_fixed_points(model, V_S, extrapolate=True)
    if near is not None and fps:
        x = real_array(near, "near").reshape(3)
        scale = _state_scale(model)
        fps = [min(fps, key=lambda p: float(np.linalg.norm((p.state - x) / scale)))]
    gaps = []
    for fp in fps:
        mu = np.linalg.eigvals(map_jacobian(model, fp.state, V_S))
        lam_map = np.log(mu.astype(complex)) / model.dt
        lam_map = lam_map[np.argsort(lam_map.real)]
        lam = field_eigenvalues(model, fp.state, V_S)
        gaps.append(float(np.max(np.abs(lam_map - lam) / np.maximum(np.abs(lam), 1e-12))))
    return max(gaps, default=float("nan"))


def grid_errors(results: dict[str, tuple[dict, dict]]) -> dict[str, dict[str, np.ndarray]]:
    """Per method, along the fixed-point grid: ``V_S`` (mV), ``position`` (worst coordinate
    error in units of its tolerance, inf without a fixed point) and ``eigenvalue`` (worst
    eigenvalue error in units of its tolerance), from ``evaluate_model``'s details."""
    out = {}
    for name, (_, r) in results.items():
        if "fixed_points" not in r:
            raise ValueError(f"results[{name!r}] has no fixed-point details (evaluate_model)")
        cmp, checks = r["fixed_points"]
        eig = np.where(np.isfinite(checks.score), checks.score, np.inf).max(axis=1)
        out[name] = {"V_S": np.asarray(checks.V_S), "position": error_in_tolerances(checks),
                     "eigenvalue": eig}
    return out


def derivative_error(cuts, cut_V_S, dt: float, params: HHParams, fd_order: int = 2
                     ) -> np.ndarray:
    """RMS error of the finite-difference derivatives SINDy fits to (order ``fd_order``
    along cuts (N, L + 1, 3) sampled every ``dt`` s), relative to the RMS of the model's
    exact vector field at the same states, per variable (V, n, S). A diagnostic of the
    data for the reader: nothing is fitted or selected with it."""
    import pysindy as ps   # only the SINDy functions need it; importing it takes 0.45 s

    cuts, vs = runs(cuts, cut_V_S)
    check_params(params)
    if fd_order not in (2, 4) or isinstance(fd_order, bool):
        raise ValueError(f"fd_order must be 2 or 4, got {fd_order!r}")
    d = ps.FiniteDifference(order=fd_order, axis=1)(cuts, t=float(dt)).reshape(-1, 3)
    true = rhs(cuts.reshape(-1, 3), params.replace(V_S=np.repeat(vs, cuts.shape[1])))
    return np.sqrt(((d - true) ** 2).mean(axis=0) / (true ** 2).mean(axis=0))
