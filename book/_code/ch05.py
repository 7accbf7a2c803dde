"""Chapter 5's tables, sentences and figures: the recovery targets' table, summary and
verdict, the figures of the ODE against the network, the seed ensemble's rows and verdict, and
the held-out band's rows and sentences."""
from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from hhlib.checks import real_array, record as check_record, vector
from hhlib.dynamics.evaluation import schedule_text
from hhlib.plotting import plot_isi_diagram, shade_outside
from hhlib.dynamics.recovery import (BURST_FIELDS, N_FLOOR, FixedPointChecks, FixedPointComparison,
                                     SeedSpread, agree_up_to, fixed_point_checks,
                                     seed_spread, slow_pair, worst_at)
from hhlib.targets import verdict

__all__ = ["TARGET_LABELS", "target_table", "recovery_summary", "recovery_verdict",
           # figures
           "plot_isi_side_by_side", "plot_isi_overlay", "plot_burst_statistics",
           "plot_fixed_point_comparison", "plot_eigenvalue_comparison", "plot_slow_pair",
           "plot_error_against_data", "plot_seed_spread",
           # the seed ensemble
           "spread_verdict", "ENSEMBLE_HEADERS", "ensemble_summary", "ensemble_row",
           # the band held out of training
           "BAND_HEADERS", "band_row", "band_verdict", "training_data_text",
           "format_eigenvalues", "fixed_point_rows", "spread_rows"]


# ---------------------------------------------------------------------------- targets
TARGET_LABELS = {"transition": "bursting → spiking transition", "V*": "fixed point V*",
                 "n*": "fixed point n*", "S*": "fixed point S*",
                 "type": "stability type (signs of Re λ)",
                 "eig_big": "eigenvalues with \\|λ\\| > 5 1/s",
                 "eig_small": "eigenvalues with \\|λ\\| ≤ 5 1/s",
                 "eig_type": "each eigenvalue's type (sign of Re λ, real or complex)"}


def target_table(targets, where, checks: FixedPointChecks) -> list[tuple]:
    """Rows (target, required, worst measured, at V_S, ✓/✗) of the targets of
    :func:`recovery_targets`, then one row that is not a target: whether the eigenvalues'
    real/complex character agrees."""
    if len(where) != len(targets):
        raise ValueError(f"where must hold one entry per target ({len(targets)}), got "
                         f"{len(where)}")
    rows = [(TARGET_LABELS.get(t.name, t.name), t.required, t.shown, w, "✓" if t.met else "✗")
            for t, w in zip(targets, where)]
    bad = ~checks.char_ok
    rows.append(("(not a target) real/complex character of the eigenvalues",
                 "identical at every value", f"{int(bad.sum())} of {checks.V_S.size} differ",
                 f"{checks.V_S[bad].min():.2f} to {checks.V_S[bad].max():.2f}" if bad.any()
                 else "–", "✓" if checks.char_ok.all() else "✗"))
    return rows


def recovery_summary(targets, checks: FixedPointChecks) -> dict:
    """The numbers a chapter quotes about the targets and checks, by glue name: the position
    tolerances as text, worst errors and where, how many grid values pass each check, the range where the real/
    complex character differs (NaN if nowhere) and a phrase saying how."""
    by = {t.name: t for t in targets}
    w_big, at_big = worst_at(checks.rel_big, checks.V_S)
    w_small, at_small = worst_at(np.where(~checks.big, checks.score, 0.0), checks.V_S)
    w_V, at_V = worst_at(checks.err[:, 0], checks.V_S)
    w_S, at_S = worst_at(checks.err[:, 2], checks.V_S)
    bad, eig = ~checks.char_ok, checks.eig_ok
    vs = checks.V_S
    net_c = bad & checks.map_complex & ~checks.ode_complex
    tol = checks.tol
    return {
        "fp_tol_text": f"{tol[0]:g} mV, {100 * tol[1]:g} % of n*, {tol[2]:g}",
        "worst_big": 100 * w_big, "worst_big_at": at_big,
        "worst_small": w_small, "worst_small_at": at_small,
        "fp_ok_upto": agree_up_to(vs, checks.fp_ok), "n_fp_ok": int(checks.fp_ok.sum()),
        "n_eig_ok": int(eig.sum()),
        "n_all_ok": int((checks.fp_ok & checks.type_ok & eig).sum()),
        "n_type_ok": int(checks.type_ok.sum()), "n_char_bad": int(bad.sum()),
        "char_bad_from": float(vs[bad].min()) if bad.any() else float("nan"),
        "char_bad_to": float(vs[bad].max()) if bad.any() else float("nan"),
        "worst_V": w_V, "worst_V_at": at_V, "worst_S": w_S, "worst_S_at": at_S,
        "n_targets_met": int(sum(t.met for t in targets)), "n_targets": len(by),
        "eig_ok_lo": float(vs[eig].min()) if eig.any() else float("nan"),
        "eig_ok_hi": float(vs[eig].max()) if eig.any() else float("nan"),
        "char_desc": ("the network's fixed point has a complex eigenvalue pair where the ODE's "
                      "eigenvalues are all real" if net_c[bad].all() else
                      "one of the two has a complex eigenvalue pair where the other has real "
                      "eigenvalues"),
    }


def recovery_verdict(targets, checks: FixedPointChecks) -> str:
    """The chapter's verdict on the claim, from the targets of :func:`recovery_targets`:
    all met; or every position and eigenvalue target missed (then how far the fixed point
    agrees from the bottom of the range, and its worst miss); or how many were met."""
    by = {t.name: t for t in targets}
    mark = {True: "✓", False: "✗"}
    if all(t.met for t in targets):
        return ("The claim holds for this network: every target of the table is met over the "
                "training range.")
    if any(by[k].met for k in ("V*", "n*", "S*", "eig_big", "eig_small")):
        return "The claim holds in part: " + verdict(targets, "the targets of the table")
    upto = agree_up_to(checks.V_S, checks.fp_ok)
    span = (f"without a miss from {checks.V_S[0]:.2f} to {upto:.2f} mV" if np.isfinite(upto)
            else "missed already at the lowest value")
    w_V, at_V = worst_at(checks.err[:, 0], checks.V_S)
    tr = by["transition"].met
    return (f"The claim holds in part. The attractor's bifurcations are "
            f"{'reproduced' if tr else 'not reproduced'} (transition within "
            f"{by['transition'].required.split('≤ ')[-1]}: {mark[tr]}; stability type "
            f"everywhere: {mark[by['type'].met]}), and the fixed point sits where the ODE's "
            f"does only on part of the training range (position targets "
            f"{span}); over the whole range it fails every position and eigenvalue target, at "
            f"worst by {w_V:.2f} mV in V* at {at_V:.2f} mV.")


# ---------------------------------------------------------------------------- figures
# The chapter's figures, over results computed elsewhere: they only draw. ODE in black,
# the network in orange, V_S outside the trained range shaded grey.
COLOURS = {"ODE": "k", "network": "C1"}


def _axes(axes, n: int) -> list:
    axs = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(axs) != n or not all(isinstance(a, mpl.axes.Axes) for a in axs):
        raise TypeError(f"axes must be {n} Matplotlib Axes, got {axes!r}")
    return axs


def plot_isi_side_by_side(axes, V_S, sweeps: dict, transition: dict, V_S_range):
    """ISI diagrams of each run of ``sweeps`` (name -> :func:`sweep_regimes` result) on its
    own axes, with its transition (name -> :class:`Transition`) dashed."""
    vs = vector(V_S, "V_S")
    for ax, name in zip(_axes(axes, len(sweeps)), sweeps):
        plot_isi_diagram(ax, vs, sweeps[name]["isis"], color=COLOURS.get(name), s=3)
        ax.axvline(transition[name].at, color="C3", ls="--", lw=1)
        # In the title rather than a legend, which covered the longest intervals.
        ax.set_title(f"{name}: bursting → spiking at {transition[name].at:.2f} mV")
        shade_outside(ax, V_S_range, vs[0] - 0.2, vs[-1] + 0.2)
    return axes


def plot_isi_overlay(ax, V_S, sweeps: dict, transition: dict, V_S_range):
    """The ISI diagrams of ``sweeps`` overlaid on one axes, transitions dashed."""
    vs = vector(V_S, "V_S")
    ax = _axes(ax, 1)[0]
    for name, alpha in zip(sweeps, (0.6, 0.5)):
        plot_isi_diagram(ax, vs, sweeps[name]["isis"], color=COLOURS.get(name), s=5,
                         alpha=alpha, label=name)
        ax.axvline(transition[name].at, color=COLOURS.get(name), ls="--", lw=1)
    shade_outside(ax, V_S_range, vs[0] - 0.2, vs[-1] + 0.2)
    ax.legend(loc="upper right", markerscale=3)
    return ax


def plot_burst_statistics(axes, V_S, sweeps: dict, V_S_range):
    """Each of :data:`BURST_FIELDS` against V_S (mV), one axes per field, for every run
    of ``sweeps`` (NaN where a run does not burst)."""
    vs = vector(V_S, "V_S")
    markers = {"ODE": dict(marker="o"), "network": dict(marker="s", alpha=0.8)}
    for ax, (f, label) in zip(_axes(axes, len(BURST_FIELDS)), BURST_FIELDS):
        for name, s in sweeps.items():
            y = np.array([getattr(b, f) for b in s["stats"]], dtype=float)
            ax.plot(vs, y, label=name, color=COLOURS.get(name), ms=3, lw=1,
                    **markers.get(name, {}))
        ax.set_xlabel(r"$V_S$ (mV)")
        ax.set_ylabel(label)
        shade_outside(ax, V_S_range, vs[0] - 0.2, vs[-1] + 0.2)
    _axes(axes, len(BURST_FIELDS))[0].legend()
    return axes


_FP_LABELS = ("V* (mV)", "n*", "S*")


def plot_fixed_point_comparison(axes, cmp: FixedPointComparison, V_S_line, ode_line,
                                V_S_cont, branches, tol, V_S_range,
                                xlim=(-46.3, -28.7)):
    """Six axes (2, 3). Top: each coordinate of the fixed point against V_S (mV), the ODE's
    (``ode_line`` (k, 3) along ``V_S_line``) as a line, the map's nearest (``cmp``) as
    circles, its continued ``branches`` along ``V_S_cont`` (:func:`continue_both_ways`) as
    thin lines (up solid, down dashed). Bottom: map minus ODE (for n relative to the ODE's
    n*), the target band ``tol`` (V mV, n relative, S) shaded green."""
    axs = np.asarray(axes, dtype=object).reshape(2, 3)
    _axes(axs, 6)
    for j in range(3):
        a, b = axs[0, j], axs[1, j]
        a.plot(V_S_line, ode_line[:, j], "k", lw=1.5, label="ODE")
        for br in branches:
            a.plot(V_S_cont, br.states[:, j], color="C1", lw=0.6,
                   ls="-" if br.direction == "up" else "--")
        a.plot(cmp.V_S, cmp.map_state[:, j], "o", color="C1", ms=4, mfc="none",
               label="network")
        a.set_ylabel(_FP_LABELS[j])
        b.axhspan(-tol[j], tol[j], color="C2", alpha=0.15, lw=0)
        diff = cmp.map_state[:, j] - cmp.ode_state[:, j]
        if j == 1:
            diff = diff / np.maximum(np.abs(cmp.ode_state[:, 1]), N_FLOOR)
        b.plot(cmp.V_S, diff, "o-", color="C1", ms=3)
        b.axhline(0, color="k", lw=0.5)
        b.set_ylabel("relative error in n*" if j == 1 else "error in " + _FP_LABELS[j])
        b.set_xlabel(r"$V_S$ (mV)")
        for ax in (a, b):
            shade_outside(ax, V_S_range, *xlim)
    axs[0, 0].legend()
    return axes


def plot_eigenvalue_comparison(axes, cmp: FixedPointComparison, V_S_line, ode_lam_line,
                               V_S_range, xlim=(-46.3, -28.7), near_zero=(-2.5, 2.5)):
    """Three axes: real parts, real parts within ``near_zero`` (1/s) and imaginary parts of
    the eigenvalues against V_S (mV), the ODE's (``ode_lam_line`` (k, 3) along
    ``V_S_line``) as dots, the map's matched ones (``cmp``) as circles."""
    axs = _axes(axes, 3)
    for ax, part, ylim, title in ((axs[0], "real", None, "Re λ"),
                                  (axs[1], "real", near_zero, "Re λ (near zero)"),
                                  (axs[2], "imag", None, "Im λ")):
        for k in range(3):
            ax.plot(V_S_line, getattr(ode_lam_line[:, k], part), "k.", ms=1.5,
                    label="ODE" if k == 0 else None)
            ax.plot(cmp.V_S, getattr(cmp.map_eigenvalues[:, k], part), "o", color="C1",
                    ms=3.5, mfc="none", label="network" if k == 0 else None)
        ax.axhline(0, color="k", lw=0.5)
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_xlabel(r"$V_S$ (mV)")
        ax.set_ylabel(f"{title} (1/s)")
        shade_outside(ax, V_S_range, *xlim)
    axs[2].legend(loc="upper left")
    return axes


def plot_slow_pair(ax, V_S_line, ode_lam_line, V_S_cont, map_multipliers, dt: float,
                   hopf_ode: float, hopf_map: float, V_S_range, xlim=(-46.0, -42.0)):
    """Real part of the slow eigenvalue pair (:func:`slow_pair`) against V_S (mV) within
    ``xlim``: the ODE's (``ode_lam_line`` along ``V_S_line``) and the map's (from its
    continued ``map_multipliers`` along ``V_S_cont``, lambda = log(mu)/dt), with the two
    Hopf points dotted."""
    ax = _axes(ax, 1)[0]
    sel = np.asarray(V_S_cont) <= xlim[1]
    slow_map = slow_pair(np.log(np.asarray(map_multipliers)[sel].astype(complex)) / dt)
    sel_line = np.asarray(V_S_line) <= xlim[1]
    slow_ode = slow_pair(np.asarray(ode_lam_line)[sel_line])
    for k in range(2):
        ax.plot(np.asarray(V_S_line)[sel_line], slow_ode[:, k].real, "k", lw=1.5,
                label="ODE" if k == 0 else None)
        ax.plot(np.asarray(V_S_cont)[sel], slow_map[:, k].real, color="C1", lw=1.2,
                label="network" if k == 0 else None)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(hopf_ode, color="k", ls=":")
    ax.axvline(hopf_map, color="C1", ls=":")
    ax.set_xlabel(r"$V_S$ (mV)")
    ax.set_ylabel(r"Re $\lambda$, slow pair (1/s)")
    shade_outside(ax, V_S_range, *xlim)
    ax.legend()
    return ax


def plot_error_against_data(ax, distance, error, V_S, V_S_range=None):
    """Fixed-point error (in tolerances, log scale) against the data's closest approach,
    coloured by V_S (mV); values with no fixed point are drawn at the top as crosses."""
    d, e, v = (np.asarray(a, dtype=float) for a in (distance, error, V_S))
    fin = np.isfinite(e)
    sc = ax.scatter(d[fin], e[fin], c=v[fin], cmap="viridis", s=18)
    if (~fin).any():
        top = np.nanmax(e[fin]) * 2 if fin.any() else 1.0
        ax.scatter(d[~fin], np.full((~fin).sum(), top), marker="x", color="C3",
                   label="no fixed point")
        ax.legend(loc="lower right")
    ax.axhline(1.0, color="C2", lw=1, ls="--")
    ax.set_yscale("log")
    ax.set_xlabel("closest approach of the training data to the fixed point "
                  "(state spreads)")
    ax.set_ylabel("fixed-point error (tolerances)")
    plt.colorbar(sc, ax=ax, label=r"$V_S$ (mV)")
    return ax


def plot_seed_spread(axes, spread: SeedSpread, tol, V_S_range):
    """Error of each map's fixed point (map - ODE) in V* (mV), n*, S* against V_S (mV), one
    thin line per seed, the target band shaded; grey outside the training range."""
    axes = _axes(axes, 3)
    for j, (ax, name) in enumerate(zip(axes, ("V* (mV)", "n*", "S*"))):
        ax.axhspan(-tol[j], tol[j], color="C2", alpha=0.15, lw=0)
        for m in range(spread.states.shape[0]):
            ax.plot(spread.V_S, spread.states[m, :, j] - spread.ode_state[:, j], color="C1",
                    lw=0.8, alpha=0.8, label="one seed each" if m == 0 else None)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel(r"$V_S$ (mV)")
        ax.set_ylabel(f"error in {name}")
        shade_outside(ax, V_S_range, spread.V_S[0] - 0.3, spread.V_S[-1] + 0.3)
    axes[0].legend()
    return axes


# ---------------------------------------------------------------------------- seed to seed
def spread_verdict(spread: SeedSpread, where=None) -> str:
    """Sentences on what the seed-to-seed spread says, from the coverage counts over the
    values selected by ``where`` (default all): a quantity whose ODE value lies inside the
    members' range at most values has errors of the size of the seed noise; one whose ODE
    value lies outside at most values is off in the same direction for every seed, a bias
    of the recipe rather than of one draw."""
    if not isinstance(spread, SeedSpread):
        raise TypeError(f"spread must be a SeedSpread, got {type(spread).__name__}")
    sel = np.ones(spread.V_S.size, bool) if where is None else np.asarray(where, dtype=bool)
    if sel.shape != spread.V_S.shape or not sel.any():
        raise ValueError(f"where must be a boolean mask of shape {spread.V_S.shape} selecting "
                         "at least one value")
    k = int(sel.sum())
    counts = {"V*": int(spread.covered[sel, 0].sum()), "n*": int(spread.covered[sel, 1].sum()),
              "S*": int(spread.covered[sel, 2].sum()),
              "the eigenvalues": int(spread.lam_covered[sel].all(axis=1).sum())}
    noise = [f"{q} ({c} of {k})" for q, c in counts.items() if 2 * c >= k]
    bias = [f"{q} ({k - c} of {k})" for q, c in counts.items() if 2 * c < k]
    out = []
    if noise:
        out.append(f"The ODE's value lies inside the seeds' range at most values for "
                   f"{_listed(noise)}: there the error is of the size of the seed-to-seed "
                   "noise.")
    if bias:
        out.append(f"It lies outside at most values for {_listed(bias)}: those errors are "
                   "shared by every seed, a bias of the recipe rather than of one draw.")
    return " ".join(out)


ENSEMBLE_HEADERS = ["recipe", "networks", "position targets met (per network)",
                    "all eigenvalues in tolerance (per network)",
                    "ODE's V*, n*, S* inside the range", "ODE's eigenvalues inside the range",
                    "largest sd of V* (mV)"]


def ensemble_summary(comparisons, tol, where=None) -> dict[str, Any]:
    """What the seed ensemble of one recipe says about its fixed point: the
    :func:`compare_fixed_points` results of its networks on one grid, counted over the
    values selected by ``where`` (default all). Returns ``n`` networks and ``n_values``;
    ``fp_ok_min``/``fp_ok_max``: values meeting the position targets ``tol``, smallest
    to largest network; ``eig_ok_min``/``eig_ok_max`` the same for the eigenvalue
    tolerances; ``cov_all`` and ``cov_lam``: values where the ODE's fixed point (all
    three coordinates) and all its eigenvalues lie inside the networks' range;
    ``sd_V_max`` (mV): the largest standard deviation of V*; ``spread_text``:
    :func:`spread_verdict`."""
    cmps = list(comparisons)
    spread = seed_spread(cmps)
    sel = np.ones(spread.V_S.size, bool) if where is None else np.asarray(where, dtype=bool)
    checks = [fixed_point_checks(c, tol, where=sel) for c in cmps]
    fp = [int(c.fp_ok.sum()) for c in checks]
    eig = [int(c.eig_ok.sum()) for c in checks]
    sd = spread.std[sel, 0]
    return {"n": len(cmps), "n_values": int(sel.sum()), "fp_ok_min": min(fp),
            "fp_ok_max": max(fp), "eig_ok_min": min(eig), "eig_ok_max": max(eig),
            "cov_all": int(spread.covered[sel].all(axis=1).sum()),
            "cov_lam": int(spread.lam_covered[sel].all(axis=1).sum()),
            "sd_V_max": float(np.nanmax(sd)) if np.isfinite(sd).any() else float("nan"),
            "spread_text": spread_verdict(spread, sel)}


def ensemble_row(recipe: str, comparisons, tol, where=None) -> tuple:
    """A row of :data:`ENSEMBLE_HEADERS` for the seed ensemble of one recipe, from
    :func:`ensemble_summary` (same arguments)."""
    e = ensemble_summary(comparisons, tol, where)
    k = e["n_values"]
    return (recipe, e["n"], f"{e['fp_ok_min']} to {e['fp_ok_max']} of {k}",
            f"{e['eig_ok_min']} to {e['eig_ok_max']} of {k}", f"{e['cov_all']} of {k}",
            f"{e['cov_lam']} of {k}",
            f"{e['sd_V_max']:.3f}" if math.isfinite(e["sd_V_max"]) else "no fixed point")


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------------------- the band
BAND_HEADERS = ["network", "trained in the band", "regime right",
                "burst statistics within target", "fixed point within targets", "max \\|V* error\\| (mV)",
                "worst eigenvalue error (× tolerance)"]


def band_row(name: str, out: dict[str, Any], trained_in_band: bool) -> tuple:
    """One row of :data:`BAND_HEADERS` from :func:`band_check`'s result ``out``."""
    return (name, "yes" if trained_in_band else "no", f"{out['n_regime']} of {out['n_test']}",
            f"{out['n_checks_ok']} of {out['n_checks']}", f"{out['n_fp_ok']} of {out['n_test']}",
            out["max_V_err"], out["worst_eig"])


def _band_all_ok(out: dict[str, Any]) -> bool:
    n = out["n_test"]
    return (out["n_regime"] == n and out["n_checks_ok"] == out["n_checks"]
            and out["n_fp_ok"] == n and out["n_eig_ok"] == n)


def band_verdict(recipe: str, parent: dict[str, Any], banded: dict[str, Any]) -> str:
    """One sentence: :func:`band_check` of the network trained without the band against its
    parent's (trained with it), and whether every target holds in the band without data."""
    n = banded["n_test"]
    text = (f"For {recipe}, the network trained without the band has the ODE's regime at "
            f"{banded['n_regime']} of {n} values (its parent {parent['n_regime']}), meets "
            f"{banded['n_checks_ok']} of {banded['n_checks']} burst-statistic targets (parent "
            f"{parent['n_checks_ok']} of {parent['n_checks']}), its fixed point lies within the "
            f"position targets at {banded['n_fp_ok']} (parent {parent['n_fp_ok']}) with all "
            f"three eigenvalues within tolerance at {banded['n_eig_ok']} (parent "
            f"{parent['n_eig_ok']}); max |V* error| {banded['max_V_err']:.3g} mV (parent "
            f"{parent['max_V_err']:.3g}), worst eigenvalue error {banded['worst_eig']:.2g} times "
            f"its tolerance (parent {parent['worst_eig']:.2g})")
    ok, ok_parent = _band_all_ok(banded), _band_all_ok(parent)
    if ok:
        return text + ": every target holds in the band without training data there."
    if ok_parent:
        return text + (": a miss: some target fails in the band without training data there "
                       "that its parent, trained with data there, meets.")
    return text + (": a miss, as for its parent: some target fails in the band with training "
                   "data there and without, so the band does not cause it.")


def training_data_text(record: dict) -> str:
    """What a network was trained on, in words, from its weights record: the attractor
    trajectories (how many, how long, where in V_S, which band was left out), the extra
    cuts, the schedule and seed, and how long training took and why it stopped."""
    r = check_record(record, "train_config")
    dc, tc = r["dataset_config"], r["train_config"]
    lo, hi = dc["V_S_range"]
    band = dc.get("exclude_band")
    where = f"V_S drawn in [{lo:g}, {hi:g}] mV" + (
        f" outside the band [{band[0]:g}, {band[1]:g}] mV" if band else "")
    text = (f"{dc['n_train']} attractor trajectories of {dc['t_keep']:g} s ({dc['n_val']} more "
            f"for validation) at {where}")
    for kind, n in sorted(r.get("extra_cuts", {}).items()):
        text += f", plus {n} {kind} cuts at the training values"
    text += f"; {schedule_text(r)}, seed {tc['seed']}"
    if tc.get("random_runs"):
        text += f", {tc['random_runs']} random-start runs in the selection"
    return text + f"; {r['train_seconds']:.0f} s of training ({r['stopped']})"


def format_eigenvalues(lam) -> str:
    """Eigenvalues as short text, "a" for a real one and "a+bi" for a complex one (3
    significant digits), comma-separated; NaN (none found) prints as nan."""
    lam = np.atleast_1d(np.asarray(lam, dtype=complex))
    if lam.ndim != 1:
        raise ValueError(f"lam must be a 1-D array of eigenvalues, got shape {lam.shape}")
    return ", ".join(f"{z.real:.3g}{z.imag:+.3g}i" if abs(z.imag) > 1e-9 else f"{z.real:.3g}"
                     for z in lam)


def fixed_point_rows(cmp: FixedPointComparison, at) -> list[tuple]:
    """Rows (V_S, ODE V*, map V*, ODE n*, map n*, ODE S*, map S*, ODE lambda, map lambda,
    fixed points found) at the grid values of ``cmp`` nearest each V_S of ``at`` (mV)."""
    at = real_array(at, "at")
    pick = [int(np.argmin(np.abs(cmp.V_S - v))) for v in np.atleast_1d(at)]
    o, m = cmp.ode_state, cmp.map_state
    return [(cmp.V_S[i], o[i, 0], m[i, 0], o[i, 1], m[i, 1], o[i, 2], m[i, 2],
             format_eigenvalues(cmp.ode_eigenvalues[i]), format_eigenvalues(cmp.map_eigenvalues[i]),
             int(cmp.n_found[i])) for i in pick]


def spread_rows(spread: SeedSpread, at) -> list[tuple]:
    """Table rows at the grid values nearest ``at`` (mV): V_S, then for V*, n*, S* the
    ODE's value and the maps' mean ± standard deviation, then the largest eigenvalue (by
    modulus) the same way."""
    if not isinstance(spread, SeedSpread):
        raise TypeError(f"spread must be a SeedSpread, got {type(spread).__name__}")
    pick = [int(np.argmin(np.abs(spread.V_S - float(v)))) for v in np.atleast_1d(at)]
    rows = []
    for i in pick:
        row = [f"{spread.V_S[i]:.2f}"]
        for j, fmt in enumerate(("{:.2f}", "{:.4f}", "{:.4f}")):
            row += [fmt.format(spread.ode_state[i, j]),
                    f"{fmt.format(spread.mean[i, j])} ± {fmt.format(spread.std[i, j])}"]
        k = int(np.argmax(np.abs(spread.ode_eigenvalues[i])))
        row += [f"{spread.ode_eigenvalues[i, k].real:.3g}",
                f"{spread.lam_mean[i, k].real:.3g} ± {spread.lam_std[i, k].real:.2g}"]
        rows.append(tuple(row))
    return rows
