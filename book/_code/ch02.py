"""Chapter 2's tables, sentences and figures: the recorded peer benchmark's table, its
"where" and its sentence, and the figures of stiffness along an orbit, of explicit step sizes
against their stability bound and of work against precision."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from hhlib.ode.accuracy import DOPRI5_STABILITY, ExplicitSteps, OrbitStiffness, WorkPrecision
from hhlib.plotting import plot_voltage

__all__ = ["peer_benchmark", "summary", "plot_orbit_stiffness", "plot_step_sizes",
           "plot_work_precision"]


def peer_benchmark(path: str | Path, summarize: Callable[[dict], tuple]) -> dict[str, Any]:
    """The recorded peer benchmark at ``path`` (JSON of ``benchmarks/integrator_peers.py``)
    as ``{"headers", "rows", "where", "sentence"}``: ``summarize`` is that benchmark's
    ``summary`` function; ``where`` says when and on what machine it ran. A missing file
    gives no rows and says so."""
    if not callable(summarize):
        raise TypeError(f"summarize must be callable, got {type(summarize).__name__}")
    path = Path(path)
    if not path.exists():
        return {"headers": [], "rows": [], "sentence": "",
                "where": "No recorded run of `benchmarks/integrator_peers.py` was found."}
    peers = json.loads(path.read_text(encoding="utf-8"))
    headers, rows, sentence = summarize(peers)
    pm = peers["machine"]
    where = (f"Recorded by `benchmarks/integrator_peers.py` on {pm['date'][:10]}, "
             f"{pm['cpu_model']}, {pm['cpus_available']} cores, load average "
             f"{pm['load_average_at_start'][0]:.1f} at the start; model time "
             f"{peers['config']['t_end_s']:g} s per trajectory.")
    return {"headers": headers, "rows": rows, "where": where, "sentence": sentence}


def summary(report: dict) -> tuple[list[str], list[tuple], str]:
    """A recorded report as (headers, rows, sentence) for the book: one row per method, one
    column per batch size with the wall time in s (``*`` marks a time extrapolated from a
    subset, ``†`` a method that missed the accuracy target at its loosest tolerance), and a
    sentence comparing the compiled integrator with each peer, computed from the rows."""
    rows = report["rows"]
    batches = sorted({r["B"] for r in rows})
    labels = list(dict.fromkeys(r["label"] for r in rows))
    cell = {(r["label"], r["B"]): r for r in rows}
    headers = ["method", "rtol"] + [f"B = {b}" for b in batches]
    table = []
    for lab in labels:
        some = next(r for r in rows if r["label"] == lab)
        vals = []
        for b in batches:
            r = cell.get((lab, b))
            if r is None:
                vals.append("–")
                continue
            mark = ("*" if r["extrapolated"] else "") + ("" if r["within_target"] else "†")
            vals.append(f"{r['wall_s']:.3g}{mark}")
        table.append((lab, f"{some['rtol']:.0e}", *vals))
    ours: dict[int, dict] = {}          # the faster of our two thread settings at each B
    for r in rows:
        if r["method"].startswith("simulate_ensemble") and (
                r["B"] not in ours or r["wall_s"] < ours[r["B"]]["wall_s"]):
            ours[r["B"]] = r
    parts = []
    for lab in labels:
        peer = {r["B"]: r for r in rows if r["label"] == lab}
        if lab.startswith("simulate_ensemble"):
            continue
        common = [b for b in batches if b in peer and b in ours]
        ratios = [peer[b]["wall_s"] / ours[b]["wall_s"] for b in common]
        if not ratios:
            continue
        lo, hi = min(ratios), max(ratios)
        word = "faster" if lo > 1 else ("slower" if hi < 1 else "faster at some B and slower at others")
        span = (f"{lo:.3g}× at B = {common[0]}" if len(ratios) == 1 else
                f"{lo:.3g}× to {hi:.3g}× over B = {', '.join(map(str, common))}")
        parts.append(f"{word} than {lab} ({span}, wall time)")
    sentence = ("The compiled `simulate_ensemble` (the faster of its two thread settings at each "
                "B) was " + "; ".join(parts) + ".")
    return headers, table, sentence


def plot_orbit_stiffness(axes: Sequence, orbit: OrbitStiffness, t_skip: float = 0.0):
    """Three axes: V (mV) along the orbit; the real parts of the eigenvalues (symlog, 1/s)
    with the largest modulus; the stiffness ratio (log)."""
    if len(axes) != 3:
        raise ValueError(f"axes must hold 3 Axes, got {len(axes)}")
    a0, a1, a2 = axes
    plot_voltage(a0, orbit.t, orbit.X[:, 0], color="k")
    a0.set_xlabel("")
    re = np.sort(orbit.lam.real, axis=1)
    a1.plot(orbit.t, np.abs(orbit.lam).max(axis=1), color="0.6", lw=0.8, label="max |λ|")
    for k, (lab, c) in enumerate(zip(("most negative", "middle", "largest"),
                                     ("C3", "C0", "C2"))):
        a1.plot(orbit.t, re[:, k], ".", ms=0.8, color=c, label=f"Re λ, {lab}")
    a1.set_yscale("symlog", linthresh=1.0)
    a1.axhline(0, color="k", lw=0.5)
    a1.set_ylabel("eigenvalue (1/s)")
    a1.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), markerscale=8, ncol=2)
    a2.semilogy(orbit.t, orbit.ratio, color="C4", lw=0.8)
    a2.set_ylabel("max|Re λ| / min|Re λ|")
    a2.set_xlabel(f"t - {t_skip:g} s (s)")
    return axes


def plot_step_sizes(ax, steps: ExplicitSteps, t_skip: float = 0.0):
    """RK45's step sizes (ms, log) and the stability bound against time (s)."""
    ax.semilogy(steps.t, steps.h * 1e3, ".", ms=1.5, color="C0", label="RK45 step")
    ax.semilogy(steps.t, steps.h_stab * 1e3, "-", color="C3", lw=0.8,
                label=rf"stability bound ${DOPRI5_STABILITY}/|\lambda|$")
    ax.set_ylim(0.1 * steps.h.min() * 1e3, 1e3)
    ax.set_xlabel(f"t - {t_skip:g} s (s)")
    ax.set_ylabel("step size (ms)")
    ax.legend(loc="lower right", markerscale=5)
    return ax


def plot_work_precision(ax, wp: WorkPrecision):
    """Error (mV) against CPU time per trajectory (s), log-log, one curve per method, the
    loosest rtol labelled; the batched run dashed."""
    for k, m in enumerate(wp.labels):
        cpu = [wp.runs[m, r][0] for r in wp.rtols]
        err = [wp.runs[m, r][1] for r in wp.rtols]
        ls = "--" if m == wp.batch else "-"
        ax.loglog(cpu, err, "o" + ls, color=f"C{k}", ms=4, label=wp.label(m))
        ax.annotate(f"{wp.rtols[0]:.0e}", (cpu[0], err[0]), textcoords="offset points",
                    xytext=(4, 4), color=f"C{k}")
    ax.set_xlabel("CPU time per trajectory (s)")
    ax.set_ylabel(f"max |V - V_ref| over {wp.t_end:g} s (mV)")
    ax.legend(loc="lower left")
    return ax
