"""Training a :class:`~hhlib.maps.network.MapNet` on trajectory cuts, and selecting its epoch.

Stages of one-step and multi-step (rollout) losses, cosine learning-rate decay, early
stopping and the choice of the epoch to keep, by validation dynamics (free runs compared
with held-out trajectories) or by the validation rollout loss; never by the ODE's fixed point
or eigenvalues.
"""
from __future__ import annotations

import copy
import math
import time
import warnings
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checks import (instance, integer, interval, is_int, is_real, real_array,
                      record as check_record)
from ..ode.data import PHYSICAL_START_BOX, Dataset
from .scores import check_references, dynamics_score, rollout_loss
from ..ode.model import is_physical
from .network import MapNet, _check_hidden, normalisation

__all__ = ["TrainConfig", "train", "train_on_dataset", "rollout_loss", "jacobian_penalty",
           "TrainingError"]


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
    # Jacobian regularisation (0 = off): adds this weight times the mean squared norm of
    # the network's Jacobian (normalised increment with respect to normalised state, a
    # Hutchinson estimate) at jacobian_points random states in the physical box per batch.
    jacobian_weight: float = 0.0
    jacobian_points: int = 256

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", _check_hidden(self.hidden))
        st = self.stages
        if isinstance(st, (str, bytes)) or not hasattr(st, "__iter__"):
            raise TypeError(f"stages must be a sequence of (K, epochs) pairs, got {st!r}")
        st = tuple(tuple(p) if isinstance(p, (tuple, list)) else p for p in st)
        if not st or not all(isinstance(p, tuple) and len(p) == 2 and is_int(p[0])
                             and is_int(p[1]) and p[0] >= 1 and p[1] >= 1 for p in st):
            raise ValueError(f"stages must be a non-empty sequence of (K >= 1, epochs >= 1) "
                             f"integer pairs, got {self.stages!r}")
        object.__setattr__(self, "stages", tuple((int(k), int(e)) for k, e in st))
        for k in ("batch_size", "val_steps", "patience", "select_from_epoch", "seed",
                  "random_runs", "jacobian_points"):
            integer(getattr(self, k), k, 0 if k in ("seed", "random_runs") else 1)
        w = self.jacobian_weight
        if not is_real(w) or not (math.isfinite(w) and w >= 0):
            raise ValueError(f"jacobian_weight must be a finite number >= 0, got {w!r}")
        for k in ("lr", "lr_final", "max_minutes", "random_run_time"):
            v = getattr(self, k)
            if not is_real(v):
                raise TypeError(f"{k} must be a number, got {v!r}")
            if not (v > 0 and (math.isfinite(v) or k == "max_minutes")):
                extra = "" if k == "max_minutes" else ", finite"
                raise ValueError(f"{k} must be a number > 0{extra}, got {v!r}")
        total = sum(e for _, e in self.stages)
        if self.select_from_epoch > total:
            raise ValueError(f"select_from_epoch ({self.select_from_epoch}) is beyond the "
                             f"schedule's {total} epochs: no epoch could be selected")

    @classmethod
    def from_record(cls, record: dict, **overrides: Any) -> "TrainConfig":
        """The configuration a shipped network was trained with, from its weights record
        (``load_pretrained``'s second value, key ``train_config``), with ``overrides``."""
        check_record(record, "train_config")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(record["train_config"]) - known)
        if unknown:
            raise ValueError(f"record's train_config has fields this version does not know: "
                             f"{unknown}")
        return cls(**{**record["train_config"], **overrides})


def jacobian_penalty(net: MapNet, n: int, gen: torch.Generator) -> torch.Tensor:
    """Mean of |J v|^2 over ``n`` random states uniform in the physical box
    (:data:`hhlib.ode.data.PHYSICAL_START_BOX`) at random V_S in the trained range, J the
    Jacobian of the network's MLP (normalised increment, or field, with respect to the
    normalised state) and v standard normal: an unbiased estimate of the squared Frobenius
    norm, one forward-mode pass. Differentiable in the weights."""
    box = torch.tensor(PHYSICAL_START_BOX, dtype=net.x_mean.dtype)
    x = box[:, 0] + (box[:, 1] - box[:, 0]) * torch.rand((n, 3), generator=gen)
    lo, hi = net.V_S_range
    vs = lo + (hi - lo) * torch.rand(n, generator=gen)
    z = net._inputs(x, vs)
    v = torch.cat([torch.randn((n, 3), generator=gen), torch.zeros((n, 1))], dim=-1)
    _, jv = torch.func.jvp(net.mlp, (z,), (v,))
    return (jv ** 2).sum(dim=-1).mean()


def _windows(cuts: torch.Tensor, K: int, gen: torch.Generator) -> torch.Tensor:
    """One random window of K + 1 samples from each cut."""
    N, L1, _ = cuts.shape
    start = torch.randint(0, L1 - K, (N,), generator=gen)
    idx = start[:, None] + torch.arange(K + 1)[None]
    return cuts[torch.arange(N)[:, None], idx]


def _check_cuts(c: Any, v: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    c = real_array(c, f"{name}_cuts")
    if c.ndim != 3 or c.shape[-1] != 3 or c.shape[1] < 2 or c.shape[0] < 1:
        raise ValueError(f"{name}_cuts must have shape (N >= 1, L + 1 >= 2, 3), got {c.shape}")
    v = real_array(v, f"{name}_V_S")
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
          net_class: type = MapNet, progress: bool = True) -> tuple[MapNet, dict[str, Any]]:
    """Train a MapNet (or ``net_class``, a subclass such as
    :class:`hhlib.maps.network.VectorFieldNet`) on cuts (N, L + 1, 3) with their V_S (N,).

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
    :func:`hhlib.ode.data.augment_dataset`'s transient cuts and noise pairs), used in every
    stage whose K <= L' but not in the normalisation, which stays that of ``train_cuts``
    (the attractor's): transients would inflate the increment spread of S.

    With ``config.random_runs`` > 0 (and ``val_trajectories``), the criterion also adds 10
    times the fraction of free runs from random states in the physical box that leave it
    (:func:`is_physical`), so the selected epoch is bounded off the attractor too."""
    instance(config, TrainConfig, "config")
    if not (isinstance(net_class, type) and issubclass(net_class, MapNet)):
        raise TypeError(f"net_class must be MapNet or a subclass of it (e.g. VectorFieldNet), "
                        f"got {net_class!r}")
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
    V_S_range = (interval(V_S_range, "V_S_range") if V_S_range is not None
                 else (float(np.min(train_V_S)), float(np.max(train_V_S))))
    if not V_S_range[0] < V_S_range[1]:
        raise ValueError("train_V_S must hold at least two different values (or pass "
                         "V_S_range)")
    use_score = val_trajectories is not None
    if use_score:
        val_trajectories = real_array(val_trajectories, "val_trajectories")
        if val_trajectories.ndim != 3 or val_trajectories.shape[-1] != 3 \
                or val_trajectories.shape[1] < 2 or not np.all(np.isfinite(val_trajectories)):
            raise ValueError(f"val_trajectories must be finite, of shape (n, T >= 2, 3), got "
                             f"shape {val_trajectories.shape}")
        if val_traj_V_S is None:
            raise ValueError("val_traj_V_S must hold one V_S per validation trajectory")
        val_traj_V_S = real_array(val_traj_V_S, "val_traj_V_S")
        if val_traj_V_S.shape != (val_trajectories.shape[0],) \
                or not np.all(np.isfinite(val_traj_V_S)):
            raise ValueError(f"val_traj_V_S must hold one finite V_S per validation trajectory "
                             f"(shape ({val_trajectories.shape[0]},)), got {val_traj_V_S.shape}")
        # Before any training: references too short to show a regime select epoch 1.
        check_references(val_trajectories, val_traj_V_S, dt, variant)
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
    net = net_class(dt, config.hidden, V_S_range, variant=variant, **normalisation(train_cuts))
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
        # not at the top: in a Jupyter kernel without ipywidgets importing tqdm.auto warns
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
                if config.jacobian_weight:
                    loss = loss + config.jacobian_weight * jacobian_penalty(
                        net, config.jacobian_points, gen)
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


def train_on_dataset(ds: Any, config: TrainConfig, *, net_class: type = MapNet,
                     progress: bool = True) -> tuple[MapNet, dict[str, Any]]:
    """:func:`train` on a :class:`hhlib.ode.data.Dataset`'s attractor cuts (its ``extra_cuts``
    are not used: this is the shipped recipe), selecting the epoch by the dynamics score of
    free runs against its validation trajectories; the time step, V_S range and variant are
    the dataset's."""
    instance(ds, Dataset, "ds", "hhlib.ode.data.Dataset")
    c = ds.config
    return train(ds.cuts["train"], ds.cut_V_S["train"], ds.cuts["val"], ds.cut_V_S["val"],
                 c.dt, config, V_S_range=c.V_S_range, variant=c.variant,
                 val_trajectories=ds.trajectories["val"], val_traj_V_S=ds.V_S["val"],
                 net_class=net_class, progress=progress)
