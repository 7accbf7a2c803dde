"""Bistability of the model's variant: where a stable rest state and bursting coexist.

The measurements that do not depend on the variant (runners for the ODE and a map,
continuation of the bursting state, basins) live in :mod:`hhlib.dynamics.attractors`; this module
holds what the bistability chapter adds on top of them:

* the ODE's fixed-point branch and Hopf point (:func:`fixed_point_branch`,
  :func:`locate_hopf`, :func:`pair_beyond_hopf`) and the bistable window's lower edge,
  where continuation loses the bursting state (:func:`lower_bursting_edge`);
* the window's extent in a parameter plane (:func:`bistable_region`);
* checks that a dataset holds bursting only (:func:`rest_free_check`);
* the network map against the ODE: fixed points and eigenvalues
  (:func:`compare_map_branch`, :func:`eigenvalue_rows`), coexistence
  (:func:`coexistence`), basins on a slice (:func:`basin_slice`), and the chapter's target
  rows (:func:`bistability_targets`).

The chapter's figures are in its companion, ``book/_code/ch06.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attractors import (ContinuationStep, Runner, bursting_edge, continue_bursting,
                         end_labels, oscillating)
from ..checks import instance, integer, interval, state as check_state, vector
from ..ode.data import Dataset
from ..ode.integrate import simulate_ensemble
from ..ode.model import (HHParams, check_params, first_lyapunov_coefficient, fixed_points, gates,
                         hopf_point)
from .recovery import _state_scale, map_fixed_points, match_eigenvalues
from ..ode.spikes import spike_detection, spike_times
from ..targets import Target, worst

__all__ = ["bistable_region", "FixedPointBranch", "fixed_point_branch", "HopfPoint",
           "hopf_kind", "locate_hopf", "pair_beyond_hopf", "BurstingEdge",
           "lower_bursting_edge", "rest_free_check", "map_fixed_point_near",
           "MapBranchComparison", "compare_map_branch", "eigenvalue_rows", "Coexistence",
           "coexistence", "basin_slice", "bistability_targets"]

# ---------------------------------------------------------------------------- the ODE
def bistable_region(params: HHParams, V_S_grid, field: str, values, x_burst, t_end: float,
                    window: float, *, rtol: float = 1e-7, atol: float = 1e-9,
                    progress: bool = False) -> dict[str, np.ndarray]:
    """Sweep a plane of the ODE spanned by ``field`` (its ``values``, k of them) and V_S: the
    fixed point's stability, and whether a trajectory started at ``x_burst`` still
    oscillates after ``t_end`` s, all grid points in one ``simulate_ensemble`` call.
    ``V_S_grid`` (mV) is one row (m,) shared by every value, or one row per value (k, m).
    Returns ``V_S`` (k, m) and boolean arrays ``stable``, ``oscillating`` and ``bistable``
    (both) of the same shape."""
    F = np.asarray(values, dtype=float)
    if F.ndim != 1 or F.size < 1:
        raise ValueError("values must be a non-empty 1-D array")
    V = np.asarray(V_S_grid, dtype=float)
    if V.ndim == 1:
        V = np.tile(V, (F.size, 1))
    if V.ndim != 2 or V.shape[0] != F.size or V.shape[1] < 1:
        raise ValueError(f"V_S_grid must have shape (m,) or ({F.size}, m), got {V.shape}")
    if field not in params.numeric_fields() or field == "V_S":
        raise ValueError(f"field must name a parameter of {params.variant!r} other than V_S, "
                         f"got {field!r}")
    FF = np.repeat(F[:, None], V.shape[1], axis=1)
    stable = np.array([all(fp.stable for fp in fixed_points(params.replace(**{field: f, "V_S": v})))
                       for f, v in zip(FF.ravel(), V.ravel())]).reshape(V.shape)
    x0 = np.tile(np.asarray(x_burst, dtype=float), (V.size, 1))
    t, X = simulate_ensemble(params.replace(**{field: FF.ravel(), "V_S": V.ravel()}), x0, t_end,
                             0.01, rtol=rtol, atol=atol, progress=progress)
    osc = oscillating(t, X, params.variant, window).reshape(V.shape)
    return {"V_S": V, "stable": stable, "oscillating": osc, "bistable": stable & osc}


@dataclass(frozen=True)
class FixedPointBranch:
    """The ODE's fixed point along ``V_S`` (m,) mV: ``states`` (m, 3), ``eigenvalues``
    (m, 3) 1/s, ``stable`` (m,), and ``counts`` (m,), how many fixed points there are at
    each V_S (the branch follows the first, lowest in V)."""

    V_S: np.ndarray
    states: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    counts: np.ndarray

    def count_text(self) -> str:
        """How many fixed points the grid has, in words ("one fixed point", or the range)."""
        n = sorted({int(c) for c in self.counts})
        return "one fixed point" if n == [1] else f"from {n[0]} to {n[-1]} fixed points"


def fixed_point_branch(params: HHParams, V_S) -> FixedPointBranch:
    """The ODE's (first) fixed point and its eigenvalues at every value of ``V_S`` (mV)."""
    check_params(params)
    v = vector(V_S, "V_S")
    fps = [fixed_points(params.replace(V_S=x)) for x in v]
    empty = [x for x, f in zip(v, fps) if not f]
    if empty:
        raise ValueError(f"the ODE has no fixed point at V_S = {empty} mV")
    return FixedPointBranch(V_S=v, states=np.array([f[0].state for f in fps]),
                            eigenvalues=np.array([f[0].eigenvalues for f in fps]),
                            stable=np.array([f[0].stable for f in fps]),
                            counts=np.array([len(f) for f in fps]))


def hopf_kind(l1: float) -> str:
    """"subcritical" if the first Lyapunov coefficient is positive, else "supercritical"."""
    l1 = float(l1)
    if not np.isfinite(l1):
        raise ValueError(f"l1 must be finite, got {l1}")
    return "subcritical" if l1 > 0 else "supercritical"


@dataclass(frozen=True)
class HopfPoint:
    """A Hopf point of the ODE: ``V_S`` (mV), the fixed point ``state`` there, the first
    Lyapunov coefficient ``l1`` (only its sign is coordinate-free) and ``omega`` (rad/s)."""

    V_S: float
    state: np.ndarray
    l1: float
    omega: float

    @property
    def kind(self) -> str:
        return hopf_kind(self.l1)

    def describe(self, name: str) -> str:
        return (f"{name}: Hopf at V_S = {self.V_S:.5f} mV, V* = {self.state[0]:.2f} mV, "
                f"omega = {self.omega:.3f} rad/s, l1 = {self.l1:+.4f} ({self.kind})")


def locate_hopf(params: HHParams, bracket) -> HopfPoint:
    """The Hopf point in ``bracket`` (mV, :func:`hhlib.ode.model.hopf_point`) with ``l1`` and
    ``omega`` there (:func:`hhlib.ode.model.first_lyapunov_coefficient`)."""
    check_params(params)
    v = hopf_point(params, interval(bracket, "bracket"))
    l1, omega = first_lyapunov_coefficient(params.replace(V_S=v))
    return HopfPoint(V_S=float(v), state=fixed_points(params.replace(V_S=v))[0].state,
                     l1=float(l1), omega=float(omega))


def pair_beyond_hopf(branch: FixedPointBranch, V_S_hopf: float) -> str:
    """A sentence on the fixed point above the Hopf point: the first V_S of ``branch`` where
    every eigenvalue is real (the complex pair has collided on the real axis) and what the
    fixed point is there, or that the pair stays complex over the whole grid."""
    instance(branch, FixedPointBranch, "branch")
    above = branch.V_S > float(V_S_hopf)
    real_all = np.all(np.abs(branch.eigenvalues.imag) < 1e-12, axis=1)
    turn = np.flatnonzero(above & real_all)
    if not turn.size:
        return (f"Above the Hopf point the pair stays complex (an unstable focus) over the "
                f"whole grid, up to {branch.V_S[-1]:.1f} mV.")
    n_unst = int((branch.eigenvalues[turn[0]].real > 0).sum())
    kind = {2: "an unstable node (two positive real eigenvalues)",
            1: "a saddle (one positive real eigenvalue)"}.get(
        n_unst, f"a fixed point with {n_unst} unstable directions")
    return (f"Above the Hopf point the pair stays complex (an unstable focus) up to "
            f"V_S ≈ {branch.V_S[turn[0]]:.1f} mV on this grid, where it turns real and the "
            f"fixed point becomes {kind}.")


@dataclass(frozen=True)
class BurstingEdge:
    """Where continuation downward in V_S lost the bursting state: the continuation
    ``steps`` and the bisected ``bracket`` (last oscillating V_S, first lost V_S), or None
    if the state survived the whole path."""

    steps: list[ContinuationStep]
    bracket: tuple[float, float] | None

    @property
    def V_S(self) -> float:
        """The edge (mV): the middle of the bracket, NaN if the state survived the path."""
        return float("nan") if self.bracket is None else 0.5 * sum(self.bracket)

    def describe(self) -> str:
        first, last = self.steps[0], self.steps[-1]
        if self.bracket is None:
            return (f"bursting continued from {first.V_S} mV over the whole path, down to "
                    f"{last.V_S} mV")
        return (f"bursting continued from {first.V_S} down to {self.steps[-2].V_S} mV, lost "
                f"at {last.V_S} mV; edge bracketed in [{self.bracket[1]:.4f}, "
                f"{self.bracket[0]:.4f}] mV")


def lower_bursting_edge(run: Runner, path, x0, t_run: float, window: float, variant: str,
                        tol: float = 1e-3) -> BurstingEdge:
    """Continue the bursting state started at ``x0`` along ``path`` (mV, decreasing:
    :func:`~hhlib.dynamics.attractors.continue_bursting`) and, where it is lost, bisect the edge to
    ``tol`` mV from the last bursting state (:func:`~hhlib.dynamics.attractors.bursting_edge`)."""
    p = vector(path, "path")
    if p.size < 2 or not np.all(np.diff(p) < 0):
        raise ValueError("path must hold at least two strictly decreasing V_S values (mV)")
    steps = continue_bursting(run, p, x0, t_run, window, variant)
    if not steps[-1].oscillating and len(steps) < 2:
        raise ValueError(f"x0 does not oscillate at the path's first value {p[0]} mV: there "
                         "is no bursting state to continue")
    if steps[-1].oscillating:
        return BurstingEdge(steps, None)
    last, lost = steps[-2], steps[-1]
    return BurstingEdge(steps, bursting_edge(run, last.V_S, lost.V_S, last.state, t_run,
                                             window, variant, tol=tol))


# ---------------------------------------------------------------------------- the data
def rest_free_check(ds, params: HHParams) -> tuple[int, float]:
    """Does any trajectory of the dataset ``ds`` (:class:`hhlib.ode.data.Dataset`, every split)
    approach rest? At the V_S where the fixed point of ``params`` is stable (where rest is
    possible): how many kept trajectories there are, and the fewest spikes any of them has
    in a third of its kept window (inf if there are none). A positive minimum means none
    stops spiking (the silent phases there are shorter than a third)."""
    instance(ds, Dataset, "ds", "hhlib.ode.data.Dataset")
    check_params(params)
    kw = spike_detection(params.variant)
    n, fewest = 0, np.inf
    for split in ds.trajectories:
        X = np.asarray(ds.trajectories[split], dtype=float)
        if X.ndim != 3 or X.shape[2] != 3 or X.shape[1] < 3:
            raise ValueError(f"trajectories[{split!r}] must have shape (k, T >= 3, 3), got "
                             f"{X.shape}")
        t = np.arange(X.shape[1]) * ds.config.dt
        thirds = np.array_split(np.arange(t.size), 3)
        for v, x in zip(ds.V_S[split], X):
            if fixed_points(params.replace(V_S=float(v)))[0].stable:
                n += 1
                fewest = min(fewest, *(len(spike_times(t[i], x[i, 0], **kw)) for i in thirds))
    return n, fewest


# ---------------------------------------------------------------------------- the map
def map_fixed_point_near(net, V_S: float, state, *, extrapolate: bool = False):
    """Of the map's fixed points at ``V_S`` mV, found by Newton from
    :func:`hhlib.dynamics.recovery.default_starts` (knowing nothing of ``state``), the one nearest
    ``state`` (V mV, n, S), distance in the map's state spreads: a
    :class:`hhlib.dynamics.recovery.MapFixedPoint`. ``state`` only matches, after the search; it
    never starts Newton. ``extrapolate``: V_S outside the map's trained range is meant (no
    warning). Raises ``ValueError`` if Newton finds none."""
    x = check_state(state, "state")
    fps = map_fixed_points(net, V_S, extrapolate=extrapolate)
    if not fps:
        raise ValueError(f"the map has no fixed point from the default starts at V_S = "
                         f"{V_S} mV")
    scale = _state_scale(net)
    return min(fps, key=lambda q: np.linalg.norm((q.state - x) / scale))


@dataclass(frozen=True)
class MapBranchComparison:
    """The map's continued fixed-point branch against the ODE's on the same grid ``V_S``
    (mV). (:func:`hhlib.dynamics.recovery.compare_fixed_points` instead solves for the map's fixed
    points afresh at each V_S; here the branch is one continued from a fixed point the map's
    own Newton search found, :func:`hhlib.dynamics.recovery.continue_both_ways`.)

    ``eigenvalues`` (m, 3): the map's, log(mu)/dt (1/s); ``stable`` (m,): the map's;
    ``error`` (m, 3): |state difference|; ``re_error``, ``im_error`` (m,): of the ODE's complex
    pair against the matched map eigenvalue, absolute (1/s) and relative (fraction), NaN
    where the ODE has no complex pair (``has_pair``); ``near``: V_S at most the window's
    limit; ``far``: at least the margin from the Hopf point (stability is compared there)."""

    V_S: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    error: np.ndarray
    re_error: np.ndarray
    im_error: np.ndarray
    has_pair: np.ndarray
    stable_match: np.ndarray
    near: np.ndarray
    far: np.ndarray

    # The worst errors (NaN counting as a miss), over the grid and near the window.
    @property
    def worst_V(self) -> float:
        return worst(self.error[:, 0])

    @property
    def worst_re(self) -> float:
        return worst(self.re_error, self.has_pair)

    @property
    def worst_im_percent(self) -> float:
        return 100 * worst(self.im_error, self.has_pair)

    @property
    def near_V(self) -> float:
        return worst(self.error[:, 0], self.near)

    @property
    def near_re(self) -> float:
        return worst(self.re_error, self.near & self.has_pair)

    @property
    def near_im_percent(self) -> float:
        return 100 * worst(self.im_error, self.near & self.has_pair)

    @property
    def stable_ok(self) -> int:
        """Grid values away from the Hopf point where the stability is the ODE's."""
        return int(self.stable_match[self.far].sum())

    @property
    def n_far(self) -> int:
        return int(self.far.sum())

    def describe(self) -> str:
        i = int(self.error[:, 0].argmax())
        return (f"stability as the ODE's at {self.stable_ok} of {self.n_far} values at least "
                f"the margin from the Hopf point\nworst |V* error| {self.error[i, 0]:.3f} mV at "
                f"{self.V_S[i]:.2f} mV; worst Re error of the pair "
                f"{np.nanmax(self.re_error):.4f} 1/s, worst Im error "
                f"{100 * np.nanmax(self.im_error):.1f} % (over {self.has_pair.sum()} values "
                f"with a complex pair)")


def compare_map_branch(ode: FixedPointBranch, states, multipliers, dt: float,
                         V_S_hopf: float, *, near_max: float = -20.0,
                         hopf_margin: float = 0.1) -> MapBranchComparison:
    """Compare the map's fixed points ``states`` (m, 3) and ``multipliers`` (m, 3) (from
    :func:`hhlib.dynamics.recovery.continue_map_fixed_point` on ``ode.V_S``) with the ODE's branch.
    The map's eigenvalues are matched to the ODE's by least total distance
    (:func:`hhlib.dynamics.recovery.match_eigenvalues`); ``near_max`` (mV) bounds the region near the
    window, ``hopf_margin`` (mV) the neighbourhood of ``V_S_hopf`` where stability flips and
    is not compared."""
    instance(ode, FixedPointBranch, "ode")
    st = np.asarray(states, dtype=float)
    mu = np.asarray(multipliers, dtype=complex)
    m = ode.V_S.size
    if st.shape != (m, 3) or mu.shape != (m, 3):
        raise ValueError(f"states and multipliers must have shape ({m}, 3) like the ODE's "
                         f"branch, got {st.shape} and {mu.shape}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be > 0 s, got {dt}")
    if not hopf_margin >= 0:
        raise ValueError(f"hopf_margin must be >= 0 mV, got {hopf_margin}")
    lam = np.log(mu) / dt
    re_err, im_err, has_pair = np.full(m, np.nan), np.full(m, np.nan), np.zeros(m, bool)
    for i, ev in enumerate(ode.eigenvalues):
        k = int(np.argmax(ev.imag))
        if not ev[k].imag > 1e-9:
            continue          # no complex pair at this V_S: nothing to compare it with
        if not np.all(np.isfinite(lam[i])):
            has_pair[i] = True    # the map's fixed point was not found: a miss (NaN)
            continue
        matched = match_eigenvalues(ev, lam[i])
        has_pair[i] = True
        re_err[i] = abs(matched[k].real - ev[k].real)
        im_err[i] = abs(matched[k].imag / ev[k].imag - 1)
    stable = np.all(np.abs(mu) < 1, axis=1)
    return MapBranchComparison(
        V_S=ode.V_S, eigenvalues=lam, stable=stable, error=np.abs(st - ode.states),
        re_error=re_err, im_error=im_err, has_pair=has_pair, stable_match=stable == ode.stable,
        near=ode.V_S <= near_max, far=np.abs(ode.V_S - V_S_hopf) >= hopf_margin)


def eigenvalue_rows(net, params: HHParams, V_S_values) -> list[tuple]:
    """Rows (V_S, V* ODE, V* map, the ODE's eigenvalue with the largest imaginary part, the
    matched map eigenvalue, stable ODE, stable map) at each V_S (mV), the map's fixed point
    being the one nearest the ODE's of those Newton finds from the default starts
    (:func:`map_fixed_point_near`; outside the trained range on purpose)."""
    check_params(params)
    rows = []
    for v in vector(V_S_values, "V_S_values"):
        o = fixed_points(params.replace(V_S=float(v)))[0]
        f = map_fixed_point_near(net, float(v), o.state, extrapolate=True)
        k = int(np.argmax(o.eigenvalues.imag))
        m = match_eigenvalues(o.eigenvalues, f.eigenvalues)
        rows.append((float(v), o.state[0], f.state[0], f"{o.eigenvalues[k]:.3f}", f"{m[k]:.3f}",
                     o.stable, f.stable))
    return rows


@dataclass(frozen=True)
class Coexistence:
    """Two runs at ``V_S`` (mV): from ``kick`` mV above the rest state and from the bursting
    start; ``t`` (T,) s, ``X`` (2, T, 3), ``labels`` as :func:`hhlib.dynamics.attractors.basins`
    (0 rest, 1 bursting, 2 neither). ``coexist``: rest and bursting, in that order."""

    V_S: float
    t: np.ndarray
    X: np.ndarray
    labels: np.ndarray
    kick: float = 0.1

    @property
    def coexist(self) -> bool:
        return bool(self.labels[0] == 0 and self.labels[1] == 1)

    def describe(self) -> str:
        name = ("rest", "bursting", "other")
        return (f"V_S = {self.V_S}: from the fixed point + {self.kick:g} mV -> "
                f"{name[self.labels[0]]}; from the bursting start -> {name[self.labels[1]]}")


def coexistence(run: Runner, V_S: float, rest_state, x_burst, t_end: float, window: float,
                variant: str, *, kick: float = 0.1) -> Coexistence:
    """Run ``run`` at ``V_S`` for ``t_end`` s from ``rest_state`` + ``kick`` mV in V and from
    ``x_burst``, together, and label where each ends (within 1 mV of ``rest_state``)."""
    rest = check_state(rest_state, "rest_state")
    x_b = check_state(x_burst, "x_burst")
    if not np.isfinite(kick):
        raise ValueError(f"kick must be a finite number of mV, got {kick}")
    t, X = run(np.full(2, float(V_S)), np.stack([rest + [kick, 0, 0], x_b]), t_end)
    return Coexistence(float(V_S), t, X, end_labels(t, X, window, variant, rest), float(kick))


def basin_slice(params: HHParams, rest_state, n: int, half_V: float = 5.0,
                half_S: float = 0.012) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An n x n grid of initial states on the slice n = n_inf(V) through ``rest_state``:
    V within ``half_V`` mV and S within ``half_S`` of it. Returns the axes V (n,) mV and
    S (n,) and the states (n * n, 3), S varying slowest."""
    check_params(params)
    rest = check_state(rest_state, "rest_state")
    integer(n, "n", 2)
    if not (half_V > 0 and half_S > 0):
        raise ValueError(f"half_V and half_S must be > 0, got {half_V}, {half_S}")
    Vg = np.linspace(rest[0] - half_V, rest[0] + half_V, n)
    Sg = np.linspace(rest[2] - half_S, rest[2] + half_S, n)
    VV, SS = np.meshgrid(Vg, Sg)
    return Vg, Sg, np.column_stack([VV.ravel(), gates(VV.ravel(), params)[1], SS.ravel()])


def _mV(v: float) -> str:
    """A V_S value as the target names print it (typographic minus)."""
    return f"{float(v):g}".replace("-", "−")


def bistability_targets(cmp: MapBranchComparison, hopf_error: float,
                        coexist: dict[float, Coexistence], basin_V_S: float,
                        basin_agreement: float) -> list[Target]:
    """The chapter's targets: the map's fixed point (V* within 0.3 mV), its complex pair
    (real part within 0.05 1/s, imaginary within 10 %) over the grid and near the window,
    its stability, its Hopf point (within 0.15 mV), coexistence at each V_S of ``coexist``
    and basin agreement at ``basin_V_S`` mV (``basin_agreement`` %, at least 90 %)."""
    instance(cmp, MapBranchComparison, "cmp")
    if not coexist or not all(isinstance(c, Coexistence) for c in coexist.values()):
        raise TypeError("coexist must map V_S (mV) to Coexistence results")
    ok, n = cmp.stable_ok, cmp.n_far
    targets = [
        Target.at_most("fixed point V*", cmp.worst_V, 0.3, " mV", "{:.3f}"),
        Target.at_most("complex pair, real part", cmp.worst_re, 0.05, " 1/s", "{:.4f}"),
        Target.at_most("complex pair, imaginary part", cmp.worst_im_percent, 10, " %",
                       "{:.1f}"),
        Target.at_most("V* near the window (V_S ≤ −20 mV)", cmp.near_V, 0.3, " mV", "{:.3f}"),
        Target.at_most("real part near the window", cmp.near_re, 0.05, " 1/s", "{:.4f}"),
        Target.at_most("imaginary part near the window", cmp.near_im_percent, 10, " %",
                       "{:.1f}"),
        Target("stability as the ODE's (≥ 0.1 mV from Hopf)", "every grid value", ok,
               ok == n, f"{ok} of {n}"),
        Target.at_most("Hopf point", hopf_error, 0.15, " mV", "{:.3f}"),
    ]
    for v, c in coexist.items():
        targets.append(Target(f"coexistence at {_mV(v)} mV", "rest and bursting",
                              float(c.coexist), c.coexist, "yes" if c.coexist else "no"))
    targets.append(Target.at_least(f"basin agreement at {_mV(basin_V_S)} mV", basin_agreement,
                                   90, " %", "{:.1f}"))
    return targets
