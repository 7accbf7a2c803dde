"""Integration of the model: one trajectory with SciPy, many at once with a compiled solver.

``simulate`` wraps :func:`scipy.integrate.solve_ivp` (LSODA by default, analytic Jacobian for
the implicit methods). ``simulate_ensemble`` integrates B trajectories with the
Dormand–Prince 5(4) pair compiled by numba: each trajectory with its own adaptive step and
error control, one trajectory per loop iteration, the loop run in parallel over the available
cores. The compiled code is cached next to this module (numba ``cache=True``, in
``hhlib/__pycache__``): the first call in a fresh checkout compiles for a few seconds, later
processes load it in a fraction of a second. Times in s, V in mV.
"""
from __future__ import annotations

import math
import os
import threading

import numba
import numpy as np
from numba import njit, prange
from scipy.integrate import solve_ivp

from ..checks import flag, integer, one_of, real_number, state, states
from .model import HHParams, check_params, scalar_field

__all__ = ["simulate", "simulate_ensemble", "time_grid"]

_IMPLICIT = {"LSODA", "BDF", "Radau"}
_METHODS = {"LSODA", "BDF", "Radau", "RK45", "RK23", "DOP853"}


def time_grid(t_end: float, dt: float) -> np.ndarray:
    """Sample times 0, dt, ..., t_end (s); ``t_end`` must be a multiple of ``dt``."""
    return np.arange(_grid_steps(t_end, dt) + 1) * float(dt)


MAX_GRID_STEPS = 10**9      # samples of one trajectory: 24 GB of float64 states


def _grid_steps(t_end: float, dt: float) -> int:
    """The number n of dt steps in [0, t_end] (validated), without building the grid."""
    t_end, dt = real_number(t_end, "t_end"), real_number(dt, "dt")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite number > 0 s, got {dt}")
    if not (np.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be a finite number > 0 s, got {t_end}")
    ratio = t_end / dt
    if not ratio <= MAX_GRID_STEPS:
        # Before any allocation: t_end / dt can overflow to infinity, or ask for terabytes.
        raise ValueError(f"t_end / dt must be at most {MAX_GRID_STEPS:.0e} steps, got t_end = "
                         f"{t_end} s, dt = {dt} s ({ratio:.3g} steps): raise dt or lower t_end")
    n = int(round(ratio))
    if n < 1 or abs(n * dt - t_end) > 1e-9 * max(1.0, t_end):
        raise ValueError(f"t_end ({t_end} s) must be a positive multiple of dt ({dt} s)")
    return n


def _check_tolerances(rtol: float, atol: float) -> None:
    rtol, atol = real_number(rtol, "rtol"), real_number(atol, "atol")
    if not (np.isfinite(rtol) and 0 < rtol < 1):
        raise ValueError(f"rtol must lie in (0, 1), got {rtol}")
    if not (np.isfinite(atol) and atol > 0):
        raise ValueError(f"atol must be > 0, got {atol}")


def simulate(params: HHParams, x0, t_end: float, dt: float, *, method: str = "LSODA",
             rtol: float = 1e-8, atol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """One trajectory from ``x0`` = (V mV, n, S) over [0, t_end] s, sampled every ``dt`` s.

    Returns ``(t, X)`` with ``X`` of shape ``(len(t), 3)``. Implicit methods (LSODA, BDF,
    Radau) get the analytic Jacobian. Raises ``RuntimeError`` with the solver's message if
    the integration fails.
    """
    check_params(params)
    if not params.is_scalar():
        raise ValueError("simulate integrates one trajectory: params fields must be scalars "
                         "(use simulate_ensemble for arrays of parameters)")
    one_of(method, "method", sorted(_METHODS))
    if hasattr(x0, "detach"):
        raise TypeError("x0 must be a NumPy array or a sequence of 3 numbers, not a torch "
                        "tensor (simulate integrates with SciPy; use x0.detach().numpy())")
    x0 = state(x0, "x0")
    _check_tolerances(rtol, atol)
    t = time_grid(t_end, dt)
    f, jac = scalar_field(params)
    kw = {"jac": lambda _t, x: jac(x)} if method in _IMPLICIT else {}
    sol = solve_ivp(lambda _t, x: f(x), (0.0, t[-1]), x0, method=method, t_eval=t,
                    rtol=rtol, atol=atol, **kw)
    if not sol.success:
        raise RuntimeError(f"solve_ivp ({method}) failed: {sol.message}")
    return sol.t, sol.y.T


# ----------------------------------------------------------------------------- compiled DP5(4)
# Dormand–Prince 5(4) tableau with its 4th-order dense output (as in scipy's RK45), as plain
# floats: numba freezes them into the compiled code (global arrays would keep the parallel
# kernel out of the on-disk cache), and the stages are written out with them.
(_A10,), (_A20, _A21), (_A30, _A31, _A32), (_A40, _A41, _A42, _A43), \
    (_A50, _A51, _A52, _A53, _A54) = (
        (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656))
# 5th-order weights (stage 6 is the new state) and error weights; the second of each is 0.
_B0, _B2, _B3, _B4, _B5 = 35 / 384, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84
_E0, _E2, _E3, _E4, _E5, _E6 = (-71 / 57600, 71 / 16695, -71 / 1920, 17253 / 339200,
                                -22 / 525, 1 / 40)
_P = tuple(tuple(float(v) for v in row) for row in [
    [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0, 0, 0, 0],
    [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
    [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0, 127303824393 / 49829197408, -318862633887 / 49829197408,
     701980252875 / 199316789632],
    [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423]])

# Columns of the (B, n_fields) parameter array passed to the kernel; the last three are used
# by the "bistable" variant only (zero for "original").
_FIELDS = ("g_Ca", "g_K", "g_S", "V_Ca", "V_K", "V_m", "theta_m", "V_n", "theta_n", "V_S",
           "theta_S", "tau", "tau_S", "sigma", "tau_S_lo", "V_t", "k_t")
_VARIABLES = ("V", "n", "S")
# A generous physical box: V far beyond the reversal potentials (V_K = -75, V_Ca = 25 mV),
# gates far outside [0, 1]. Leaving it means tolerances that let the solution blow up, or
# parameters that drive it out of the model's range.
_BOX = ((-200.0, 200.0), (-1.0, 2.0), (-1.0, 2.0))
_OK, _NONFINITE, _OUT_OF_BOX, _MAX_STEPS = 0, 1, 2, 3
_EPS = float(np.finfo(float).eps)
# Threading layer: numba would pick GNU OpenMP where present, which terminates any child
# forked after a parallel kernel ran (Python's default ProcessPoolExecutor on Linux forks, and
# sweeps accept any executor). "forksafe" picks TBB or a fork-safe OpenMP if present, else
# numba's own workqueue. Only when the user has not chosen a layer, and only before numba's
# first parallel launch in this process (later it has no effect).
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "forksafe"
# The workqueue layer aborts the process when two threads launch parallel kernels at once;
# a lock makes calls from several Python threads (a ThreadPoolExecutor of sweeps) wait for
# each other instead.
_KERNEL_LOCK = threading.Lock()


@njit(cache=True)
def _sigmoid(z):
    # The expression of scipy.special.expit (same bits); below -709 exp(-z) would overflow.
    if z < -709.0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


@njit(cache=True)
def _field(V, n, S, c, bistable):
    """d(V, n, S)/dt with the per-trajectory constants ``c`` of :func:`_constants`, in the
    order of operations of ``hhlib.ode.model.batch_field`` (so both round alike)."""
    m_inf = _sigmoid((V - c[5]) * c[6])
    n_inf = _sigmoid((V - c[7]) * c[8])
    S_inf = _sigmoid((V - c[9]) * c[10])
    i_ca = m_inf * (V - c[3]) * c[0]
    dV = ((n * c[1] + S * c[2]) * (V - c[4]) + i_ca) * c[11]
    dn = (n_inf - n) * c[13]
    if bistable:
        q = _sigmoid((V - c[15]) * c[16]) * (c[12] - c[14]) + c[14]
        dS = (S_inf - S) / q
    else:
        dS = (S_inf - S) * c[12]
    return dV, dn, dS


@njit(cache=True)
def _constants(p, bistable):
    """The kernel's per-trajectory constants from a row of parameters (``_FIELDS`` order):
    reciprocals of slopes and time constants taken once, as ``batch_field`` does."""
    c = p.copy()
    c[6] = 1.0 / p[6]
    c[8] = 1.0 / p[8]
    c[10] = 1.0 / p[10]
    c[11] = -1.0 / p[11]                     # dV/dt = -(currents) / tau
    c[13] = p[13] / p[11]                    # sigma / tau
    if bistable:
        c[16] = 1.0 / p[16]
    else:
        c[12] = 1.0 / p[12]                  # 1 / tau_S
    return c


@njit(cache=True)
def _one_trajectory(x0, p, bistable, n_grid, dt, rtol, atol, max_steps, var_idx, every,
                    out, fail):
    """Integrate one trajectory over [0, n_grid dt], writing every ``every``-th sample of
    the grid k dt (variables ``var_idx``) into ``out`` (n_samples, n_vars); returns a
    status code and, on failure, the time and state (t, V, n, S) in ``fail``."""
    c = _constants(p, bistable)
    nt = n_grid + 1
    T = n_grid * dt                          # the last grid time, as time_grid computes it
    inv_dt = 1.0 / dt
    nv = var_idx.shape[0]
    K = np.empty((7, 3))
    Y = np.empty(3)
    Ys = np.empty(3)
    Q = np.empty((4, 3))
    for i in range(3):
        Y[i] = x0[i]
    for j in range(nv):
        out[0, j] = Y[var_idx[j]]
    K[0, 0], K[0, 1], K[0, 2] = _field(Y[0], Y[1], Y[2], c, bistable)
    tc = 0.0
    h = min(1e-4, T)
    nxt = 1                                  # next sample index on the full grid
    en_prev = 1.0                            # squared error norm of the last accepted step
    for _ in range(max_steps):
        h = min(h, T - tc)
        # Stages 1..6 (stage 6 is the new state; its slope is the next step's first stage),
        # written out so that the compiler sees constant coefficients.
        for i in range(3):
            Ys[i] = (_A10 * K[0, i]) * h + Y[i]
        K[1, 0], K[1, 1], K[1, 2] = _field(Ys[0], Ys[1], Ys[2], c, bistable)
        for i in range(3):
            Ys[i] = (_A20 * K[0, i] + _A21 * K[1, i]) * h + Y[i]
        K[2, 0], K[2, 1], K[2, 2] = _field(Ys[0], Ys[1], Ys[2], c, bistable)
        for i in range(3):
            Ys[i] = (_A30 * K[0, i] + _A31 * K[1, i] + _A32 * K[2, i]) * h + Y[i]
        K[3, 0], K[3, 1], K[3, 2] = _field(Ys[0], Ys[1], Ys[2], c, bistable)
        for i in range(3):
            Ys[i] = (_A40 * K[0, i] + _A41 * K[1, i] + _A42 * K[2, i]
                     + _A43 * K[3, i]) * h + Y[i]
        K[4, 0], K[4, 1], K[4, 2] = _field(Ys[0], Ys[1], Ys[2], c, bistable)
        for i in range(3):
            Ys[i] = (_A50 * K[0, i] + _A51 * K[1, i] + _A52 * K[2, i] + _A53 * K[3, i]
                     + _A54 * K[4, i]) * h + Y[i]
        K[5, 0], K[5, 1], K[5, 2] = _field(Ys[0], Ys[1], Ys[2], c, bistable)
        for i in range(3):
            Ys[i] = (_B0 * K[0, i] + 0.0 * K[1, i] + _B2 * K[2, i] + _B3 * K[3, i]
                     + _B4 * K[4, i] + _B5 * K[5, i]) * h + Y[i]
        K[6, 0], K[6, 1], K[6, 2] = _field(Ys[0], Ys[1], Ys[2], c, bistable)
        # Error norm as in solve_ivp: RMS over components of err / (atol + rtol max|y|).
        en = 0.0
        for i in range(3):
            e = (_E0 * K[0, i] + 0.0 * K[1, i] + _E2 * K[2, i] + _E3 * K[3, i]
                 + _E4 * K[4, i] + _E5 * K[5, i] + _E6 * K[6, i])
            e = e * h / (max(abs(Y[i]), abs(Ys[i])) * rtol + atol)
            en += e * e
        en *= 1 / 3
        if not math.isfinite(en):
            fail[0], fail[1], fail[2], fail[3] = tc, Y[0], Y[1], Y[2]
            return _NONFINITE
        ok = en <= 1.0
        # PI step-size control (Gustafsson; Hairer & Wanner II, IV.2) on accepted steps:
        # err^(-0.7/5) * err_prev^(0.4/5); it damps the accept/reject oscillation that a
        # plain err^(-1/5) controller shows along spikes. After a rejection: err^(-1/5).
        en += 1e-300                         # no division by zero for an exact step
        if ok:
            fac = min(max(0.9 * (en ** -0.07 * en_prev ** 0.04), 0.2), 10.0)
            en_prev = max(en, 1e-8)
            t_new = tc + h
            kmax = min(int(t_new * inv_dt * (1 + 1e-12)), nt - 1)
            if kmax >= nxt:
                # Samples inside the step from the 4th-order dense output
                # x(t + th h) = x + h th (Q0 + th (Q1 + th (Q2 + th Q3))).
                for jv in range(nv):
                    i = var_idx[jv]
                    for q in range(4):
                        Q[q, i] = (_P[0][q] * K[0, i] + _P[1][q] * K[1, i] + _P[2][q] * K[2, i]
                                   + _P[3][q] * K[3, i] + _P[4][q] * K[4, i]
                                   + _P[5][q] * K[5, i] + _P[6][q] * K[6, i])
                for k in range(nxt, kmax + 1):
                    if k % every:
                        continue
                    th = (k * dt - tc) / h
                    for jv in range(nv):
                        i = var_idx[jv]
                        v = ((((Q[3, i] * th + Q[2, i]) * th + Q[1, i]) * th + Q[0, i]) * th)
                        out[k // every, jv] = v * h + Y[i]
                nxt = kmax + 1
            for i in range(3):
                Y[i] = Ys[i]
                K[0, i] = K[6, i]
            tc = t_new
            for i in range(3):
                if not (_BOX[i][0] <= Y[i] <= _BOX[i][1]):
                    fail[0], fail[1], fail[2], fail[3] = tc, Y[0], Y[1], Y[2]
                    return _OUT_OF_BOX
        else:
            fac = min(max(0.9 * en ** -0.1, 0.2), 1.0)
        h *= fac
        if tc >= T * (1 - 1e-14):
            for j in range(nv):
                out[(nt - 1) // every, j] = Y[var_idx[j]]
            return _OK
    fail[0], fail[1], fail[2], fail[3] = tc, Y[0], Y[1], Y[2]
    return _MAX_STEPS


@njit(cache=True, parallel=True)
def _ensemble_kernel(x0, P, bistable, n_grid, dt, rtol, atol, max_steps, var_idx, every,
                     out, status, fail):
    # One trajectory per iteration: its numbers do not depend on the others or on the
    # thread that runs it.
    for b in prange(x0.shape[0]):
        status[b] = _one_trajectory(x0[b], P[b], bistable, n_grid, dt, rtol, atol, max_steps,
                                    var_idx, every, out[b], fail[b])


# ----------------------------------------------------------------------------- validation
# The loosest tolerances that still resolve the spikes, measured (issue 27): 80 s runs at
# 15 V_S values of each variant's range against rtol 1e-8, atol 1e-10. At rtol 1e-2 four
# bistable runs burst no longer (tonic or rest), at atol 1e-2 four original runs change
# regime, at atol 1 bursting at -38 and -34 mV becomes tonic spiking; at rtol 3e-3 with
# atol 1e-5, and at atol 1e-3 with rtol 1e-6, the bistable regimes all stay right (the
# original's change only at its bursting/tonic boundary, -33 to -30 mV). The book's loosest
# run is rtol 1e-3 with atol 1e-5.
RTOL_MAX, ATOL_MAX = 3e-3, 1e-3


def _check_ensemble_tolerances(rtol, atol) -> tuple[float, float]:
    """Refused instead of clipped: rtol below 100 eps cannot be met in float64; above
    :data:`RTOL_MAX`, or atol (per component, in the state's units) above
    :data:`ATOL_MAX`, the error control no longer resolves a spike and bursting turns into
    tonic spiking or rest, silently."""
    rtol, atol = real_number(rtol, "rtol"), real_number(atol, "atol")
    if not (np.isfinite(rtol) and 100 * _EPS <= rtol <= RTOL_MAX):
        raise ValueError(f"rtol must lie in [100*eps, {RTOL_MAX:g}] = [{100 * _EPS:.3g}, "
                         f"{RTOL_MAX:g}] (looser tolerances miss spikes), got {rtol}")
    if not (np.isfinite(atol) and 0 < atol <= ATOL_MAX):
        raise ValueError(f"atol must lie in (0, {ATOL_MAX:g}] (state units: mV for V, 1 for n "
                         f"and S; looser tolerances miss spikes), got {atol}")
    return rtol, atol


def _param_matrix(params: HHParams, B: int) -> np.ndarray:
    """(B, len(_FIELDS)) float64 array of every trajectory's parameters (HHParams: finite)."""
    P = np.zeros((B, len(_FIELDS)))
    for k, name in enumerate(_FIELDS):
        v = getattr(params, name)
        if v is None:                        # a field the variant does not use
            continue
        if hasattr(v, "detach"):             # a torch tensor
            v = v.detach().cpu().numpy()
        v = np.asarray(v, dtype=float)
        if v.ndim != 0 and v.shape != (B,):
            raise ValueError(f"params.{name} must be a scalar or have shape ({B},) to match "
                             f"x0, got shape {v.shape}")
        P[:, k] = v
    return P


def _check_variables(variables) -> np.ndarray:
    if isinstance(variables, str):
        variables = (variables,)
    try:
        names = list(variables)
    except TypeError:
        raise TypeError(f"variables must be a sequence of names from {_VARIABLES}, "
                        f"got {variables!r}") from None
    if not names or any(not isinstance(v, str) or v not in _VARIABLES for v in names) \
            or len(set(names)) != len(names):
        raise ValueError(f"variables must be distinct names from {_VARIABLES} (at least one), "
                         f"got {variables!r}")
    return np.array([_VARIABLES.index(v) for v in names], dtype=np.int64)


def _check_dtype(dtype) -> np.dtype:
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from None
    if d not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be float64 or float32, got {d}")
    return d


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def simulate_ensemble(params: HHParams, x0, t_end: float, dt: float, *, rtol: float = 1e-6,
                      atol: float = 1e-8, max_steps: int = 10_000_000, progress: bool = False,
                      variables=_VARIABLES, dtype=np.float64,
                      sample_every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """B trajectories: ``x0`` of shape (B, 3) = (V mV, n, S), parameter fields scalars or
    shape (B,), integrated over [0, t_end] s and sampled on ``time_grid(t_end, dt)``.

    Each trajectory has its own step size and local error control (Dormand–Prince 5(4),
    error measured as in ``solve_ivp``: RMS over components of
    err / (atol + rtol max(|x|, |x_new|)), PI step control, first step 1e-4 s) and is sampled
    through the method's 4th-order dense output. The loop over trajectories is compiled
    (numba) and runs on ``numba.get_num_threads()`` threads; a trajectory's numbers do not
    depend on the other trajectories of the batch, on the thread count or on chunking.
    Returns ``(t, X)`` with ``X`` of shape ``(B, len(t), len(variables))``; by default
    ``len(variables) = 3`` and ``t = time_grid(t_end, dt)``.

    Output options for large sweeps (they change what is stored, never how it is computed):
    ``variables``, a subset of ``("V", "n", "S")`` in the order wanted; ``dtype``, float64 or
    float32 (the integration is float64 either way); ``sample_every=k``, keep every k-th
    sample of the dt grid (``t_end`` must be a multiple of k dt; ``t`` is then
    ``time_grid(t_end, dt)[::k]``). Memory is B x len(t) x len(variables) x itemsize; for
    B = 65 536 trajectories of 200 s at dt = 0.01 s (20 001 samples): 31.5 GB by default,
    15.7 GB with float32, 5.2 GB with float32 and V only, 2.6 GB with float32, V only and
    ``sample_every=2``; the integrator itself needs only the (B, 17) parameters (9 MB) and
    a few hundred bytes per thread. An output larger than the machine's memory is refused
    before the work starts.

    ``progress=True`` shows a tqdm bar over the trajectories (the batch then runs in chunks,
    with the same results). Raises ``RuntimeError`` naming the trajectory, its V_S and the
    time when a state becomes non-finite, leaves the box |V| <= 200 mV, n and S in [-1, 2]
    (too loose tolerances), or a trajectory needs more than ``max_steps`` steps (accepted
    and rejected). Tolerances: rtol in [100 eps, 3e-3], atol in (0, 1e-3] (looser ones turn
    bursting into tonic spiking, measured: see :data:`RTOL_MAX`).

    Why an explicit pair for a stiff model: the fast eigenvalues (about -45 1/s at rest,
    up to about -190 1/s in spikes) bound an explicit step to a few ms, but at the
    tolerances the book uses the step is set by accuracy in the spikes anyway, and an
    explicit step needs no linear algebra (see the chapter "Stiff integration").
    """
    check_params(params)
    x0 = states(x0, "x0")
    for i, (lo, hi) in enumerate(_BOX):
        if np.any((x0[:, i] < lo) | (x0[:, i] > hi)):
            raise ValueError(f"x0[:, {i}] ({_VARIABLES[i]}) must lie in [{lo}, {hi}] "
                             "(the physical box of the integrator)")
    rtol, atol = _check_ensemble_tolerances(rtol, atol)
    # The compiled loop counts in int64: 2**63 would wrap to a negative count.
    integer(max_steps, "max_steps", 1, 2**62)
    flag(progress, "progress")
    var_idx = _check_variables(variables)
    dtype = _check_dtype(dtype)
    integer(sample_every, "sample_every")
    n_grid = _grid_steps(t_end, dt)
    dt = float(dt)
    every = int(sample_every)
    if n_grid % every:
        raise ValueError(f"sample_every={every}: t_end ({float(t_end)} s) must be a multiple "
                         f"of sample_every * dt = {every * dt} s")
    B = x0.shape[0]
    P = _param_matrix(params, B)
    n_out = n_grid // every + 1
    nbytes = B * n_out * len(var_idx) * dtype.itemsize
    mem = _physical_memory()
    if mem is not None and nbytes > mem:
        raise MemoryError(f"the output ({B} x {n_out} x {len(var_idx)} {dtype}) needs "
                          f"{nbytes / 1e9:.1f} GB, more than this machine's {mem / 1e9:.1f} GB; "
                          "choose fewer variables, dtype=float32 or a larger sample_every")

    t_out = np.arange(0, n_grid + 1, every) * dt      # time_grid(t_end, dt)[::every]
    out = np.empty((B, n_out, len(var_idx)), dtype=dtype)
    status = np.zeros(B, dtype=np.int64)
    fail = np.zeros((B, 4))
    bistable = params.variant == "bistable"
    args = (bistable, n_grid, dt, rtol, atol, int(max_steps), var_idx, every)
    if not progress:
        chunks = [(0, B)]
    else:
        size = max(4 * numba.get_num_threads(), -(-B // 100))
        chunks = [(lo, min(lo + size, B)) for lo in range(0, B, size)]
    bar = None
    if progress:
        # not at the top: in a Jupyter kernel without ipywidgets importing tqdm.auto warns
        from tqdm.auto import tqdm
        bar = tqdm(total=B, unit="traj", desc="simulate_ensemble", leave=False)
    try:
        for lo, hi in chunks:
            with _KERNEL_LOCK:
                # Chunks of one trajectory per thread balance the load (a bursting
                # trajectory can take several times the steps of a resting one); set from
                # here, not inside the kernel, which would keep it out of numba's cache.
                old = numba.set_parallel_chunksize(1)
                try:
                    _ensemble_kernel(x0[lo:hi], P[lo:hi], *args, out[lo:hi], status[lo:hi],
                                     fail[lo:hi])
                finally:
                    numba.set_parallel_chunksize(old)
            if bar is not None:
                bar.update(hi - lo)
            if status[lo:hi].any():
                break
    finally:
        if bar is not None:
            bar.close()
    bad = np.flatnonzero(status)
    if bad.size:
        b = int(bad[0])
        tf, Vf, nf, Sf = fail[b]
        why = {_NONFINITE: "its state became non-finite",
               _OUT_OF_BOX: "its state left the physical box (|V| <= 200 mV, n and S in "
                            "[-1, 2]): tolerances too loose, or parameters that drive it there",
               _MAX_STEPS: f"it needed more than max_steps={int(max_steps)} steps"}[status[b]]
        more = f" ({bad.size - 1} more trajectories failed)" if bad.size > 1 else ""
        raise RuntimeError(f"simulate_ensemble: trajectory {b} (V_S = {P[b, 9]:.6g} mV) "
                           f"failed at t = {tf:.6g} s: {why}; state (V, n, S) = "
                           f"({Vf:.6g}, {nf:.6g}, {Sf:.6g}){more}")
    return t_out, out
