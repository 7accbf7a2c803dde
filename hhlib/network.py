"""The network map x_{k+1} = F(x_k, V_S): a small MLP that predicts normalised increments.

The state moves very unevenly per step: V by up to ~10 mV in a spike, S by ~1e-5. The
network therefore sees inputs scaled to unit spread and outputs the increment
x_{k+1} - x_k in units of the increments' own spread, so that a unit error means the same
fraction of a typical step for every variable; without it the slow variable would be lost
in the rounding of V.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["MapNet", "TrainConfig", "train", "save_pretrained", "load_pretrained",
           "WEIGHTS_DIR", "rollout_loss", "is_physical", "Targets", "compare_free_runs",
           "normalisation"]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


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
        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a finite number > 0 s, got {dt!r}")
        hidden = tuple(int(h) for h in hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must be a non-empty tuple of positive widths, got {hidden}")
        lo, hi = map(float, V_S_range)
        if not lo < hi:
            raise ValueError(f"V_S_range must be (low, high) with low < high, got {V_S_range}")
        for name, v in (("x_std", x_std), ("d_std", d_std)):
            if not np.all(np.asarray(v, dtype=float) > 0):
                raise ValueError(f"{name} must be > 0 for every variable, got {v}")
        self._dt, self.hidden, self.V_S_range, self.variant = float(dt), hidden, (lo, hi), variant
        for name, v in (("x_mean", x_mean), ("x_std", x_std), ("d_mean", d_mean),
                        ("d_std", d_std)):
            self.register_buffer(name, torch.as_tensor(np.asarray(v, dtype=np.float64),
                                                       dtype=torch.float32))
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
        xt = torch.as_tensor(np.asarray(x, dtype=float) if is_np else x, dtype=p.dtype,
                             device=p.device)
        single = xt.ndim == 1
        if single:
            xt = xt[None]
        if xt.ndim != 2 or xt.shape[-1] != 3:
            raise ValueError(f"{name} must have shape (B, 3) or (3,) = (V, n, S), "
                             f"got {tuple(xt.shape)}")
        if not torch.isfinite(xt).all():
            raise ValueError(f"{name} must be finite")
        vt = torch.as_tensor(np.asarray(V_S, dtype=float) if not isinstance(V_S, torch.Tensor)
                             else V_S, dtype=p.dtype, device=p.device)
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

    def rollout(self, x0, V_S, n_steps: int, *, progress: bool = False):
        """Iterate the map ``n_steps`` times: returns (B, n_steps + 1, 3) (or
        (n_steps + 1, 3) for a single x0), the first entry being x0."""
        if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
            raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
        xt, vt, is_np, single = self._prepare(x0, V_S, "x0")
        it = range(int(n_steps))
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(it, desc="rollout", unit="step", leave=False, mininterval=1.0)
        if not is_np:
            states = [xt]
            for _ in it:
                states.append(self(states[-1], vt))
            res = torch.stack(states, dim=1)
            return res[0] if single else res
        with torch.inference_mode():
            step = self._fused_step(vt)
            # Time-major, so that each step writes its new states in place, contiguously.
            out = torch.empty((int(n_steps) + 1, xt.shape[0], 3), dtype=xt.dtype,
                              device=xt.device)
            out[0] = xt
            for k in it:
                step(out[k], out=out[k + 1])
            res = out.transpose(0, 1).cpu().double().numpy()
        return res[0] if single else res

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

    def __post_init__(self) -> None:
        if not self.stages or any(int(k) < 1 or int(e) < 1 for k, e in self.stages):
            raise ValueError(f"stages must be (K >= 1, epochs >= 1) pairs, got {self.stages}")
        for k in ("batch_size", "val_steps", "patience", "select_from_epoch"):
            if int(getattr(self, k)) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")
        if not (self.lr > 0 and self.lr_final > 0 and self.max_minutes > 0):
            raise ValueError("lr, lr_final and max_minutes must be > 0")


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
    Y = net.rollout(trajectories[:, 0], V_S, n)
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


def train(train_cuts: np.ndarray, train_V_S: np.ndarray, val_cuts: np.ndarray,
          val_V_S: np.ndarray, dt: float, config: TrainConfig = TrainConfig(), *,
          V_S_range: tuple[float, float] | None = None, variant: str = "original",
          val_trajectories: np.ndarray | None = None, val_traj_V_S: np.ndarray | None = None,
          progress: bool = True) -> tuple[MapNet, dict[str, Any]]:
    """Train a MapNet on cuts (N, L + 1, 3) with their V_S (N,).

    Model selection and early stopping: with ``val_trajectories`` (n, T, 3) at
    ``val_traj_V_S`` (n,), the criterion is :func:`dynamics_score` of free runs against
    them (what the map is for); otherwise the validation rollout loss. A pointwise rollout
    loss over many steps is dominated by spike-timing drift and is a noisy judge of the
    dynamics. Returns the best network and a history dict (per-epoch losses and scores,
    stage, wall time)."""
    for name, c, v in (("train", train_cuts, train_V_S), ("val", val_cuts, val_V_S)):
        c = np.asarray(c)
        if c.ndim != 3 or c.shape[-1] != 3 or c.shape[1] < 2:
            raise ValueError(f"{name}_cuts must have shape (N, L + 1, 3), got {c.shape}")
        if np.shape(v) != (c.shape[0],):
            raise ValueError(f"{name}_V_S must have shape ({c.shape[0]},), got {np.shape(v)}")
    L = train_cuts.shape[1] - 1
    if max(k for k, _ in config.stages) > L or config.val_steps > val_cuts.shape[1] - 1:
        raise ValueError(f"rollout lengths must not exceed the cut length ({L} steps)")
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    if V_S_range is None:
        V_S_range = (float(np.min(train_V_S)), float(np.max(train_V_S)))
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
    use_score = val_trajectories is not None
    if use_score and np.shape(val_traj_V_S) != (np.shape(val_trajectories)[0],):
        raise ValueError("val_traj_V_S must hold one V_S per validation trajectory")
    t0 = time.perf_counter()
    best, best_state, epoch = math.inf, copy.deepcopy(net.state_dict()), 0
    hist["best_epoch"] = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total_epochs, desc="training", unit="epoch")
    stopped = ""
    for K, n_ep in config.stages:
        if K == 1:
            # One-step training uses every consecutive pair, not one window per cut.
            pairs = torch.stack([tc[:, :-1], tc[:, 1:]], dim=2).reshape(-1, 2, 3)
            pv = tv.repeat_interleave(L)
        stage_best, stale = math.inf, 0
        for _ in range(n_ep):
            net.train()
            if K == 1:
                data, vs = pairs, pv
            else:
                data, vs = _windows(tc, K, gen), tv
            perm = torch.randperm(data.shape[0], generator=gen)
            bs = config.batch_size * (8 if K == 1 else 1)
            tot, nb = 0.0, 0
            for i in range(0, data.shape[0], bs):
                j = perm[i: i + bs]
                loss = rollout_loss(net, data[j], vs[j])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                tot, nb = tot + loss.item(), nb + 1
            sched.step()
            net.eval()
            with torch.no_grad():
                val = float(rollout_loss(net, vc, vv))
                val1 = float(rollout_loss(net, vc[:, :2], vv))
            score = (dynamics_score(net, val_trajectories, val_traj_V_S) if use_score
                     else float("nan"))
            crit = score if use_score else val
            epoch += 1
            for k, v in (("epoch", epoch), ("K", K), ("train_loss", tot / nb), ("val_loss", val),
                         ("val_one_step", val1), ("val_score", score),
                         ("seconds", time.perf_counter() - t0)):
                hist[k].append(v)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(K=K, train=f"{tot / nb:.3g}", val=f"{val:.3g}",
                                score=f"{score:.3g}")
            if crit < best and epoch >= config.select_from_epoch:
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
    net.load_state_dict(best_state)
    net.eval()
    hist["best_criterion"] = best
    hist["criterion"] = "val_score" if use_score else "val_loss"
    i = hist["best_epoch"] - 1
    hist["best_val_loss"], hist["best_val_score"] = hist["val_loss"][i], hist["val_score"][i]
    hist["train_seconds"] = time.perf_counter() - t0
    hist["stopped"] = stopped or "schedule completed"
    return net, hist


# ---------------------------------------------------------------------------- weights
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_pretrained(net: MapNet, name: str, record: dict[str, Any],
                    directory: Path | None = None) -> Path:
    """Write ``name.pt`` (state dict) and ``name.json`` (config, record, sha256)."""
    directory = Path(directory) if directory is not None else WEIGHTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    pt = directory / f"{name}.pt"
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, pt)
    meta = {"name": name, "config": net.config(), "sha256": _sha256(pt),
            "torch": torch.__version__, **record}
    (directory / f"{name}.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return pt


def load_pretrained(name: str = "original", directory: Path | None = None
                    ) -> tuple[MapNet, dict[str, Any]]:
    """Load shipped weights after checking their sha256; returns ``(net, record)``."""
    directory = Path(directory) if directory is not None else WEIGHTS_DIR
    meta_path, pt = directory / f"{name}.json", directory / f"{name}.pt"
    if not meta_path.exists() or not pt.exists():
        have = sorted(p.stem for p in directory.glob("*.json"))
        raise ValueError(f"no pretrained weights named {name!r} in {directory}; "
                         f"available: {have}")
    meta = json.loads(meta_path.read_text())
    digest = _sha256(pt)
    if digest != meta["sha256"]:
        raise RuntimeError(f"checksum mismatch for {pt}: file {digest[:12]}..., record "
                           f"{meta['sha256'][:12]}... (corrupted or replaced weights)")
    cfg = dict(meta["config"])
    net = MapNet(cfg.pop("dt"), tuple(cfg.pop("hidden")), tuple(cfg.pop("V_S_range")), **cfg)
    net.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    net.eval()
    return net, meta


# ---------------------------------------------------------------------------- evaluation
PHYSICAL_BOUNDS = {"V": (-90.0, 40.0), "n": (0.0, 1.0), "S": (0.0, 1.0)}


def is_physical(X: np.ndarray) -> np.ndarray:
    """Per trajectory (leading axes of ``X`` (..., T, 3)): finite and within
    ``PHYSICAL_BOUNDS`` (V in mV) at every sample."""
    X = np.asarray(X, dtype=float)
    ok = np.isfinite(X).all(axis=(-1, -2))
    for j, (lo, hi) in enumerate(PHYSICAL_BOUNDS.values()):
        ok &= (X[..., j] >= lo).all(axis=-1) & (X[..., j] <= hi).all(axis=-1)
    return ok


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
    kw = spike_detection(net.variant)

    V_S = np.atleast_1d(np.asarray(V_S, dtype=float))
    x0 = np.asarray(x0, dtype=float)
    n = int(round(t_end / net.dt))
    t, X = simulate_ensemble(HHParams.of_variant(net.variant, V_S=V_S), x0, n * net.dt, net.dt,
                             **(ode_kw or {}))
    Y = net.rollout(x0, V_S, n)
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
