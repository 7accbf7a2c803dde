"""The Hodgkin–Huxley-type beta-cell model: parameters, vector field, Jacobian, fixed points.

State ``x = (V, n, S)``: membrane potential V in mV, fast K+ gate n and slow K+ gate S
(dimensionless, in [0, 1]). Time in seconds. Conductances are dimensionless (scaled).

    tau   dV/dt = -g_Ca m_inf(V) (V - V_Ca) - g_K n (V - V_K) - g_S S (V - V_K)
    tau   dn/dt = sigma (n_inf(V) - n)
    tau_S dS/dt = S_inf(V) - S,           w_inf(V) = 1 / (1 + exp((V_w - V) / theta_w))

Two variants share these equations. ``"original"`` has a constant tau_S. ``"bistable"`` (our
own variant, not the source's) makes the slow time constant voltage dependent,

    tau_S(V) = tau_S_lo + (tau_S - tau_S_lo) / (1 + exp((V_t - V) / k_t)),

so the slow gate relaxes quickly near rest and slowly while the cell is depolarised, and uses
the parameter set of :meth:`HHParams.bistable`, for which a stable rest state coexists with
bursting over a window of V_S.

Every function accepts NumPy arrays or torch tensors of shape ``(..., 3)``; parameter fields
may be arrays that broadcast against ``state[..., 0]`` (for example one V_S per trajectory).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy import optimize, special

from ..checks import interval, is_int, is_torch, one_of, real_array

# torch is imported inside the functions that take tensors: at the top it would make
# ``import hhlib``, which every chapter and most modules do, 0.9 s slower.

__all__ = ["HHParams", "FixedPoint", "VARIANTS", "rhs", "jacobian", "scalar_field", "batch_field",
           "fixed_points", "hopf_point", "fast_equilibria", "steady_state_current",
           "slow_time_constant", "lyapunov_coefficient", "first_lyapunov_coefficient",
           "PHYSICAL_BOUNDS", "PHYSICAL_SLACK", "is_physical"]

VARIANTS = ("original", "bistable")

# Fields that must be strictly positive (time constants, slopes, conductances).
_POSITIVE = ("g_Ca", "g_K", "g_S", "theta_m", "theta_n", "theta_S", "tau", "tau_S", "sigma",
             "tau_S_lo", "k_t")
# Fields of the voltage-dependent slow time constant: set for "bistable", None for "original".
_BISTABLE_ONLY = ("tau_S_lo", "V_t", "k_t")


@dataclass(frozen=True)
class HHParams:
    """Parameters of the model (defaults: the original model of Sherman, Rinzel & Keizer as
    used by Stankevich & Mosekilde 2017). Voltages in mV, time constants in s.

    ``V_S`` (mV), the half-activation voltage of the slow gate, is the control parameter.
    Any field may be an array that broadcasts against the batch of states it is used with.
    ``tau_S_lo`` (s), ``V_t`` (mV) and ``k_t`` (mV) define tau_S(V) of the ``"bistable"``
    variant and must be None for ``"original"``. Build either with :meth:`original`,
    :meth:`bistable` or :meth:`of_variant`.
    """

    g_Ca: Any = 3.6
    g_K: Any = 10.0
    g_S: Any = 4.0
    V_Ca: Any = 25.0
    V_K: Any = -75.0
    V_m: Any = -20.0
    theta_m: Any = 12.0
    V_n: Any = -16.0
    theta_n: Any = 5.6
    V_S: Any = -38.0
    theta_S: Any = 10.0
    tau: Any = 0.02
    tau_S: Any = 35.0
    sigma: Any = 0.93
    tau_S_lo: Any = None
    V_t: Any = None
    k_t: Any = None
    variant: str = field(default="original")

    @classmethod
    def original(cls, **overrides: Any) -> "HHParams":
        """The original model's parameters (the field defaults), with ``overrides``."""
        return cls(**{**overrides, "variant": "original"})

    @classmethod
    def bistable(cls, **overrides: Any) -> "HHParams":
        """Parameters of our bistable variant (see the module docstring), with ``overrides``.

        Chosen by our own bifurcation analysis to widen the V_S window where a stable rest
        state coexists with bursting; the source's modified model is not available to us.
        """
        values = dict(g_Ca=3.12, g_K=10.0, g_S=1.28, V_Ca=25.0, V_K=-75.0, V_m=-17.6,
                      theta_m=9.0, V_n=-16.6, theta_n=6.1, V_S=-21.4, theta_S=20.0, tau=0.02,
                      tau_S=40.0, sigma=0.93, tau_S_lo=1.0, V_t=-45.0, k_t=2.0)
        return cls(**{**values, **overrides, "variant": "bistable"})

    @classmethod
    def of_variant(cls, variant: str, **overrides: Any) -> "HHParams":
        """:meth:`original` or :meth:`bistable` by name."""
        return getattr(cls, one_of(variant, "variant", VARIANTS))(**overrides)

    def __post_init__(self) -> None:
        one_of(self.variant, "variant", VARIANTS)
        for name in _BISTABLE_ONLY:
            unset = getattr(self, name) is None
            if self.variant == "bistable" and unset:
                raise ValueError(f"{name} must be set for variant 'bistable' "
                                 "(use HHParams.bistable())")
            if self.variant == "original" and not unset:
                raise ValueError(f"{name} belongs to variant 'bistable'; it must be None for "
                                 "variant 'original'")
        for f in dataclasses.fields(self):
            if f.name == "variant":
                continue
            value = getattr(self, f.name)
            if value is None:
                if f.name in _BISTABLE_ONLY:
                    continue
                raise TypeError(f"{f.name} must be a real number or array of numbers, got None")
            arr = real_array(value, f.name)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{f.name} must be finite, got {value!r}")
            if f.name in _POSITIVE and not np.all(arr > 0):
                raise ValueError(f"{f.name} must be > 0, got {value!r}")
            if not is_torch(value):
                # Plain floats and float arrays, so the NumPy path needs no conversion.
                object.__setattr__(self, f.name, float(arr) if arr.ndim == 0 else arr)

    def replace(self, **changes: Any) -> "HHParams":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def is_scalar(self) -> bool:
        """True when every numeric field is a single number."""
        return all(np.ndim(v) == 0 for v in self.numeric_fields().values())

    def numeric_fields(self) -> dict[str, Any]:
        """Name -> value of every field the variant uses (numbers or arrays)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "variant" and getattr(self, f.name) is not None}

    def table(self) -> list[tuple[str, float, str]]:
        """(name, value, unit) rows, for rendering the parameter table."""
        units = {"V_Ca": "mV", "V_K": "mV", "V_m": "mV", "theta_m": "mV", "V_n": "mV",
                 "theta_n": "mV", "V_S": "mV", "theta_S": "mV", "tau": "s", "tau_S": "s",
                 "tau_S_lo": "s", "V_t": "mV", "k_t": "mV"}
        return [(k, v, units.get(k, "–")) for k, v in self.numeric_fields().items()]


# ----------------------------------------------------------------------------- helpers
def _param(value: Any, like: Any) -> Any:
    """Parameter value in the array library (and dtype/device) of ``like``."""
    if is_torch(like):
        import torch
        return torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return np.asarray(value, dtype=float) if np.ndim(value) else float(value)


def _sigmoid(z: Any) -> Any:
    if is_torch(z):
        import torch
        return torch.sigmoid(z)
    return special.expit(z)


def _check_state(state: Any, name: str = "state") -> Any:
    if is_torch(state):
        import torch
        if state.is_complex() or state.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {state.dtype}")
        if not state.is_floating_point():
            # An integer state would cast every parameter to int (tau = 0.02 -> 0).
            state = state.to(torch.float64)
    else:
        state = real_array(state, name)
    if state.ndim < 1 or state.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3) = (V, n, S), got {tuple(state.shape)}")
    return state


def _fields(p: Any, like: Any, names: str) -> list:
    """Parameter values in the array library of ``like`` (NumPy values pass through)."""
    if is_torch(like):
        return [_param(getattr(p, k), like) for k in names.split()]
    return [getattr(p, k) for k in names.split()]


def gates(V: Any, p: HHParams) -> tuple[Any, Any, Any]:
    """Steady-state activations (m_inf, n_inf, S_inf) at voltage V (mV)."""
    V_m, th_m, V_n, th_n, V_S, th_S = _fields(p, V, "V_m theta_m V_n theta_n V_S theta_S")
    return (_sigmoid((V - V_m) / th_m), _sigmoid((V - V_n) / th_n), _sigmoid((V - V_S) / th_S))


def _assemble(parts: list, like: Any) -> Any:
    """Stack equally broadcastable pieces along a new last axis."""
    if is_torch(like):
        import torch
        parts = torch.broadcast_tensors(*parts)
        return torch.stack(parts, dim=-1)
    shape = np.broadcast_shapes(*(np.shape(q) for q in parts))
    out = np.empty(shape + (len(parts),))
    for k, q in enumerate(parts):
        out[..., k] = q
    return out


# ----------------------------------------------------------------------------- vector field
def check_params(params: Any) -> HHParams:
    """``params`` itself; TypeError unless it is an :class:`HHParams`."""
    if not isinstance(params, HHParams):
        raise TypeError(f"params must be HHParams, got {type(params).__name__}")
    return params


def rhs(state: Any, params: HHParams) -> Any:
    """Vector field d(V, n, S)/dt in (mV/s, 1/s, 1/s); ``state`` of shape (..., 3)."""
    check_params(params)
    state = _check_state(state)
    V, n, S = state[..., 0], state[..., 1], state[..., 2]
    g_Ca, g_K, g_S, V_Ca, V_K, tau, tau_S, sigma = _fields(
        params, V, "g_Ca g_K g_S V_Ca V_K tau tau_S sigma")
    m_inf, n_inf, S_inf = gates(V, params)
    dV = -(g_Ca * m_inf * (V - V_Ca) + (g_K * n + g_S * S) * (V - V_K)) / tau
    dn = sigma * (n_inf - n) / tau
    dS = (S_inf - S) / (tau_S if params.variant == "original" else slow_time_constant(V, params))
    return _assemble([dV, dn, dS], V)


def _tau_S_sigmoid(V: Any, params: HHParams) -> Any:
    V_t, k_t = _fields(params, V, "V_t k_t")
    return _sigmoid((V - V_t) / k_t)


def slow_time_constant(V: Any, params: HHParams) -> Any:
    """tau_S(V) in s: the constant ``tau_S`` for "original", and for "bistable"
    tau_S_lo + (tau_S - tau_S_lo) / (1 + exp((V_t - V) / k_t))."""
    if params.variant == "original":
        return _param(params.tau_S, V) + 0 * V
    tau_S, tau_S_lo = _fields(params, V, "tau_S tau_S_lo")
    return tau_S_lo + (tau_S - tau_S_lo) * _tau_S_sigmoid(V, params)


def jacobian(state: Any, params: HHParams) -> Any:
    """Analytic Jacobian d rhs / d state, shape (..., 3, 3); rows (dV, dn, dS)/dt."""
    check_params(params)
    state = _check_state(state)
    V, n, S = state[..., 0], state[..., 1], state[..., 2]
    g_Ca, g_K, g_S, V_Ca, V_K, tau, tau_S, sigma, th_m, th_n, th_S = _fields(
        params, V, "g_Ca g_K g_S V_Ca V_K tau tau_S sigma theta_m theta_n theta_S")
    m_inf, n_inf, S_inf = gates(V, params)
    dm = m_inf * (1 - m_inf) / th_m
    if params.variant == "original":
        dSdV, dSdS = S_inf * (1 - S_inf) / th_S / tau_S, -1.0 / tau_S
    else:
        # d/dV [(S_inf - S) / tau_S(V)] = S_inf' / tau_S - (S_inf - S) tau_S' / tau_S^2
        tau_S_lo, k_t = _fields(params, V, "tau_S_lo k_t")
        q = _tau_S_sigmoid(V, params)
        tS = tau_S_lo + (tau_S - tau_S_lo) * q
        dtS = (tau_S - tau_S_lo) * q * (1 - q) / k_t
        dSdV = S_inf * (1 - S_inf) / th_S / tS - (S_inf - S) * dtS / tS ** 2
        dSdS = -1.0 / tS
    J = [[-(g_Ca * (dm * (V - V_Ca) + m_inf) + g_K * n + g_S * S) / tau,
          -g_K * (V - V_K) / tau, -g_S * (V - V_K) / tau],
         [sigma * n_inf * (1 - n_inf) / th_n / tau, -sigma / tau, 0.0],
         [dSdV, 0.0, dSdS]]
    if is_torch(V):
        import torch
        rows = [torch.stack(torch.broadcast_tensors(*[_param(q, V) + 0 * V for q in r]), -1)
                for r in J]
        return torch.stack(rows, dim=-2)
    shape = np.broadcast_shapes(*(np.shape(q) for r in J for q in r))
    out = np.empty(shape + (3, 3))
    for i, r in enumerate(J):
        for k, q in enumerate(r):
            out[..., i, k] = q
    return out


def scalar_field(params: HHParams) -> tuple[Callable, Callable]:
    """``(f, jac)`` for one state of shape (3,) with scalar ``params``: the same vector field
    and Jacobian as :func:`rhs` and :func:`jacobian`, with the parameters bound once.

    An adaptive solver calls the vector field about 10^5 times per 200 s trajectory, so the
    generic function's dispatch and broadcasting would dominate its cost.
    """
    _scalar_params(params)
    g_Ca, g_K, g_S, V_Ca, V_K = params.g_Ca, params.g_K, params.g_S, params.V_Ca, params.V_K
    V_m, th_m, V_n, th_n, V_S, th_S = (params.V_m, params.theta_m, params.V_n, params.theta_n,
                                       params.V_S, params.theta_S)
    tau, tau_S, sigma = params.tau, params.tau_S, params.sigma
    exp = math.exp

    def sig(z: float) -> float:
        return 1.0 / (1.0 + exp(-z)) if z > -700 else 0.0

    if params.variant == "original":
        def slow(V: float) -> tuple[float, float]:
            return tau_S, 0.0
    else:
        lo, V_t, k_t = params.tau_S_lo, params.V_t, params.k_t

        def slow(V: float) -> tuple[float, float]:
            q = sig((V - V_t) / k_t)
            return lo + (tau_S - lo) * q, (tau_S - lo) * q * (1 - q) / k_t

    def f(x: np.ndarray) -> np.ndarray:
        V, n, S = float(x[0]), float(x[1]), float(x[2])
        m_inf, n_inf, S_inf = sig((V - V_m) / th_m), sig((V - V_n) / th_n), sig((V - V_S) / th_S)
        return np.array([-(g_Ca * m_inf * (V - V_Ca) + (g_K * n + g_S * S) * (V - V_K)) / tau,
                         sigma * (n_inf - n) / tau, (S_inf - S) / slow(V)[0]])

    def jac(x: np.ndarray) -> np.ndarray:
        V, n, S = float(x[0]), float(x[1]), float(x[2])
        m_inf, n_inf, S_inf = sig((V - V_m) / th_m), sig((V - V_n) / th_n), sig((V - V_S) / th_S)
        dm = m_inf * (1 - m_inf) / th_m
        tS, dtS = slow(V)
        return np.array([
            [-(g_Ca * (dm * (V - V_Ca) + m_inf) + g_K * n + g_S * S) / tau,
             -g_K * (V - V_K) / tau, -g_S * (V - V_K) / tau],
            [sigma * n_inf * (1 - n_inf) / th_n / tau, -sigma / tau, 0.0],
            [S_inf * (1 - S_inf) / th_S / tS - (S_inf - S) * dtS / tS ** 2, 0.0, -1.0 / tS]])

    return f, jac


def batch_field(params: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``f(Y, out)``: the vector field for a batch stored column-wise, ``Y`` of shape (3, B),
    written into ``out`` (3, B). Parameter fields are scalars or arrays of shape (B,).

    The same field as :func:`rhs`, with every intermediate written in place: for a batch of a
    few hundred states NumPy's per-call overhead, not arithmetic, sets the cost, so the
    number of calls is what this minimises. ``params`` is HHParams or any object with its
    field names (a batch solver passes the subset of trajectories still running).
    """
    g = lambda k: getattr(params, k)  # noqa: E731
    col = lambda k: np.asarray(g(k), dtype=float).reshape(1, -1)  # noqa: E731
    # Half-activations and inverse slopes of (m, n, S) as (3, 1) or (3, B) columns, so the
    # three gates cost one subtract, one multiply and one expit.
    Vh = np.concatenate(np.broadcast_arrays(col("V_m"), col("V_n"), col("V_S"))).reshape(3, -1)
    inv = 1 / np.concatenate(np.broadcast_arrays(
        col("theta_m"), col("theta_n"), col("theta_S"))).reshape(3, -1)
    g_Ca, g_K, g_S, V_Ca, V_K = g("g_Ca"), g("g_K"), g("g_S"), g("V_Ca"), g("V_K")
    c_V, c_n, inv_tS = -1 / g("tau"), g("sigma") / g("tau"), 1 / g("tau_S")
    expit = special.expit
    if getattr(params, "variant", "original") != "original":
        tau_S, lo, V_t, inv_k = g("tau_S"), g("tau_S_lo"), g("V_t"), 1 / g("k_t")

    def f(Y: np.ndarray, out: np.ndarray) -> np.ndarray:
        V, n, S = Y[0], Y[1], Y[2]
        dV, dn, dS = out[0], out[1], out[2]
        w = V - Vh
        w *= inv
        expit(w, out=w)                       # rows: m_inf, n_inf, S_inf
        m_inf = w[0]
        m_inf *= V - V_Ca
        m_inf *= g_Ca                         # I_Ca
        np.multiply(n, g_K, out=dV)
        dV += S * g_S
        dV *= V - V_K
        dV += m_inf
        dV *= c_V
        np.subtract(w[1], n, out=dn)
        dn *= c_n
        np.subtract(w[2], S, out=dS)
        if getattr(params, "variant", "original") == "original":
            dS *= inv_tS
        else:
            q = expit((V - V_t) * inv_k)      # tau_S(V) = lo + (tau_S - lo) q
            q *= tau_S - lo
            q += lo
            dS /= q
        return out
    return f


# ----------------------------------------------------------------------------- fixed points
@dataclass(frozen=True)
class FixedPoint:
    """An equilibrium of the ODE: ``state`` (V mV, n, S), Jacobian ``eigenvalues`` (1/s,
    sorted by real part, then imaginary part) and ``stable`` (all real parts < 0)."""

    state: np.ndarray
    eigenvalues: np.ndarray
    stable: bool


def steady_state_current(V: Any, params: HHParams) -> Any:
    """tau dV/dt on the curve n = n_inf(V), S = S_inf(V) (mV); fixed points are its zeros."""
    V = np.asarray(V, dtype=float)
    _, n_inf, S_inf = gates(V, params)
    return rhs(np.stack(np.broadcast_arrays(V, n_inf, S_inf), -1), params)[..., 0] * params.tau


def _steady_state_current_slope(V: np.ndarray, params: HHParams) -> np.ndarray:
    """d/dV of ``steady_state_current`` (dimensionless), by the chain rule through n_inf, S_inf."""
    _, n_inf, S_inf = gates(V, params)
    x = np.stack(np.broadcast_arrays(V, n_inf, S_inf), -1)
    J = jacobian(x, params)
    dn = n_inf * (1 - n_inf) / params.theta_n
    dS = S_inf * (1 - S_inf) / params.theta_S
    return (J[..., 0, 0] + J[..., 0, 1] * dn + J[..., 0, 2] * dS) * params.tau


def _sorted_eigenvalues(J: np.ndarray) -> np.ndarray:
    ev = np.linalg.eigvals(J)
    return ev[np.lexsort((ev.imag, ev.real))]


def _scalar_params(params: HHParams) -> None:
    check_params(params)
    if not params.is_scalar():
        raise ValueError("params must hold one number per field for fixed-point analysis "
                         "(got array-valued fields)")


MIN_FIXED_POINT_GRID = 1001     # about 0.2 mV between samples of f'


def fixed_points(params: HHParams, *, grid: int = 20001) -> list[FixedPoint]:
    """Every fixed point of the ODE, sorted by V.

    On the curve n = n_inf(V), S = S_inf(V) a fixed point is a zero of the steady-state
    current f(V). For V < V_K every current is inward (f > 0) and for V > V_Ca every
    current is outward (f < 0), so all zeros lie in [V_K, V_Ca]. We split that interval at
    the zeros of f' (located on a fine grid, polished with brentq) into pieces on which f
    is monotone, so each piece holds at most one zero; a sign change brackets it exactly.
    ``grid`` (an integer >= :data:`MIN_FIXED_POINT_GRID`) samples f' over [V_K, V_Ca]; a
    coarser grid steps over pairs of zeros of f' and so over fixed points, silently.
    """
    _scalar_params(params)
    if not is_int(grid) or grid < MIN_FIXED_POINT_GRID:
        raise ValueError(f"grid must be an integer >= {MIN_FIXED_POINT_GRID} (points over "
                         f"[V_K, V_Ca]; coarser grids miss fixed points), got {grid!r}")
    lo, hi = float(min(params.V_K, params.V_Ca)), float(max(params.V_K, params.V_Ca))
    Vg = np.linspace(lo, hi, grid)
    f = lambda v: float(steady_state_current(v, params))  # noqa: E731
    df = lambda v: float(_steady_state_current_slope(np.asarray(v), params))  # noqa: E731
    slope = _steady_state_current_slope(Vg, params)
    cuts = [lo]
    for i in np.flatnonzero(np.sign(slope[:-1]) * np.sign(slope[1:]) <= 0):
        if slope[i] == 0:
            cuts.append(Vg[i])
        elif slope[i + 1] != 0:
            cuts.append(optimize.brentq(df, Vg[i], Vg[i + 1], xtol=1e-13))
    cuts.append(hi)
    roots: list[float] = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        fa, fb = f(a), f(b)
        if fa == 0:
            roots.append(a)
        elif fa * fb < 0:
            roots.append(optimize.brentq(f, a, b, xtol=1e-13, rtol=4 * np.finfo(float).eps))
    if f(hi) == 0:
        roots.append(hi)
    roots = sorted(set(roots))
    out = []
    for V in roots:
        _, n, S = gates(np.float64(V), params)
        x = np.array([V, float(n), float(S)])
        ev = _sorted_eigenvalues(jacobian(x, params))
        out.append(FixedPoint(state=x, eigenvalues=ev, stable=bool(np.all(ev.real < 0))))
    return out


def _routh_hurwitz_hopf(J: np.ndarray) -> float:
    """a1 a2 - a3 for the characteristic polynomial l^3 + a1 l^2 + a2 l + a3 of a 3x3 J.

    A pair of eigenvalues crosses the imaginary axis exactly where it changes sign (while
    a2 > 0); unlike max Re(eigenvalue) it is a smooth function of the parameters.
    """
    a1 = -np.trace(J)
    a2 = 0.5 * (np.trace(J) ** 2 - np.trace(J @ J))
    a3 = -np.linalg.det(J)
    return float(a1 * a2 - a3)


def hopf_point(params: HHParams, V_S_bracket: tuple[float, float]) -> float:
    """V_S (mV) in ``V_S_bracket`` where the fixed point's complex pair crosses the imaginary
    axis (Hopf bifurcation), by brentq on the Routh–Hurwitz quantity a1 a2 - a3.

    Requires a model with a single fixed point over the bracket.
    """
    a, b = interval(V_S_bracket, "V_S_bracket")

    def g(vs: float) -> float:
        fps = fixed_points(params.replace(V_S=vs))
        if len(fps) != 1:
            raise ValueError(f"hopf_point needs exactly one fixed point; V_S={vs} has {len(fps)}")
        return _routh_hurwitz_hopf(jacobian(fps[0].state, params.replace(V_S=vs)))

    ga, gb = g(a), g(b)
    if ga * gb > 0:
        raise ValueError(f"no Hopf point in V_S_bracket {V_S_bracket}: a1*a2-a3 has the same "
                         f"sign ({ga:.3g}, {gb:.3g}) at both ends")
    return float(optimize.brentq(g, a, b, xtol=1e-10))


def fast_equilibria(V: Any, params: HHParams) -> tuple[np.ndarray, np.ndarray]:
    """Equilibria of the fast subsystem (V, n) with S frozen: the Z-shaped curve.

    With n = n_inf(V), dV/dt = 0 gives S explicitly as a function of V (mV):
    S(V) = -(g_Ca m_inf(V) (V - V_Ca) + g_K n_inf(V) (V - V_K)) / (g_S (V - V_K)).
    Returns ``(S, stable)`` at the given V values: the frozen S that makes V an equilibrium
    and whether that equilibrium is stable in the 2-D fast subsystem (trace < 0, det > 0
    of the (V, n) block of the Jacobian). V must lie above V_K.
    """
    V = np.asarray(V, dtype=float)
    if np.any(V <= params.V_K):
        raise ValueError(f"V must be > V_K = {params.V_K} mV for the fast-subsystem curve")
    m_inf, n_inf, _ = gates(V, params)
    S = -(params.g_Ca * m_inf * (V - params.V_Ca) + params.g_K * n_inf * (V - params.V_K)) / (
        params.g_S * (V - params.V_K))
    J = jacobian(np.stack([V, n_inf, S], -1), params)[..., :2, :2]
    tr = J[..., 0, 0] + J[..., 1, 1]
    det = J[..., 0, 0] * J[..., 1, 1] - J[..., 0, 1] * J[..., 1, 0]
    return S, (tr < 0) & (det > 0)


# ----------------------------------------------------------------------------- Hopf criticality
def _multilinear(f: Callable, x: Any, dirs: list) -> Any:
    """d^k f(x)[u_1, ..., u_k] for real directions (torch tensors), by nested jvp."""
    from torch.func import jvp

    if not dirs:
        return f(x)
    *rest, last = dirs
    return jvp(lambda y: _multilinear(f, y, rest), (x,), (last,))[1]


def _complex_form(f: Callable, x: Any, zs: list[np.ndarray]) -> np.ndarray:
    """The k-linear form d^k f(x) at complex arguments, expanded into real and imaginary
    parts (it is linear in each argument)."""
    import torch

    total = np.zeros(len(x), dtype=complex)
    for parts in itertools.product((0, 1), repeat=len(zs)):
        dirs = [torch.as_tensor(z.imag if p else z.real, dtype=torch.float64)
                for z, p in zip(zs, parts)]
        val = _multilinear(f, x, dirs).detach().numpy()
        total += (1j ** sum(parts)) * val
    return total


def lyapunov_coefficient(f: Callable, x0: np.ndarray) -> tuple[float, float]:
    """First Lyapunov coefficient l1 and frequency omega (rad/s) at a Hopf point.

    ``f`` maps a torch float64 state (n,) to its time derivative; ``x0`` (n,) is an
    equilibrium whose Jacobian has a pair +-i omega on the imaginary axis. Kuznetsov's
    formula (Elements of Applied Bifurcation Theory, 3rd ed., eq. 3.20), with A q = i omega q,
    A^T p = -i omega p, <q, q> = 1 and <p, q> = 1:

        l1 = Re[<p, C(q,q,q*)> - 2 <p, B(q, A^-1 B(q,q*))> + <p, B(q*, (2 i omega - A)^-1 B(q,q))>]
             / (2 omega),

    B and C being the second and third derivatives of f at x0 (exact, by autograd).
    l1 < 0: supercritical (a small stable cycle is born); l1 > 0: subcritical (an unstable
    cycle surrounds the stable fixed point before the bifurcation).
    """
    import torch
    from torch.func import jacrev

    x = torch.as_tensor(np.asarray(x0, dtype=float), dtype=torch.float64)
    A = jacrev(f)(x).detach().numpy()
    ev, vecs = np.linalg.eig(A)
    cands = np.flatnonzero(ev.imag > 0)
    if cands.size == 0:
        raise ValueError("no complex pair of eigenvalues at x0: not a Hopf point")
    i = cands[np.argmin(np.abs(ev.real[cands]))]
    omega = float(ev[i].imag)
    if abs(ev[i].real) > 1e-6 * max(1.0, abs(ev[i])):
        raise ValueError(f"the complex pair {ev[i]:.4g} is not on the imaginary axis: "
                         "x0 is not at a Hopf point")
    q = vecs[:, i] / np.linalg.norm(vecs[:, i])
    evT, vecsT = np.linalg.eig(A.T)
    p = vecsT[:, np.argmin(np.abs(evT - np.conj(ev[i])))]
    p = p / np.conj(np.vdot(p, q))                     # <p, q> = conj(p) . q = 1
    n = len(q)
    B = lambda u, v: _complex_form(f, x, [u, v])  # noqa: E731
    C = lambda u, v, w: _complex_form(f, x, [u, v, w])  # noqa: E731
    qc = np.conj(q)
    h11 = np.linalg.solve(A, B(q, qc))
    h20 = np.linalg.solve(2j * omega * np.eye(n) - A, B(q, q))
    val = np.vdot(p, C(q, q, qc)) - 2 * np.vdot(p, B(q, h11)) + np.vdot(p, B(qc, h20))
    return float(val.real / (2 * omega)), omega


def first_lyapunov_coefficient(params: HHParams) -> tuple[float, float]:
    """(l1, omega) of the model's fixed point at a Hopf point (``params.V_S`` from
    :func:`hopf_point`); see :func:`lyapunov_coefficient`. omega in rad/s, l1 in the units
    fixed by <q, q> = 1 in the state's own units (mV, 1, 1), so only its sign is
    coordinate-free."""
    fps = fixed_points(params)
    if len(fps) != 1:
        raise ValueError(f"first_lyapunov_coefficient needs exactly one fixed point, got {len(fps)}")
    return lyapunov_coefficient(lambda y: rhs(y, params), fps[0].state)


# ---------------------------------------------------------------------------- the physical box
# n and S are fractions in [0, 1]. Near rest n is about 1e-4, so a learned map's one-step
# error there crosses zero without the run going anywhere; the box lets them stray by
# 0.005 (a quarter of n's spread in the bursting data), no more, so that only a real escape
# counts.
PHYSICAL_SLACK = 0.005
PHYSICAL_BOUNDS = {"V": (-90.0, 40.0), "n": (-PHYSICAL_SLACK, 1.0 + PHYSICAL_SLACK),
                   "S": (-PHYSICAL_SLACK, 1.0 + PHYSICAL_SLACK)}


def physical_samples(X: np.ndarray) -> np.ndarray:
    """Per sample (leading axes of ``X`` (..., 3)): finite and within the bounds."""
    ok = np.isfinite(X).all(axis=-1)
    for j, (lo, hi) in enumerate(PHYSICAL_BOUNDS.values()):
        ok &= (X[..., j] >= lo) & (X[..., j] <= hi)
    return ok


def is_physical(X: np.ndarray) -> np.ndarray:
    """Per trajectory (leading axes of ``X`` (..., T, 3)): finite and within
    ``PHYSICAL_BOUNDS`` (V in mV) at every sample."""
    X = real_array(X, "X")
    if X.ndim < 2 or X.shape[-1] != 3:
        raise ValueError(f"X must have shape (..., T, 3) = (V, n, S) samples, got {X.shape}")
    return physical_samples(X).all(axis=-1)
