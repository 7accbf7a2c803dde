"""Training data for the network map: trajectory cuts at random parameter values.

For each V_S drawn uniformly in a range we integrate the ODE from a random initial state,
drop the transient, sample every ``dt`` and cut the rest into pieces ("cuts") of ``cut_len``
steps. Train, validation and test sets use disjoint V_S values: train and validation values
are random draws, test values an even grid, and every draw closer than ``min_gap`` mV to a
test value is redrawn. A dataset is cached as ``.npz`` keyed by a hash of its configuration
and the code version, and rebuilt when either changes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .analysis import burst_statistics, spike_detection
from .integrate import simulate_ensemble
from .model import HHParams, fixed_points
from .sweeps import run_ensemble

__all__ = ["DatasetConfig", "Dataset", "make_dataset", "load_or_make_dataset", "draw_V_S",
           "default_cache_dir", "distance_to_fixed_point"]


@dataclass(frozen=True)
class DatasetConfig:
    """How the data are made. Times in s, voltages in mV."""

    seed: int = 0
    V_S_range: tuple[float, float] = (-44.0, -30.0)
    n_train: int = 160            # V_S values for training
    n_val: int = 24               # ... for validation (early stopping)
    n_test: int = 12              # ... for the held-out test grid
    min_gap: float = 0.05         # mV between any train/val value and a test value
    dt: float = 0.01              # sampling step = the map's time step
    t_transient: float = 50.0
    t_keep: float = 60.0          # kept per trajectory after the transient
    cut_len: int = 100            # steps per cut (cut_len + 1 samples)
    rtol: float = 1e-8
    atol: float = 1e-10
    variant: str = "original"
    max_restarts: int = 20        # new random starts for a trajectory that comes to rest
    chunk_size: int | None = None  # trajectories per simulate_ensemble call; None: a whole
    #                                split. It sets the last bits of the data (hhlib.sweeps).

    @classmethod
    def bistable(cls, **overrides) -> "DatasetConfig":
        """The bistable variant's data: V_S in [-21.6, -15.5] mV covers the window where rest
        coexists with bursting and the bursting range above it; bursting cuts only."""
        return cls(**{"V_S_range": (-21.6, -15.5), "variant": "bistable", **overrides})

    def __post_init__(self) -> None:
        if self.variant not in ("original", "bistable"):
            raise ValueError(f"variant must be 'original' or 'bistable', got {self.variant!r}")
        lo, hi = self.V_S_range
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"V_S_range must be (low, high) with low < high, got {self.V_S_range}")
        for k in ("n_train", "n_val", "n_test", "cut_len", "seed", "max_restarts"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or v < (0 if k in ("seed", "max_restarts")
                                                             else 1):
                raise ValueError(f"{k} must be a positive integer, got {v!r}")
        for k in ("dt", "t_transient", "t_keep", "rtol", "atol"):
            v = getattr(self, k)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{k} must be a finite number > 0, got {v!r}")
        if self.t_keep < self.cut_len * self.dt:
            raise ValueError(f"t_keep ({self.t_keep} s) must hold at least one cut "
                             f"({self.cut_len} x {self.dt} s)")
        if self.chunk_size is not None and (isinstance(self.chunk_size, bool) or not isinstance(
                self.chunk_size, (int, np.integer)) or self.chunk_size < 1):
            raise ValueError(f"chunk_size must be a positive integer or None, "
                             f"got {self.chunk_size!r}")

    def key(self) -> str:
        """Hash of the configuration and of the code that makes the data (the cache key):
        a change to the model, the integrator or this module invalidates the cache."""
        blob = json.dumps({**dataclasses.asdict(self), "hhlib": __version__,
                           "code": _code_digest()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _code_digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("model.py", "integrate.py", "analysis.py", "data.py", "sweeps.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Dataset:
    """Cuts of shape (N, cut_len + 1, 3) with their V_S (N,) for each split, plus the
    config. ``traj_*`` hold the full kept trajectories (n_values, steps, 3) per split."""

    config: DatasetConfig
    V_S: dict[str, np.ndarray]          # split -> V_S values (mV), one per trajectory
    cuts: dict[str, np.ndarray]         # split -> (N, cut_len + 1, 3)
    cut_V_S: dict[str, np.ndarray]      # split -> (N,)
    trajectories: dict[str, np.ndarray]  # split -> (n_values, n_samples, 3)

    def digest(self) -> str:
        """sha256 of the arrays: identifies exactly the data a network was trained on."""
        h = hashlib.sha256()
        for split in ("train", "val", "test"):
            for a in (self.V_S[split], self.cuts[split]):
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def draw_V_S(config: DatasetConfig) -> dict[str, np.ndarray]:
    """Disjoint V_S sets (mV): an even test grid inside the range and random train and
    validation draws at least ``min_gap`` from every test value."""
    lo, hi = config.V_S_range
    rng = np.random.default_rng(config.seed)
    edge = (hi - lo) / (2 * config.n_test)
    test = np.linspace(lo + edge, hi - edge, config.n_test)

    def draw(k: int) -> np.ndarray:
        out = []
        while len(out) < k:
            v = rng.uniform(lo, hi)
            if np.min(np.abs(test - v)) >= config.min_gap:
                out.append(v)
        return np.array(out)

    return {"train": draw(config.n_train), "val": draw(config.n_val), "test": test}


def _params(config: DatasetConfig) -> HHParams:
    return HHParams.of_variant(config.variant)


def _random_starts(rng: np.random.Generator, k: int) -> np.ndarray:
    return np.column_stack([rng.uniform(-70, -20, k), rng.uniform(0, 0.1, k),
                            rng.uniform(0.15, 0.25, k)])


def _comes_to_rest(t: np.ndarray, V: np.ndarray, variant: str, stable_rest: bool) -> bool:
    """Fewer than two spikes in the kept window, or, where a stable fixed point exists, no
    spike over its last third (longer than any silent phase there): the trajectory is
    settling on rest, not oscillating."""
    kw = spike_detection(variant)
    if burst_statistics(t, V, **kw).regime == "rest":
        return True
    late = t >= t[0] + 2 * (t[-1] - t[0]) / 3
    return stable_rest and burst_statistics(t[late], V[late], **kw).n_spikes == 0


def make_dataset(config: DatasetConfig = DatasetConfig(), *, progress: bool = False,
                 executor: Any = None) -> Dataset:
    """Integrate, drop transients, keep oscillating trajectories only, and cut.

    Where a stable rest state coexists with bursting (the bistable variant), a random start
    may come to rest; such a trajectory is integrated again from a new random start (at most
    ``max_restarts`` times), so every cut comes from the oscillating attractor.

    Each split is integrated in chunks of ``config.chunk_size`` trajectories on ``executor``
    (anything with the ``concurrent.futures.Executor`` interface, e.g. a
    ``dask.distributed.Client``; default: local processes, see
    :func:`hhlib.sweeps.run_ensemble`). The data are the same for every executor."""
    V_S = draw_V_S(config)
    rng = np.random.default_rng(config.seed + 1)
    base = _params(config)
    steps_keep = int(round(config.t_keep / config.dt))
    n_cuts = steps_keep // config.cut_len
    trajectories, cuts, cut_V_S = {}, {}, {}
    for split in ("train", "val", "test"):
        vs = V_S[split]
        x0 = _random_starts(rng, vs.size)
        t, X = run_ensemble(base.replace(V_S=vs), x0, config.t_transient + config.t_keep,
                            config.dt, rtol=config.rtol, atol=config.atol, progress=progress,
                            executor=executor, chunk_size=config.chunk_size)
        keep = X[:, -(steps_keep + 1):]
        tk = t[-(steps_keep + 1):]
        stable = [any(fp.stable for fp in fixed_points(base.replace(V_S=float(v)))) for v in vs]
        for attempt in range(config.max_restarts + 1):
            rest = np.array([i for i in range(vs.size) if _comes_to_rest(
                tk, keep[i, :, 0], config.variant, stable[i])], dtype=int)
            if rest.size == 0:
                break
            if attempt == config.max_restarts:
                raise RuntimeError(f"trajectories at V_S = {np.round(vs[rest], 4)} mV came to "
                                   f"rest from {attempt + 1} random starts: the range must hold "
                                   "oscillating attractors")
            _, Xr = simulate_ensemble(base.replace(V_S=vs[rest]), _random_starts(rng, rest.size),
                                      config.t_transient + config.t_keep, config.dt,
                                      rtol=config.rtol, atol=config.atol)
            keep[rest] = Xr[:, -(steps_keep + 1):]
        trajectories[split] = keep
        # Non-overlapping cuts; consecutive cuts share their boundary sample.
        c = np.stack([keep[:, k * config.cut_len: (k + 1) * config.cut_len + 1]
                      for k in range(n_cuts)], axis=1)
        cuts[split] = c.reshape(-1, config.cut_len + 1, 3)
        cut_V_S[split] = np.repeat(vs, n_cuts)
    return Dataset(config, V_S, cuts, cut_V_S, trajectories)


def default_cache_dir() -> Path:
    """``$HHLIB_CACHE`` if set, else ``data/cache`` beside the package (git-ignored)."""
    env = os.environ.get("HHLIB_CACHE")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data" / "cache"


def load_or_make_dataset(config: DatasetConfig = DatasetConfig(), cache_dir: Path | None = None,
                         *, progress: bool = False, executor: Any = None) -> Dataset:
    """The dataset for ``config``, from the ``.npz`` cache when its key matches (else made
    with :func:`make_dataset` on ``executor``)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"dataset-{config.key()}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta["key"] == config.key():
                cfg = DatasetConfig(**{**meta["config"],
                                       "V_S_range": tuple(meta["config"]["V_S_range"])})
                s = ("train", "val", "test")
                return Dataset(cfg, {k: z[f"V_S_{k}"] for k in s}, {k: z[f"cuts_{k}"] for k in s},
                               {k: z[f"cut_V_S_{k}"] for k in s},
                               {k: z[f"traj_{k}"] for k in s})
    ds = make_dataset(config, progress=progress, executor=executor)
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta = {"key": config.key(), "config": dataclasses.asdict(config), "hhlib": __version__,
            "digest": ds.digest()}
    arrays = {}
    for k in ("train", "val", "test"):
        arrays.update({f"V_S_{k}": ds.V_S[k], f"cuts_{k}": ds.cuts[k],
                       f"cut_V_S_{k}": ds.cut_V_S[k], f"traj_{k}": ds.trajectories[k]})
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, meta=json.dumps(meta), **arrays)
    os.replace(tmp, path)
    return ds


def distance_to_fixed_point(states: np.ndarray, V_S: np.ndarray, variant: str = "original"
                            ) -> np.ndarray:
    """Distance of each state (..., 3) from the ODE fixed point at its V_S, in units of the
    per-variable spread of ``states`` (so V, n and S count alike)."""
    states = np.asarray(states, dtype=float)
    V_S = np.asarray(V_S, dtype=float)
    base = HHParams.of_variant(variant)
    fps = {v: fixed_points(base.replace(V_S=float(v)))[0].state for v in np.unique(V_S)}
    fp = np.stack([fps[float(v)] for v in V_S.ravel()]).reshape(V_S.shape + (3,))
    scale = states.reshape(-1, 3).std(axis=0)
    fp = fp.reshape(fp.shape[:-1] + (1,) * (states.ndim - fp.ndim) + (3,))
    return np.linalg.norm((states - fp) / scale, axis=-1)
