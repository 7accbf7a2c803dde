"""The NumPy batched Dormand–Prince 5(4) integrator that ``hhlib.ode.integrate.simulate_ensemble``
used before it was compiled with numba, kept only as the tests' reference.

All trajectories advance together, each with its own step size and error control, through
in-place NumPy array operations (``hhlib.ode.model.batch_field``). The compiled integrator must
reproduce it (same tableau, error norm, PI step control, initial step and dense output) to
rounding. Not part of ``hhlib``: one implementation to maintain, one to check it against.
"""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np

from hhlib.ode.integrate import _P as _P_ROWS
from hhlib.ode.integrate import time_grid
from hhlib.ode.model import HHParams, batch_field

# Dormand–Prince 5(4) tableau with its 4th-order dense output (as in scipy's RK45).
_A = [np.array(r) for r in ([], [1 / 5], [3 / 40, 9 / 40], [44 / 45, -56 / 15, 32 / 9],
                            [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
                            [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656])]
_B = np.array([35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
_E = np.array([-71 / 57600, 0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40])
# The dense-output coefficients are the same table as the compiled integrator's.
_P = np.array(_P_ROWS)
_PT = np.ascontiguousarray(_P.T)


def _batch_params(params: HHParams, B: int) -> dict:
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
            raise ValueError(f"params.{f.name} must be a scalar or have shape ({B},)")
        out[f.name] = v
    return out


def simulate_ensemble_reference(params: HHParams, x0, t_end: float, dt: float, *,
                                rtol: float = 1e-6, atol: float = 1e-8,
                                max_steps: int = 10_000_000) -> tuple[np.ndarray, np.ndarray]:
    """B trajectories at once, ``x0`` (B, 3); returns ``(t, X)`` with X (B, len(t), 3)."""
    x0 = np.asarray(x0, dtype=float)
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
            raise RuntimeError(f"non-finite state in trajectories {bad[:5]}")
        ok = en <= 1.0
        # PI step-size control (Gustafsson; Hairer & Wanner II, IV.2) on accepted steps.
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
            # Samples inside accepted steps from the 4th-order dense output
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
        raise RuntimeError(f"more than max_steps={max_steps} steps")
    return t, out
