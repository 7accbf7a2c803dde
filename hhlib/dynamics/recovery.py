"""Dynamics recovery: fixed points of a learned map, their multipliers and eigenvalues.

A map x_{k+1} = F(x_k, V_S) with time step dt (a trained :class:`hhlib.maps.network.MapNet`, or
anything with the same ``forward``, ``dt`` and ``x_std``) has a fixed point x* = F(x*) where
the ODE has one if it learned the flow; its multipliers mu (eigenvalues of dF/dx) then give
the ODE's eigenvalues through lambda = log(mu) / dt. Fixed points are found by damped Newton
on the autograd Jacobian in float64 from a grid of starts that knows nothing of the ODE's
fixed point, continued along V_S, and the Neimark-Sacker point (the map's Hopf point) is
located where the slow multiplier pair crosses the unit circle.

The comparison with the ODE is variant-agnostic (any :class:`hhlib.ode.model.HHParams`, any map):
:func:`sweep_runner`/:func:`sweep_regimes` run both over a V_S sweep from one state,
:func:`locate_transition` finds and refines the bursting -> tonic switch,
:func:`compare_fixed_points` pairs the ODE's fixed point with the nearest fixed point of
the map and matches their eigenvalues, and :func:`fixed_point_checks` and
:func:`recovery_targets` turn that into :class:`hhlib.targets.Target` rows with one rule for
a missing fixed point (NaN is a miss). Chapter 5's tables, sentences and figures over these
results live beside it, in ``book/_code/ch05.py``.
"""
from __future__ import annotations

import copy
import itertools
import warnings
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np
from scipy.optimize import brentq
from scipy.spatial import cKDTree

from ..checks import (flag, instance, integer, interval, is_int, number, real_array, runs, state,
                      states, vector)
from ..ode.model import HHParams, check_params, fixed_points
from ..ode.spikes import BurstStats, regime_transition, sweep_statistics
from ..targets import Target

# torch (0.9 s to import), scipy.stats (0.25 s) and
# .integrate (numba, 0.15 s) are imported inside the functions that use them: at the top they
# would make this module, 0.45 s with hhlib itself, and every module importing it, slower.

__all__ = ["MapFixedPoint", "map_jacobian", "map_fixed_points", "default_starts", "DOMAIN",
           "continue_map_fixed_point", "map_hopf_point", "match_eigenvalues",
           # ODE against map, along V_S
           "Transition", "sweep_runner", "sweep_regimes", "locate_transition", "first_bursting",
           "BURST_FIELDS", "compare_burst_statistics", "FixedPointComparison",
           "compare_fixed_points", "Branch", "continue_both_ways", "distinct_branches",
           "fold_description", "neimark_sacker_points", "FP_TOL", "pair_with_ode",
           "fixed_point_census", "nearest_to_data_agrees",
           "slow_pair",
           # targets
           "FixedPointChecks", "fixed_point_checks", "worst_at", "agree_up_to",
           "recovery_targets", "data_proximity", "error_in_tolerances", "follows_data",
           "SeedSpread", "seed_spread", "fixed_point_counts"]


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
    x = real_array(x, "x")
    if x.ndim not in (1, 2) or x.shape[-1] != 3 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be finite, of shape (3,) or (k, 3) = (V, n, S), got "
                         f"shape {x.shape}")
    V_S = real_array(V_S, "V_S")
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
    # batch-summed output, (3, k, 3), holds every per-state Jacobian: three backward
    # passes, batched into one (vectorize).
    Js = torch.autograd.functional.jacobian(lambda y: m(y, vs).sum(0), xb, vectorize=True)
    J = Js.permute(1, 0, 2).detach().numpy()
    return J[0] if single else J


def default_starts() -> np.ndarray:
    """Newton starting states (V mV, n, S): a grid that spans and exceeds the region the
    oscillations visit, including points far from any data."""
    grid = np.meshgrid(np.linspace(-75, -15, 7), [0.0005, 0.01, 0.1], np.linspace(0.1, 0.3, 5),
                       indexing="ij")
    return np.stack([g.ravel() for g in grid], axis=-1)


DOMAIN = ((-100.0, 50.0), (-0.05, 1.05), (-0.05, 1.05))


MIN_TOL = 1e-14     # the smallest residual tol of map_fixed_points


def map_fixed_points(net, V_S: float, starts: np.ndarray | None = None, *, tol: float = 1e-10,
                     max_iter: int = 60, dedup: float = 1e-6,
                     domain=DOMAIN, extrapolate: bool = False) -> list[MapFixedPoint]:
    """Fixed points of the map F(x, V_S) = x by damped Newton with the autograd Jacobian.

    ``net`` is any torch module called as ``net(x (B, 3), V_S (B,))`` with a ``dt``
    attribute (a :class:`hhlib.maps.network.MapNet`). Newton runs from every row of ``starts``
    at once (default :func:`default_starts`), halving each step until the residual falls;
    converged points closer than ``dedup`` (relative to the state spread) are merged.
    ``tol`` bounds |F(x) - x| measured in units of the map's state spread (``net.x_std``).
    Points that converge outside ``domain`` ((lo, hi) for V in mV, n and S) are dropped:
    far below V_K every current vanishes and Newton can creep towards V = -infinity.
    A ``V_S`` outside the map's trained range (``net.V_S_range``) warns unless
    ``extrapolate`` says that is meant.
    """
    _check_net(net)
    V_S = number(V_S, "V_S")
    tol = number(tol, "tol", low=0.0)
    if tol < MIN_TOL:
        # float64 residuals of a state of order 1 bottom out near 1e-16: a smaller tol
        # cannot be met, and the points that miss it would be dropped without a word.
        raise ValueError(f"tol must be >= {MIN_TOL:g} (in state spreads; float64 cannot "
                         f"resolve less), got {tol!r}")
    dedup = number(dedup, "dedup", low=0, closed=True)
    integer(max_iter, "max_iter")
    dom = real_array(domain, "domain")
    if dom.shape != (3, 2) or not np.all(dom[:, 0] < dom[:, 1]):
        raise ValueError(f"domain must be three (lo, hi) pairs with lo < hi for V (mV), n and "
                         f"S, got {domain!r}")
    X = _newton_starts(net, np.array([V_S]), starts, extrapolate, stacklevel=3)
    return _fixed_points_at(_as_float64_map(net), np.array([V_S]), X, tol, max_iter, dedup,
                            dom)[0]


def _newton_starts(net, vs: np.ndarray, starts, extrapolate, stacklevel: int) -> np.ndarray:
    """The checked Newton starts (default :func:`default_starts`) of :func:`map_fixed_points`
    at the values ``vs``; warns (for the caller of the public function) when a value lies
    outside the map's trained range and ``extrapolate`` is not set, ``stacklevel`` as in
    :func:`warnings.warn`, counted from here."""
    X = default_starts() if starts is None else states(starts, "starts").copy()
    flag(extrapolate, "extrapolate")
    rng = getattr(net, "V_S_range", None)
    if rng is not None and not extrapolate and (vs.min() < rng[0] or vs.max() > rng[1]):
        # No V_S in the message, so that a continuation across the range warns once.
        warnings.warn(f"V_S outside the trained range [{rng[0]}, {rng[1]}] mV: the map "
                      "extrapolates, and its fixed points there (or their absence) say nothing "
                      "about the model", UserWarning, stacklevel=stacklevel)
    return X


def _fixed_points_at(m, vs: np.ndarray, X0: np.ndarray, tol: float, max_iter: int,
                     dedup: float, dom: np.ndarray) -> list[list[MapFixedPoint]]:
    """:func:`map_fixed_points` of the float64 map ``m`` at every value of ``vs`` (k,)
    from the starts ``X0`` (s, 3), arguments already checked: one damped Newton over all
    k * s (start, V_S) pairs, each pair on its own, so that the map's per-call overhead is
    paid once per iteration for all values. (Which of a fitted polynomial's many fixed
    points a start reaches can change with the last bits of a batched evaluation: its
    Newton basins are fractal.)"""
    import torch
    scale = m.x_std.numpy() if hasattr(m, "x_std") else np.ones(3)
    X = np.tile(X0, (vs.size, 1))
    V = np.repeat(vs.astype(float), X0.shape[0])

    def G(x: np.ndarray, v: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            xt = torch.as_tensor(x)
            return (m(xt, torch.as_tensor(v)) - xt).numpy()

    def norm(g: np.ndarray) -> np.ndarray:
        r = np.linalg.norm(g / scale, axis=-1)
        return np.where(np.isfinite(r), r, np.inf)

    # Newton from far starts can overflow (a fitted polynomial grows fast off the data):
    # such starts get a non-finite residual and are dropped, so NumPy's warnings are noise.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        g = G(X, V)
        r = norm(g)
        steps = 0.5 ** np.arange(12)
        for _ in range(max_iter):
            act = r >= tol
            if not act.any():
                break
            J = _jac(m, X[act], V[act]) - np.eye(3)
            ok = np.isfinite(J).all(axis=(1, 2)) & (np.abs(np.linalg.det(J)) > 1e-300)
            dx = np.zeros((act.sum(), 3))
            dx[ok] = np.linalg.solve(J[ok], -g[act][ok][..., None])[..., 0]
            # Keep the longest step that lowers the residual: the full step first, then
            # halves, each tried only where every longer one failed.
            idx = np.flatnonzero(act)
            x_a, r_a = X[idx], r[idx]
            moved = np.zeros(idx.size, bool)
            pending = np.arange(idx.size)
            for h in steps:
                if not pending.size:
                    break
                trial = x_a[pending] + h * dx[pending]
                gt = G(trial, V[idx[pending]])
                rt = norm(gt)
                better = rt < r_a[pending]
                sel = idx[pending[better]]
                X[sel], g[sel], r[sel] = trial[better], gt[better], rt[better]
                moved[pending[better]] = True
                pending = pending[~better]
            r[idx[~moved]] = np.where(r[idx[~moved]] < tol, r[idx[~moved]], np.inf)  # stuck
    lo, hi = dom.T
    good = (r < tol) & np.all((X >= lo) & (X <= hi), axis=1)
    n = X0.shape[0]
    found: list[list[np.ndarray]] = []
    for i in range(vs.size):
        here: list[np.ndarray] = []
        for x in X[i * n:(i + 1) * n][good[i * n:(i + 1) * n]]:
            if not any(np.all(np.abs(x - y) <= dedup * scale) for y in here):
                here.append(x)
        found.append(sorted(here, key=lambda y: y[0]))
    pts = np.array([x for f in found for x in f]).reshape(-1, 3)
    at = np.repeat(vs.astype(float), [len(f) for f in found])
    if not len(pts):
        return [[] for _ in found]
    Js = _jac(m, pts, at)
    res = norm(G(pts, at))
    out: list[list[MapFixedPoint]] = []
    k = 0
    for f in found:
        here_out = []
        for x in f:
            mu = np.linalg.eigvals(Js[k])
            mu = mu[np.argsort(np.abs(mu))]
            lam = np.log(mu.astype(complex)) / m.dt
            here_out.append(MapFixedPoint(
                state=x, multipliers=mu, eigenvalues=lam, stable=bool(np.all(np.abs(mu) < 1)),
                residual=float(res[k]),
                aliased=bool(np.any((np.abs(mu.imag) < 1e-12) & (mu.real < 0)))))
            k += 1
        out.append(here_out)
    return out


# ---------------------------------------------------------------------------- continuation of map fixed points
def continue_map_fixed_point(net, V_S_grid, x_start, *, extrapolate: bool = False
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Natural continuation of a fixed point of the map ``net`` along ``V_S_grid`` (mV).

    ``V_S_grid`` must be strictly increasing or strictly decreasing; ``x_start`` = (V mV, n,
    S) is a guess for the fixed point at ``V_S_grid[0]``. At every grid value one Newton
    solve (:func:`map_fixed_points` with the single start ``starts=prev[None]``) begins from
    the previous converged state, so the branch followed is the one through ``x_start``;
    choose the grid step small enough that the fixed point moves little between values.

    Returns ``(states, multipliers, converged)``: ``states`` (k, 3) (V mV, n, S), the map's
    ``multipliers`` (k, 3) complex, sorted by modulus, and a boolean mask (k,). Where Newton
    does not converge the row is NaN, ``converged`` is False and the next solve starts again
    from the last converged state. ``extrapolate``: as in :func:`map_fixed_points`.
    """
    grid = vector(V_S_grid, "V_S_grid")
    d = np.diff(grid)
    if grid.size > 1 and not (np.all(d > 0) or np.all(d < 0)):
        raise ValueError("V_S_grid must be strictly increasing or strictly decreasing")
    prev = state(x_start, "x_start")
    k = grid.size
    states = np.full((k, 3), np.nan)
    mults = np.full((k, 3), np.nan, dtype=complex)
    conv = np.zeros(k, dtype=bool)
    for i, v in enumerate(grid):
        fps = map_fixed_points(net, float(v), starts=prev[None], extrapolate=extrapolate)
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


def map_hopf_point(net, bracket, x_start, *, extrapolate: bool = False) -> float:
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
    multiplier (not Neimark–Sacker). ``extrapolate``: as in :func:`map_fixed_points`.
    """
    lo, hi = interval(bracket, "bracket")
    grid = np.linspace(lo, hi, 9)
    states, mults, conv = continue_map_fixed_point(net, grid, x_start, extrapolate=extrapolate)
    if not conv.all():
        raise ValueError(f"the fixed point from x_start could not be continued across bracket "
                         f"{bracket!r} (Newton failed at V_S = {grid[~conv]} mV)")
    solved = dict(zip(grid.tolist(), states))

    def solve(v: float) -> np.ndarray:
        near = min(solved, key=lambda u: abs(u - v))
        fps = map_fixed_points(net, v, starts=solved[near][None], extrapolate=extrapolate)
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
    best = min(itertools.permutations(range(a.size)),
               key=lambda p: float(np.abs(a - b[list(p)]).sum()))
    return b[list(best)]


# ---------------------------------------------------------------------------- ODE against map: sweeps
class Transition(NamedTuple):
    """Bursting -> tonic switch along V_S (mV): ``at`` the midpoint of the refined bracket
    [``lo``, ``hi``]; all NaN where the grid shows no such switch."""

    at: float
    lo: float
    hi: float


def sweep_runner(model, x0, n_steps: int, dt: float | None = None
                 ) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``run(V_S) -> (t (s), V (len(V_S), n_steps + 1) mV)``: one run per value of ``V_S``,
    all from the state ``x0`` = (V mV, n, S), sampled every ``dt`` s.

    ``model`` is :class:`hhlib.ode.model.HHParams` (the ODE, with ``simulate_ensemble``; ``dt``
    required, the map's step so that both are sampled alike) or a trained map (one batched
    ``rollout`` with ``extrapolate=True``: a sweep beyond the trained range is on purpose;
    ``dt`` is the map's own and may be left out).
    """
    x0 = state(x0, "x0")
    integer(n_steps, "n_steps")
    if isinstance(model, HHParams):
        if dt is None:
            raise ValueError("dt (s) is required for the ODE: give the map's time step")
        dt = number(dt, "dt", low=0.0)

        def run_ode(V_S):
            from ..ode.integrate import simulate_ensemble
            vs = _sweep_grid(V_S)
            t, X = simulate_ensemble(model.replace(V_S=vs), np.tile(x0, (len(vs), 1)),
                                     n_steps * dt, dt)
            return t, X[:, :, 0]
        return run_ode
    _check_net(model)
    if dt is not None and number(dt, "dt", low=0.0) != model.dt:
        raise ValueError(f"dt must be the map's own step {model.dt} s (or None), got {dt!r}")

    def run_map(V_S):
        vs = _sweep_grid(V_S)
        Y = model.rollout(np.tile(x0, (len(vs), 1)), vs, n_steps, extrapolate=True)
        return np.arange(n_steps + 1) * model.dt, Y[:, :, 0]
    return run_map


def _sweep_grid(V_S) -> np.ndarray:
    return vector(V_S, "V_S")


def sweep_regimes(run, V_S, t_min: float) -> dict:
    """Run ``run`` (from :func:`sweep_runner`) over the grid ``V_S`` and summarise each run
    after the transient ``t_min`` s: ``{"stats": [BurstStats], "isis": [ISIs (s)],
    "regimes": ["rest" | "bursting" | "tonic" | "diverged"]}``, one entry per value of
    ``V_S``. A run that becomes non-finite (a model that blows up) is ``"diverged"``, with
    no spikes and NaN statistics."""
    if not callable(run):
        raise TypeError(f"run must be callable as run(V_S) -> (t, V), got {type(run).__name__}")
    t_min = number(t_min, "t_min")
    t, V = run(_sweep_grid(V_S))
    ok = np.isfinite(V).all(axis=1)
    found, isis_ok = sweep_statistics(t, V[ok], t_min=t_min) if ok.any() else ([], [])
    nan = float("nan")
    stats = [BurstStats("diverged", 0, nan, nan, nan, nan, nan, 0)] * len(ok)
    isis = [np.empty(0)] * len(ok)
    for i, st, isi in zip(np.flatnonzero(ok), found, isis_ok):
        stats[i], isis[i] = st, isi
    return {"stats": stats, "isis": isis, "regimes": [s.regime for s in stats]}


def locate_transition(run, V_S, regimes, n_fine: int, t_min: float) -> Transition:
    """The bursting -> tonic switch: bracketed on the increasing grid ``V_S`` by ``regimes``
    (``hhlib.ode.spikes.regime_transition``), then bracketed again on ``n_fine`` values inside
    that bracket, run with ``run`` (from :func:`sweep_runner`), transient ``t_min`` s
    dropped. All NaN if either grid shows no such switch: a missing transition is a
    result to report, not an error."""
    integer(n_fine, "n_fine", 3)
    try:
        lo, hi = regime_transition(V_S, regimes)
    except ValueError:
        return Transition(np.nan, np.nan, np.nan)
    fine = np.linspace(lo, hi, n_fine)
    try:
        lo, hi = regime_transition(fine, sweep_regimes(run, fine, t_min)["regimes"])
    except ValueError:
        return Transition(np.nan, np.nan, np.nan)
    return Transition(0.5 * (lo + hi), lo, hi)


def first_bursting(V_S, regimes) -> float:
    """The lowest value of the grid ``V_S`` (mV) whose regime is bursting; NaN if none."""
    vs = _sweep_grid(V_S)
    if len(regimes) != vs.size:
        raise ValueError(f"regimes must hold one regime per V_S value ({vs.size}), got "
                         f"{len(regimes)}")
    regimes = list(regimes)
    return float(vs[regimes.index("bursting")]) if "bursting" in regimes else float("nan")


BURST_FIELDS = (("spikes_per_burst", "spikes per burst"), ("burst_period", "burst period (s)"),
                ("silent_phase", "silent phase (s)"))


def compare_burst_statistics(V_S, stats_ode, stats_map, V_S_range) -> tuple[dict, list]:
    """Burst statistics of the map against the ODE's, where both burst and V_S lies in
    ``V_S_range`` (mV, the trained range): spikes per burst agree within one spike, period
    and silent phase within 10 % (relative to the ODE's).

    Returns ``(counts, rows)``: ``counts`` = ``n_same_regime`` (grid values with equal
    regimes), ``n_both_in`` (both bursting, in range) and ``n_within_<field>`` for each of
    :data:`BURST_FIELDS`; ``rows`` (label, "absolute"/"relative", median error, worst error,
    V_S of the worst (mV), "k of m") for :func:`hhlib.plotting.markdown_table`.
    """
    vs = _sweep_grid(V_S)
    if len(stats_ode) != vs.size or len(stats_map) != vs.size:
        raise ValueError(f"stats_ode and stats_map must hold one BurstStats per V_S value "
                         f"({vs.size}), got {len(stats_ode)} and {len(stats_map)}")
    lo, hi = real_array(V_S_range, "V_S_range")
    reg_o = [s.regime for s in stats_ode]
    reg_m = [s.regime for s in stats_map]
    both = [i for i in range(vs.size) if reg_o[i] == reg_m[i] == "bursting"]
    ins = np.array([lo <= vs[i] <= hi for i in both], dtype=bool)
    counts = {"n_same_regime": int(sum(a == b for a, b in zip(reg_o, reg_m))),
              "n_both_in": int(ins.sum())}
    rows = []
    for f, label in BURST_FIELDS:
        a = np.array([getattr(stats_ode[i], f) for i in both], dtype=float)
        b = np.array([getattr(stats_map[i], f) for i in both], dtype=float)
        spikes = f == "spikes_per_burst"
        err = np.abs(b - a) / (1.0 if spikes else a)
        within = err <= (1.0 if spikes else 0.10)
        if ins.any():
            k = int(np.nanargmax(np.where(ins, err, np.nan)))
            median, w, at = float(np.nanmedian(err[ins])), float(err[k]), float(vs[both[k]])
        else:
            median = w = at = float("nan")
        rows.append((label, "absolute" if spikes else "relative", median, w, at,
                     f"{int(within[ins].sum())} of {int(ins.sum())}"))
        counts[f"n_within_{f}"] = int(within[ins].sum())
    return counts, rows


# ---------------------------------------------------------------------------- ODE against map: fixed points
@dataclass(frozen=True)
class FixedPointComparison:
    """The ODE's fixed point and the nearest fixed point of a map, along a grid of V_S.

    ``V_S`` (k,) mV; ``ode_state``/``map_state`` (k, 3) (V mV, n, S); ``ode_eigenvalues``
    and ``map_eigenvalues`` (k, 3) complex (1/s), the map's (log(mu)/dt) matched to the
    ODE's by :func:`match_eigenvalues`. Where the map has no fixed point its rows are NaN.
    ``n_found`` (k,): how many fixed points the map has; ``n_stable`` (k,): how many of
    them are stable; ``n_aliased``: how many of all those found have a negative real
    multiplier (no real logarithm); ``found``: per value, the states (m, 3) of all of them.
    """

    V_S: np.ndarray
    ode_state: np.ndarray
    ode_eigenvalues: np.ndarray
    map_state: np.ndarray
    map_eigenvalues: np.ndarray
    n_found: np.ndarray
    n_aliased: int
    n_stable: np.ndarray | None = None
    found: tuple = ()


def _state_scale(net) -> np.ndarray:
    s = getattr(net, "x_std", None)
    if s is None:
        return np.ones(3)
    return np.asarray(s.detach().cpu().numpy() if hasattr(s, "detach") else s)


def _map_fixed_points_grid(net, vs: np.ndarray, starts, extrapolate: bool):
    """:func:`map_fixed_points` with its defaults at every value of ``vs`` at once."""
    X = _newton_starts(net, vs, starts, extrapolate, stacklevel=4)
    return _fixed_points_at(_as_float64_map(net), vs, X, 1e-10, 60, 1e-6,
                            np.asarray(DOMAIN, dtype=float))


def compare_fixed_points(net, params, V_S_grid, starts=None, *, ode_index: int = 0,
                         extrapolate: bool = False) -> FixedPointComparison:
    """At each V_S of ``V_S_grid`` (mV): the ODE's fixed point number ``ode_index`` of
    :func:`hhlib.ode.model.fixed_points` (``params`` with that V_S), every fixed point of the map
    ``net`` (:func:`map_fixed_points` from ``starts``, knowing nothing of the ODE's), and
    of those the nearest to the ODE's, distance measured in units of the state spread
    ``net.x_std`` (ones if the map has none). ``extrapolate``: V_S outside the map's
    trained range is meant (no warning)."""
    _check_net(net)
    check_params(params)
    variant = getattr(net, "variant", None)
    if variant is not None and params.variant != variant:
        raise ValueError(f"params must be HHParams of the network's variant {variant!r}, got "
                         f"the {params.variant!r} model")
    if not is_int(ode_index):
        raise TypeError(f"ode_index must be an integer, got {ode_index!r}")
    vs = _sweep_grid(V_S_grid)
    ode_all = [fixed_points(params.replace(V_S=float(v))) for v in vs]
    short = [float(v) for v, f in zip(vs, ode_all) if not -len(f) <= ode_index < len(f)]
    if short:
        raise ValueError(f"ode_index {ode_index} is out of range: the ODE has only "
                         f"{min(len(f) for f in ode_all)} fixed point(s) at V_S = "
                         f"{short[:5]} mV (allowed: 0 .. number of fixed points - 1)")
    ode = [f[ode_index] for f in ode_all]
    found = _map_fixed_points_grid(net, vs, starts, extrapolate)
    scale = _state_scale(net)
    map_state = np.full((vs.size, 3), np.nan)
    map_lam = np.full((vs.size, 3), np.nan, dtype=complex)
    for i, (o, f) in enumerate(zip(ode, found)):
        if f:
            best = min(f, key=lambda p: float(np.linalg.norm((p.state - o.state) / scale)))
            map_state[i] = best.state
            map_lam[i] = match_eigenvalues(o.eigenvalues, best.eigenvalues)
    return FixedPointComparison(
        V_S=vs, ode_state=np.array([o.state for o in ode]),
        ode_eigenvalues=np.array([o.eigenvalues for o in ode]), map_state=map_state,
        map_eigenvalues=map_lam, n_found=np.array([len(f) for f in found]),
        n_aliased=int(sum(p.aliased for f in found for p in f)),
        n_stable=np.array([sum(p.stable for p in f) for f in found]),
        found=tuple(np.array([p.state for p in f]).reshape(-1, 3) for f in found))


class Branch(NamedTuple):
    """One continued fixed-point branch of a map along a V_S grid (in the grid's order):
    ``states`` (k, 3) (V mV, n, S), ``multipliers`` (k, 3) complex, ``converged`` (k,) and
    ``direction``, "up" (continued from the grid's first value) or "down" (from its last)."""

    states: np.ndarray
    multipliers: np.ndarray
    converged: np.ndarray
    direction: str


def continue_both_ways(net, V_S_grid, *, extrapolate: bool = False) -> list[Branch]:
    """Every fixed-point branch of the map along the increasing ``V_S_grid`` that Newton
    finds at its ends, knowing nothing of the ODE: :func:`map_fixed_points` from
    :func:`default_starts` at the first value and at the last, each point found continued
    across the grid (:func:`continue_map_fixed_point`), up from the first value and down
    from the last. A branch with an up and a down continuation appears twice; where the two
    differ, the map's branch folds (:func:`fold_description` says so)."""
    grid = _sweep_grid(V_S_grid)
    if grid.size < 2 or not np.all(np.diff(grid) > 0):
        raise ValueError("V_S_grid must hold at least two strictly increasing values")
    out: list[Branch] = []
    for direction, g in (("up", grid), ("down", grid[::-1])):
        for fp in map_fixed_points(net, float(g[0]), extrapolate=extrapolate):
            st, mu, conv = continue_map_fixed_point(net, g, fp.state, extrapolate=extrapolate)
            if direction == "down":
                st, mu, conv = st[::-1], mu[::-1], conv[::-1]
            out.append(Branch(st, mu, conv, direction))
    return out


def _same_branch(a: Branch, b: Branch, scale) -> bool:
    both = a.converged & b.converged
    return bool(both.any() and np.all(np.abs((a.states[both] - b.states[both])
                                             / np.asarray(scale)) <= 1e-4))


def distinct_branches(branches, scale) -> list[list[int]]:
    """The continuations of :func:`continue_both_ways` grouped into distinct branches: two
    are one branch where they agree within 1e-4 state spreads ``scale`` at every value where
    both converged. Returns the groups as lists of indices into ``branches``."""
    groups: list[list[int]] = []
    for i, b in enumerate(branches):
        for g in groups:
            if _same_branch(branches[g[0]], b, scale):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def fold_description(V_S_grid, branches, scale) -> str:
    """A sentence saying how many fixed points Newton finds at the two ends of ``V_S_grid``,
    how many distinct branches their continuations (:func:`continue_both_ways`) trace, and
    whether every continuation converged at every value; an up continuation that has no
    down partner is a branch that folds (or ends) inside the grid."""
    grid = _sweep_grid(V_S_grid)
    n_up = sum(b.direction == "up" for b in branches)
    n_down = len(branches) - n_up
    groups = distinct_branches(branches, scale)
    full = [all(branches[i].converged.all() for i in g) for g in groups]
    both = [{branches[i].direction for i in g} == {"up", "down"} for g in groups]
    text = (f"Newton from the default starts finds {n_up} fixed point(s) of the network at "
            f"{grid[0]:g} mV and {n_down} at {grid[-1]:g} mV; continued across the line (step "
            f"{grid[1] - grid[0]:.2f} mV), up from the first and down from the last, they "
            f"trace {len(groups)} distinct branch(es)")
    if all(full) and all(both):
        return text + (", each reached from both ends and continued through every value: "
                       "the map has that many fixed points all along the line, and no branch "
                       "folds.")
    n_fold = sum(not b for b in both)
    return text + (f", of which {n_fold} is reached from one end only (it folds or ends "
                   f"inside the line) and {sum(not f for f in full)} lose(s) Newton's "
                   "convergence somewhere: there the map's number of fixed points changes.")


def neimark_sacker_points(net, V_S_grid, branches, *, extrapolate: bool = False
                          ) -> list[tuple[float, int]]:
    """Every Neimark–Sacker point along the continued ``branches`` (:func:`continue_both_ways`
    on the increasing ``V_S_grid``): on each distinct branch (:func:`distinct_branches`),
    wherever max |mu| - 1 of the slow multiplier pair changes sign between neighbouring
    values, :func:`map_hopf_point` refines the crossing from the branch's own state. Returns
    ``(V_S, branch index)`` pairs sorted by V_S; crossings by a real multiplier are left
    out. Nothing here knows the ODE's fixed point or Hopf point."""
    grid = _sweep_grid(V_S_grid)
    found: list[tuple[float, int]] = []
    for g in distinct_branches(branches, _state_scale(net)):
        k = g[0]
        b = branches[k]
        h = np.array([np.abs(_slow_pair(m)).max() - 1.0 if c else np.nan
                      for m, c in zip(b.multipliers, b.converged)])
        for i in np.flatnonzero(np.isfinite(h[:-1]) & np.isfinite(h[1:])
                                & (h[:-1] * h[1:] < 0)):
            try:
                v = map_hopf_point(net, (grid[i], grid[i + 1]), b.states[i],
                                   extrapolate=extrapolate)
            except ValueError:
                continue
            found.append((v, k))
    return sorted(found)


def pair_with_ode(ns_points, hopf_ode: float) -> tuple[float, int | None]:
    """Of the map's Neimark–Sacker points ``ns_points`` ((V_S, branch) pairs of
    :func:`neimark_sacker_points`, found without the ODE), the one nearest the ODE's Hopf
    point ``hopf_ode`` (mV), paired with it only now; ``(nan, None)`` if there are none."""
    return min(ns_points, key=lambda p: abs(p[0] - hopf_ode), default=(float("nan"), None))


def fixed_point_census(cmp: FixedPointComparison) -> str:
    """How many fixed points the map has at how many values of ``cmp``, and how many of them
    are stable, as text."""
    k = cmp.V_S.size
    counts = "; ".join(f"{n} fixed point(s) at {int((cmp.n_found == n).sum())} of {k} values"
                       for n in np.unique(cmp.n_found))
    st = cmp.n_stable if cmp.n_stable is not None else np.zeros(k, int)
    return f"{counts}; stable ones at {int((st > 0).sum())} of {k} values"


def nearest_to_data_agrees(cmp: FixedPointComparison, data, scale) -> int:
    """At how many values of ``cmp`` the map's fixed point nearest the states ``data``
    (..., 3) (distance in state spreads ``scale``), a choice made without the ODE, is the
    one :func:`compare_fixed_points` paired with the ODE's."""
    scale = np.asarray(scale, dtype=float)
    tree = cKDTree(np.asarray(data, dtype=float).reshape(-1, 3) / scale)
    n = 0
    for f, m in zip(cmp.found, cmp.map_state):
        if len(f):
            pick = f[int(np.argmin(tree.query(f / scale)[0]))]
            n += bool(np.all(np.abs(pick - m) <= 1e-9 * scale))
    return n


def slow_pair(lam) -> np.ndarray:
    """The two eigenvalues of smallest modulus of each row of ``lam`` (k, 3): the slow pair
    whose real part crosses zero at a Hopf point."""
    lam = np.asarray(lam, dtype=complex)
    if lam.ndim != 2:
        raise ValueError(f"lam must have shape (k, m), got {lam.shape}")
    return np.array([row[np.argsort(np.abs(row))[:2]] for row in lam]).reshape(-1, 2)


# ---------------------------------------------------------------------------- targets
# Position targets: V* within 0.5 mV, n* within 10 % of the ODE's n*, S* within 0.002.
# n* is compared relative to itself because it is small (3e-4 to 1e-2 on the training
# range): an absolute 0.005 would exceed n* itself at most values. N_FLOOR only keeps the
# relative error finite at n* = 0; it is far below the smallest n* of the ODE on the
# training range, so it never binds there.
FP_TOL = (0.5, 0.10, 0.002)
N_FLOOR = 1e-6
# Eigenvalues: 10 % of |lambda| above 5 1/s, 25 % below, with an absolute floor far below
# the smallest |lambda| on the training range (about 0.1 1/s, the slow eigenvalue): only
# there to keep a lambda = 0 finite.
EIG_FLOOR = 0.005


@dataclass(frozen=True)
class FixedPointChecks:
    """Per value of ``V_S`` (k,): the checks of the map's fixed point against the ODE's.

    ``err`` (k, 3) the position errors in the units of ``tol``: |map - ODE| of V (mV),
    |map - ODE| / ODE of n (relative), |map - ODE| of S (NaN: no fixed point); ``fp_ok``
    every coordinate within ``tol``; ``type_ok`` same number of eigenvalues with Re > 0;
    ``rel_big`` (k, 3) relative eigenvalue error where |lambda_ODE| > 5 1/s, else 0;
    ``score`` (k, 3) eigenvalue error in units of its tolerance (inf: not measurable);
    ``pair_type_ok`` (k, 3) each matched eigenvalue has the ODE's sign of Re and its
    real/complex character; ``eig_ok`` every score <= 1 and every pair of the same type;
    ``char_ok`` same real/complex character.
    """

    V_S: np.ndarray
    tol: np.ndarray
    err: np.ndarray
    fp_ok: np.ndarray
    type_ok: np.ndarray
    big: np.ndarray
    rel_big: np.ndarray
    score: np.ndarray
    eig_ok: np.ndarray
    char_ok: np.ndarray
    map_complex: np.ndarray
    ode_complex: np.ndarray
    pair_type_ok: np.ndarray


def _complex_rows(lam: np.ndarray) -> np.ndarray:
    return (np.abs(lam.imag) > 1e-9).any(axis=1)


def fixed_point_checks(cmp: FixedPointComparison, tol=FP_TOL, where=None) -> FixedPointChecks:
    """The checks of :class:`FixedPointChecks` on the rows of ``cmp`` selected by the mask
    ``where`` (default all), position tolerances ``tol`` = (V in mV, n relative to the
    ODE's n*, S) (default :data:`FP_TOL`).

    An eigenvalue with |lambda| > 5 1/s must agree within 10 % of |lambda|, a smaller one
    within max(0.25 |lambda|, EIG_FLOOR), and each must have the ODE's eigenvalue's sign of
    the real part and real/complex character. One rule for NaN (no fixed point found): it
    fails every check, never passes one."""
    tol = real_array(tol, "tol")
    if tol.shape != (3,) or not np.all(tol > 0) or not tol[1] < 1:
        raise ValueError(f"tol must be 3 positive tolerances (V mV, n relative < 1, S), got "
                         f"{tol!r}")
    sel = np.ones(cmp.V_S.size, bool) if where is None else np.asarray(where, dtype=bool)
    if sel.shape != cmp.V_S.shape or not sel.any():
        raise ValueError(f"where must be a boolean mask of shape {cmp.V_S.shape} selecting at "
                         "least one value")
    err = np.abs(cmp.map_state[sel] - cmp.ode_state[sel])
    err[:, 1] /= np.maximum(np.abs(cmp.ode_state[sel, 1]), N_FLOOR)
    lam_o, lam_n = cmp.ode_eigenvalues[sel], cmp.map_eigenvalues[sel]
    n_pos_o, n_pos_n = (lam_o.real > 0).sum(axis=1), (lam_n.real > 0).sum(axis=1)
    type_ok = (n_pos_o == n_pos_n) & np.isfinite(lam_n).all(axis=1)
    d = np.abs(lam_n - lam_o)
    big = np.abs(lam_o) > 5.0
    tol_lam = np.where(big, 0.10 * np.abs(lam_o), np.maximum(0.25 * np.abs(lam_o), EIG_FLOOR))
    score = np.where(np.isfinite(d), d / tol_lam, np.inf)
    cplx_o, cplx_n = _complex_rows(lam_o), _complex_rows(lam_n)
    pair_type_ok = ((np.sign(lam_o.real) == np.sign(lam_n.real))
                    & ((np.abs(lam_o.imag) > 1e-9) == (np.abs(lam_n.imag) > 1e-9))
                    & np.isfinite(lam_n))
    return FixedPointChecks(
        V_S=cmp.V_S[sel], tol=tol, err=err,
        fp_ok=np.all(np.nan_to_num(err, nan=np.inf) <= tol, axis=1), type_ok=type_ok,
        big=big, rel_big=np.where(big, d / np.abs(lam_o), 0.0), score=score,
        eig_ok=np.all(score <= 1, axis=1) & pair_type_ok.all(axis=1), char_ok=cplx_o == cplx_n,
        map_complex=cplx_n, ode_complex=cplx_o, pair_type_ok=pair_type_ok)


def worst_at(values, V_S) -> tuple[float, float]:
    """(worst value, V_S where it occurs) of ``values`` (k, ...) along ``V_S`` (k,), NaN
    counting as inf (a miss) as in :func:`hhlib.targets.worst`."""
    v = np.asarray(values, dtype=float)
    # Not np.nan_to_num(v, nan=np.inf): that also turns an inf already there (an eigenvalue
    # score that could not be measured) into the largest finite float.
    v = np.where(np.isnan(v), np.inf, v)
    vs = real_array(V_S, "V_S")
    if v.ndim < 1 or v.shape[0] != vs.size or v.size == 0:
        raise ValueError(f"values must have V_S's length {vs.size} along its first axis, got "
                         f"shape {v.shape}")
    k = np.unravel_index(int(np.argmax(v)), v.shape)[0]
    return float(v.max()), float(vs[k])


def agree_up_to(V_S, ok) -> float:
    """Largest value of the increasing grid ``V_S`` such that ``ok`` holds at every value
    from the first up to it; NaN if it fails at the first."""
    vs, ok = _sweep_grid(V_S), np.asarray(ok, dtype=bool)
    if ok.shape != vs.shape:
        raise ValueError(f"ok must have the shape of V_S {vs.shape}, got {ok.shape}")
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        return float(vs[-1])
    return float(vs[bad[0] - 1]) if bad[0] > 0 else float("nan")


def recovery_targets(transition_ode: float, transition_map: float, checks: FixedPointChecks,
                     limit: float = 0.5) -> tuple[list, list[str]]:
    """The targets of dynamics recovery, as :class:`hhlib.targets.Target` (names
    ``transition``, ``V*``, ``n*``, ``S*``, ``type``, ``eig_big``, ``eig_small``), each
    the worst case over ``checks`` (NaN counts as a miss), and for each where (V_S, mV)
    that worst case occurs, as text for the table."""
    d = abs(float(transition_map) - float(transition_ode))
    ts = [Target("transition", f"\\|ΔV_S\\| ≤ {limit:g} mV", d, bool(np.isfinite(d) and d <= limit),
                 f"{d:.3f} mV")]
    where = [f"ODE {transition_ode:.2f}, net {transition_map:.2f}"]
    for j, name in enumerate(("V*", "n*", "S*")):
        w, at = worst_at(checks.err[:, j], checks.V_S)
        t = checks.tol[j]
        req, shown = ((f"≤ {100 * t:g} % of the ODE's", f"{100 * w:.1f} %") if j == 1 else
                      (f"≤ {t:g} mV", f"{w:.3f} mV") if j == 0 else (f"≤ {t:g}", f"{w:.4f}"))
        ts.append(Target(name, req, w, bool(w <= t), shown))
        where.append(f"{at:.2f}")
    bad = checks.V_S[~checks.type_ok]
    n_bad = int((~checks.type_ok).sum())
    ts.append(Target("type", "identical at every value", float(n_bad), n_bad == 0,
                     f"{n_bad} of {checks.V_S.size} differ"))
    where.append(", ".join(f"{v:.2f}" for v in bad) if bad.size else "–")
    w_big, at_big = worst_at(checks.rel_big, checks.V_S)
    w_small, at_small = worst_at(np.where(~checks.big, checks.score, 0.0), checks.V_S)
    n_pt = int((~checks.pair_type_ok.all(axis=1)).sum())
    pt_bad = checks.V_S[~checks.pair_type_ok.all(axis=1)]
    ts.append(Target("eig_big", "≤ 10 % relative", w_big, w_big <= 0.10, f"{100 * w_big:.1f} %"))
    ts.append(Target("eig_small", f"≤ max(25 %, {EIG_FLOOR:g} 1/s)", w_small, w_small <= 1.0,
                     f"{w_small:.2f} × tolerance"))
    ts.append(Target("eig_type", "identical at every value", float(n_pt), n_pt == 0,
                     f"{n_pt} of {checks.V_S.size} differ"))
    where += [f"{at_big:.2f}", f"{at_small:.2f}",
              ", ".join(f"{v:.2f}" for v in pt_bad[:4]) + (" …" if pt_bad.size > 4 else "")
              if pt_bad.size else "–"]
    return ts, where


# ---------------------------------------------------------------------------- accuracy and data
def data_proximity(trajectories, traj_V_S, params, V_S_grid, scale) -> np.ndarray:
    """How close the training data come to the ODE's fixed point, at each V_S of
    ``V_S_grid`` (k,) mV: the smallest distance between a training trajectory
    (``trajectories`` (m, T, 3), one per value of ``traj_V_S`` (m,) mV) and the ODE's fixed
    point at that trajectory's own V_S, taken from the trajectory whose V_S is nearest the
    grid value. Distances in units of ``scale`` (3,) per variable (V mV, n, S), so that
    the three count alike. Returns (k,)."""
    X, vs = runs(trajectories, traj_V_S, "trajectories", "traj_V_S")
    if X.shape[0] < 1 or not np.all(np.isfinite(vs)):
        raise ValueError(f"trajectories must hold at least one run, and traj_V_S finite values "
                         f"(mV), got {vs!r}"[:300])
    check_params(params)
    sc = state(scale, "scale", positive=True)
    grid = _sweep_grid(V_S_grid)
    fp = np.stack([fixed_points(params.replace(V_S=float(v)))[0].state for v in vs])
    closest = np.linalg.norm((X - fp[:, None]) / sc, axis=-1).min(axis=1)       # (m,)
    return closest[np.abs(grid[:, None] - vs[None]).argmin(axis=1)]


def error_in_tolerances(checks: FixedPointChecks) -> np.ndarray:
    """Per V_S of ``checks``: the worst of the fixed point's coordinate errors in units of
    their tolerances (1 = at the target); inf where the map has no fixed point."""
    instance(checks, FixedPointChecks, "checks")
    e = checks.err / checks.tol
    return np.where(np.isnan(e), np.inf, e).max(axis=1)


def follows_data(distance, error, alpha: float = 0.05) -> dict:
    """Does the error grow with the distance of the data? Spearman's rank correlation of
    ``error`` (k,) against ``distance`` (k,) (ranks: an inf error is the largest), its
    two-sided p-value, and a sentence that states the answer from them."""
    from scipy.stats import spearmanr
    d = real_array(distance, "distance")
    e = real_array(error, "error")
    if d.ndim != 1 or d.shape != e.shape or d.size < 3:
        raise ValueError(f"distance and error must be 1-D of the same length >= 3, got "
                         f"{d.shape} and {e.shape}")
    if np.isnan(d).any() or np.isnan(e).any():
        raise ValueError("distance and error must not hold NaN (an unmeasured error is inf)")
    alpha = number(alpha, "alpha")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    res = spearmanr(d, e)
    rho, p = float(res.statistic), float(res.pvalue)
    if p < alpha and rho > 0:
        text = ("the error grows with the distance of the data: where the training "
                "trajectories pass farther from the fixed point, the map's fixed point is "
                "farther from the ODE's")
    elif p < alpha:
        text = ("the error shrinks as the data move away from the fixed point, the opposite "
                "of what the distance alone would predict")
    else:
        text = ("the error does not follow the distance of the data: no rank correlation "
                f"significant at the {100 * alpha:g} % level")
    return {"rho": rho, "p": p, "n": int(d.size), "text": text}


# ---------------------------------------------------------------------------- seed to seed
@dataclass(frozen=True)
class SeedSpread:
    """The fixed point of several maps trained alike but from different seeds, against the
    ODE's, along ``V_S`` (k,) mV. ``states`` (m, k, 3) and ``eigenvalues`` (m, k, 3) per map
    (NaN where a map has no fixed point; eigenvalues matched to the ODE's);
    ``mean``/``std`` over the maps (k, 3), real and imaginary parts apart for eigenvalues;
    ``covered`` (k, 3): the ODE's coordinate lies within the maps' range [min, max];
    ``lam_covered`` (k, 3): the ODE's eigenvalue lies within the range of the maps' real
    parts and of their imaginary parts."""

    V_S: np.ndarray
    ode_state: np.ndarray
    ode_eigenvalues: np.ndarray
    states: np.ndarray
    eigenvalues: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    lam_mean: np.ndarray
    lam_std: np.ndarray
    covered: np.ndarray
    lam_covered: np.ndarray


def _within(x, lo, hi, slack):
    return (x >= lo - slack) & (x <= hi + slack)


def seed_spread(comparisons) -> SeedSpread:
    """Combine :func:`compare_fixed_points` results of m >= 2 maps on the same grid of V_S
    into a :class:`SeedSpread`. A map with no fixed point at a value makes that value's
    spread NaN there (and not covered): the members disagree about whether it exists."""
    cmps = list(comparisons)
    if len(cmps) < 2 or not all(isinstance(c, FixedPointComparison) for c in cmps):
        raise ValueError("comparisons must hold at least two FixedPointComparison results")
    if not all(c.V_S.shape == cmps[0].V_S.shape and np.array_equal(c.V_S, cmps[0].V_S)
               for c in cmps):
        raise ValueError("comparisons must share one grid of V_S")
    X = np.stack([c.map_state for c in cmps])
    L = np.stack([c.map_eigenvalues for c in cmps])
    ode, lam = cmps[0].ode_state, cmps[0].ode_eigenvalues
    # A hair of slack so that an ODE value equal to a member's (to rounding) counts as inside.
    tiny = 1e-12 * (1 + np.abs(ode))
    covered = _within(ode, X.min(0), X.max(0), tiny)
    lam_cov = (_within(lam.real, L.real.min(0), L.real.max(0), 1e-12 * (1 + np.abs(lam)))
               & _within(lam.imag, L.imag.min(0), L.imag.max(0), 1e-12 * (1 + np.abs(lam))))
    return SeedSpread(V_S=cmps[0].V_S, ode_state=ode, ode_eigenvalues=lam, states=X,
                      eigenvalues=L, mean=X.mean(0), std=X.std(0, ddof=1),
                      lam_mean=L.real.mean(0) + 1j * L.imag.mean(0),
                      lam_std=L.real.std(0, ddof=1) + 1j * L.imag.std(0, ddof=1),
                      covered=covered, lam_covered=lam_cov)


def fixed_point_counts(cmp: FixedPointComparison, tol, where=None) -> dict[str, int]:
    """Over the values of ``cmp`` selected by ``where`` (default all): at how many the map
    has exactly one fixed point (``one``), meets the position targets ``tol`` (``fp_ok``)
    and has all eigenvalues within tolerance (``eig_ok``; :func:`fixed_point_checks`)."""
    checks = fixed_point_checks(cmp, tol, where)
    sel = np.ones(cmp.V_S.size, bool) if where is None else np.asarray(where, dtype=bool)
    return {"one": int((cmp.n_found[sel] == 1).sum()), "fp_ok": int(checks.fp_ok.sum()),
            "eig_ok": int(checks.eig_ok.sum())}
