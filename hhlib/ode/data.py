"""Training data for the network map: trajectory cuts at random parameter values.

For each V_S drawn uniformly in a range we integrate the ODE from a random initial state,
drop the transient, sample every ``dt`` and cut the rest into pieces ("cuts") of ``cut_len``
steps. Train, validation and test sets use disjoint V_S values: train and validation values
are random draws, test values an even grid, and every draw closer than ``min_gap`` mV to a
test value (or inside ``exclude_band``, a V_S band held out of training) is redrawn. A
dataset is cached as ``.npz`` keyed by a hash of its configuration and the code version,
and rebuilt when either changes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..checks import (instance, integer, interval, number, one_of, real_array,
                      record as check_record, vector)
from .spikes import burst_statistics, spike_detection
from .integrate import _check_ensemble_tolerances, simulate_ensemble
from .model import HHParams, fixed_points
from .sweeps import run_ensemble

__all__ = ["DatasetConfig", "Dataset", "make_dataset", "load_or_make_dataset", "draw_V_S",
           "default_cache_dir", "check_dataset_size", "distance_to_fixed_point",
           "augment_dataset", "AUGMENT_FIELDS", "distance_to_training",
           "check_writable_dir"]

# DatasetConfig fields that add training data beside the attractor cuts (robust training).
# They do not change the cached attractor data, so they stay out of the cache key.
AUGMENT_FIELDS = ("n_transient", "t_transient_run", "transient_box", "n_noise", "noise_sigma")
# Where the transient runs start: (low, high) for V (mV), n and S.
PHYSICAL_START_BOX = ((-70.0, -20.0), (0.0, 0.1), (0.15, 0.25))


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
    #                                split. It sets the last bits of the data (hhlib.ode.sweeps).
    # (lo, hi) mV: no train or validation V_S is drawn inside it (a held-out band); None: off.
    exclude_band: tuple | None = None
    # Robust-training augmentation (see augment_dataset); 0 = off, the shipped recipe.
    n_transient: int = 0          # ODE runs from random box states at the training V_S
    t_transient_run: float = 30.0  # s per such run, cut into cut_len-step transient cuts
    transient_box: tuple = PHYSICAL_START_BOX  # their start states, uniform in this box
    n_noise: int = 0              # one-step pairs from perturbed attractor states
    noise_sigma: float = 0.02     # perturbation, in units of each variable's state spread

    @classmethod
    def bistable(cls, **overrides) -> "DatasetConfig":
        """The bistable variant's data: V_S in [-21.6, -15.5] mV covers the window where rest
        coexists with bursting and the bursting range above it; bursting cuts only."""
        return cls(**{"V_S_range": (-21.6, -15.5), "variant": "bistable", **overrides})

    @classmethod
    def from_record(cls, record: dict, **overrides) -> "DatasetConfig":
        """The configuration a network was trained on, from its weights record
        (``load_pretrained``'s second value, key ``dataset_config``), with ``overrides``."""
        check_record(record, "dataset_config")
        fields = {f.name for f in dataclasses.fields(cls)}
        saved = record["dataset_config"]
        unknown = sorted(set(saved) - fields)
        if unknown:
            raise ValueError(f"record's dataset_config has fields this version does not know: "
                             f"{unknown}")
        saved = {k: (tuple(tuple(r) for r in v) if k == "transient_box" else
                     tuple(v) if isinstance(v, list) else v) for k, v in saved.items()}
        return cls(**{**saved, **overrides})

    def small(self) -> "DatasetConfig":
        """A few trajectories of the same kind, for quick runs (``fast`` chapters, tests):
        12 training values, 3 validation values, 20 s kept each."""
        return dataclasses.replace(self, n_train=12, n_val=3, t_keep=20.0)

    def __post_init__(self) -> None:
        one_of(self.variant, "variant", ("original", "bistable"))
        # A tuple of floats, so that the cache key does not depend on how it was written.
        r = interval(self.V_S_range, "V_S_range")
        object.__setattr__(self, "V_S_range", r)
        for k in ("n_train", "n_val", "n_test", "cut_len", "seed", "max_restarts",
                  "n_transient", "n_noise"):
            low = 0 if k in ("seed", "max_restarts", "n_transient", "n_noise") else 1
            object.__setattr__(self, k, integer(getattr(self, k), k, low))
        for k in ("dt", "t_transient", "t_keep", "rtol", "atol", "min_gap", "t_transient_run",
                  "noise_sigma"):
            object.__setattr__(self, k, number(getattr(self, k), k, low=0, closed=k == "min_gap"))
        # The integrator's bounds, checked here so that a bad value fails before the build.
        _check_ensemble_tolerances(self.rtol, self.atol)
        box = real_array(self.transient_box, "transient_box")
        if box.shape != (3, 2) or not (np.all(np.isfinite(box)) and np.all(box[:, 0] < box[:, 1])
                                       and np.all(box[1:] >= 0) and np.all(box[1:] <= 1)):
            raise ValueError(f"transient_box must be ((V_lo, V_hi), (n_lo, n_hi), (S_lo, S_hi)) "
                             f"with lo < hi and n, S in [0, 1], got {self.transient_box!r}")
        object.__setattr__(self, "transient_box", tuple(tuple(float(x) for x in r) for r in box))
        if self.n_transient and self.t_transient_run < self.cut_len * self.dt:
            raise ValueError(f"t_transient_run ({self.t_transient_run} s) must hold at least one "
                             f"cut ({self.cut_len} x {self.dt} s)")
        if self.t_keep < self.cut_len * self.dt:
            raise ValueError(f"t_keep ({self.t_keep} s) must hold at least one cut "
                             f"({self.cut_len} x {self.dt} s)")
        for k in ("t_keep", "t_transient"):
            n = getattr(self, k) / self.dt
            if abs(n - round(n)) > 1e-9 * max(1.0, n):
                raise ValueError(f"{k} ({getattr(self, k)} s) must be a multiple of dt "
                                 f"({self.dt} s)")
        integer(self.chunk_size, "chunk_size", or_none=True)
        if self.exclude_band is not None:
            try:
                band = real_array(self.exclude_band, "exclude_band")
            except (TypeError, ValueError):
                band = np.full(0, np.nan)
            if band.shape != (2,) or not (np.all(np.isfinite(band)) and band[0] < band[1]
                                          and r[0] <= band[0] and band[1] <= r[1]):
                raise ValueError(f"exclude_band must be None or a (lo, hi) pair in mV with "
                                 f"lo < hi inside V_S_range {self.V_S_range}, "
                                 f"got {self.exclude_band!r}")
            object.__setattr__(self, "exclude_band", (float(band[0]), float(band[1])))
        free = _free_length(self)
        if not free > 1e-6 * (r[1] - r[0]):
            raise ValueError(f"min_gap ({self.min_gap} mV) around the n_test = {self.n_test} "
                             f"test values leaves {max(free, 0.0):.3g} mV of V_S_range "
                             f"{self.V_S_range} for the train and validation draws: lower "
                             "min_gap or n_test")

    def key(self) -> str:
        """Hash of the configuration and of the code that makes the data (the cache key):
        a change to the model, the integrator or this module invalidates the cache."""
        base = {k: v for k, v in dataclasses.asdict(self).items() if k not in AUGMENT_FIELDS}
        if self.exclude_band is None:   # the keys of the datasets made before the field
            del base["exclude_band"]
        blob = json.dumps({**base, "hhlib": __version__,
                           "code": _code_digest()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _code_digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("model.py", "integrate.py", "spikes.py", "data.py", "sweeps.py"):
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
    # Extra training data (augment_dataset): kind ("transient", "noise") -> cuts (N, L + 1, 3)
    # and their V_S (N,). Empty for the shipped recipe.
    extra_cuts: dict[str, np.ndarray] = field(default_factory=dict)
    extra_V_S: dict[str, np.ndarray] = field(default_factory=dict)

    def digest(self, kind: str = "full") -> str:
        """sha256 of the arrays: identifies exactly the data a network was trained on.

        ``kind="full"`` (weights records from issue 27 on, which say
        ``"dataset_digest": "full"``) hashes every array that training and evaluation read:
        V_S, cuts, cut_V_S and trajectories of every split, and the extra cuts.
        ``kind="v1"`` is the digest of older records (``dataset_sha256`` without
        ``dataset_digest``): V_S and cuts only."""
        one_of(kind, "kind", ("full", "v1"))
        h = hashlib.sha256()
        for split in ("train", "val", "test"):
            arrays = (self.V_S[split], self.cuts[split])
            if kind == "full":
                arrays += (self.cut_V_S[split], self.trajectories[split])
            for a in arrays:
                h.update(np.ascontiguousarray(a).tobytes())
        for kind in sorted(self.extra_cuts):
            for a in (self.extra_V_S[kind], self.extra_cuts[kind]):
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def _test_grid(config: DatasetConfig) -> np.ndarray:
    lo, hi = config.V_S_range
    edge = (hi - lo) / (2 * config.n_test)
    return np.linspace(lo + edge, hi - edge, config.n_test)


def _free_length(config: DatasetConfig) -> float:
    """Length (mV) of V_S_range outside every test value's +-min_gap band: where the
    train and validation draws can land."""
    lo, hi = config.V_S_range
    covered, end = 0.0, lo
    for a, b in zip(_test_grid(config) - config.min_gap, _test_grid(config) + config.min_gap):
        a, b = max(a, end), min(b, hi)
        if b > a:
            covered += b - a
            end = b
    if config.exclude_band is not None:     # minus the band's part outside the gaps above
        a, b = config.exclude_band
        gaps = np.linspace(a, b, 2001)
        near = np.min(np.abs(_test_grid(config)[:, None] - gaps), axis=0) < config.min_gap
        covered += (b - a) * float(np.mean(~near))
    return (hi - lo) - covered


def draw_V_S(config: DatasetConfig) -> dict[str, np.ndarray]:
    """Disjoint V_S sets (mV): an even test grid inside the range and random train and
    validation draws at least ``min_gap`` from every test value and outside
    ``exclude_band`` (a draw there is redrawn: deterministic from the seed)."""
    instance(config, DatasetConfig, "config")
    check_dataset_size(config)     # the draws one at a time would run for minutes first
    lo, hi = config.V_S_range
    rng = np.random.default_rng(config.seed)
    test = _test_grid(config)
    # DatasetConfig guarantees a free length > 0; the cap only guards against a free
    # fraction so small that the draws would take forever.
    frac = _free_length(config) / (hi - lo)
    band = config.exclude_band

    def draw(k: int) -> np.ndarray:
        out: list[float] = []
        tries, cap = 0, int(100 * k / frac) + 1000
        while len(out) < k:
            tries += 1
            if tries > cap:
                raise RuntimeError(f"drew {cap} V_S values and found only {len(out)} of {k} "
                                   f"at least min_gap = {config.min_gap} mV from the test "
                                   "values: lower min_gap or n_test")
            v = rng.uniform(lo, hi)
            if band is not None and band[0] <= v <= band[1]:
                continue
            if np.min(np.abs(test - v)) >= config.min_gap:
                out.append(v)
        return np.array(out)

    return {"train": draw(config.n_train), "val": draw(config.n_val), "test": test}


def distance_to_training(config: DatasetConfig, values=None) -> np.ndarray:
    """Distance (mV) from each of ``values`` (default: the config's test grid) to the
    nearest training V_S of the config (:func:`draw_V_S`: no integration)."""
    split = draw_V_S(config)
    v = split["test"] if values is None else vector(np.atleast_1d(real_array(values, "values")),
                                                    "values")
    return np.min(np.abs(v[:, None] - split["train"][None]), axis=1)


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
    :func:`hhlib.ode.sweeps.run_ensemble`). The data are the same for every executor."""
    V_S = draw_V_S(config)      # checks the config and the dataset's size first
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
    """``$HHLIB_CACHE`` if set (``~`` expanded: a quoted ``'~/x'`` is meant as home), else
    ``data/cache`` beside the package (git-ignored)."""
    env = os.environ.get("HHLIB_CACHE")
    return Path(env).expanduser() if env else \
        Path(__file__).resolve().parents[2] / "data" / "cache"


def memory_bytes() -> int:
    """This machine's physical memory (bytes)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_dataset_size(config: DatasetConfig) -> None:
    """Refuse a dataset whose arrays would not fit in half this machine's memory, before any
    draw or integration (the full runs of a split, then the kept trajectories and cuts)."""
    n = config.n_train + config.n_val + config.n_test
    run = round((config.t_transient + config.t_keep) / config.dt) + 1
    keep = round(config.t_keep / config.dt) + 1
    need = 24 * n * (run + 2 * keep)
    if need > memory_bytes() // 2:
        raise ValueError(f"n_train + n_val + n_test = {n} trajectories of {run} samples need "
                         f"about {need / 2**30:.3g} GiB, more than half this machine's "
                         f"{memory_bytes() / 2**30:.3g} GiB: lower n_train, n_val, n_test, "
                         "t_keep or t_transient, or raise dt")


_SPLITS = ("train", "val", "test")
# What a truncated, corrupted or foreign cache file raises when read.
_CACHE_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, zipfile.BadZipFile,
                 zlib.error)


def _read_cache(path: Path, config: DatasetConfig) -> Dataset:
    """The dataset stored at ``path``; ValueError when its key or digest does not match."""
    # Our own file handle: np.load leaves its own open when the archive is corrupted.
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta["key"] != config.key():
            raise ValueError(f"stored key {meta['key']!r} is not this configuration's "
                             f"{config.key()!r}")
        cfg = DatasetConfig(**meta["config"])
        ds = Dataset(cfg, {k: z[f"V_S_{k}"] for k in _SPLITS}, {k: z[f"cuts_{k}"] for k in _SPLITS},
                     {k: z[f"cut_V_S_{k}"] for k in _SPLITS}, {k: z[f"traj_{k}"] for k in _SPLITS})
    if ds.digest() != meta["digest"]:
        raise ValueError("the arrays do not match the stored digest")
    # The augmentation fields are not part of the key: report the configuration asked for.
    return dataclasses.replace(ds, config=config)


def check_writable_dir(directory: Path, name: str = "cache_dir") -> None:
    """Create ``directory`` and write a probe file there, so that an unwritable output
    directory is reported before the expensive work, not after. ``name`` is how the error
    message calls the argument."""
    if not os.fspath(directory):      # Path("") is the current directory
        raise ValueError(f"{name} must be a directory path, got an empty string (an unset "
                         "shell variable?)")
    try:
        Path(directory).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise PermissionError(f"{name} {directory} is not a writable directory ({e})") from None


def load_or_make_dataset(config: DatasetConfig = DatasetConfig(), cache_dir: Path | None = None,
                         *, progress: bool = False, executor: Any = None) -> Dataset:
    """The dataset for ``config``, from the ``.npz`` cache when its key and the digest of its
    arrays match (else made with :func:`make_dataset` on ``executor`` and cached).

    A cache file that cannot be read (truncated, corrupted, or of another configuration) is
    reported with a warning naming it and rebuilt. The cache is written to a unique
    temporary file and renamed into place, so processes building the same dataset at the
    same time all succeed (the last rename wins; the contents are the same). A cache that
    cannot be written after the build (a full disk) is a warning: the dataset is returned."""
    instance(config, DatasetConfig, "config")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path or None, got {cache_dir!r}")
    if cache_dir is not None and not os.fspath(cache_dir):
        raise ValueError("cache_dir must be a directory path or None (the default cache), "
                         "got an empty string (an unset shell variable?)")
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"dataset-{config.key()}.npz"
    if path.exists() and not path.is_file():
        raise IsADirectoryError(f"the dataset cache file's path {path} is taken by a "
                                "directory or other non-file: remove it or pass another "
                                "cache_dir")
    if path.exists():
        try:
            return augment_dataset(_read_cache(path, config), progress=progress)
        except _CACHE_ERRORS as e:
            warnings.warn(f"dataset cache {path} is unreadable or corrupted "
                          f"({type(e).__name__}: {e}); rebuilding it", RuntimeWarning,
                          stacklevel=2)
    check_dataset_size(config)
    check_writable_dir(cache_dir, "cache_dir (or $HHLIB_CACHE)")
    ds = make_dataset(config, progress=progress, executor=executor)
    meta = {"key": config.key(), "config": dataclasses.asdict(config), "hhlib": __version__,
            "digest": ds.digest()}
    arrays = {}
    for k in _SPLITS:
        arrays.update({f"V_S_{k}": ds.V_S[k], f"cuts_{k}": ds.cuts[k],
                       f"cut_V_S_{k}": ds.cut_V_S[k], f"traj_{k}": ds.trajectories[k]})
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{path.stem}.", suffix=".tmp.npz")
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, meta=json.dumps(meta), **arrays)
        os.replace(tmp, path)
    except OSError as e:
        # The dataset is built: a cache that cannot be written must not throw it away.
        warnings.warn(f"dataset cache {path} could not be written ({type(e).__name__}: {e}); "
                      "returning the dataset uncached", RuntimeWarning, stacklevel=2)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return augment_dataset(ds, progress=progress)


def distance_to_fixed_point(states: np.ndarray, V_S: np.ndarray, variant: str = "original"
                            ) -> np.ndarray:
    """Distance of each state (..., 3) from the ODE fixed point at its V_S, in units of the
    per-variable spread of ``states`` (so V, n and S count alike)."""
    states = real_array(states, "states")
    V_S = real_array(V_S, "V_S")
    if states.ndim < 1 or states.shape[-1] != 3:
        raise ValueError(f"states must have shape (..., 3) = (V, n, S), got {states.shape}")
    if V_S.shape != states.shape[:V_S.ndim] or not np.all(np.isfinite(V_S)):
        raise ValueError(f"V_S must be finite with a shape that leads the states' "
                         f"{states.shape[:-1]}, got {V_S.shape}")
    base = HHParams.of_variant(variant)
    fps = {v: fixed_points(base.replace(V_S=float(v)))[0].state for v in np.unique(V_S)}
    fp = np.stack([fps[float(v)] for v in V_S.ravel()]).reshape(V_S.shape + (3,))
    scale = states.reshape(-1, 3).std(axis=0)
    fp = fp.reshape(fp.shape[:-1] + (1,) * (states.ndim - fp.ndim) + (3,))
    return np.linalg.norm((states - fp) / scale, axis=-1)


def _attractor_distance(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per training V_S: the ODE fixed point (n, 3), the state spread of the training cuts
    (3,), and the smallest distance (in units of that spread) at which the kept attractor
    trajectory passes the fixed point (n,)."""
    base = _params(ds.config)
    vs = ds.V_S["train"]
    fp = np.stack([fixed_points(base.replace(V_S=float(v)))[0].state for v in vs])
    scale = ds.cuts["train"].reshape(-1, 3).std(axis=0)
    d = np.linalg.norm((ds.trajectories["train"] - fp[:, None]) / scale, axis=-1)
    return fp, scale, d.min(axis=1)


def augment_dataset(ds: Dataset, *, progress: bool = False) -> Dataset:
    """``ds`` with the extra training data its config asks for (none by default).

    ``n_transient`` > 0: as many ODE runs of ``t_transient_run`` s from random states in
    ``transient_box`` (default the physical box V in [-70, -20] mV, n in [0, 0.1], S in
    [0.15, 0.25]) at the training V_S values (cycled), cut into ``cut_len``-step cuts from t = 0 (the transient is the point).
    ``n_noise`` > 0: as many one-step pairs (x, flow_dt(x)) where x is a random training
    sample perturbed by Gaussian noise of ``noise_sigma`` times each variable's state
    spread, and the target is one ``dt`` step of the ODE from the perturbed state.

    So that the network is still trained "on oscillations only", any cut or pair with a
    state closer to the ODE's fixed point than the attractor at that V_S ever comes
    (distance in units of the training cuts' spread) is dropped. Seeds differ from the
    attractor data's; the result is deterministic."""
    instance(ds, Dataset, "ds")
    cfg = ds.config
    if cfg.n_transient == 0 and cfg.n_noise == 0:
        return ds
    base = _params(cfg)
    fp, scale, d_min = _attractor_distance(ds)
    vs_train = ds.V_S["train"]
    extra_cuts, extra_V_S = dict(ds.extra_cuts), dict(ds.extra_V_S)
    if cfg.n_transient:
        rng = np.random.default_rng([cfg.seed, 101])
        idx = np.arange(cfg.n_transient) % vs_train.size
        box = np.array(cfg.transient_box)
        # Column by column, as _random_starts draws them.
        x0 = np.column_stack([rng.uniform(lo, hi, idx.size) for lo, hi in box])
        _, X = simulate_ensemble(base.replace(V_S=vs_train[idx]), x0,
                                 cfg.t_transient_run, cfg.dt, rtol=cfg.rtol, atol=cfg.atol,
                                 progress=progress)
        n_cuts = (X.shape[1] - 1) // cfg.cut_len
        c = np.stack([X[:, k * cfg.cut_len: (k + 1) * cfg.cut_len + 1] for k in range(n_cuts)],
                     axis=1)                                   # (runs, n_cuts, L + 1, 3)
        near = np.linalg.norm((c - fp[idx][:, None, None]) / scale, axis=-1).min(axis=-1)
        keep = (near >= d_min[idx][:, None]) & np.isfinite(c).all(axis=(-1, -2))
        extra_cuts["transient"] = c[keep]
        extra_V_S["transient"] = np.repeat(vs_train[idx][:, None], n_cuts, axis=1)[keep]
    if cfg.n_noise:
        rng = np.random.default_rng([cfg.seed, 202])
        cuts = ds.cuts["train"]
        n_per = cuts.shape[1]
        pick = rng.integers(0, cuts.shape[0] * n_per, cfg.n_noise)
        ci, si = pick // n_per, pick % n_per
        x = cuts[ci, si] + rng.normal(0.0, cfg.noise_sigma, (cfg.n_noise, 3)) * scale
        # n and S are fractions: a perturbation must not leave [0, 1].
        x[:, 1:] = np.clip(x[:, 1:], 0.0, 1.0)
        # Cuts are stored trajectory by trajectory (make_dataset): cut ci is of V_S ti.
        ti = ci // (cuts.shape[0] // vs_train.size)
        _, Y = simulate_ensemble(base.replace(V_S=vs_train[ti]), x, cfg.dt, cfg.dt,
                                 rtol=cfg.rtol, atol=cfg.atol)
        pairs = np.stack([x, Y[:, -1]], axis=1)
        near = np.linalg.norm((pairs - fp[ti][:, None]) / scale, axis=-1).min(axis=-1)
        keep = (near >= d_min[ti]) & np.isfinite(pairs).all(axis=(-1, -2))
        extra_cuts["noise"] = pairs[keep]
        extra_V_S["noise"] = vs_train[ti][keep]
    return dataclasses.replace(ds, extra_cuts=extra_cuts, extra_V_S=extra_V_S)
