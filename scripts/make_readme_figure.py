"""Regenerate the README's figure, docs/isi_diagram.png: the ISI bifurcation diagram of the
original model against V_S, with its Hopf point and the bursting-to-spiking transition, as in
chapter "The model" (book/01_model.md).

Full figure (the defaults: 341 values of V_S, 250 s each; a few minutes on two cores)::

    .venv/bin/python scripts/make_readme_figure.py

Quick check that the script works (a coarse, short sweep written elsewhere)::

    .venv/bin/python scripts/make_readme_figure.py --points 12 --t-end 80 --t-min 20 \\
        --out /tmp/isi_diagram_check.png

One trajectory per V_S from (V, n, S) = (-60 mV, 0, 0.18) with the batched integrator,
chunked over local processes (``hhlib.ode.sweeps.isi_sweep``); ISIs after the transient
``--t-min``; the Hopf point by root-finding (``hhlib.ode.model.hopf_point``); the transition
bracketed on the grid and refined on ``--refine`` values inside the bracket.
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # a script writes a file; no display may be available
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from hhlib.ode.spikes import regime_transition  # noqa: E402
from hhlib.ode.model import HHParams, hopf_point  # noqa: E402
from hhlib.plotting import plot_isi_diagram, style  # noqa: E402
from hhlib.ode.sweeps import isi_sweep  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "isi_diagram.png"
X0 = (-60.0, 0.0, 0.18)           # initial state (V mV, n, S), as in chapter "The model"
HOPF_BRACKET = (-46.0, -44.0)     # mV; the model's only Hopf point lies inside


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=341,
                    help="values of V_S on the grid (default 341)")
    ap.add_argument("--vs-min", type=float, default=-46.0, help="lowest V_S in mV (default -46)")
    ap.add_argument("--vs-max", type=float, default=-29.0, help="highest V_S in mV (default -29)")
    ap.add_argument("--t-end", type=float, default=250.0,
                    help="model time per trajectory in s (default 250)")
    ap.add_argument("--t-min", type=float, default=50.0,
                    help="transient dropped before collecting ISIs, in s (default 50)")
    ap.add_argument("--dt", type=float, default=0.005, help="sampling step in s (default 0.005)")
    ap.add_argument("--refine", type=int, default=21,
                    help="values of V_S inside the transition's bracket (default 21; 0: none)")
    ap.add_argument("--chunk-size", type=int, default=16,
                    help="trajectories per process task (default 16)")
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes (default: all CPUs)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help=f"PNG to write (default {DEFAULT_OUT.relative_to(REPO)})")
    args = ap.parse_args(argv)
    if args.points < 3:
        ap.error(f"--points must be >= 3, got {args.points}")
    if not args.vs_min < args.vs_max:
        ap.error(f"--vs-min ({args.vs_min}) must be below --vs-max ({args.vs_max}) mV")
    if not 0 < args.dt < args.t_end:
        ap.error(f"--dt must lie in (0, --t-end), got {args.dt} s")
    if not 0 <= args.t_min < args.t_end:
        ap.error(f"--t-min must lie in [0, --t-end), got {args.t_min} s")
    if args.refine < 0 or args.refine == 1:
        ap.error(f"--refine must be 0 or >= 2, got {args.refine}")
    if args.chunk_size < 1 or (args.workers is not None and args.workers < 1):
        ap.error("--chunk-size and --workers must be >= 1")
    if args.out.suffix.lower() != ".png":
        ap.error(f"--out must name a .png file, got {args.out}")
    return args


class _ProgressExecutor:
    """Submits to ``pool`` and ticks ``bar`` as each task finishes (an executor for
    ``isi_sweep``: anything with ``submit``)."""

    def __init__(self, pool: ProcessPoolExecutor, bar: tqdm):
        self.pool, self.bar = pool, bar

    def submit(self, fn, *args):
        future = self.pool.submit(fn, *args)
        future.add_done_callback(lambda _: self.bar.update(1))
        return future


def sweep(P: HHParams, vs: np.ndarray, args, pool: ProcessPoolExecutor, what: str):
    """(stats, isis) of one trajectory per V_S in ``vs``, with a progress bar over chunks."""
    n_chunks = -(-len(vs) // args.chunk_size)
    with tqdm(total=n_chunks, desc=what, unit="chunk") as bar:
        return isi_sweep(P.replace(V_S=vs), np.tile(X0, (len(vs), 1)), args.t_end, args.dt,
                         t_min=args.t_min, executor=_ProgressExecutor(pool, bar),
                         chunk_size=args.chunk_size)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    P = HHParams()
    vs = np.linspace(args.vs_min, args.vs_max, args.points)
    import multiprocessing as mp

    # spawn, not fork: safe whatever threads NumPy's BLAS has started in this process
    with ProcessPoolExecutor(args.workers or os.cpu_count() or 1,
                             mp_context=mp.get_context("spawn")) as pool:
        stats, isis = sweep(P, vs, args, pool, f"{len(vs)} values of V_S")
        regimes = [s.regime for s in stats]
        try:
            lo, hi = regime_transition(vs, regimes)
        except ValueError as err:
            sys.exit(f"no bursting-to-spiking transition on this grid ({err}); widen "
                     "--vs-min/--vs-max or lengthen --t-end")
        if args.refine:
            fine = np.linspace(lo, hi, args.refine)
            fine_stats, _ = sweep(P, fine, args, pool, "refining the transition")
            lo, hi = regime_transition(fine, [s.regime for s in fine_stats])
    V_transition = 0.5 * (lo + hi)
    V_hopf = hopf_point(P, HOPF_BRACKET)
    print(f"Hopf point V_S = {V_hopf:.2f} mV; bursting -> spiking between {lo:.3f} and "
          f"{hi:.3f} mV")

    style()
    fig, ax = plt.subplots(figsize=(9, 4))
    plot_isi_diagram(ax, vs, isis, color="k")
    ax.axvline(V_hopf, color="C2", ls=":", label=f"Hopf, {V_hopf:.2f} mV")
    ax.axvline(V_transition, color="C3", ls="--",
               label=f"bursting → spiking, {V_transition:.2f} mV")
    ax.legend(loc="upper right")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name, then an atomic rename: an interrupted run never leaves a
    # truncated PNG in place of the README's figure.
    tmp = args.out.with_name(f".{args.out.stem}.{os.getpid()}.tmp.png")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
