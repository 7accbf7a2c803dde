"""Integration of the model: one trajectory with SciPy, many at once with a batched solver.

``simulate`` wraps :func:`scipy.integrate.solve_ivp` (LSODA by default, analytic Jacobian for
the implicit methods). ``simulate_ensemble`` advances B trajectories together with the
Dormand–Prince 5(4) pair, each trajectory with its own adaptive step and error control, so a
batch costs about as many NumPy calls as its slowest member. Times in s, V in mV.
"""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
from scipy.integrate import solve_ivp

from .model import HHParams, _check_state, batch_field, scalar_field

__all__ = ["simulate", "simulate_ensemble", "time_grid"]

_IMPLICIT = {"LSODA", "BDF", "Radau"}
_METHODS = {"LSODA", "BDF", "Radau", "RK45", "RK23", "DOP853"}


def time_grid(t_end: float, dt: float) -> np.ndarray:
    """Sample times 0, dt, ..., t_end (s); ``t_end`` must be a multiple of ``dt``."""
    t_end, dt = float(t_end), float(dt)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a finite number > 0 s, got {dt}")
    if not (np.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be a finite number > 0 s, got {t_end}")
    n = int(round(t_end / dt))
    if n < 1 or abs(n * dt - t_end) > 1e-9 * max(1.0, t_end):
        raise ValueError(f"t_end ({t_end} s) must be a positive multiple of dt ({dt} s)")
    return np.arange(n + 1) * dt


def _check_tolerances(rtol: float, atol: float) -> None:
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
    if not isinstance(params, HHParams):
        raise TypeError(f"params must be HHParams, got {type(params).__name__}")
    if not params.is_scalar():
        raise ValueError("simulate integrates one trajectory: params fields must be scalars "
                         "(use simulate_ensemble for arrays of parameters)")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
    x0 = _check_state(x0, "x0")
    if x0.shape != (3,) or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0 must be 3 finite numbers (V, n, S), got {x0!r}")
    _check_tolerances(rtol, atol)
    t = time_grid(t_end, dt)
    f, jac = scalar_field(params)
    kw = {"jac": lambda _t, x: jac(x)} if method in _IMPLICIT else {}
    sol = solve_ivp(lambda _t, x: f(x), (0.0, t[-1]), x0, method=method, t_eval=t,
                    rtol=rtol, atol=atol, **kw)
    if not sol.success:
        raise RuntimeError(f"solve_ivp ({method}) failed: {sol.message}")
    return sol.t, sol.y.T


# Dormand–Prince 5(4) tableau with its 4th-order dense output (as in scipy's RK45).
_C = np.array([0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1])
_A = [np.array(r) for r in ([], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
                            [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
                            [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656])]
_B = np.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
_E = np.array([-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40])
_P = np.array([
    [1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
    [0, 0, 0, 0],
    [0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799],
    [0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072],
    [0, 127303824393 / 49829197408, -318862633887 / 49829197408,
     701980252875 / 199316789632],
    [0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
    [0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423]])
_PT = np.ascontiguousarray(_P.T)


def _batch_params(params: HHParams, B: int) -> dict[str, np.ndarray | float]:
    out = {}
    for f in dataclasses.fields(params):
        v = getattr(params, f.name)
        if v is None:                      # a field the variant does not use
            continue
        if f.name == "variant" or np.ndim(v) == 0:
            out[f.name] = v if f.name == "variant" else float(v)
            continue
        v = np.asarray(v, dtype=float)
        if v.shape != (B,):
            raise ValueError(f"params.{f.name} must be a scalar or have shape ({B},) to match "
                             f"x0, got shape {v.shape}")
        out[f.name] = v
    return out


def simulate_ensemble(params: HHParams, x0, t_end: float, dt: float, *, rtol: float = 1e-6,
                      atol: float = 1e-8, max_steps: int = 10_000_000,
                      progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """B trajectories at once: ``x0`` of shape (B, 3), parameter fields scalars or shape (B,).

    Each trajectory has its own step size and local error control (Dormand–Prince 5(4),
    error measured as in ``solve_ivp``: RMS over components of err / (atol + rtol |x|)), and
    is sampled every ``dt`` s through the method's 4th-order dense output. Returns
    ``(t, X)`` with ``X`` of shape ``(B, len(t), 3)``.

    Why an explicit pair for a stiff model: the fast eigenvalues (about -45 1/s at rest,
    up to about -190 1/s in spikes) bound an explicit step to a few ms, but at the
    tolerances the book uses the step is set by accuracy in the spikes anyway, and an
    explicit step needs no batched linear algebra (see the chapter "Stiff integration").
    """
    if not isinstance(params, HHParams):
        raise TypeError(f"params must be HHParams, got {type(params).__name__}")
    x0 = _check_state(x0, "x0")
    if x0.ndim != 2:
        raise ValueError(f"x0 must have shape (B, 3), got {x0.shape}")
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 must be finite")
    _check_tolerances(rtol, atol)
    if not (isinstance(max_steps, (int, np.integer)) and max_steps > 0):
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
    t = time_grid(t_end, dt)
    B, T, nt = x0.shape[0], float(t[-1]), len(t)
    pfull = _batch_params(params, B)
    out = np.empty((B, nt, 3))
    out[:, 0] = x0

    idx = np.arange(B)                            # trajectories still running
    field = batch_field(params)
    Y = np.array(x0.T, order="C")                 # a copy, (3, B): rows are V, n, S
    K = np.empty((7, 3, B))
    field(Y, K[0])
    tc = np.zeros(B)
    h = np.full(B, min(1e-4, T))
    nxt = np.ones(B, dtype=np.int64)              # next sample index of each trajectory
    en_prev = np.ones(B)                          # squared error norm of the last accepted step
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=T, unit="s", desc="ensemble (slowest trajectory)", leave=False)
    for _ in range(max_steps):  # noqa: B007
        if not idx.size:
            break
        m = idx.size
        np.minimum(h, T - tc, out=h)
        Kf = K.reshape(7, 3 * m)
        Ys = np.empty((3, m))
        for s in range(1, 7):
            # Stage s (s = 6 is the new state; its slope is the next step's first stage).
            np.dot(_A[s] if s < 6 else _B, Kf[:s], out=Ys.reshape(-1))
            Ys *= h
            Ys += Y
            if s < 6:
                field(Ys, K[s])
        Yn = Ys
        field(Yn, K[6])
        err = (_E @ Kf).reshape(3, m)
        err *= h
        scale = np.abs(Y)
        np.maximum(scale, np.abs(Yn), out=scale)
        scale *= rtol
        scale += atol
        err /= scale
        np.square(err, out=err)
        en = err.sum(0)
        en *= 1 / 3                               # squared RMS error norm
        if not np.isfinite(en.sum()):
            bad = idx[~np.isfinite(en)]
            raise RuntimeError(f"simulate_ensemble: non-finite state in trajectories {bad[:5]}")
        ok = en <= 1.0
        # PI step-size control (Gustafsson; Hairer & Wanner II, IV.2) on accepted steps:
        # err^(-0.7/5) * err_prev^(0.4/5); it damps the accept/reject oscillation that a
        # plain err^(-1/5) controller shows along spikes. After a rejection: err^(-1/5).
        en += 1e-300                              # no division by zero for an exact step
        fac = np.where(ok, en ** -0.07 * en_prev ** 0.04, en ** -0.1)
        fac *= 0.9
        np.maximum(fac, 0.2, out=fac)
        np.minimum(fac, ok * 9.0 + 1.0, out=fac)  # grow at most 10x; never after a rejection
        en_prev = np.where(ok, np.maximum(en, 1e-8), en_prev)
        t_new = tc + h
        cnt = np.minimum((t_new * (1 / dt) * (1 + 1e-12)).astype(np.int64), nt - 1) - nxt + 1
        cnt *= ok
        w = cnt.nonzero()[0]
        if w.size:
            # Samples inside accepted steps, all at once, from the 4th-order dense output
            # x(t + th h) = x + h th (Q0 + th (Q1 + th (Q2 + th Q3))).
            cw = cnt[w]
            rows = np.repeat(w, cw)
            first = np.cumsum(cw) - cw
            k = nxt[rows] + np.arange(rows.size) - np.repeat(first, cw)
            th = (t[k] - tc[rows]) / h[rows]
            Q = (_PT @ Kf).reshape(4, 3, m)[:, :, rows]
            v = Q[3] * th
            for q in (2, 1, 0):
                v += Q[q]
                v *= th
            v *= h[rows]
            v += Y[:, rows]
            out[idx[rows], k] = v.T
            nxt += cnt
        np.copyto(Y, Yn, where=ok)
        np.copyto(K[0], K[6], where=ok)
        np.copyto(tc, t_new, where=ok)
        if bar is not None:
            bar.update(float(tc.min()) - bar.n)
        h *= fac
        done = tc >= T * (1 - 1e-14)
        if done.any():
            keep = ~done
            out[idx[done], -1] = Y[:, done].T
            idx, tc, h, nxt, en_prev = idx[keep], tc[keep], h[keep], nxt[keep], en_prev[keep]
            Y = np.ascontiguousarray(Y[:, keep])
            K0 = K[0][:, keep]
            K = np.empty((7, 3, idx.size))
            K[0] = K0
            field = batch_field(SimpleNamespace(
                **{k: (v[idx] if isinstance(v, np.ndarray) else v) for k, v in pfull.items()}))
    else:
        raise RuntimeError(f"simulate_ensemble: more than max_steps={max_steps} steps")
    if bar is not None:
        bar.close()
    return t, out
