"""The network map x_{k+1} = F(x_k, V_S): a small MLP that predicts normalised increments.

The state moves very unevenly per step: V by up to ~10 mV in a spike, S by ~1e-5. The
network therefore sees inputs scaled to unit spread and outputs the increment
x_{k+1} - x_k in units of the increments' own spread, so that a unit error means the same
fraction of a typical step for every variable; without it the slow variable would be lost
in the rounding of V.

Weights ship as a pair ``name.pt`` (state dict) and ``name.json`` (record). The record's
``sha256`` is the digest of the ``.pt`` file alone (it names the weights, e.g. in benchmark
reports); its ``checksum`` is the digest of the ``.pt`` bytes followed by the canonical JSON
of the record's ``config`` (:func:`weights_checksum`), so an edit to dt, variant, V_S_range,
layer widths or normalisation is caught on load as surely as an edit to the weights.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import math
import os
import signal
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checks import (cuts as check_cuts, flag, instance, integer, interval, is_int, is_real,
                      one_of, real_array, state)
from ..ode.model import PHYSICAL_BOUNDS, physical_samples

__all__ = ["DiscreteMap", "MapNet", "VectorFieldNet", "EnsembleMap", "save_pretrained",
           "load_pretrained", "load_ensemble", "save_or_rescue", "seed_members",
           "read_verified", "load_state", "WEIGHTS_DIR", "normalisation", "weights_checksum",
           "RESERVED_RECORD_KEYS", "existing_weights"]

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"   # hhlib/weights


def _check_hidden(hidden: Any) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise TypeError(f"hidden must be a sequence of layer widths, got {hidden!r}")
    hidden = tuple(hidden)
    if not hidden or not all(is_int(h) and h >= 1 for h in hidden):
        raise ValueError(f"hidden must be a non-empty sequence of integer widths >= 1, "
                         f"got {hidden!r}")
    return tuple(int(h) for h in hidden)


class DiscreteMap(nn.Module):
    """A learned map x_{k+1} = F(x_k, V_S) with time step ``dt`` s: what every model in the
    book is evaluated as (the network map, a vector field's Runge-Kutta step, a fitted
    SINDy model's). Subclasses define ``forward(x (B, 3), V_S (B,))``; this class holds the
    time step, the trained V_S range, the model variant, the state and increment
    normalisation (buffers, saved with the weights) and the array interface :meth:`step`
    and :meth:`rollout` (NumPy in, NumPy out; torch tensors in, tensors out).
    """

    def __init__(self, dt: float, V_S_range: tuple[float, float] = (-44.0, -30.0),
                 x_mean=(0.0, 0.0, 0.0), x_std=(1.0, 1.0, 1.0),
                 d_mean=(0.0, 0.0, 0.0), d_std=(1.0, 1.0, 1.0), variant: str = "original"):
        super().__init__()
        if not (is_real(dt) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a finite number > 0 s, got {dt!r}")
        lo, hi = interval(V_S_range, "V_S_range")
        one_of(variant, "variant", ("original", "bistable"))
        norm = {}
        for name, v in (("x_mean", x_mean), ("x_std", x_std), ("d_mean", d_mean),
                        ("d_std", d_std)):
            a = state(v, name)
            if name.endswith("std") and not np.all(a > 0):
                raise ValueError(f"{name} must be > 0 for every variable, got {v}")
            norm[name] = a
        self._dt, self.V_S_range, self.variant = float(dt), (lo, hi), variant
        for name, a in norm.items():
            self.register_buffer(name, torch.as_tensor(a, dtype=torch.float32))

    @property
    def dt(self) -> float:
        """The map's time step (s)."""
        return self._dt

    def config(self) -> dict[str, Any]:
        """Constructor arguments (normalisation included), JSON-serialisable."""
        return {"dt": self._dt, "V_S_range": list(self.V_S_range), "variant": self.variant,
                **{k: getattr(self, k).double().tolist()
                   for k in ("x_mean", "x_std", "d_mean", "d_std")}}

    def _vs_norm(self, V_S: torch.Tensor) -> torch.Tensor:
        lo, hi = self.V_S_range
        return (V_S - 0.5 * (lo + hi)) / (0.5 * (hi - lo))

    def _inputs(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        """The normalised inputs (B, 4): state by its mean and spread, V_S to [-1, 1]."""
        return torch.cat([(x - self.x_mean) / self.x_std, self._vs_norm(V_S)[:, None]], dim=-1)

    def forward(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("a DiscreteMap subclass defines forward(x, V_S)")

    def _fused_step(self, V_S: torch.Tensor):
        """``step(x, out=None)`` at fixed ``V_S``, for :meth:`rollout`; subclasses may fuse
        operations for speed (:class:`MapNet` does)."""
        def step(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
            y = self(x, V_S)
            return y if out is None else out.copy_(y)
        return step

    # ------------------------------------------------------------------ array interface
    def _prepare(self, x, V_S, name: str = "x", extrapolate: bool = False
                 ) -> tuple[torch.Tensor, torch.Tensor, bool, bool]:
        is_np = not isinstance(x, torch.Tensor)
        p = next(self.parameters())
        if not is_np and (x.is_complex() or x.dtype == torch.bool):
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {x.dtype}")
        if not isinstance(V_S, torch.Tensor):
            V_S = real_array(V_S, "V_S")
        elif V_S.is_complex() or V_S.dtype == torch.bool:
            raise TypeError(f"V_S must hold real numbers, got a tensor of dtype {V_S.dtype}")
        xt = torch.as_tensor(real_array(x, name) if is_np else x, dtype=p.dtype,
                             device=p.device)
        single = xt.ndim == 1
        if single:
            xt = xt[None]
        if xt.ndim != 2 or xt.shape[-1] != 3:
            raise ValueError(f"{name} must have shape (B, 3) or (3,) = (V, n, S), "
                             f"got {tuple(xt.shape)}")
        if not torch.isfinite(xt).all():
            raise ValueError(f"{name} must be finite")
        vt = torch.as_tensor(V_S, dtype=p.dtype, device=p.device)
        if vt.ndim == 0:
            vt = vt.expand(xt.shape[0])
        if vt.shape != (xt.shape[0],):
            raise ValueError(f"V_S must be a scalar or have shape ({xt.shape[0]},) to match "
                             f"{name}, got {tuple(vt.shape)}")
        if not torch.isfinite(vt).all():
            raise ValueError("V_S must be finite")
        flag(extrapolate, "extrapolate")
        lo, hi = self.V_S_range
        if not extrapolate and ((vt < lo).any() or (vt > hi).any()):
            warnings.warn(f"V_S outside the trained range [{lo}, {hi}] mV: the network "
                          "extrapolates (pass extrapolate=True when that is intended)", stacklevel=3)
        return xt, vt, is_np, single

    def step(self, x, V_S, *, extrapolate: bool = False):
        """One step: ``x`` (B, 3) or (3,), ``V_S`` scalar or (B,) in mV. V_S outside the
        trained range warns unless ``extrapolate`` says it is meant."""
        xt, vt, is_np, single = self._prepare(x, V_S, extrapolate=extrapolate)
        if is_np:
            with torch.inference_mode():
                y = self(xt, vt)
            y = y.cpu().double().numpy()
        else:
            y = self(xt, vt)
        return y[0] if single else y

    def rollout(self, x0, V_S, n_steps: int, *, progress: bool = False,
                grad: bool | None = None, check: bool = True, extrapolate: bool = False):
        """Iterate the map ``n_steps`` times: returns (B, n_steps + 1, 3) (or
        (n_steps + 1, 3) for a single x0), the first entry being x0.

        With torch tensors, ``grad`` says whether the result carries an autograd graph:
        None (default) builds one only when ``x0`` or ``V_S`` requires grad (and grad mode
        is on), True always (gradients with respect to the network's weights), False never.
        A graph keeps every step's activations, hundreds of times the size of the result.
        ``check`` warns (``UserWarning``) when runs leave the physical box
        (:data:`PHYSICAL_BOUNDS`) or become non-finite, naming how many and the first step.
        ``extrapolate=True`` says that V_S outside the trained range is meant (no warning).
        """
        integer(n_steps, "n_steps", 0)
        if grad is not None and not isinstance(grad, (bool, np.bool_)):
            raise TypeError(f"grad must be None, True or False, got {grad!r}")
        xt, vt, is_np, single = self._prepare(x0, V_S, "x0", extrapolate)
        need = (int(n_steps) + 1) * xt.shape[0] * 3 * xt.element_size()
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
        if need > limit:              # refuse before torch's allocator does, obscurely
            raise ValueError(f"n_steps = {n_steps} for {xt.shape[0]} runs needs "
                             f"{need / 2**30:.3g} GiB for the result, more than half this "
                             f"machine's memory ({2 * limit / 2**30:.3g} GiB): lower n_steps")
        it = range(int(n_steps))
        if progress:
            # not at the top: in a Jupyter kernel without ipywidgets importing tqdm.auto warns
            from tqdm.auto import tqdm
            it = tqdm(it, desc="rollout", unit="step", leave=False, mininterval=1.0)
        if not is_np:
            if grad is None:
                grad = torch.is_grad_enabled() and (xt.requires_grad or vt.requires_grad)
            if grad:
                states = [xt]
                for _ in it:
                    states.append(self(states[-1], vt))
                res = torch.stack(states, dim=1)
            else:
                with torch.no_grad():
                    res = self._fused_rollout(xt, vt, it).transpose(0, 1).contiguous()
            if check:
                self._check_rollout(res.detach().cpu().double().numpy())
            return res[0] if single else res
        with torch.inference_mode():
            res = self._fused_rollout(xt, vt, it).transpose(0, 1).cpu().double().numpy()
        if check:
            self._check_rollout(res)
        return res[0] if single else res

    def _fused_rollout(self, xt: torch.Tensor, vt: torch.Tensor, it) -> torch.Tensor:
        """(n_steps + 1, B, 3), time-major, so that each step writes its new states in place,
        contiguously."""
        step = self._fused_step(vt)
        out = torch.empty((len(it) + 1, xt.shape[0], 3), dtype=xt.dtype, device=xt.device)
        out[0] = xt
        for k in it:
            step(out[k], out=out[k + 1])
        return out

    @staticmethod
    def _check_rollout(res: np.ndarray) -> None:
        """Warn about runs (B, T, 3) that leave the physical box or become non-finite."""
        if res.ndim == 2:
            res = res[None]
        bad = ~physical_samples(res)                     # (B, T)
        runs = bad.any(axis=1)
        if not runs.any():
            return
        first = int(np.argmax(bad[runs], axis=1).min())
        nonfinite = int((~np.isfinite(res).all(axis=(1, 2))).sum())
        warnings.warn(f"{int(runs.sum())} of {res.shape[0]} rollout runs left the physical box "
                      f"{PHYSICAL_BOUNDS} (the first at step {first}); {nonfinite} became "
                      "non-finite", UserWarning, stacklevel=3)

class MapNet(DiscreteMap):
    """F(x, V_S): one step of length ``dt`` s of the model's flow, learned.

    ``x`` = (V mV, n, S); ``V_S`` in mV. An MLP with ``hidden`` layer widths (SiLU) takes the
    normalised state and V_S and returns the normalised increment. Call :meth:`step` or
    :meth:`rollout` with NumPy arrays (NumPy comes back) or torch tensors (tensors come
    back, autograd works).
    """

    def __init__(self, dt: float, hidden: tuple[int, ...] = (128, 128, 128),
                 V_S_range: tuple[float, float] = (-44.0, -30.0),
                 x_mean=(0.0, 0.0, 0.0), x_std=(1.0, 1.0, 1.0),
                 d_mean=(0.0, 0.0, 0.0), d_std=(1.0, 1.0, 1.0), variant: str = "original"):
        hidden = _check_hidden(hidden)
        super().__init__(dt, V_S_range, x_mean, x_std, d_mean, d_std, variant)
        self.hidden = hidden
        layers: list[nn.Module] = []
        width = 4
        for h in hidden:
            layers += [nn.Linear(width, h), nn.SiLU()]
            width = h
        layers.append(nn.Linear(width, 3))
        self.mlp = nn.Sequential(*layers)
        # Start as the identity map: the last layer's output is the (normalised) increment.
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "hidden": list(self.hidden)}

    def increment(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        """x_{k+1} - x_k in state units for ``x`` (B, 3) and ``V_S`` (B,), both tensors."""
        return self.d_mean + self.d_std * self.mlp(self._inputs(x, V_S))

    def forward(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        """Next state for ``x`` (B, 3) and ``V_S`` (B,), both tensors."""
        return x + self.increment(x, V_S)

    def _fused_increment(self, V_S: torch.Tensor):
        """``inc(x, out=None)``: the network's output in state units, x_{k+1} - x_k for the
        map, at fixed ``V_S``, with the normalisations folded into the first and last
        layers (see :meth:`_fused_step`)."""
        lin = [m for m in self.mlp if isinstance(m, nn.Linear)]
        W0 = lin[0].weight
        Wx = (W0[:, :3] / self.x_std).T.contiguous()
        # The state mean is still subtracted per step: folding it into the bias would
        # cancel large float32 numbers and cost S most of its digits.
        b0 = lin[0].bias + self._vs_norm(V_S)[:, None] * W0[:, 3]
        mean = self.x_mean
        mids = [(m.weight.T.contiguous(), m.bias) for m in lin[1:-1]]
        WL = (lin[-1].weight * self.d_std[:, None]).T.contiguous()
        bL = lin[-1].bias * self.d_std + self.d_mean
        silu = nn.functional.silu
        xc = torch.empty((b0.shape[0], 3), dtype=b0.dtype, device=b0.device)
        hid = [torch.empty_like(b0)] + [torch.empty((b0.shape[0], W.shape[1]), dtype=b0.dtype,
                                                    device=b0.device) for W, _ in mids]

        def inc(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
            h = torch.addmm(b0, torch.sub(x, mean, out=xc), Wx, out=hid[0])
            silu(h, inplace=True)
            for (W, b), buf in zip(mids, hid[1:]):
                h = torch.addmm(b, h, W, out=buf)
                silu(h, inplace=True)
            if out is None:
                return torch.addmm(bL, h, WL)
            return torch.addmm(bL, h, WL, out=out)

        return inc

    def _fused_step(self, V_S: torch.Tensor):
        """The same map with the normalisations folded into the first and last layers and
        the V_S input into a per-trajectory bias: a long rollout pays per-call overhead for
        every torch operation, so fewer operations per step is what makes it fast. The
        returned ``step(x, out=None)`` reuses its hidden-layer buffers and writes into
        ``out`` when given: no allocation per step, the same numbers."""
        inc = self._fused_increment(V_S)

        def step(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
            return inc(x, out).add_(x)

        return step


class VectorFieldNet(MapNet):
    """A learned vector field dx/dt = f(x, V_S) (a "neural ODE"), used as a map through one
    classical Runge-Kutta (RK4) step of length ``dt``: the same MLP, inputs and
    normalisation as :class:`MapNet`, but its output is the rate of change, in units of
    the one-step increments' spread per ``dt``. Its fixed points are the zeros of f and its
    eigenvalues those of df/dx (:meth:`field`); the RK4 map has the same fixed points, and
    log(mu) / dt of its multipliers differs from them by the RK4 error, O((lambda dt)^5).
    """

    def config(self) -> dict[str, Any]:
        return {**super().config(), "kind": "vector_field"}

    def field(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        """f(x, V_S) in (mV, 1, 1) per s for ``x`` (B, 3) and ``V_S`` (B,), tensors."""
        return (self.d_mean + self.d_std * self.mlp(self._inputs(x, V_S))) / self._dt

    def forward(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        h = self._dt
        k1 = self.field(x, V_S)
        k2 = self.field(x + 0.5 * h * k1, V_S)
        k3 = self.field(x + 0.5 * h * k2, V_S)
        k4 = self.field(x + h * k3, V_S)
        return x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    def _fused_step(self, V_S: torch.Tensor):
        """The RK4 step with :meth:`MapNet._fused_increment` for the four evaluations of
        f (times dt) and preallocated stage buffers (:func:`fused_rk4`): the arithmetic of
        :meth:`forward`, a few times fewer tensor operations per step."""
        return fused_rk4(self._fused_increment(V_S), V_S)


class EnsembleMap(DiscreteMap):
    """The mean of several network maps: x_{k+1} = x_k + (1/M) sum_i g_i(x_k, V_S), with
    g_i the increment of member i (:meth:`MapNet.increment`). The members must be
    :class:`MapNet` with the same time step, V_S range, variant and layer widths (networks
    trained alike from different seeds); the ensemble's normalisation buffers are the
    first member's (they set the scale of fixed-point residuals, nothing else). Its
    rollouts evaluate all members in one batched matrix product per layer."""

    def __init__(self, members):
        members = list(members) if hasattr(members, "__iter__") else members
        if not isinstance(members, list) or len(members) < 2 or not all(
                type(m) is MapNet for m in members):
            raise TypeError("members must be a sequence of at least two MapNet (network "
                            "maps; not vector fields or fitted models)")
        m0 = members[0]
        for m in members[1:]:
            for what in ("dt", "V_S_range", "variant", "hidden"):
                if getattr(m, what) != getattr(m0, what):
                    raise ValueError(f"members must share {what}: {getattr(m0, what)!r} and "
                                     f"{getattr(m, what)!r}")
        super().__init__(m0.dt, m0.V_S_range, *(getattr(m0, k).double().numpy() for k in
                                                ("x_mean", "x_std", "d_mean", "d_std")),
                         variant=m0.variant)
        self.members = nn.ModuleList(members)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "members": [m.config() for m in self.members]}

    def forward(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        return x + torch.stack([m.increment(x, V_S) for m in self.members]).mean(0)

    def _fused_step(self, V_S: torch.Tensor):
        """Every member's layer as one batched product (``baddbmm`` over members), the
        normalisations folded in as in :meth:`MapNet._fused_increment`."""
        lins = [[m for m in net.mlp if isinstance(m, nn.Linear)] for net in self.members]
        nets = list(self.members)
        Wx = torch.stack([(ls[0].weight[:, :3] / n.x_std).T for ls, n in zip(lins, nets)])
        b0 = torch.stack([ls[0].bias + n._vs_norm(V_S)[:, None] * ls[0].weight[:, 3]
                          for ls, n in zip(lins, nets)])                       # (M, B, h)
        mean = torch.stack([n.x_mean for n in nets])[:, None]                  # (M, 1, 3)
        mids = [(torch.stack([ls[j].weight.T for ls in lins]),
                 torch.stack([ls[j].bias for ls in lins])[:, None]) for j in
                range(1, len(lins[0]) - 1)]
        WL = torch.stack([(ls[-1].weight * n.d_std[:, None]).T for ls, n in zip(lins, nets)])
        bL = torch.stack([ls[-1].bias * n.d_std + n.d_mean for ls, n in zip(lins, nets)]
                         )[:, None]
        silu = nn.functional.silu
        M, B = b0.shape[0], b0.shape[1]
        xc = torch.empty((M, B, 3), dtype=b0.dtype, device=b0.device)
        hid = [torch.empty_like(b0)] + [torch.empty((M, B, W.shape[2]), dtype=b0.dtype,
                                                    device=b0.device) for W, _ in mids]
        d = torch.empty((M, B, 3), dtype=b0.dtype, device=b0.device)

        def step(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
            h = torch.baddbmm(b0, torch.sub(x[None], mean, out=xc), Wx, out=hid[0])
            silu(h, inplace=True)
            for (W, b), buf in zip(mids, hid[1:]):
                h = torch.baddbmm(b, h, W, out=buf)
                silu(h, inplace=True)
            torch.baddbmm(bL, h, WL, out=d)
            y = torch.mean(d, 0) if out is None else torch.mean(d, 0, out=out)
            return y.add_(x)

        return step


def load_ensemble(names, directory: Path | None = None) -> tuple[EnsembleMap, dict[str, Any]]:
    """The :class:`EnsembleMap` of the shipped networks ``names`` (each checked by
    :func:`load_pretrained`) and a record for it: the members' common recipe
    (``train_config`` but the seed, ``dataset_config``), their names and seeds, the summed
    training time, and ``best_val_score`` NaN (no training selected the ensemble)."""
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise TypeError(f"names must be a sequence of weights names, got {names!r}")
    names = list(names)
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"names must hold at least two different weights names, got {names}")
    loaded = [load_pretrained(n, directory) for n in names]
    recs = [r for _, r in loaded]

    # not at the top: .data brings numba and the integrator (0.15 s) to every network import
    from ..ode.data import DatasetConfig

    def alike(a: dict, b: dict) -> bool:
        # An option a record predates is off in it: compare the keys both records hold.
        ta, tb = a.get("train_config", {}), b.get("train_config", {})
        return DatasetConfig.from_record(a) == DatasetConfig.from_record(b) and all(
            ta[k] == tb[k] for k in set(ta) & set(tb) if k != "seed")

    if not all(alike(recs[0], r) for r in recs[1:]):
        raise ValueError(f"the networks {names} were not trained alike (their train_config "
                         "apart from the seed, or their dataset_config, differ)")
    net = EnsembleMap([m for m, _ in loaded])
    net.eval()
    record = {"name": f"mean of {', '.join(names)}", "members": names,
              "member_seeds": [r["train_config"].get("seed", 0) for r in recs],
              "train_config": recs[0]["train_config"],
              "dataset_config": recs[0].get("dataset_config", {}),
              "train_seconds": float(sum(r.get("train_seconds", float("nan")) for r in recs)),
              "best_val_score": float("nan")}
    return net, record


def seed_members(name: str, directory: Path | None = None) -> list[str]:
    """``name`` and the saved networks ``{name}-seed{k}`` (k = 1, 2, ...), trained by the
    same recipe from other seeds, in the order of k: the members of a seed ensemble
    (:func:`load_ensemble`), found by their names in ``directory`` (default the shipped
    weights), so that a seed added there joins every ensemble that names its recipe."""
    _check_name(name)
    directory = Path(directory) if directory is not None else WEIGHTS_DIR
    if not (directory / f"{name}.pt").exists():
        have = sorted(p.stem for p in directory.glob("*.pt"))
        raise ValueError(f"no saved network named {name!r} in {directory}; available: {have}")
    prefix = f"{name}-seed"
    seeds = sorted((int(p.stem[len(prefix):]), p.stem) for p in directory.glob("*.pt")
                   if p.stem.startswith(prefix) and p.stem[len(prefix):].isdigit())
    return [name] + [stem for _, stem in seeds]


def fused_rk4(inc, V_S: torch.Tensor, substeps: int = 1):
    """``step(x, out=None)``: ``substeps`` classical RK4 steps, ``inc(x, out)`` writing
    h f(x) (the increment of one Euler step of the substep's length h) into ``out``; stage
    buffers are allocated once, for rollouts of ``V_S.shape[0]`` trajectories."""
    k, acc, xs, y = (torch.empty((V_S.shape[0], 3), dtype=V_S.dtype, device=V_S.device)
                     for _ in range(4))

    def step(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        src = x
        for _ in range(substeps):
            inc(src, acc)                                     # k1 h
            inc(torch.add(src, acc, alpha=0.5, out=xs), k)    # k2 h
            acc.add_(k, alpha=2.0)
            inc(torch.add(src, k, alpha=0.5, out=xs), k)      # k3 h
            acc.add_(k, alpha=2.0)
            inc(torch.add(src, k, out=xs), k)                 # k4 h
            acc.add_(k)
            src = torch.add(src, acc, alpha=1.0 / 6.0, out=y)
        return y.clone() if out is None else out.copy_(y)

    return step


def normalisation(cuts: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and spread of states and of one-step increments over cuts (N, L + 1, 3)."""
    cuts = check_cuts(cuts)
    x = cuts.reshape(-1, 3)
    d = (cuts[:, 1:] - cuts[:, :-1]).reshape(-1, 3)
    return {"x_mean": x.mean(0), "x_std": x.std(0), "d_mean": d.mean(0), "d_std": d.std(0)}


# ---------------------------------------------------------------------------- weights
# Record keys that save_pretrained writes itself; a caller's record must not override them.
RESERVED_RECORD_KEYS = ("name", "config", "sha256", "checksum", "torch")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def weights_checksum(pt_bytes: bytes, config: dict[str, Any]) -> str:
    """The record's ``checksum``: sha256 over the ``.pt`` file's bytes followed by the
    canonical JSON (sorted keys, no spaces) of the network's ``config`` (dt, variant,
    V_S_range, hidden, normalisation). An edit to either changes it."""
    h = hashlib.sha256(pt_bytes)
    h.update(_canonical_json(config).encode())
    return h.hexdigest()


def _json_value(obj: Any) -> Any:
    """``json.dumps`` default: NumPy scalars and arrays as Python numbers and lists."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (tuple, Path)):
        return list(obj) if isinstance(obj, tuple) else str(obj)
    raise TypeError(f"record values must be JSON-serialisable (numbers, strings, lists, dicts, "
                    f"NumPy scalars/arrays), got {type(obj).__name__}: {obj!r}"[:300])


# A save writes, beside name.pt and name.json, the lock .name.lock and the temporary files
# .name.pt.tmp, .name.json.tmp, .name.pt.new and .name.json.new; the longest of these must
# fit the file system's limit of 255 bytes per name, with room to spare.
MAX_NAME_BYTES = 200


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or name.startswith(".") \
            or any(c in name for c in '/\\:*?"<>|\0') or name != name.strip():
        raise ValueError(f"name must be a plain file stem (letters, digits, '-', '_'; no "
                         f"path separators, not starting with '.'), got {name!r}")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ValueError(f"name must be at most {MAX_NAME_BYTES} bytes long (the save's "
                         f"temporary files add to it), got {len(name.encode('utf-8', 'surrogatepass'))}")
    return name


def existing_weights(name: str, directory: Path | str) -> list[Path]:
    """The files a training script must not replace without ``--force``: ``name``'s
    ``.pt``/``.json`` in ``directory``, and those in :data:`WEIGHTS_DIR` (a shipped name,
    even written elsewhere, would be confused with the network the chapters load)."""
    _check_name(name)
    dirs = dict.fromkeys(Path(d).resolve() for d in (directory, WEIGHTS_DIR))
    return [d / f"{name}{ext}" for d in dirs for ext in (".pt", ".json")
            if (d / f"{name}{ext}").exists()]


@contextlib.contextmanager
def _name_lock(directory: Path, name: str, mode: int):
    """Hold ``fcntl.flock(mode)`` on ``directory/.name.lock`` (created if possible) and yield
    its descriptor; None where the directory is read-only and has no lock file, since then
    nobody can be saving there."""
    path = directory / f".{name}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        if mode == fcntl.LOCK_EX:
            raise
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            yield None
            return
    try:
        fcntl.flock(fd, mode)
        yield fd
    finally:
        os.close(fd)


def _save_files(directory: Path, name: str) -> dict[str, Path]:
    return {k: directory / f for k, f in (
        ("pt", f"{name}.pt"), ("json", f"{name}.json"),
        ("pt_tmp", f".{name}.pt.tmp"), ("json_tmp", f".{name}.json.tmp"),
        ("pt_new", f".{name}.pt.new"), ("json_new", f".{name}.json.new"))}


def _pending(directory: Path, name: str) -> bool:
    f = _save_files(directory, name)
    return any(f[k].exists() for k in ("pt_tmp", "json_tmp", "pt_new", "json_new"))


def _finish_save(directory: Path, name: str) -> None:
    """Complete or undo a save that stopped part-way (killed, or a rename failed); call it
    holding the name's lock. ``.name.json.new`` exists only once the new pair is complete on
    disk, so it is rolled forward; before that the old pair was never touched."""
    f = _save_files(directory, name)
    f["pt_tmp"].unlink(missing_ok=True)
    f["json_tmp"].unlink(missing_ok=True)
    if f["json_new"].exists():
        if f["pt_new"].exists():
            os.replace(f["pt_new"], f["pt"])
        os.replace(f["json_new"], f["json"])
        _fsync_dir(directory)
    else:
        f["pt_new"].unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _kill_point(step: int) -> None:
    """Tests: SIGKILL this process at save step ``step`` when $HHLIB_SAVE_KILL_AT says so."""
    if os.environ.get("HHLIB_SAVE_KILL_AT") == str(step):
        os.kill(os.getpid(), signal.SIGKILL)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


SAVE_STEPS = 6   # kill points in save_pretrained, for the tests


def save_pretrained(net: DiscreteMap, name: str, record: dict[str, Any],
                    directory: Path | None = None) -> Path:
    """Write ``name.pt`` (state dict) and ``name.json`` (config, record, ``sha256`` of the
    ``.pt`` file and ``checksum`` of weights and config together, see
    :func:`weights_checksum`).

    The record is serialised before anything is written (NumPy scalars and arrays become
    numbers and lists; anything else that JSON cannot hold is a TypeError), both files are
    written to temporary names in ``directory`` and then renamed over the old ones, holding
    a lock (``.name.lock``) so that concurrent saves of one name take turns: a failure or a
    kill before the new pair is complete leaves the previous pair; after it, the next save
    or load of the name completes the new pair. Record keys that the function writes itself
    (:data:`RESERVED_RECORD_KEYS`) are rejected, and so is an :class:`EnsembleMap` (save its
    members; :func:`load_ensemble` loads them together)."""
    instance(net, DiscreteMap, "net", "DiscreteMap (a MapNet, VectorFieldNet or fitted model)")
    if isinstance(net, EnsembleMap):
        raise TypeError("net must be a single model, not an EnsembleMap (load_pretrained "
                        "cannot load one): save each member and use load_ensemble")
    _check_name(name)
    if not isinstance(record, dict):
        raise TypeError(f"record must be a dict, got {type(record).__name__}")
    bad = [k for k in record if not isinstance(k, str)]
    if bad:
        raise TypeError(f"record keys must be strings, got {bad!r}")
    clash = sorted(set(record) & set(RESERVED_RECORD_KEYS))
    if clash:
        raise ValueError(f"record keys {clash} are reserved (save_pretrained writes "
                         f"{list(RESERVED_RECORD_KEYS)} itself)")
    directory = Path(directory) if directory is not None else WEIGHTS_DIR
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if not all(torch.isfinite(v).all() for v in state.values()):
        raise ValueError("net has non-finite weights or buffers: refusing to save them")
    buf = io.BytesIO()
    torch.save(state, buf)
    pt_bytes = buf.getvalue()
    config = net.config()
    meta = {"name": name, "config": config, "sha256": hashlib.sha256(pt_bytes).hexdigest(),
            "checksum": weights_checksum(pt_bytes, config), "torch": torch.__version__}
    try:
        text = json.dumps({**record, **meta}, indent=2, sort_keys=True, default=_json_value) + "\n"
    except ValueError as e:           # e.g. a circular reference
        raise ValueError(f"record cannot be written as JSON: {e}") from None
    directory.mkdir(parents=True, exist_ok=True)
    f = _save_files(directory, name)
    # One writer per name at a time (the lock), and an order of steps in which a kill at any
    # point leaves either the old pair or a complete new pair that _finish_save renames in.
    with _name_lock(directory, name, fcntl.LOCK_EX):
        _finish_save(directory, name)
        try:
            _write_synced(f["pt_tmp"], pt_bytes)
            _kill_point(1)
            os.replace(f["pt_tmp"], f["pt_new"])
            _kill_point(2)
            _write_synced(f["json_tmp"], text.encode())
            _kill_point(3)
            os.replace(f["json_tmp"], f["json_new"])       # the new pair is complete
            _kill_point(4)
            os.replace(f["pt_new"], f["pt"])
            _kill_point(5)
            os.replace(f["json_new"], f["json"])
            _kill_point(6)
            _fsync_dir(directory)
        except BaseException:
            try:
                _finish_save(directory, name)
            except OSError:
                pass    # the first error is the one to report; the next access retries
            raise
    return f["pt"]


def save_or_rescue(net: DiscreteMap, name: str, record: dict[str, Any],
                   directory: Path | None = None) -> tuple[Path, Exception | None]:
    """:func:`save_pretrained`, and where that fails (a full disk, a vanished directory),
    the same save into a new temporary directory, so that a trained model is never lost:
    ``(path written, the first error or None)``."""
    try:
        return save_pretrained(net, name, record, directory), None
    except OSError as e:
        rescue = Path(tempfile.mkdtemp(prefix="hhlib-unsaved-"))
        return save_pretrained(net, name, record, rescue), e


_NETWORK_KINDS = {"map": MapNet, "vector_field": VectorFieldNet}


def read_verified(name: str, directory: Path | None = None
                  ) -> tuple[dict[str, Any], bytes, Path]:
    """The record and ``.pt`` bytes of saved model ``name`` after checking its ``checksum``
    (weights and config together, see :func:`weights_checksum`) and the ``.pt`` file's
    ``sha256``: ``(record, pt_bytes, pt_path)``. A missing or wrong checksum is an error
    naming the file. :func:`load_pretrained` and the fitted baselines' loaders build on it."""
    _check_name(name)
    directory = Path(directory) if directory is not None else WEIGHTS_DIR
    # Read under the name's shared lock, so that a save in progress is not seen half-done;
    # a save that was killed part-way is completed first (under the exclusive lock).
    with _name_lock(directory, name, fcntl.LOCK_SH) as fd:
        if fd is not None and _pending(directory, name):
            fcntl.flock(fd, fcntl.LOCK_EX)
            _finish_save(directory, name)
        return _read_pair(name, directory)


def _read_pair(name: str, directory: Path) -> tuple[dict[str, Any], bytes, Path]:
    meta_path, pt = directory / f"{name}.json", directory / f"{name}.pt"
    if not meta_path.exists() or not pt.exists():
        have = sorted(p.stem for p in directory.glob("*.json"))
        raise ValueError(f"no pretrained weights named {name!r} in {directory}; "
                         f"available: {have}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"weights record {meta_path} is not valid JSON: {e}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ValueError(f"weights record {meta_path} has no 'config' object")
    for key in ("checksum", "sha256"):
        if not isinstance(meta.get(key), str):
            raise ValueError(f"weights record {meta_path} has no {key!r}: it cannot be checked "
                             "(re-save the network with save_pretrained)")
    pt_bytes = pt.read_bytes()
    digest = hashlib.sha256(pt_bytes).hexdigest()
    if digest != meta["sha256"]:
        raise RuntimeError(f"checksum mismatch for {pt}: file {digest[:12]}..., record "
                           f"{meta['sha256'][:12]}... (corrupted or replaced weights)")
    try:
        check = weights_checksum(pt_bytes, meta["config"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"weights record {meta_path}: config is not plain JSON ({e})") from None
    if check != meta["checksum"]:
        raise RuntimeError(f"checksum mismatch for {meta_path}: weights and config give "
                           f"{check[:12]}..., record {meta['checksum'][:12]}... (the record's "
                           "config or the weights were edited)")
    if meta.get("name") != name:
        raise ValueError(f"weights record {meta_path} is for the model named "
                         f"{meta.get('name')!r}, not {name!r} (renamed or swapped files?)")
    return meta, pt_bytes, pt


def load_state(pt_bytes: bytes, pt: Path) -> dict[str, torch.Tensor]:
    """``torch.load(weights_only=True)`` of verified bytes; a file that is not a torch
    archive of tensors is a ValueError naming it (torch's own message would suggest
    ``weights_only=False``, which runs whatever code the file holds: never do that)."""
    try:
        state = torch.load(io.BytesIO(pt_bytes), map_location="cpu", weights_only=True)
    except Exception as e:           # UnpicklingError, zip errors, EOFError, RuntimeError
        raise ValueError(f"weights file {pt} is not a torch archive of tensors "
                         f"({type(e).__name__}); it cannot be loaded safely") from None
    if not isinstance(state, dict):
        raise ValueError(f"weights file {pt} holds a {type(state).__name__}, not a state dict")
    return state


def load_pretrained(name: str = "original", directory: Path | None = None
                    ) -> tuple[MapNet, dict[str, Any]]:
    """Load a network (a :class:`MapNet` or, by its record's ``kind``, a
    :class:`VectorFieldNet`) after :func:`read_verified` has checked its checksums;
    returns ``(net, record)``."""
    meta, pt_bytes, pt = read_verified(name, directory)
    meta_path = pt.with_suffix(".json")
    cfg = dict(meta["config"])
    kind = cfg.pop("kind", "map")
    if kind not in _NETWORK_KINDS:
        raise ValueError(f"weights record {meta_path} holds a model of kind {kind!r}, not a "
                         f"network ({sorted(_NETWORK_KINDS)}); a fitted SINDy model loads "
                         "with hhlib.dynamics.baselines.load_sindy")
    try:
        net = _NETWORK_KINDS[kind](cfg.pop("dt"), tuple(cfg.pop("hidden")),
                                   tuple(cfg.pop("V_S_range")), **cfg)
        state = load_state(pt_bytes, pt)
        net.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"weights {pt} do not match their record {meta_path}: {e}") from None
    net.eval()
    return net, meta
