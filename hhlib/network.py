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

import copy
import hashlib
import io
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .model import _real_array

__all__ = ["MapNet", "TrainConfig", "train", "save_pretrained", "load_pretrained",
           "WEIGHTS_DIR", "rollout_loss", "is_physical", "Targets", "compare_free_runs",
           "normalisation", "TrainingError", "weights_checksum", "RESERVED_RECORD_KEYS",
           "PHYSICAL_BOUNDS"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_hidden(hidden: Any) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise TypeError(f"hidden must be a sequence of layer widths, got {hidden!r}")
    hidden = tuple(hidden)
    if not hidden or not all(_is_int(h) and h >= 1 for h in hidden):
        raise ValueError(f"hidden must be a non-empty sequence of integer widths >= 1, "
                         f"got {hidden!r}")
    return tuple(int(h) for h in hidden)


def _check_range(V_S_range: Any, name: str = "V_S_range") -> tuple[float, float]:
    r = _real_array(V_S_range, name)
    if r.shape != (2,) or not np.all(np.isfinite(r)) or not r[0] < r[1]:
        raise ValueError(f"{name} must be (low, high) in mV, finite, with low < high, "
                         f"got {V_S_range!r}")
    return float(r[0]), float(r[1])


class MapNet(nn.Module):
    """F(x, V_S): one step of length ``dt`` s of the model's flow, learned.

    ``x`` = (V mV, n, S); ``V_S`` in mV. Normalisation constants are buffers, saved with the
    weights. Call :meth:`step` or :meth:`rollout` with NumPy arrays (NumPy comes back) or
    torch tensors (tensors come back, autograd works).
    """

    def __init__(self, dt: float, hidden: tuple[int, ...] = (128, 128, 128),
                 V_S_range: tuple[float, float] = (-44.0, -30.0),
                 x_mean=(0.0, 0.0, 0.0), x_std=(1.0, 1.0, 1.0),
                 d_mean=(0.0, 0.0, 0.0), d_std=(1.0, 1.0, 1.0), variant: str = "original"):
        super().__init__()
        if isinstance(dt, bool) or not (isinstance(dt, (int, float, np.integer, np.floating))
                                        and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a finite number > 0 s, got {dt!r}")
        hidden = _check_hidden(hidden)
        lo, hi = _check_range(V_S_range)
        if not isinstance(variant, str) or variant not in ("original", "bistable"):
            raise ValueError(f"variant must be 'original' or 'bistable', got {variant!r}")
        norm = {}
        for name, v in (("x_mean", x_mean), ("x_std", x_std), ("d_mean", d_mean),
                        ("d_std", d_std)):
            a = _real_array(v, name)
            if a.shape != (3,) or not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be 3 finite numbers (V, n, S), got {v!r}")
            if name.endswith("std") and not np.all(a > 0):
                raise ValueError(f"{name} must be > 0 for every variable, got {v}")
            norm[name] = a
        self._dt, self.hidden, self.V_S_range, self.variant = float(dt), hidden, (lo, hi), variant
        for name, a in norm.items():
            self.register_buffer(name, torch.as_tensor(a, dtype=torch.float32))
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

    @property
    def dt(self) -> float:
        """The map's time step (s)."""
        return self._dt

    def config(self) -> dict[str, Any]:
        """Constructor arguments (normalisation included), JSON-serialisable."""
        return {"dt": self._dt, "hidden": list(self.hidden), "V_S_range": list(self.V_S_range),
                "variant": self.variant,
                **{k: getattr(self, k).double().tolist()
                   for k in ("x_mean", "x_std", "d_mean", "d_std")}}

    def _vs_norm(self, V_S: torch.Tensor) -> torch.Tensor:
        lo, hi = self.V_S_range
        return (V_S - 0.5 * (lo + hi)) / (0.5 * (hi - lo))

    def forward(self, x: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
        """Next state for ``x`` (B, 3) and ``V_S`` (B,), both tensors."""
        z = torch.cat([(x - self.x_mean) / self.x_std, self._vs_norm(V_S)[:, None]], dim=-1)
        return x + self.d_mean + self.d_std * self.mlp(z)

    # ------------------------------------------------------------------ array interface
    def _prepare(self, x, V_S, name: str = "x") -> tuple[torch.Tensor, torch.Tensor, bool, bool]:
        is_np = not isinstance(x, torch.Tensor)
        p = next(self.parameters())
        if not is_np and (x.is_complex() or x.dtype == torch.bool):
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {x.dtype}")
        if not isinstance(V_S, torch.Tensor):
            V_S = _real_array(V_S, "V_S")
        elif V_S.is_complex() or V_S.dtype == torch.bool:
            raise TypeError(f"V_S must hold real numbers, got a tensor of dtype {V_S.dtype}")
        xt = torch.as_tensor(_real_array(x, name) if is_np else x, dtype=p.dtype,
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
        lo, hi = self.V_S_range
        if (vt < lo).any() or (vt > hi).any():
            warnings.warn(f"V_S outside the trained range [{lo}, {hi}] mV: the network "
                          "extrapolates", stacklevel=3)
        return xt, vt, is_np, single

    def step(self, x, V_S):
        """One step: ``x`` (B, 3) or (3,), ``V_S`` scalar or (B,) in mV."""
        xt, vt, is_np, single = self._prepare(x, V_S)
        if is_np:
            with torch.inference_mode():
                y = self(xt, vt)
            y = y.cpu().double().numpy()
        else:
            y = self(xt, vt)
        return y[0] if single else y

    def rollout(self, x0, V_S, n_steps: int, *, progress: bool = False,
                grad: bool | None = None, check: bool = True):
        """Iterate the map ``n_steps`` times: returns (B, n_steps + 1, 3) (or
        (n_steps + 1, 3) for a single x0), the first entry being x0.

        With torch tensors, ``grad`` says whether the result carries an autograd graph:
        None (default) builds one only when ``x0`` or ``V_S`` requires grad (and grad mode
        is on), True always (gradients with respect to the network's weights), False never.
        A graph keeps every step's activations, hundreds of times the size of the result.
        ``check`` warns (``UserWarning``) when runs leave the physical box
        (:data:`PHYSICAL_BOUNDS`) or become non-finite, naming how many and the first step.
        """
        if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, (int, np.integer)) \
                or n_steps < 0:
            raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
        if grad is not None and not isinstance(grad, (bool, np.bool_)):
            raise TypeError(f"grad must be None, True or False, got {grad!r}")
        xt, vt, is_np, single = self._prepare(x0, V_S, "x0")
        it = range(int(n_steps))
        if progress:
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
        bad = ~_physical_samples(res)                     # (B, T)
        runs = bad.any(axis=1)
        if not runs.any():
            return
        first = int(np.argmax(bad[runs], axis=1).min())
        nonfinite = int((~np.isfinite(res).all(axis=(1, 2))).sum())
        warnings.warn(f"{int(runs.sum())} of {res.shape[0]} rollout runs left the physical box "
                      f"{PHYSICAL_BOUNDS} (the first at step {first}); {nonfinite} became "
                      "non-finite", UserWarning, stacklevel=3)

    def _fused_step(self, V_S: torch.Tensor):
        """The same map with the normalisations folded into the first and last layers and
        the V_S input into a per-trajectory bias: a long rollout pays per-call overhead for
        every torch operation, so fewer operations per step is what makes it fast. The
        returned ``step(x, out=None)`` reuses its hidden-layer buffers and writes into
        ``out`` when given: no allocation per step, the same numbers."""
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

        def step(x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
            h = torch.addmm(b0, torch.sub(x, mean, out=xc), Wx, out=hid[0])
            silu(h, inplace=True)
            for (W, b), buf in zip(mids, hid[1:]):
                h = torch.addmm(b, h, W, out=buf)
                silu(h, inplace=True)
            if out is None:
                return torch.addmm(bL, h, WL).add_(x)
            return torch.addmm(bL, h, WL, out=out).add_(x)

        return step


def normalisation(cuts: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and spread of states and of one-step increments over cuts (N, L + 1, 3)."""
    cuts = _real_array(cuts, "cuts")
    if cuts.ndim != 3 or cuts.shape[-1] != 3 or cuts.shape[1] < 2:
        raise ValueError(f"cuts must have shape (N, L + 1 >= 2, 3), got {cuts.shape}")
    x = cuts.reshape(-1, 3)
    d = (cuts[:, 1:] - cuts[:, :-1]).reshape(-1, 3)
    return {"x_mean": x.mean(0), "x_std": x.std(0), "d_mean": d.mean(0), "d_std": d.std(0)}


# ---------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainConfig:
    """Training schedule. Stages are (rollout length K in steps, epochs); K = 1 is
    one-step (teacher-forced) training. Early stopping watches the validation rollout
    loss over ``val_steps`` steps within the current stage."""

    hidden: tuple[int, ...] = (128, 128, 128)
    stages: tuple[tuple[int, int], ...] = ((1, 110),)
    select_from_epoch: int = 1      # earlier epochs are never selected (warm-up stages)
    batch_size: int = 512
    lr: float = 2e-3
    lr_final: float = 1e-4
    val_steps: int = 100
    patience: int = 8
    seed: int = 0
    max_minutes: float = 14.0
    # Boundedness in the selection (robust training; 0 = off, the shipped recipe): free runs
    # of random_run_time s from this many random states in the physical box, at the
    # validation V_S; the criterion adds 10 x the fraction that leaves the physical box.
    random_runs: int = 0
    random_run_time: float = 100.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", _check_hidden(self.hidden))
        st = self.stages
        if isinstance(st, (str, bytes)) or not hasattr(st, "__iter__"):
            raise TypeError(f"stages must be a sequence of (K, epochs) pairs, got {st!r}")
        st = tuple(tuple(p) if isinstance(p, (tuple, list)) else p for p in st)
        if not st or not all(isinstance(p, tuple) and len(p) == 2 and _is_int(p[0])
                             and _is_int(p[1]) and p[0] >= 1 and p[1] >= 1 for p in st):
            raise ValueError(f"stages must be a non-empty sequence of (K >= 1, epochs >= 1) "
                             f"integer pairs, got {self.stages!r}")
        object.__setattr__(self, "stages", tuple((int(k), int(e)) for k, e in st))
        for k in ("batch_size", "val_steps", "patience", "select_from_epoch", "seed",
                  "random_runs"):
            v = getattr(self, k)
            low = 0 if k in ("seed", "random_runs") else 1
            if not _is_int(v) or v < low:
                raise ValueError(f"{k} must be an integer >= {low}, got {v!r}")
        for k in ("lr", "lr_final", "max_minutes", "random_run_time"):
            v = getattr(self, k)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                    np.floating)):
                raise TypeError(f"{k} must be a number, got {v!r}")
            if not (v > 0 and (math.isfinite(v) or k == "max_minutes")):
                extra = "" if k == "max_minutes" else ", finite"
                raise ValueError(f"{k} must be a number > 0{extra}, got {v!r}")
        total = sum(e for _, e in self.stages)
        if self.select_from_epoch > total:
            raise ValueError(f"select_from_epoch ({self.select_from_epoch}) is beyond the "
                             f"schedule's {total} epochs: no epoch could be selected")


def rollout_loss(net: MapNet, windows: torch.Tensor, V_S: torch.Tensor) -> torch.Tensor:
    """Mean squared error of a free rollout from each window's first state over the
    window (B, K + 1, 3), each variable in units of its increment spread ``d_std``."""
    x = windows[:, 0]
    err = 0.0
    K = windows.shape[1] - 1
    for k in range(1, K + 1):
        x = net(x, V_S)
        err = err + (((x - windows[:, k]) / net.d_std) ** 2).mean()
    return err / K


def dynamics_score(net: MapNet, trajectories: np.ndarray, V_S: np.ndarray,
                   targets: "Targets | None" = None) -> float:
    """How far free runs of the map are from reference trajectories, in units of the
    targets: each run starts at a reference trajectory's first state and lasts as long; per
    trajectory the score adds |spikes-per-burst error| / 1, |burst-period error| / 10 %,
    |tonic-ISI error| / 5 %, and 10 for a wrong regime or a non-finite run. Mean over
    trajectories; 0 is perfect and < 1 meets every target on average.
    """
    from .analysis import burst_statistics, spike_detection
    targets = targets or Targets()
    kw = spike_detection(net.variant)
    n = trajectories.shape[1] - 1
    t = np.arange(n + 1) * net.dt
    # Non-finite runs are scored here; a warning per validation epoch would be noise.
    Y = net.rollout(trajectories[:, 0], V_S, n, check=False)
    total = 0.0
    for ref, run in zip(trajectories, Y):
        if not np.all(np.isfinite(run)):
            total += 10.0
            continue
        a, b = burst_statistics(t, ref[:, 0], **kw), burst_statistics(t, run[:, 0], **kw)
        if a.regime != b.regime:
            total += 10.0
        elif a.regime == "bursting" and np.isfinite(a.spikes_per_burst + b.spikes_per_burst
                                                    + a.burst_period + b.burst_period):
            total += (abs(b.spikes_per_burst - a.spikes_per_burst) / targets.spikes_per_burst
                      + abs(b.burst_period / a.burst_period - 1) / targets.burst_period)
        elif a.regime == "tonic":
            total += abs(b.isi_mean / a.isi_mean - 1) / targets.tonic_isi
    return total / len(Y)


def _windows(cuts: torch.Tensor, K: int, gen: torch.Generator) -> torch.Tensor:
    """One random window of K + 1 samples from each cut."""
    N, L1, _ = cuts.shape
    start = torch.randint(0, L1 - K, (N,), generator=gen)
    idx = start[:, None] + torch.arange(K + 1)[None]
    return cuts[torch.arange(N)[:, None], idx]


def _check_cuts(c: Any, v: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    c = _real_array(c, f"{name}_cuts")
    if c.ndim != 3 or c.shape[-1] != 3 or c.shape[1] < 2 or c.shape[0] < 1:
        raise ValueError(f"{name}_cuts must have shape (N >= 1, L + 1 >= 2, 3), got {c.shape}")
    v = _real_array(v, f"{name}_V_S")
    if v.shape != (c.shape[0],):
        raise ValueError(f"{name}_V_S must have shape ({c.shape[0]},), got {v.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name}_cuts must be finite ({int((~np.isfinite(c)).sum())} "
                         "non-finite values)")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name}_V_S must be finite ({int((~np.isfinite(v)).sum())} "
                         "non-finite values)")
    return c, v


class TrainingError(RuntimeError):
    """Training failed (diverged, or no epoch could be selected): no network is returned."""


def train(train_cuts: np.ndarray, train_V_S: np.ndarray, val_cuts: np.ndarray,
          val_V_S: np.ndarray, dt: float, config: TrainConfig = TrainConfig(), *,
          V_S_range: tuple[float, float] | None = None, variant: str = "original",
          val_trajectories: np.ndarray | None = None, val_traj_V_S: np.ndarray | None = None,
          extra_cuts: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
          progress: bool = True) -> tuple[MapNet, dict[str, Any]]:
    """Train a MapNet on cuts (N, L + 1, 3) with their V_S (N,).

    Model selection and early stopping: with ``val_trajectories`` (n, T, 3) at
    ``val_traj_V_S`` (n,), the criterion is :func:`dynamics_score` of free runs against
    them (what the map is for); otherwise the validation rollout loss. A pointwise rollout
    loss over many steps is dominated by spike-timing drift and is a noisy judge of the
    dynamics. Returns the best network and a history dict (per-epoch losses and scores,
    stage, wall time).

    Raises :class:`TrainingError` (a ``RuntimeError``) when training diverges (a non-finite
    loss or weight, or a training loss 10^6 times the initial identity map's) or when no
    epoch at or after ``select_from_epoch`` has a finite criterion: a failed run never
    returns the untrained network.

    ``extra_cuts`` maps a name to (cuts (M, L' + 1, 3), V_S (M,)): more training data (e.g.
    :func:`hhlib.data.augment_dataset`'s transient cuts and noise pairs), used in every
    stage whose K <= L' but not in the normalisation, which stays that of ``train_cuts``
    (the attractor's): transients would inflate the increment spread of S.

    With ``config.random_runs`` > 0 (and ``val_trajectories``), the criterion also adds 10
    times the fraction of free runs from random states in the physical box that leave it
    (:func:`is_physical`), so the selected epoch is bounded off the attractor too."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    train_cuts, train_V_S = _check_cuts(train_cuts, train_V_S, "train")
    val_cuts, val_V_S = _check_cuts(val_cuts, val_V_S, "val")
    if val_cuts.shape[1] != train_cuts.shape[1]:
        raise ValueError(f"val_cuts must have the cut length of train_cuts "
                         f"({train_cuts.shape[1]} samples), got {val_cuts.shape[1]}")
    L = train_cuts.shape[1] - 1
    if max(k for k, _ in config.stages) > L:
        raise ValueError(f"stages: rollout length K must not exceed the cut length ({L} steps), "
                         f"got {config.stages}")
    if config.val_steps > val_cuts.shape[1] - 1:
        raise ValueError(f"val_steps ({config.val_steps}) must not exceed the cut length "
                         f"({L} steps)")
    V_S_range = (_check_range(V_S_range) if V_S_range is not None
                 else (float(np.min(train_V_S)), float(np.max(train_V_S))))
    if not V_S_range[0] < V_S_range[1]:
        raise ValueError("train_V_S must hold at least two different values (or pass "
                         "V_S_range)")
    use_score = val_trajectories is not None
    if use_score:
        val_trajectories = _real_array(val_trajectories, "val_trajectories")
        if val_trajectories.ndim != 3 or val_trajectories.shape[-1] != 3 \
                or val_trajectories.shape[1] < 2 or not np.all(np.isfinite(val_trajectories)):
            raise ValueError(f"val_trajectories must be finite, of shape (n, T >= 2, 3), got "
                             f"shape {val_trajectories.shape}")
        if val_traj_V_S is None:
            raise ValueError("val_traj_V_S must hold one V_S per validation trajectory")
        val_traj_V_S = _real_array(val_traj_V_S, "val_traj_V_S")
        if val_traj_V_S.shape != (val_trajectories.shape[0],) \
                or not np.all(np.isfinite(val_traj_V_S)):
            raise ValueError(f"val_traj_V_S must hold one finite V_S per validation trajectory "
                             f"(shape ({val_trajectories.shape[0]},)), got {val_traj_V_S.shape}")
    elif val_traj_V_S is not None:
        raise ValueError("val_traj_V_S given without val_trajectories")
    if config.random_runs and not use_score:
        raise ValueError("config.random_runs > 0 needs val_trajectories (the boundedness term "
                         "is added to the validation dynamics score)")
    if extra_cuts is not None and not isinstance(extra_cuts, dict):
        raise TypeError(f"extra_cuts must be a dict name -> (cuts, V_S) or None, "
                        f"got {type(extra_cuts).__name__}")
    extras = []
    for name_e, cv in (extra_cuts or {}).items():
        if not (isinstance(cv, (tuple, list)) and len(cv) == 2):
            raise TypeError(f"extra_cuts[{name_e!r}] must be a pair (cuts, V_S)")
        c_e, v_e = _check_cuts(cv[0], cv[1], f"extra[{name_e!r}]")
        extras.append((torch.as_tensor(c_e, dtype=torch.float32),
                       torch.as_tensor(v_e, dtype=torch.float32)))
    if config.random_runs:
        # Fixed states for every epoch (their own seed, not any evaluation's).
        rs = np.random.default_rng([config.seed, 303])
        rr_x0 = np.column_stack([rs.uniform(-70, -20, config.random_runs),
                                 rs.uniform(0, 0.1, config.random_runs),
                                 rs.uniform(0.15, 0.25, config.random_runs)])
        rr_vs = val_traj_V_S[np.arange(config.random_runs) % val_traj_V_S.size]
        rr_steps = int(round(config.random_run_time / dt))
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    net = MapNet(dt, config.hidden, V_S_range, variant=variant, **normalisation(train_cuts))
    tc = torch.as_tensor(train_cuts, dtype=torch.float32)
    tv = torch.as_tensor(train_V_S, dtype=torch.float32)
    vc = torch.as_tensor(val_cuts[:, : config.val_steps + 1], dtype=torch.float32)
    vv = torch.as_tensor(val_V_S, dtype=torch.float32)
    total_epochs = sum(e for _, e in config.stages)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_epochs,
                                                       eta_min=config.lr_final)
    hist: dict[str, list] = {"epoch": [], "K": [], "train_loss": [], "val_loss": [],
                             "val_one_step": [], "val_score": [], "seconds": []}
    if config.random_runs:
        hist["random_physical"] = []
    with torch.no_grad():
        # The untrained net is the identity map: its loss is the scale divergence is judged by.
        loss0 = float(rollout_loss(net, vc[:, :2], vv))
        val_identity = float(rollout_loss(net, vc, vv))
    t0 = time.perf_counter()
    best, best_state, epoch = math.inf, None, 0
    hist["best_epoch"] = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total_epochs, desc="training", unit="epoch")
    stopped = ""

    def diverged(what: str) -> TrainingError:
        if bar is not None:
            bar.close()
        return TrainingError(f"training diverged at epoch {epoch + 1}: {what} (lr = "
                             f"{config.lr}); lower lr or check the data. No network returned.")

    for K, n_ep in config.stages:
        if K == 1:
            # One-step training uses every consecutive pair, not one window per cut.
            pairs = torch.stack([tc[:, :-1], tc[:, 1:]], dim=2).reshape(-1, 2, 3)
            pv = tv.repeat_interleave(L)
            if extras:
                pairs = torch.cat([pairs] + [torch.stack([c[:, :-1], c[:, 1:]], dim=2)
                                             .reshape(-1, 2, 3) for c, _ in extras])
                pv = torch.cat([pv] + [v.repeat_interleave(c.shape[1] - 1) for c, v in extras])
        stage_best, stale = math.inf, 0
        for _ in range(n_ep):
            net.train()
            if K == 1:
                data, vs = pairs, pv
            else:
                data, vs = _windows(tc, K, gen), tv
                long = [(c, v) for c, v in extras if c.shape[1] > K]
                if long:
                    data = torch.cat([data] + [_windows(c, K, gen) for c, _ in long])
                    vs = torch.cat([vs] + [v for _, v in long])
            perm = torch.randperm(data.shape[0], generator=gen)
            bs = config.batch_size * (8 if K == 1 else 1)
            tot, nb = 0.0, 0
            for i in range(0, data.shape[0], bs):
                j = perm[i: i + bs]
                loss = rollout_loss(net, data[j], vs[j])
                if not torch.isfinite(loss):
                    raise diverged(f"non-finite training loss ({float(loss)})")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                tot, nb = tot + loss.item(), nb + 1
            if not all(torch.isfinite(p).all() for p in net.parameters()):
                raise diverged("non-finite weights")
            if not tot / nb < 1e6 * max(loss0, 1e-12):
                raise diverged(f"training loss {tot / nb:.3g}, 10^6 times that of the "
                               f"initial identity map ({loss0:.3g})")
            sched.step()
            net.eval()
            with torch.no_grad():
                val = float(rollout_loss(net, vc, vv))
                val1 = float(rollout_loss(net, vc[:, :2], vv))
            score = (dynamics_score(net, val_trajectories, val_traj_V_S) if use_score
                     else float("nan"))
            crit = score if use_score else val
            if config.random_runs:
                with torch.no_grad():
                    frac = float(is_physical(net.rollout(rr_x0, rr_vs, rr_steps,
                                                         check=False)).mean())
                hist["random_physical"].append(frac)
                crit = crit + 10.0 * (1.0 - frac)
            epoch += 1
            for k, v in (("epoch", epoch), ("K", K), ("train_loss", tot / nb), ("val_loss", val),
                         ("val_one_step", val1), ("val_score", score),
                         ("seconds", time.perf_counter() - t0)):
                hist[k].append(v)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(K=K, train=f"{tot / nb:.3g}", val=f"{val:.3g}",
                                score=f"{score:.3g}")
            if math.isfinite(crit) and crit < best and epoch >= config.select_from_epoch:
                best, best_state, hist["best_epoch"] = crit, copy.deepcopy(net.state_dict()), epoch
            if crit < stage_best:
                stage_best, stale = crit, 0
            else:
                stale += 1
            if time.perf_counter() - t0 > 60 * config.max_minutes:
                stopped = f"time budget of {config.max_minutes} min reached at epoch {epoch}"
                break
            if stale >= config.patience:
                break
        if stopped:
            break
    if bar is not None:
        bar.close()
    if best_state is None:
        why = (f"training stopped at epoch {epoch} ({stopped or 'early stopping'}), before "
               f"select_from_epoch = {config.select_from_epoch}"
               if epoch < config.select_from_epoch else
               f"no epoch from {config.select_from_epoch} on had a finite "
               f"{'validation score' if use_score else 'validation loss'}")
        raise TrainingError(f"training failed: {why}. No network returned.")
    net.load_state_dict(best_state)
    net.eval()
    hist["best_criterion"] = best
    hist["criterion"] = "val_score" if use_score else "val_loss"
    i = hist["best_epoch"] - 1
    hist["best_val_loss"], hist["best_val_score"] = hist["val_loss"][i], hist["val_score"][i]
    hist["train_seconds"] = time.perf_counter() - t0
    hist["stopped"] = stopped or "schedule completed"
    hist["identity_val_loss"] = val_identity
    if not hist["best_val_loss"] < val_identity:
        warnings.warn(f"the selected epoch {hist['best_epoch']} has a validation rollout loss "
                      f"({hist['best_val_loss']:.3g}) no lower than the untrained identity map's "
                      f"({val_identity:.3g}): the network has learned little", RuntimeWarning,
                      stacklevel=2)
    return net, hist


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


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or name.startswith(".") \
            or any(c in name for c in '/\\:*?"<>|\0') or name != name.strip():
        raise ValueError(f"name must be a plain file stem (letters, digits, '-', '_'; no "
                         f"path separators, not starting with '.'), got {name!r}")
    return name


def _replace_pair(pairs: list[tuple[Path, Path]]) -> None:
    """``os.replace`` each (temporary, final) pair; if a later one fails, the finals already
    replaced get their old contents back (from copies made before), so the files stay a
    consistent set."""
    import shutil
    backups: dict[Path, Path | None] = {}
    done: list[Path] = []
    try:
        for _, final in pairs:
            backups[final] = None
            if final.exists():
                fd, b = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.",
                                         suffix=".bak")
                os.close(fd)
                backups[final] = Path(b)
                shutil.copy2(final, b)
        for tmp, final in pairs:
            os.replace(tmp, final)
            done.append(final)
    except BaseException:
        for final in reversed(done):
            bak = backups[final]
            if bak is not None:
                os.replace(bak, final)
                backups[final] = None
            else:
                final.unlink(missing_ok=True)
        raise
    finally:
        for bak in backups.values():
            if bak is not None:
                bak.unlink(missing_ok=True)


def save_pretrained(net: MapNet, name: str, record: dict[str, Any],
                    directory: Path | None = None) -> Path:
    """Write ``name.pt`` (state dict) and ``name.json`` (config, record, ``sha256`` of the
    ``.pt`` file and ``checksum`` of weights and config together, see
    :func:`weights_checksum`).

    The record is serialised before anything is written (NumPy scalars and arrays become
    numbers and lists; anything else that JSON cannot hold is a TypeError), both files are
    written to unique temporary names in ``directory`` and then renamed over the old ones:
    a failure at any point leaves the previous pair intact. Record keys that the function
    writes itself (:data:`RESERVED_RECORD_KEYS`) are rejected."""
    if not isinstance(net, MapNet):
        raise TypeError(f"net must be a MapNet, got {type(net).__name__}")
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
    pt, js = directory / f"{name}.pt", directory / f"{name}.json"
    temps: list[Path] = []
    try:
        for data, final in ((pt_bytes, pt), (text.encode(), js)):
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{final.name}.", suffix=".tmp")
            temps.append(Path(tmp))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        _replace_pair(list(zip(temps, (pt, js))))
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return pt


def load_pretrained(name: str = "original", directory: Path | None = None
                    ) -> tuple[MapNet, dict[str, Any]]:
    """Load weights after checking their ``checksum`` (weights and config together, see
    :func:`weights_checksum`) and the ``.pt`` file's ``sha256``; returns ``(net, record)``.
    A missing or wrong checksum is an error naming the file."""
    _check_name(name)
    directory = Path(directory) if directory is not None else WEIGHTS_DIR
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
    cfg = dict(meta["config"])
    try:
        net = MapNet(cfg.pop("dt"), tuple(cfg.pop("hidden")), tuple(cfg.pop("V_S_range")), **cfg)
        net.load_state_dict(torch.load(io.BytesIO(pt_bytes), map_location="cpu",
                                       weights_only=True))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"weights {pt} do not match their record {meta_path}: {e}") from None
    net.eval()
    return net, meta


# ---------------------------------------------------------------------------- evaluation
PHYSICAL_BOUNDS = {"V": (-90.0, 40.0), "n": (0.0, 1.0), "S": (0.0, 1.0)}


def _physical_samples(X: np.ndarray) -> np.ndarray:
    """Per sample (leading axes of ``X`` (..., 3)): finite and within the bounds."""
    ok = np.isfinite(X).all(axis=-1)
    for j, (lo, hi) in enumerate(PHYSICAL_BOUNDS.values()):
        ok &= (X[..., j] >= lo) & (X[..., j] <= hi)
    return ok


def is_physical(X: np.ndarray) -> np.ndarray:
    """Per trajectory (leading axes of ``X`` (..., T, 3)): finite and within
    ``PHYSICAL_BOUNDS`` (V in mV) at every sample."""
    X = _real_array(X, "X")
    if X.ndim < 2 or X.shape[-1] != 3:
        raise ValueError(f"X must have shape (..., T, 3) = (V, n, S) samples, got {X.shape}")
    return _physical_samples(X).all(axis=-1)


@dataclass(frozen=True)
class Targets:
    """Agreement the network's free runs must reach against the ODE (issue targets)."""

    spikes_per_burst: float = 1.0      # absolute
    burst_period: float = 0.10         # relative
    tonic_isi: float = 0.05            # relative


def compare_free_runs(net: MapNet, V_S: np.ndarray, x0: np.ndarray, t_end: float,
                      t_min: float, targets: Targets = Targets(),
                      ode_kw: dict | None = None) -> list[dict[str, Any]]:
    """Run the ODE (``simulate_ensemble``) and the network (``rollout``) from the same
    initial states for ``t_end`` s and compare their statistics over ``t >= t_min``.

    One row per V_S (mV): regimes, spikes per burst, burst period (s), mean ISI (s), the
    errors and whether each target is met (None where it does not apply).
    """
    from .analysis import burst_statistics, spike_detection
    from .integrate import simulate_ensemble
    from .model import HHParams
    if not isinstance(net, MapNet):
        raise TypeError(f"net must be a MapNet, got {type(net).__name__}")
    if not isinstance(targets, Targets):
        raise TypeError(f"targets must be a Targets, got {type(targets).__name__}")
    kw = spike_detection(net.variant)

    V_S = np.atleast_1d(_real_array(V_S, "V_S"))
    x0 = _real_array(x0, "x0")
    if V_S.ndim != 1 or not np.all(np.isfinite(V_S)):
        raise ValueError(f"V_S must be a finite number or 1-D array (mV), got shape {V_S.shape}")
    if x0.shape != (V_S.size, 3):
        raise ValueError(f"x0 must have shape ({V_S.size}, 3), one state per V_S, got {x0.shape}")
    for k, v in (("t_end", t_end), ("t_min", t_min)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                np.floating)):
            raise TypeError(f"{k} must be a number (s), got {v!r}")
    if not (math.isfinite(t_end) and t_end >= 2 * net.dt):
        raise ValueError(f"t_end must be finite and >= 2 dt = {2 * net.dt} s, got {t_end!r}")
    if not (math.isfinite(t_min) and 0 <= t_min < t_end):
        raise ValueError(f"t_min must lie in [0, t_end) s, got {t_min!r}")
    n = int(round(t_end / net.dt))
    t, X = simulate_ensemble(HHParams.of_variant(net.variant, V_S=V_S), x0, n * net.dt, net.dt,
                             **(ode_kw or {}))
    Y = net.rollout(x0, V_S, n, check=False)      # each row reports "physical" itself
    rows = []
    for i, v in enumerate(V_S):
        a = burst_statistics(t, X[i, :, 0], t_min=t_min, **kw)
        ok_net = bool(np.isfinite(Y[i]).all())
        b = burst_statistics(t, Y[i, :, 0], t_min=t_min, **kw) if ok_net else None
        row = {"V_S": float(v), "ode": a, "net": b, "physical": bool(is_physical(Y[i])),
               "regime_ok": b is not None and a.regime == b.regime}
        spb_err = per_err = isi_err = float("nan")
        spb_ok = per_ok = isi_ok = None
        if b is not None and a.regime == b.regime == "bursting":
            spb_err = b.spikes_per_burst - a.spikes_per_burst
            per_err = (b.burst_period - a.burst_period) / a.burst_period
            spb_ok = bool(abs(spb_err) <= targets.spikes_per_burst)
            per_ok = bool(abs(per_err) <= targets.burst_period)
        if b is not None and a.regime == b.regime == "tonic":
            isi_err = (b.isi_mean - a.isi_mean) / a.isi_mean
            isi_ok = bool(abs(isi_err) <= targets.tonic_isi)
        row.update(spb_err=spb_err, period_err=per_err, isi_err=isi_err, spb_ok=spb_ok,
                   period_ok=per_ok, isi_ok=isi_ok)
        rows.append(row)
    return rows
