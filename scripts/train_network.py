"""Train a network map and ship its weights into hhlib/weights/.

Regenerate the shipped weights exactly with (2-core CPU, about 10-15 minutes each):

    .venv/bin/python scripts/train_network.py --name original --stages 1:80 --patience 80
    .venv/bin/python scripts/train_network.py --name original-multistep \
        --stages 1:20,8:30,32:60 --select-from-epoch 21
    .venv/bin/python scripts/train_network.py --name bistable --variant bistable \
        --stages 1:80 --patience 80

The dataset is built (or read from the cache) from ``DatasetConfig()``'s defaults, or from
``DatasetConfig.bistable()`` with ``--variant bistable``.
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time

import numpy as np
import torch

from hhlib import __version__
from hhlib.data import DatasetConfig, load_or_make_dataset
from hhlib.network import TrainConfig, save_pretrained, train


def parse_stages(text: str) -> tuple[tuple[int, int], ...]:
    """'1:20,8:30,32:60' -> ((1, 6), (8, 10), (32, 20))."""
    try:
        return tuple(tuple(int(v) for v in s.split(":")) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"stages must look like 1:20,8:30,32:60, got {text!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--name", default="original", help="weights name (file stem)")
    ap.add_argument("--stages", type=parse_stages, default=TrainConfig().stages,
                    help="rollout length K and epochs per stage, e.g. 1:110 or 1:20,8:30,32:60")
    ap.add_argument("--select-from-epoch", type=int, default=1,
                    help="never select an earlier epoch (to judge the later stages alone)")
    ap.add_argument("--variant", choices=("original", "bistable"), default="original",
                    help="model variant whose trajectories the network learns")
    ap.add_argument("--patience", type=int, default=TrainConfig().patience,
                    help="epochs without improvement of the criterion before a stage stops")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-minutes", type=float, default=TrainConfig().max_minutes)
    # One thread: the matrices are small, and a busy second core would stall a second thread.
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", default=None, help="directory for the weights (default: hhlib/weights)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    dcfg = DatasetConfig() if args.variant == "original" else DatasetConfig.bistable()
    t0 = time.perf_counter()
    ds = load_or_make_dataset(dcfg, progress=True)
    t_data = time.perf_counter() - t0
    tcfg = TrainConfig(stages=args.stages, seed=args.seed, max_minutes=args.max_minutes,
                       patience=args.patience,
                       select_from_epoch=args.select_from_epoch)
    net, hist = train(ds.cuts["train"], ds.cut_V_S["train"], ds.cuts["val"], ds.cut_V_S["val"],
                      dcfg.dt, tcfg, V_S_range=dcfg.V_S_range, variant=dcfg.variant,
                      val_trajectories=ds.trajectories["val"], val_traj_V_S=ds.V_S["val"],
                      progress=True)
    record = {
        "dataset_config": dataclasses.asdict(dcfg),
        "dataset_sha256": ds.digest(),
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
                                         "val_one_step", "val_score", "seconds")},
        "hhlib": __version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "threads": args.threads,
        "command": "python scripts/train_network.py " + " ".join(argv if argv is not None
                                                                else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
    }
    pt = save_pretrained(net, args.name, record, args.out)
    print(f"trained {args.name} in {hist['train_seconds']:.0f} s ({hist['stopped']}); "
          f"best epoch {hist['best_epoch']} (validation dynamics score "
          f"{hist['best_val_score']:.3g}, rollout loss {hist['best_val_loss']:.4g}); wrote {pt}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
