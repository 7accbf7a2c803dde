"""Chapter 8's tables, sentences and figures: the methods side by side (:data:`BASELINE_HEADERS`,
:func:`baseline_rows`, :func:`baseline_text`), their fixed-point errors along the grid and their
bifurcation diagrams."""
from __future__ import annotations

import math

import numpy as np

from hhlib.dynamics.baselines import matched_hopf_gap
from hhlib.checks import real_array
from hhlib.plotting import plot_isi_diagram, shade_outside

__all__ = ["BASELINE_HEADERS", "baseline_rows", "baseline_text", "plot_grid_errors",
           "plot_bifurcation_panels"]

BASELINE_HEADERS = ["method", "what it learns", "training (min)", "validation score",
                    "held-out targets met", "random starts physical", "non-finite",
                    "exactly one fixed point", "worst V* (mV)", "worst n* (relative)", "worst S*",
                    "eigenvalues within tol.", "Neimark–Sacker points (mV)"]


def baseline_rows(results: dict[str, tuple[dict, dict]]) -> list[tuple]:
    """Rows in :data:`BASELINE_HEADERS` order from ``{name: (record, evaluate_model(...))}``."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict name -> (record, evaluation)")
    rows = []
    for name, (_, r) in results.items():
        hopf = ", ".join(f"{v:.3f}" for v in r["ns_points"]) or "none found"
        rows.append((name, r["method"], f"{r['train_minutes']:.1f}", f"{r['val_score']:.3g}",
                     f"{r['checks_ok']} of {r['checks']}",
                     f"{r['random_ok']} of {r['random_runs']}", r["non_finite"],
                     f"{r['exactly_one']} of {r['n_grid']}", f"{r['worst_V']:.3g}",
                     f"{r['worst_n']:.2g}", f"{r['worst_S']:.2g}",
                     f"{r['eig_ok']} of {r['n_grid']}", hopf))
    return rows


def baseline_text(results: dict[str, tuple[dict, dict]], hopf_ode: float,
                  hopf_tol: float = 0.15) -> str:
    """One sentence per method, from its numbers: boundedness from random states, fixed
    points (how many grid values with exactly one, with all eigenvalues in tolerance) and
    the Neimark-Sacker point against the ODE's Hopf point ``hopf_ode`` (within
    ``hopf_tol`` mV or not)."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict name -> (record, evaluation)")
    out = []
    for name, (_, r) in results.items():
        parts = [f"{r['random_ok']} of {r['random_runs']} random-start runs stay physical"
                 + (f" ({r['non_finite']} become non-finite)" if r["non_finite"] else "")]
        parts.append(f"{r['checks_ok']} of {r['checks']} held-out statistic targets are met")
        parts.append(f"it has exactly one fixed point at {r['exactly_one']} of {r['n_grid']} "
                     f"grid values and all three eigenvalues within tolerance at "
                     f"{r['eig_ok']}")
        d = matched_hopf_gap(r["ns_points"], hopf_ode)
        if math.isfinite(d):
            parts.append(f"of its {len(r['ns_points'])} Neimark–Sacker point(s) the nearest "
                         f"lies {d:.3g} mV from the ODE's Hopf point "
                         f"({'within' if d <= hopf_tol else 'outside'} the {hopf_tol:g} mV "
                         "target)")
        else:
            parts.append("it has no Neimark–Sacker point on the searched line")
        out.append(f"**{name}**: " + "; ".join(parts) + ".")
    out.append(_leaders(results, hopf_ode))
    return "\n\n".join(out)


def _leaders(results: dict[str, tuple[dict, dict]], hopf_ode: float) -> str:
    """Which method leads each column (ties named together)."""
    def best(key: str, what: str) -> str:
        vals = {n: r[key] for n, (_, r) in results.items()}
        top = max(vals.values())
        names = [f"`{n}`" for n, v in vals.items() if v == top]
        return f"{what}: {' and '.join(names)} ({top})"

    parts = [best("random_ok", "most random-start runs physical"),
             best("checks_ok", "most held-out targets met"),
             best("exactly_one", "most grid values with exactly one fixed point"),
             best("eig_ok", "most grid values with all eigenvalues in tolerance")]
    gaps = {n: matched_hopf_gap(r["ns_points"], hopf_ode) for n, (_, r) in results.items()
            if r["ns_points"]}
    if gaps:
        n = min(gaps, key=gaps.get)
        parts.append(f"Neimark–Sacker point closest to the ODE's Hopf point: `{n}` "
                     f"({gaps[n]:.3g} mV)")
    return "Column by column, " + "; ".join(parts) + "."


def plot_grid_errors(axes, errors: dict[str, dict[str, np.ndarray]], ceiling: float = 1e3):
    """Two axes: the fixed-point position error and the eigenvalue error, in units of their
    tolerances (log scale, 1 = the target, dotted), against V_S for every method. Missing
    fixed points (inf) are drawn at ``ceiling`` with a cross."""
    axs = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axs) != 2:
        raise TypeError(f"axes must be two Matplotlib Axes, got {axes!r}")
    for ax, key, title in zip(axs, ("position", "eigenvalue"),
                              ("fixed point (V*, n*, S*)", "eigenvalues")):
        for i, (name, e) in enumerate(errors.items()):
            y = np.asarray(e[key], dtype=float)
            ok = np.isfinite(y)
            ax.semilogy(e["V_S"][ok], np.maximum(y[ok], 1e-3), "o-", ms=3, lw=1,
                        color=f"C{i}", label=name)
            if (~ok).any():
                ax.plot(e["V_S"][~ok], np.full((~ok).sum(), ceiling), "x", color=f"C{i}")
        ax.axhline(1.0, color="k", ls=":", lw=1)
        ax.set_xlabel("$V_S$ (mV)")
        ax.set_ylabel("worst error / tolerance")
        ax.set_title(title)
    # Above the panels: one entry per method, too many to sit inside one.
    axs[0].figure.legend(*axs[0].get_legend_handles_labels(), loc="outside upper center",
                         ncol=len(errors))
    return axes


def plot_bifurcation_panels(axes, V_S, sweeps: dict, V_S_range, reference: str = "ODE"):
    """One axes per method of ``sweeps`` (name -> :func:`hhlib.dynamics.recovery.sweep_regimes`
    result, ``reference`` excluded): its inter-spike intervals (s) against V_S (mV) over
    the ODE's in grey, the trained range unshaded. A method whose runs become non-finite
    has no spikes there: the panel says how many values of V_S are affected."""
    vs = real_array(V_S, "V_S")
    names = [n for n in sweeps if n != reference]
    axs = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axs) != len(names):
        raise TypeError(f"axes must be {len(names)} Matplotlib Axes (one per method), got "
                        f"{len(axs)}")
    for i, (ax, name) in enumerate(zip(axs, names)):
        plot_isi_diagram(ax, vs, sweeps[reference]["isis"], color="0.7", s=4, label=reference)
        plot_isi_diagram(ax, vs, sweeps[name]["isis"], color=f"C{i}", s=3, label=name)
        shade_outside(ax, V_S_range, vs[0] - 0.2, vs[-1] + 0.2)
        ax.set_title(name)
    # One legend above the panels: one in each panel covered its intervals.
    entries = {}
    for ax in axs:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    axs[0].figure.legend(entries.values(), entries.keys(), loc="outside upper center",
                         ncol=len(entries), markerscale=3, columnspacing=1.0)
    return axes
