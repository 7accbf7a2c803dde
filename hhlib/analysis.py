"""Spikes, bursts and regimes of voltage traces.

A spike is an upward crossing of ``threshold`` (mV), re-armed only after V falls below
``rearm`` (mV), so the small ripples of a burst's plateau are not counted twice. Spike times
are interpolated linearly between samples. A trace is

* ``"rest"`` when it has fewer than two spikes in the window analysed,
* ``"bursting"`` when its inter-spike intervals (ISIs) fall into two groups separated by a
  gap of at least ``gap_ratio`` (the long ISIs are the silent phases),
* ``"tonic"`` otherwise (one group of ISIs: regular spiking).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .model import _real_array

__all__ = ["spike_times", "interspike_intervals", "BurstStats", "burst_statistics",
           "classify_regime", "sweep_statistics", "regime_transition", "REGIMES",
           "MapFixedPoint", "map_jacobian", "map_fixed_points", "default_starts",
           "continue_map_fixed_point", "map_hopf_point", "match_eigenvalues",
           "SPIKE_DETECTION", "spike_detection"]

REGIMES = ("rest", "tonic", "bursting")

# Spike detection per model variant (mV). The bistable variant's spikes are smaller: their
# peaks lie between about -39 and -28 mV and the troughs between them reach only -41.2 mV
# at the end of a burst, so it needs a lower threshold and a re-arm level just above those
# troughs (every oscillation of the active phase counts as a spike).
SPIKE_DETECTION = {"original": {"threshold": -35.0, "rearm": -45.0},
                   "bistable": {"threshold": -40.0, "rearm": -40.9}}


def spike_detection(variant: str) -> dict[str, float]:
    """``threshold`` and ``rearm`` (mV) for :func:`spike_times` in the given model variant."""
    if variant not in SPIKE_DETECTION:
        raise ValueError(f"variant must be one of {tuple(SPIKE_DETECTION)}, got {variant!r}")
    return dict(SPIKE_DETECTION[variant])


def _number(value: Any, name: str, *, low: float | None = None) -> float:
    """``value`` as a finite float (> ``low`` when given); TypeError/ValueError naming it."""
    a = _real_array(value, name)
    if a.ndim != 0:
        raise TypeError(f"{name} must be a single real number, got an array of shape {a.shape}")
    v = float(a)
    if not math.isfinite(v) or (low is not None and not v > low):
        raise ValueError(f"{name} must be a finite number{'' if low is None else f' > {low}'}, "
                         f"got {value!r}")
    return v


def _check_trace(t, V) -> tuple[np.ndarray, np.ndarray]:
    t = _real_array(t, "t")
    V = _real_array(V, "V")
    if t.ndim != 1 or V.shape != t.shape:
        raise ValueError(f"t and V must be 1-D arrays of equal length, got shapes "
                         f"{t.shape} and {V.shape}")
    if t.size < 2 or not np.all(np.diff(t) > 0):
        raise ValueError("t must hold at least two strictly increasing times (s)")
    if not np.all(np.isfinite(V)):
        raise ValueError("V must be finite")
    return t, V


def spike_times(t, V, *, threshold: float = -35.0, rearm: float = -45.0) -> np.ndarray:
    """Times (s) of upward crossings of ``threshold`` mV by V(t), with re-arming below
    ``rearm`` mV (``rearm < threshold``)."""
    t, V = _check_trace(t, V)
    threshold, rearm = _number(threshold, "threshold"), _number(rearm, "rearm")
    if not rearm < threshold:
        raise ValueError(f"rearm ({rearm} mV) must be below threshold ({threshold} mV)")
    up = np.flatnonzero((V[:-1] < threshold) & (V[1:] >= threshold))
    if up.size == 0:
        return np.empty(0)
    down = np.flatnonzero(V < rearm)
    # Keep a crossing only if V went below `rearm` since the previous kept crossing.
    keep, last = [], -1
    for i in up:
        if last < 0 or np.searchsorted(down, last, side="right") < np.searchsorted(down, i + 1):
            keep.append(i)
            last = i
    i = np.asarray(keep)
    frac = (threshold - V[i]) / (V[i + 1] - V[i])
    return t[i] + frac * (t[i + 1] - t[i])


def interspike_intervals(t, V, **kw) -> np.ndarray:
    """Inter-spike intervals (s) of the trace; keywords as in :func:`spike_times`."""
    return np.diff(spike_times(t, V, **kw))


@dataclass(frozen=True)
class BurstStats:
    """Summary of a voltage trace. Times in s; NaN where a quantity is undefined (for
    example burst statistics of tonic spiking, or anything of a resting trace)."""

    regime: str
    n_spikes: int
    isi_mean: float            # mean ISI over all spikes (tonic: the spiking period)
    spikes_per_burst: float    # mean over complete bursts
    burst_period: float        # mean time between the first spikes of consecutive bursts
    silent_phase: float        # mean interval between the last and first spike of bursts
    active_phase: float        # mean time from first to last spike of a burst
    n_bursts: int              # complete bursts (bounded by silent phases on both sides)


def _split_isis(isi: np.ndarray, gap_ratio: float) -> float | None:
    """Threshold (s) separating intra-burst from inter-burst ISIs, or None if the ISIs
    form one group (largest ratio between neighbouring sorted ISIs below ``gap_ratio``)."""
    s = np.sort(isi)
    if s.size < 2 or s[0] <= 0:
        return None
    ratios = s[1:] / s[:-1]
    k = int(np.argmax(ratios))
    if ratios[k] < gap_ratio:
        return None
    return float(np.sqrt(s[k] * s[k + 1]))


def burst_statistics(t, V, *, t_min: float = 0.0, gap_ratio: float = 2.0,
                     threshold: float = -35.0, rearm: float = -45.0) -> BurstStats:
    """Regime and spike/burst statistics of V(t) over ``t >= t_min`` (drop the transient).

    ``gap_ratio`` (> 1) is the smallest ratio between silent-phase and intra-burst ISIs that
    counts as bursting.
    """
    t, V = _check_trace(t, V)
    gap_ratio = _number(gap_ratio, "gap_ratio", low=1.0)
    t_min = _number(t_min, "t_min")
    sel = t >= t_min
    if sel.sum() < 2:
        raise ValueError(f"t_min ({t_min} s) leaves fewer than two samples (t ends at {t[-1]} s)")
    sp = spike_times(t[sel], V[sel], threshold=threshold, rearm=rearm)
    nan = float("nan")
    if sp.size < 2:
        return BurstStats("rest", int(sp.size), nan, nan, nan, nan, nan, 0)
    isi = np.diff(sp)
    cut = _split_isis(isi, gap_ratio)
    if cut is None:
        return BurstStats("tonic", int(sp.size), float(isi.mean()), nan, nan, nan, nan, 0)
    gaps = np.flatnonzero(isi > cut)          # isi[g] separates spike g and g+1
    starts = gaps[:-1] + 1                     # complete bursts: between consecutive gaps
    ends = gaps[1:]
    if starts.size == 0:
        return BurstStats("bursting", int(sp.size), float(isi.mean()), nan, nan,
                          float(isi[gaps].mean()), nan, 0)
    spb = (ends - starts + 1).astype(float)
    first = sp[starts]
    period = float(np.diff(first).mean()) if first.size > 1 else float(sp[ends[0] + 1] - first[0])
    return BurstStats("bursting", int(sp.size), float(isi.mean()), float(spb.mean()), period,
                      float(isi[gaps].mean()), float((sp[ends] - sp[starts]).mean()),
                      int(starts.size))


def classify_regime(t, V, **kw) -> str:
    """``"rest"``, ``"tonic"`` or ``"bursting"``; keywords as in :func:`burst_statistics`."""
    return burst_statistics(t, V, **kw).regime


def sweep_statistics(t, V, *, t_min: float = 0.0, **kw) -> tuple[list[BurstStats],
                                                                  list[np.ndarray]]:
    """Statistics and ISIs (s) of each trace of a sweep: ``V`` of shape (B, len(t)) in mV.

    Returns ``(stats, isis)``, one entry per trace, each over ``t >= t_min``.
    """
    t = _real_array(t, "t")
    V = _real_array(V, "V")
    if t.ndim != 1:
        raise ValueError(f"t must be a 1-D array of times (s), got shape {t.shape}")
    if V.ndim != 2 or V.shape[1] != t.shape[0]:
        raise ValueError(f"V must have shape (B, len(t)) = (B, {t.shape[0]}), got {V.shape}")
    sel = t >= t_min
    spike_kw = {k: kw[k] for k in ("threshold", "rearm") if k in kw}
    stats = [burst_statistics(t, v, t_min=t_min, **kw) for v in V]
    isis = [interspike_intervals(t[sel], v[sel], **spike_kw) for v in V]
    return stats, isis


def regime_transition(V_S, regimes: Sequence[str], before: str = "bursting",
                      after: str = "tonic") -> tuple[float, float]:
    """Bracket (mV) of the switch from ``before`` to ``after`` along an increasing V_S grid:
    the largest V_S with regime ``before`` and the next grid value, which must be ``after``.
    """
    V_S = _real_array(V_S, "V_S")
    if isinstance(regimes, str) or not all(isinstance(r, str) for r in regimes):
        raise TypeError(f"regimes must be a sequence of regime names {REGIMES}, got {regimes!r}")
    for k, v in (("before", before), ("after", after)):
        if v not in REGIMES:
            raise ValueError(f"{k} must be one of {REGIMES}, got {v!r}")
    if V_S.ndim != 1 or len(regimes) != V_S.size or not np.all(np.diff(V_S) > 0):
        raise ValueError("V_S must be an increasing 1-D grid with one regime per value")
    idx = [i for i, r in enumerate(regimes) if r == before]
    if not idx or idx[-1] + 1 >= V_S.size:
        raise ValueError(f"no switch from {before!r} to {after!r} on this grid")
    i = idx[-1]
    if regimes[i + 1] != after:
        raise ValueError(f"after the last {before!r} (V_S = {V_S[i]:.4g} mV) comes "
                         f"{regimes[i + 1]!r}, not {after!r}")
    return float(V_S[i]), float(V_S[i + 1])


# ---------------------------------------------------------------------------- fixed points of maps
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
