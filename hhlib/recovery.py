"""Dynamics recovery: fixed points of a learned map, their multipliers and eigenvalues.

A map x_{k+1} = F(x_k, V_S) with time step dt (a trained :class:`hhlib.network.MapNet`, or
anything with the same ``forward``, ``dt`` and ``x_std``) has a fixed point x* = F(x*) where
the ODE has one if it learned the flow; its multipliers mu (eigenvalues of dF/dx) then give
the ODE's eigenvalues through lambda = log(mu) / dt. Fixed points are found by damped Newton
on the autograd Jacobian in float64 from a grid of starts that knows nothing of the ODE's
fixed point, continued along V_S, and the Neimark-Sacker point (the map's Hopf point) is
located where the slow multiplier pair crosses the unit circle.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import _real_array
from .spikes import _number

__all__ = ["MapFixedPoint", "map_jacobian", "map_fixed_points", "default_starts", "DOMAIN",
           "continue_map_fixed_point", "map_hopf_point", "match_eigenvalues"]


@dataclass(frozen=True)
class MapFixedPoint:
    """A fixed point x* = F(x*) of a map with time step ``dt`` (s).

    ``multipliers`` are the eigenvalues mu of dF/dx at x*, sorted by modulus;
    ``eigenvalues`` the implied ODE eigenvalues lambda = log(mu) / dt (principal branch, 1/s).
    A negative real mu has no real logarithm: it gets Im(lambda) = pi / dt, a flip that a
    flow cannot produce, and ``aliased`` is True. ``stable``: every |mu| < 1.
    """

    state: np.ndarray
    multipliers: np.ndarray
    eigenvalues: np.ndarray
    stable: bool
    residual: float
    aliased: bool


def _as_float64_map(net):
    import copy

    import torch
    m = copy.deepcopy(net).to(torch.float64)
    m.eval()
    return m


def _check_net(net: Any) -> None:
    import torch
    if not isinstance(net, torch.nn.Module) or not hasattr(net, "dt"):
        raise TypeError(f"net must be a torch map module with a dt attribute (a MapNet), got "
                        f"{type(net).__name__}")
    if next(net.parameters(), None) is None:
        raise TypeError("net must have parameters (a MapNet)")


def map_jacobian(net, x, V_S) -> np.ndarray:
    """dF/dx of a torch map ``net(x (B, 3), V_S (B,))`` by autograd in float64: ``x`` of
    shape (3,) gives (3, 3), ``x`` of shape (k, 3) with ``V_S`` scalar or (k,) gives
    (k, 3, 3)."""
    import torch
    _check_net(net)
    x = _real_array(x, "x")
    if x.ndim not in (1, 2) or x.shape[-1] != 3 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be finite, of shape (3,) or (k, 3) = (V, n, S), got "
                         f"shape {x.shape}")
    V_S = _real_array(V_S, "V_S")
    k = 1 if x.ndim == 1 else x.shape[0]
    if V_S.shape not in ((), (k,)) or not np.all(np.isfinite(V_S)):
        raise ValueError(f"V_S must be a finite scalar or have shape ({k},) to match x, got "
                         f"shape {V_S.shape}")
    m = net if next(net.parameters()).dtype == torch.float64 else _as_float64_map(net)
    return _jac(m, x, V_S)


def _jac(m, x: np.ndarray, V_S) -> np.ndarray:
    """:func:`map_jacobian` of a float64 map, arguments already checked."""
    import torch
    xt = torch.as_tensor(x)
    single = xt.ndim == 1
    xb = xt[None] if single else xt
    vs = torch.as_tensor(np.broadcast_to(np.asarray(V_S, dtype=float), (xb.shape[0],)).copy())
    # Row b of the output depends on row b of the input only, so the Jacobian of the
    # batch-summed output, (3, k, 3), holds every per-state Jacobian in three passes.
    Js = torch.autograd.functional.jacobian(lambda y: m(y, vs).sum(0), xb)
    J = Js.permute(1, 0, 2).detach().numpy()
    return J[0] if single else J


def default_starts() -> np.ndarray:
    """Newton starting states (V mV, n, S): a grid that spans and exceeds the region the
    oscillations visit, including points far from any data."""
    grid = np.meshgrid(np.linspace(-75, -15, 7), [0.0005, 0.01, 0.1], np.linspace(0.1, 0.3, 5),
                       indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=-1)


DOMAIN = ((-100.0, 50.0), (-0.05, 1.05), (-0.05, 1.05))


def map_fixed_points(net, V_S: float, starts: np.ndarray | None = None, *, tol: float = 1e-10,
                     max_iter: int = 60, dedup: float = 1e-6,
                     domain=DOMAIN) -> list[MapFixedPoint]:
    """Fixed points of the map F(x, V_S) = x by damped Newton with the autograd Jacobian.

    ``net`` is any torch module called as ``net(x (B, 3), V_S (B,))`` with a ``dt``
    attribute (a :class:`hhlib.network.MapNet`). Newton runs from every row of ``starts``
    at once (default :func:`default_starts`), halving each step until the residual falls;
    converged points closer than ``dedup`` (relative to the state spread) are merged.
    ``tol`` bounds |F(x) - x| measured in units of the map's state spread (``net.x_std``).
    Points that converge outside ``domain`` ((lo, hi) for V in mV, n and S) are dropped:
    far below V_K every current vanishes and Newton can creep towards V = -infinity.
    """
    import torch
    _check_net(net)
    V_S = _number(V_S, "V_S")
    tol = _number(tol, "tol", low=0.0)
    dedup = _number(dedup, "dedup")
    if dedup < 0:
        raise ValueError(f"dedup must be >= 0, got {dedup!r}")
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)) \
            or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    dom = _real_array(domain, "domain")
    if dom.shape != (3, 2) or not np.all(dom[:, 0] < dom[:, 1]):
        raise ValueError(f"domain must be three (lo, hi) pairs with lo < hi for V (mV), n and "
                         f"S, got {domain!r}")
    X = default_starts() if starts is None else _real_array(starts, "starts").copy()
    if X.ndim != 2 or X.shape[1] != 3 or X.shape[0] < 1:
        raise ValueError(f"starts must have shape (k >= 1, 3), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("starts must be finite")
    rng = getattr(net, "V_S_range", None)
    if rng is not None and not rng[0] <= V_S <= rng[1]:
        # No V_S in the message, so that a continuation across the range warns once.
        warnings.warn(f"V_S outside the trained range [{rng[0]}, {rng[1]}] mV: the map "
                      "extrapolates, and its fixed points there (or their absence) say nothing "
                      "about the model", UserWarning, stacklevel=2)
    m = _as_float64_map(net)
    scale = m.x_std.numpy() if hasattr(m, "x_std") else np.ones(3)

    def G(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            xt = torch.as_tensor(x)
            return (m(xt, torch.full((x.shape[0],), float(V_S), dtype=torch.float64))
                    - xt).numpy()

    def norm(g: np.ndarray) -> np.ndarray:
        r = np.linalg.norm(g / scale, axis=-1)
        return np.where(np.isfinite(r), r, np.inf)

    g = G(X)
    r = norm(g)
    steps = 0.5 ** np.arange(12)
    for _ in range(max_iter):
        act = r >= tol
        if not act.any():
            break
        J = _jac(m, X[act], V_S) - np.eye(3)
        ok = np.isfinite(J).all(axis=(1, 2)) & (np.abs(np.linalg.det(J)) > 1e-300)
        dx = np.zeros((act.sum(), 3))
        dx[ok] = np.linalg.solve(J[ok], -g[act][ok][..., None])[..., 0]
        # Try every step length at once; keep the longest that lowers the residual.
        trial = X[act][None] + steps[:, None, None] * dx[None]
        gt = G(trial.reshape(-1, 3)).reshape(len(steps), -1, 3)
        rt = norm(gt)
        better = rt < r[act][None]
        first = np.where(better.any(0), better.argmax(0), -1)
        idx = np.flatnonzero(act)
        moved = first >= 0
        X[idx[moved]] = trial[first[moved], np.flatnonzero(moved)]
        g[idx[moved]] = gt[first[moved], np.flatnonzero(moved)]
        r[idx[moved]] = rt[first[moved], np.flatnonzero(moved)]
        r[idx[~moved]] = np.where(r[idx[~moved]] < tol, r[idx[~moved]], np.inf)  # stuck
    found: list[np.ndarray] = []
    lo, hi = dom.T
    inside = np.all((X >= lo) & (X <= hi), axis=1)
    for x in X[(r < tol) & inside]:
        if not any(np.all(np.abs(x - y) <= dedup * scale) for y in found):
            found.append(x)
    out = []
    for x in sorted(found, key=lambda y: y[0]):
        mu = np.linalg.eigvals(_jac(m, x, V_S))
        mu = mu[np.argsort(np.abs(mu))]
        lam = np.log(mu.astype(complex)) / m.dt
        out.append(MapFixedPoint(state=x, multipliers=mu, eigenvalues=lam,
                                 stable=bool(np.all(np.abs(mu) < 1)),
                                 residual=float(norm(G(x[None]))[0]),
                                 aliased=bool(np.any((np.abs(mu.imag) < 1e-12) & (mu.real < 0)))))
    return out


# ---------------------------------------------------------------------------- continuation of map fixed points
def _check_x_start(x_start) -> np.ndarray:
    x = np.asarray(x_start, dtype=float)
    if x.shape != (3,) or not np.all(np.isfinite(x)):
        raise ValueError(f"x_start must be 3 finite numbers (V mV, n, S), got {x_start!r}")
    return x


def continue_map_fixed_point(net, V_S_grid, x_start) -> tuple[np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    """Natural continuation of a fixed point of the map ``net`` along ``V_S_grid`` (mV).

    ``V_S_grid`` must be strictly increasing or strictly decreasing; ``x_start`` = (V mV, n,
    S) is a guess for the fixed point at ``V_S_grid[0]``. At every grid value one Newton
    solve (:func:`map_fixed_points` with the single start ``starts=prev[None]``) begins from
    the previous converged state, so the branch followed is the one through ``x_start``;
    choose the grid step small enough that the fixed point moves little between values.

    Returns ``(states, multipliers, converged)``: ``states`` (k, 3) (V mV, n, S), the map's
    ``multipliers`` (k, 3) complex, sorted by modulus, and a boolean mask (k,). Where Newton
    does not converge the row is NaN, ``converged`` is False and the next solve starts again
    from the last converged state.
    """
    grid = np.asarray(V_S_grid, dtype=float)
    if grid.ndim != 1 or grid.size < 1:
        raise ValueError(f"V_S_grid must be a non-empty 1-D array of V_S values (mV), "
                         f"got shape {grid.shape}")
    if not np.all(np.isfinite(grid)):
        raise ValueError("V_S_grid must be finite")
    d = np.diff(grid)
    if grid.size > 1 and not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError("V_S_grid must be strictly increasing or strictly decreasing")
    prev = _check_x_start(x_start)
    k = grid.size
    states = np.full((k, 3), np.nan)
    mults = np.full((k, 3), np.nan, dtype=complex)
    conv = np.zeros(k, dtype=bool)
    for i, v in enumerate(grid):
        fps = map_fixed_points(net, float(v), starts=prev[None])
        if not fps:
            continue
        f = min(fps, key=lambda p: float(np.linalg.norm(p.state - prev)))
        states[i], mults[i], conv[i] = f.state, f.multipliers, True
        prev = f.state.copy()
    return states, mults, conv


def _slow_pair(mu: np.ndarray) -> np.ndarray:
    """The multiplier pair that undergoes a Neimark–Sacker bifurcation: the complex-conjugate
    pair if there is one, otherwise (all real) the two multipliers nearest to 1."""
    mu = np.asarray(mu, dtype=complex)
    cplx = np.abs(mu.imag) > 1e-12 * np.maximum(1.0, np.abs(mu))
    if cplx.sum() >= 2:
        return mu[cplx]
    return mu[np.argsort(np.abs(mu - 1))[:2]]


def map_hopf_point(net, bracket, x_start) -> float:
    """V_S (mV) in ``bracket`` where the map's complex multiplier pair crosses the unit circle
    (a Neimark–Sacker bifurcation, the map's image of the flow's Hopf point, since
    |mu| = exp(Re(lambda) dt)).

    brentq on h(V_S) = max |mu| over the complex pair - 1, the fixed point being continued
    from ``x_start`` (a guess for the fixed point at ``bracket[0]``): first along a coarse
    grid across the bracket (:func:`continue_map_fixed_point`), then every evaluation's
    Newton solve starts from the nearest V_S already solved. Where the pair is real (at a
    bracket end, say), h uses the two multipliers nearest to 1, which is continuous through
    the point where the pair meets the real axis. Raises ``ValueError`` if h has the same
    sign at both ends, if the continuation fails, or if the crossing is by a real
    multiplier (not Neimark–Sacker).
    """
    b = np.asarray(bracket, dtype=float)
    if b.shape != (2,) or not np.all(np.isfinite(b)) or not b[0] < b[1]:
        raise ValueError(f"bracket must be (low, high) in mV with low < high, got {bracket!r}")
    x0 = _check_x_start(x_start)
    lo, hi = float(b[0]), float(b[1])
    grid = np.linspace(lo, hi, 9)
    states, mults, conv = continue_map_fixed_point(net, grid, x0)
    if not conv.all():
        raise ValueError(f"the fixed point from x_start could not be continued across bracket "
                         f"{bracket!r} (Newton failed at V_S = {grid[~conv]} mV)")
    solved = dict(zip(grid.tolist(), states))

    def solve(v: float) -> np.ndarray:
        near = min(solved, key=lambda u: abs(u - v))
        fps = map_fixed_points(net, v, starts=solved[near][None])
        if not fps:
            raise ValueError(f"Newton did not converge at V_S = {v} mV while locating the "
                             "Neimark–Sacker point")
        solved[v] = fps[0].state
        return fps[0].multipliers

    def h(v: float) -> float:
        return float(np.abs(_slow_pair(solve(float(v)))).max() - 1.0)

    ha = float(np.abs(_slow_pair(mults[0])).max() - 1.0)
    hb = float(np.abs(_slow_pair(mults[-1])).max() - 1.0)
    if ha * hb > 0:
        raise ValueError(f"no Neimark–Sacker point in bracket {bracket!r}: max |mu| - 1 of the "
                         f"slow multiplier pair has the same sign ({ha:.3g}, {hb:.3g}) at "
                         "both ends")
    from scipy.optimize import brentq
    root = float(brentq(h, lo, hi, xtol=1e-10, rtol=4 * np.finfo(float).eps))
    pair = _slow_pair(solve(root))
    if np.all(np.abs(pair.imag) <= 1e-12):
        raise ValueError(f"the crossing at V_S = {root:.6g} mV is by a real multiplier "
                         "(fold or flip), not a complex pair (Neimark–Sacker)")
    return root


def match_eigenvalues(a, b) -> np.ndarray:
    """``b`` reordered so that ``b_out[i]`` pairs with ``a[i]``: the permutation with the
    smallest total distance sum_i |a[i] - b[p(i)]| (all permutations are tried; the model
    has 3 eigenvalues, so 6). Accepts real or complex arrays of equal length 1 to 8;
    returns a complex array."""
    a = np.asarray(a, dtype=complex)
    b = np.asarray(b, dtype=complex)
    if a.ndim != 1 or not 1 <= a.size <= 8:
        raise ValueError(f"a must be a 1-D array of 1 to 8 eigenvalues, got shape {a.shape}")
    if b.shape != a.shape:
        raise ValueError(f"b must have the same shape as a {a.shape}, got {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("a and b must be finite")
    import itertools
    best = min(itertools.permutations(range(a.size)),
               key=lambda p: float(np.abs(a - b[list(p)]).sum()))
    return b[list(best)]
