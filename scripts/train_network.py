r"""Train a network map; by default into the git-ignored scratch folder weights-scratch/.

A quick run for a class (about 2 minutes on a laptop; load it with
``hhlib.maps.network.load_pretrained("my-network", directory=Path("weights-scratch"))``):

    .venv/bin/python scripts/train_network.py --preset small

A name of the shipped weights (hhlib/weights/, loaded by chapters 4-8), or one already in
--out, is refused before any work unless --force is given. Regenerate the shipped weights
exactly with these commands, each followed by --out hhlib/weights --force (2-core CPU,
about 10-15 minutes each):

    .venv/bin/python scripts/train_network.py --name original --stages 1:80 --patience 80
    .venv/bin/python scripts/train_network.py --name original-multistep \
        --stages 1:20,8:30,32:60 --select-from-epoch 21
    .venv/bin/python scripts/train_network.py --name bistable --variant bistable \
        --stages 1:80 --patience 80
    .venv/bin/python scripts/train_network.py --name original-transient --stages 1:60 \
        --patience 60 --transient-runs 160 --random-runs 48
    .venv/bin/python scripts/train_network.py --name original-transient-wide --stages 1:60 \
        --patience 60 --transient-runs 160 --random-runs 48 --transient-box -75 -15 0 0.3 0 0.35
    .venv/bin/python scripts/train_network.py --name original-transient-jacobian --stages 1:60 \
        --patience 60 --transient-runs 160 --random-runs 48 --jacobian-weight 1e-7
    .venv/bin/python scripts/train_network.py --name original-transient-80 --stages 1:80 \
        --patience 80 --transient-runs 160 --random-runs 48
    for k in 1 2 3 4; do                     # chapter 4's ensemble, with seed 0 above
        .venv/bin/python scripts/train_network.py --name original-transient-80-seed$k \
            --seed $k --stages 1:80 --patience 80 --transient-runs 160 --random-runs 48
    done
    .venv/bin/python scripts/train_network.py --name original-transient-80-noise \
        --stages 1:80 --patience 80 --transient-runs 160 --random-runs 48 \
        --noise-pairs 50000 --noise-sigma 0.05
    .venv/bin/python scripts/train_network.py --name original-transient-80-deep \
        --stages 1:80 --patience 80 --transient-runs 160 --random-runs 48 \
        --hidden 128,128,128,128
    .venv/bin/python scripts/train_network.py --name bistable-transient --variant bistable \
        --stages 1:60 --patience 60 --transient-runs 160 --random-runs 48
    .venv/bin/python scripts/train_network.py --name vector-field --kind vector_field \
        --stages 1:50 --patience 50 --max-minutes 14  # chapter "Other discovery methods"
        # (shipped: stopped by the 14-minute budget at epoch 39 of 50 on a busy 2-core
        # machine; its selected epoch, 24, came before that)
    for k in 1 2 3 4 5; do                   # the seed ensemble of chapter "Dynamics recovery"
        .venv/bin/python scripts/train_network.py --name original-seed$k --seed $k \
            --stages 1:80 --patience 80
    done
    # the held-out band of chapter "Dynamics recovery": no training V_S in [-38.5, -37.5] mV
    .venv/bin/python scripts/train_network.py --name original-band --stages 1:80 \
        --patience 80 --exclude-band -38.5 -37.5
    .venv/bin/python scripts/train_network.py --name original-transient-80-seed3-band \
        --seed 3 --stages 1:80 --patience 80 --transient-runs 160 --random-runs 48 \
        --exclude-band -38.5 -37.5

The dataset is built (or read from the cache) from ``DatasetConfig()``'s defaults, or from
``DatasetConfig.bistable()`` with ``--variant bistable``.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hhlib import __version__
from hhlib.ode.data import DatasetConfig, check_writable_dir, load_or_make_dataset
from hhlib.maps.network import (MapNet, VectorFieldNet, _check_name, existing_weights,
                                save_or_rescue)
from hhlib.maps.training import TrainConfig, TrainingError, train

# Outside hhlib/weights, so that a student's run cannot replace a shipped network; beside
# the repository rather than in _build/, which `make clean` removes.
SCRATCH_DIR = Path(__file__).resolve().parent.parent / "weights-scratch"

# Named sets of defaults; flags given on the command line still win. "dataset" overrides
# DatasetConfig fields. small: about 2 minutes on a laptop (dataset included; the training
# stops at 2 minutes in any case), for a class; the network is far less accurate than the
# shipped one (validation dynamics score 0.13 against 0.023 in one run).
PRESETS = {
    "small": {"stages": ((1, 60),), "patience": 60, "max_minutes": 2.0,
              "dataset": {"n_train": 40, "n_val": 6, "t_keep": 30.0}},
}


def parse_stages(text: str) -> tuple[tuple[int, int], ...]:
    """'1:20,8:30,32:60' -> ((1, 20), (8, 30), (32, 60)): (rollout length K, epochs)."""
    try:
        stages = tuple(tuple(int(v) for v in s.split(":")) for s in text.split(","))
    except ValueError:
        stages = ()
    if not stages or any(len(p) != 2 or p[0] < 1 or p[1] < 1 for p in stages):
        raise argparse.ArgumentTypeError(f"stages must be K:epochs pairs with K >= 1 and "
                                         f"epochs >= 1, like 1:20,8:30,32:60, got {text!r}")
    return stages


def parse_hidden(text: str) -> tuple[int, ...]:
    """'128,128,128,128' -> (128, 128, 128, 128): the hidden layer widths."""
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if not widths or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"hidden must be comma-separated widths >= 1, like "
                                         f"128,128,128, got {text!r}")
    return widths


def _int_at_least(lo: int):
    """An argparse type: an integer >= ``lo``."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = lo - 1
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {text!r}")
        return v
    return parse


_positive_int, _nonnegative_int = _int_at_least(1), _int_at_least(0)


def _minutes(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of minutes > 0, got {text!r}")
    return v


def _check_out(ap: argparse.ArgumentParser, out: Path) -> None:
    """Fail now, not after training, if the weights cannot be written to ``out``."""
    try:
        check_writable_dir(out, "--out")
    except (PermissionError, ValueError) as e:
        ap.error(str(e))


def _check_free(ap: argparse.ArgumentParser, name: str, out: Path, force: bool) -> None:
    """Refuse, before any work, to replace existing or shipped weights without --force."""
    taken = existing_weights(name, out)
    if taken and not force:
        ap.error(f"--name {name!r} would replace or shadow existing weights "
                 f"({', '.join(map(str, taken))}); the shipped ones in hhlib/weights are what "
                 f"chapters 4-8 load. Choose another --name, or pass --force to overwrite.")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--name", default="my-network", help="weights name (file stem)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default=None,
                    help="small: a short schedule (1:60, at most 2 minutes of training) on a "
                         "smaller dataset (40 training trajectories of 30 s); explicit flags "
                         "still win")
    ap.add_argument("--force", action="store_true",
                    help="overwrite weights of the same name in --out, shipped ones included")
    ap.add_argument("--stages", type=parse_stages, default=TrainConfig().stages,
                    help="rollout length K and epochs per stage, e.g. 1:110 or 1:20,8:30,32:60")
    ap.add_argument("--select-from-epoch", type=_positive_int, default=1,
                    help="never select an earlier epoch (to judge the later stages alone)")
    ap.add_argument("--variant", choices=("original", "bistable"), default="original",
                    help="model variant whose trajectories the network learns")
    ap.add_argument("--patience", type=_positive_int, default=TrainConfig().patience,
                    help="epochs without improvement of the criterion before a stage stops")
    ap.add_argument("--seed", type=_nonnegative_int, default=0)
    ap.add_argument("--max-minutes", type=_minutes, default=TrainConfig().max_minutes)
    # One thread: the matrices are small, and a busy second core would stall a second thread.
    ap.add_argument("--threads", type=_positive_int, default=1, help="torch CPU threads")
    ap.add_argument("--out", default=None,
                    help="directory for the weights (default: weights-scratch/ in the "
                         "repository, git-ignored; the shipped ones: hhlib/weights with --force)")
    # Robust training (issue 11); all off by default, the shipped recipe.
    ap.add_argument("--transient-runs", type=_nonnegative_int, default=0,
                    help="ODE runs from random states whose transient cuts join the training "
                         "data (hhlib.ode.data.augment_dataset)")
    ap.add_argument("--transient-box", type=float, nargs=6, default=None,
                    metavar=("V_LO", "V_HI", "N_LO", "N_HI", "S_LO", "S_HI"),
                    help="box of the transient runs' start states (default: the physical box)")
    ap.add_argument("--noise-pairs", type=_nonnegative_int, default=0,
                    help="one-step pairs from perturbed attractor states, ODE targets")
    ap.add_argument("--noise-sigma", type=float, default=DatasetConfig().noise_sigma,
                    help="perturbation in units of each variable's state spread")
    ap.add_argument("--exclude-band", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                    help="a V_S band (mV) from which no training or validation value is drawn "
                         "(a held-out test band; DatasetConfig.exclude_band)")
    ap.add_argument("--random-runs", type=_nonnegative_int, default=0,
                    help="random-start free runs whose boundedness joins the selection")
    ap.add_argument("--jacobian-weight", type=float, default=0.0,
                    help="weight of the Jacobian penalty at random states in the physical box "
                         "(hhlib.maps.training.jacobian_penalty); 0 = off")
    ap.add_argument("--hidden", type=parse_hidden, default=TrainConfig().hidden,
                    help="hidden layer widths, e.g. 128,128,128,128 (depth and width)")
    ap.add_argument("--kind", choices=("map", "vector_field"), default="map",
                    help="map: the network is the step map (the paper's); vector_field: the "
                         "network is dx/dt, used through one RK4 step (a neural ODE)")
    preset = ap.parse_known_args(argv)[0].preset
    dataset_preset = {}
    if preset is not None:
        dataset_preset = dict(PRESETS[preset])
        ap.set_defaults(**{k: v for k, v in dataset_preset.items() if k != "dataset"})
        dataset_preset = dataset_preset.get("dataset", {})
    args = ap.parse_args(argv)

    # Every check that can fail runs here, before the dataset build and the training.
    try:
        _check_name(args.name)
    except ValueError as e:
        ap.error(f"--name: {e}")
    aug = dict(dataset_preset)
    aug |= {k: v for k, v in (("n_transient", args.transient_runs),
                             ("n_noise", args.noise_pairs),
                             ("noise_sigma", args.noise_sigma)) if v != getattr(DatasetConfig(), k)}
    if args.exclude_band is not None:
        aug["exclude_band"] = tuple(args.exclude_band)
    if args.transient_box is not None:
        aug["transient_box"] = tuple(zip(args.transient_box[::2], args.transient_box[1::2]))
    try:
        dcfg = (DatasetConfig(**aug) if args.variant == "original"
                else DatasetConfig.bistable(**aug))
    except (TypeError, ValueError) as e:
        ap.error(str(e))
    try:
        tcfg = TrainConfig(stages=args.stages, seed=args.seed, max_minutes=args.max_minutes,
                           patience=args.patience, select_from_epoch=args.select_from_epoch,
                           random_runs=args.random_runs, hidden=args.hidden,
                           jacobian_weight=args.jacobian_weight)
    except (TypeError, ValueError) as e:
        ap.error(str(e))
    if max(k for k, _ in tcfg.stages) > dcfg.cut_len or tcfg.val_steps > dcfg.cut_len:
        ap.error(f"--stages: rollout lengths K must not exceed the dataset's cut length "
                 f"({dcfg.cut_len} steps), got {args.stages}")
    if args.out == "":                # Path("") would be the current directory
        ap.error("--out must be a directory path, got an empty string (an unset shell "
                 "variable?)")
    out = Path(args.out).expanduser() if args.out is not None else SCRATCH_DIR
    _check_out(ap, out)
    _check_free(ap, args.name, out, args.force)

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    ds = load_or_make_dataset(dcfg, progress=True)
    t_data = time.perf_counter() - t0
    try:
        net, hist = train(ds.cuts["train"], ds.cut_V_S["train"], ds.cuts["val"],
                          ds.cut_V_S["val"], dcfg.dt, tcfg, V_S_range=dcfg.V_S_range,
                          variant=dcfg.variant, val_trajectories=ds.trajectories["val"],
                          val_traj_V_S=ds.V_S["val"], progress=True,
                          net_class=VectorFieldNet if args.kind == "vector_field" else MapNet,
                          extra_cuts={k: (ds.extra_cuts[k], ds.extra_V_S[k])
                                      for k in ds.extra_cuts} or None)
    except TrainingError as e:
        print(f"error: {e} Nothing written to {out}.", file=sys.stderr)
        return 1
    record = {
        "dataset_config": dataclasses.asdict(dcfg),
        "dataset_sha256": ds.digest(),
        "dataset_digest": "full",   # kind of dataset_sha256 (Dataset.digest)
        "train_config": dataclasses.asdict(tcfg),
        "train_seconds": hist["train_seconds"],
        "dataset_seconds": t_data,
        "stopped": hist["stopped"],
        "final_train_loss": hist["train_loss"][-1],
        "best_epoch": hist["best_epoch"],
        "selection": hist["criterion"],
        "best_val_loss": hist["best_val_loss"],
        "best_val_score": hist["best_val_score"],
        "history": {k: hist[k] for k in ("epoch", "K", "train_loss", "val_loss",
                                         "val_one_step", "val_score", "seconds",
                                         "random_physical") if k in hist},
        "hhlib": __version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "threads": args.threads,
        "command": "python scripts/train_network.py " + " ".join(argv if argv is not None
                                                                else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
    }
    if ds.extra_cuts:
        record["extra_cuts"] = {k: int(len(v)) for k, v in ds.extra_cuts.items()}
    pt, err = save_or_rescue(net, args.name, record, out)
    if err is not None:
        print(f"error: could not write to {out} ({err}); the trained network is saved as "
              f"{pt}", file=sys.stderr)
        return 1
    print(f"trained {args.name} in {hist['train_seconds']:.0f} s ({hist['stopped']}); "
          f"best epoch {hist['best_epoch']} (validation dynamics score "
          f"{hist['best_val_score']:.3g}, rollout loss {hist['best_val_loss']:.4g}); wrote {pt}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
