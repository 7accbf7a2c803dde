r"""Fit the SINDy baselines of chapter "Other discovery methods": a .pt state dict and a .json
record with checksums, as the networks, by default into the git-ignored scratch folder
weights-scratch/. A name of the shipped models (hhlib/weights/), or one already in --out, is
refused before any work unless --force is given.

Regenerate the shipped models with (2-core CPU, about 10 minutes each):

    .venv/bin/python scripts/fit_sindy.py --name sindy-polynomial --library polynomial --degree 3 \
        --out hhlib/weights --force
    .venv/bin/python scripts/fit_sindy.py --name sindy-sigmoid --library sigmoid --degree 2 \
        --out hhlib/weights --force

Data: the shipped ``original`` network's training cuts (``DatasetConfig.from_record`` of its
record), so every method sees exactly the same cuts. The sparsity threshold, the ridge weight
and the order of the finite differences are chosen among ``--thresholds``, ``--alphas`` and
``--fd-orders`` by the validation dynamics score (free runs against the validation
trajectories, :func:`hhlib.maps.scores.dynamics_score`), as the network's epoch is: from
trajectories only, never from the fixed point or its eigenvalues.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hhlib import __version__
from hhlib.dynamics.baselines import LIBRARIES, fit_sindy
from hhlib.ode.data import DatasetConfig, check_writable_dir, load_or_make_dataset
from hhlib.maps.scores import dynamics_score
from hhlib.maps.network import _check_name, existing_weights, load_pretrained, save_or_rescue

# Outside hhlib/weights, so that a trial fit cannot replace a shipped model (as in
# scripts/train_network.py).
SCRATCH_DIR = Path(__file__).resolve().parent.parent / "weights-scratch"


def _thresholds(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if not vals or not all(math.isfinite(v) and v >= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"thresholds must be comma-separated finite numbers "
                                         f">= 0, like 0.001,0.01,0.1, got {text!r}")
    return vals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--name", required=True, help="file stem of the shipped model")
    ap.add_argument("--library", choices=LIBRARIES, required=True)
    ap.add_argument("--degree", type=int, choices=range(1, 6), metavar="1..5", required=True,
                    help="highest degree of the monomials")
    ap.add_argument("--thresholds", type=_thresholds, default=(0.01, 0.03, 0.1),
                    help="STLSQ thresholds to choose among (validation dynamics score)")
    ap.add_argument("--alphas", type=_thresholds, default=(1.0, 100.0, 1000.0),
                    help="STLSQ ridge weights to choose among (validation dynamics score); the "
                         "regression has about a million rows, so 100 is a mild ridge")
    ap.add_argument("--fd-orders", type=int, nargs="+", choices=(2, 4), default=(2, 4),
                    help="finite-difference orders to choose among (validation dynamics score)")
    ap.add_argument("--substeps", type=int, choices=range(1, 9), metavar="1..8", default=1,
                    help="RK4 steps per map step Δt")
    ap.add_argument("--out", default=None,
                    help="directory (default: weights-scratch/ in the repository, git-ignored; "
                         "the shipped ones: hhlib/weights with --force)")
    ap.add_argument("--force", action="store_true",
                    help="overwrite a model of the same name in --out, shipped ones included")
    args = ap.parse_args(argv)
    try:
        _check_name(args.name)
        if args.out == "":                # Path("") would be the current directory
            raise ValueError("--out must be a directory path, got an empty string (an unset "
                             "shell variable?)")
        out = SCRATCH_DIR if args.out is None else Path(args.out).expanduser()
        check_writable_dir(out, "--out")
        taken = existing_weights(args.name, out)
    except (ValueError, PermissionError) as e:
        ap.error(str(e))
    if taken and not args.force:
        ap.error(f"--name {args.name!r} would replace or shadow existing weights "
                 f"({', '.join(map(str, taken))}); the shipped ones in hhlib/weights are what "
                 f"the chapters load. Choose another --name, or pass --force to overwrite.")

    torch.set_num_threads(1)
    _, rec = load_pretrained("original")
    dcfg = DatasetConfig.from_record(rec)
    ds = load_or_make_dataset(dcfg, progress=True)
    val, val_vs = ds.trajectories["val"], ds.V_S["val"]
    t0 = time.perf_counter()
    tried, best = [], None
    for order, alpha, th in itertools.product(args.fd_orders, args.alphas, args.thresholds):
        t1 = time.perf_counter()
        model = fit_sindy(ds.cuts["train"], ds.cut_V_S["train"], dcfg.dt, library=args.library,
                          degree=args.degree, threshold=th, alpha=alpha, fd_order=order,
                          V_S_range=dcfg.V_S_range, variant=dcfg.variant,
                          substeps=args.substeps)
        fit_s = time.perf_counter() - t1
        score = dynamics_score(model, val, val_vs)
        tried.append({"fd_order": order, "alpha": alpha, "threshold": th,
                      "terms": model.n_terms(),
                      "val_score": score, "fit_seconds": fit_s})
        print(f"order {order}, ridge {alpha:g}, threshold {th:g}: {model.n_terms()} terms, "
              f"validation score "
              f"{score:.4g} (fit {fit_s:.1f} s)", flush=True)
        if math.isfinite(score) and (best is None or score < best[1]):
            best = (model, score, th, order, alpha)
    if best is None:
        print("error: no threshold gave a finite validation score; nothing written",
              file=sys.stderr)
        return 1
    model, score, th, order, alpha = best
    record = {
        "method": "sindy", "library": args.library, "degree": args.degree, "threshold": th,
        "fd_order": order, "alpha": alpha,
        "thresholds_tried": tried, "selection": "val_score", "best_val_score": score,
        "train_seconds": time.perf_counter() - t0,
        "dataset_config": dataclasses.asdict(dcfg), "dataset_sha256": ds.digest(),
        "dataset_digest": "full",
        "equations": model.equations(),
        "hhlib": __version__, "numpy": np.__version__, "python": sys.version.split()[0],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "command": "python scripts/fit_sindy.py " + " ".join(argv if argv is not None
                                                            else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
    }
    pt, err = save_or_rescue(model, args.name, record, out)
    if err is not None:
        print(f"error: could not write to {out} ({err}); the fitted model is saved as {pt}",
              file=sys.stderr)
        return 1
    print(f"chose order {order}, ridge {alpha:g}, threshold {th:g} ({model.n_terms()} terms, validation score {score:.4g}); "
          f"wrote {pt}")
    for eq in model.equations():
        print("  " + eq)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
