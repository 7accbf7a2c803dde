"""Chapter 4's tables, sentences and figures: the network and its training record, the
training history, the free runs beside the ODE's, the variants side by side
(:data:`ABLATION_HEADERS`) with their seed spread and their training data
(:data:`RECIPE_DATA_HEADERS`)."""
from __future__ import annotations

from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

from hhlib.dynamics.ablation import _check_results, describe_recipe
from hhlib.checks import instance, is_real, real_array, record as check_record
from hhlib.ode.data import Dataset
from hhlib.dynamics.evaluation import _check_rows, schedule_text
from hhlib.maps.scores import FreeRunTargets
from hhlib.ode.model import PHYSICAL_BOUNDS
from hhlib.maps.network import MapNet
from hhlib.plotting import check_ax

__all__ = ["training_kind", "better_or_worse", "record_rows", "network_rows",
           "records_side_by_side", "free_run_table", "physical_box_text", "ABLATION_HEADERS",
           "ablation_rows", "seed_spread_rows", "ablation_text", "RECIPE_DATA_HEADERS",
           "recipe_data_row", "plot_training_history", "plot_paired_runs", "plot_phase_pair"]

def training_kind(record: dict) -> str:
    """"one-step" when every stage of the record's schedule has K = 1, else "multi-step"."""
    stages = check_record(record, "train_config")["train_config"]["stages"]
    return "one-step" if all(k == 1 for k, _ in stages) else "multi-step"


def better_or_worse(score: float, other: float) -> str:
    """"better" when ``score`` (a dynamics score: lower is better) is <= ``other``, else
    "worse"."""
    for k, v in (("score", score), ("other", other)):
        if not is_real(v):
            raise TypeError(f"{k} must be a number, got {v!r}")
    return "better" if score <= other else "worse"


def record_rows(record: dict) -> list[tuple[str, Any]]:
    """(what, value) rows describing how a shipped network was trained, for a table."""
    r = check_record(record, "train_config")
    tc = r["train_config"]
    return [("schedule (K, epochs)", str(tc["stages"])), ("batch size", tc["batch_size"]),
            ("learning rate", f'{tc["lr"]} → {tc["lr_final"]}'), ("seed", tc["seed"]),
            ("training time (s)", r["train_seconds"]), ("stopped", r["stopped"]),
            ("selected epoch", r["best_epoch"]), ("selection", r["selection"]),
            ("validation dynamics score", r["best_val_score"]),
            ("validation rollout loss (100 steps)", r["best_val_loss"]),
            ("dataset sha256", r["dataset_sha256"][:16] + "…"),
            ("weights sha256 (checked on load)", r["sha256"][:16] + "…"),
            ("torch", r["torch"]), ("machine", r["machine"]),
            ("threads", r["threads"]), ("trained on", r["date"]),
            ("command", f'`{r["command"]}`')]


def network_rows(net: MapNet) -> list[tuple[str, Any]]:
    """(what, value) rows describing a network's architecture and normalisation."""
    if not isinstance(net, MapNet):
        raise TypeError(f"net must be a MapNet, got {type(net).__name__}")
    cfg = net.config()
    n_par = sum(p.numel() for p in net.parameters())
    return [("hidden layers", str(cfg["hidden"])), ("parameters", n_par),
            ("time step Δt (s)", net.dt), ("trained V_S range (mV)", str(cfg["V_S_range"])),
            ("state mean", str(np.round(cfg["x_mean"], 5))),
            ("state spread", str(np.round(cfg["x_std"], 5))),
            ("increment spread", str(np.array2string(np.array(cfg["d_std"]), precision=3)))]


def records_side_by_side(records: dict[str, dict]) -> tuple[list[str], list[tuple]]:
    """Headers and rows comparing training records (name -> record): training kind,
    schedule, selected epoch, validation dynamics score and training time (s)."""
    if not isinstance(records, dict) or not records:
        raise TypeError("records must be a non-empty dict of name -> weights record")
    recs = {k: check_record(r, "train_config", f"records[{k!r}]") for k, r in records.items()}
    rows = [("training", *(training_kind(r) for r in recs.values())),
            ("schedule", *(schedule_text(r) for r in recs.values())),
            ("selected epoch", *(r["best_epoch"] for r in recs.values())),
            ("validation dynamics score", *(float(r["best_val_score"]) for r in recs.values())),
            ("training time (s)", *(float(r["train_seconds"]) for r in recs.values()))]
    return ["", *recs], rows


def free_run_table(rows: list[dict[str, Any]], targets: FreeRunTargets = FreeRunTargets()
                   ) -> tuple[list[str], list[tuple]]:
    """Headers and rows of the per-V_S comparison (ODE against network), a target column
    after each statistic: ✓ met, ✗ missed, – not applicable."""
    rows = _check_rows(rows)

    def mark(ok):
        return "–" if ok is None else ("✓" if ok else "✗")

    def net(r, k):
        return getattr(r["net"], k) if r["net"] else float("nan")

    headers = ["V_S (mV)", "ODE regime", "net regime", "ODE spikes/burst", "net spikes/burst",
               f"±{targets.spikes_per_burst:g}", "ODE period (s)", "net period (s)",
               f"±{100 * targets.burst_period:g}%", "ODE ISI (s)", "net ISI (s)",
               f"±{100 * targets.tonic_isi:g}%"]
    table = [(r["V_S"], r["ode"].regime, r["net"].regime if r["net"] else "diverged",
              r["ode"].spikes_per_burst, net(r, "spikes_per_burst"), mark(r["spb_ok"]),
              r["ode"].burst_period, net(r, "burst_period"), mark(r["period_ok"]),
              r["ode"].isi_mean, net(r, "isi_mean"), mark(r["isi_ok"])) for r in rows]
    return headers, table


def physical_box_text() -> str:
    """:data:`hhlib.ode.model.PHYSICAL_BOUNDS` in words, for the chapters' prose."""
    (v0, v1), (n0, n1), (s0, s1) = PHYSICAL_BOUNDS.values()
    return (f"{v0:g} ≤ V ≤ {v1:g} mV, {n0:g} ≤ n ≤ {n1:g} and {s0:g} ≤ S ≤ {s1:g}"
            .replace("-", "−"))


ABLATION_HEADERS = ["variant", "recipe", "selection criterion", "held-out targets met",
                    "random starts physical", "physical from outside the training box",
                    "non-finite", "ending in the ODE's regime",
                    "exactly one fixed point",
                    "worst V* (mV)", "worst n* (relative)", "worst S*", "eigenvalues within tol.",
                    "training (min)"]


def ablation_rows(results: dict[str, tuple[dict, dict]]) -> list[tuple]:
    """Table rows in :data:`ABLATION_HEADERS` order from ``{name: (record, evaluation)}``."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict name -> (record, evaluation)")
    rows = []
    for name, (record, r) in results.items():
        rows.append((name, describe_recipe(record), f"{r['criterion']:.3g}",
                     f"{r['checks_ok']} of {r['checks']}",
                     f"{r['random_ok']} of {r['random_runs']}",
                     f"{r['outside_ok']} of {r['outside_runs']}" if r.get("outside_runs")
                     else "–", r["non_finite"],
                     f"{r['random_attractor']} of {r['random_runs']}",
                     f"{r['exactly_one']} of {r['n_grid']}", f"{r['worst_V']:.3g}",
                     f"{r['worst_n']:.2g}", f"{r['worst_S']:.2g}",
                     f"{r['eig_ok']} of {r['n_grid']}", f"{r['train_minutes']:.1f}"))
    return rows


SEED_SPREAD_KEYS = {"random_ok": ("random starts physical", "random_runs", "{:.0f}"),
                    "outside_ok": ("physical from outside the training box", "outside_runs",
                                   "{:.0f}"),
                    "exactly_one": ("exactly one fixed point", "n_grid", "{:.0f}"),
                    "eig_ok": ("eigenvalues within tolerance", "n_grid", "{:.0f}"),
                    "worst_V": ("worst V* (mV)", None, "{:.3g}")}


def seed_spread_rows(results: dict[str, tuple[dict, dict]], names) -> list[tuple]:
    """The seed spread of one recipe: for each headline quantity of
    :data:`SEED_SPREAD_KEYS` (those its evaluations have), one row (quantity, lowest to
    highest over the ``names`` of ``results``, the median, and how many the count is
    out of, or "–" for the worst V* error)."""
    results = _check_results(results)
    names = list(names)
    if not names or any(n not in results for n in names):
        raise ValueError(f"names must be a non-empty list of variants of results, got {names!r}")
    rows = []
    for key, (label, total, fmt) in SEED_SPREAD_KEYS.items():
        if not all(key in results[n][1] for n in names):
            continue
        v = np.array([results[n][1][key] for n in names], dtype=float)
        totals = {results[n][1][total] for n in names} if total else set()
        rows.append((label, f"{fmt.format(v.min())} to {fmt.format(v.max())}",
                     fmt.format(float(np.median(v))),
                     str(totals.pop()) if len(totals) == 1 else "–"))
    return rows


def ablation_text(results: dict[str, tuple[dict, dict]], chosen: str) -> str:
    """Sentences that compare the chosen variant with the others, from the numbers: which
    variant keeps the most random-start runs physical and which has the most grid values
    with exactly one fixed point, and whether that is the chosen one."""
    results = _check_results(results)
    if chosen not in results:
        raise ValueError(f"chosen must name one of {sorted(results)}, got {chosen!r}")

    def leader(key: str) -> tuple[str, int]:
        name = max(results, key=lambda n: results[n][1][key])
        return name, results[name][1][key]

    out = []
    for key, what in (("random_ok", "keeps the most random-start runs physical"),
                      ("exactly_one", "has exactly one fixed point at the most grid values")):
        name, value = leader(key)
        tie = [n for n in results if results[n][1][key] == value]
        if chosen in tie:
            others = len(tie) - 1
            out.append(f"The chosen variant {what}"
                       + (f" (tied with {others} other{'s' if others > 1 else ''})" if others
                          else "") + ".")
        else:
            out.append(f"`{name}` {what} ({value}, against "
                       f"{results[chosen][1][key]} for the chosen one).")
    return " ".join(out)


RECIPE_DATA_HEADERS = ["variants (same data)", "attractor cuts", "transient cuts",
                       "noise pairs", "transient share", "closest approach (spreads)"]


def recipe_data_row(names: Sequence[str], ds: Dataset, closest) -> tuple:
    """One row of :data:`RECIPE_DATA_HEADERS` for the variants ``names`` trained on ``ds``:
    its training cuts by kind, the transients' share of the cuts (noise pairs are single
    steps and not counted as cuts) and the smallest of ``closest``
    (:func:`closest_approach` over a grid)."""
    instance(ds, Dataset, "ds", "hhlib.ode.data.Dataset")
    n_att = len(ds.cuts["train"])
    n_tr = len(ds.extra_cuts.get("transient", ()))
    n_noise = len(ds.extra_cuts.get("noise", ()))
    return (", ".join(f"`{n}`" for n in names), n_att, n_tr, n_noise,
            f"{100 * n_tr / (n_att + n_tr):.0f} %", f"{float(np.min(closest)):.3f}")


def plot_training_history(ax_loss: plt.Axes, ax_score: plt.Axes, history: dict,
                          best_epoch: int, best_score: float) -> tuple[plt.Axes, plt.Axes]:
    """A training history (``record["history"]``: per-epoch ``epoch``, ``K``, ``train_loss``,
    ``val_loss``, ``val_one_step``, ``val_score``): losses (normalised units²) on
    ``ax_loss``, the validation dynamics score on ``ax_score`` with the selected epoch
    circled; a vertical line where each rollout stage (K) starts."""
    check_ax(ax_loss)
    check_ax(ax_score)
    need = ("epoch", "K", "train_loss", "val_loss", "val_one_step", "val_score")
    if not isinstance(history, dict) or any(k not in history for k in need):
        raise ValueError(f"history must be a dict with keys {need}")
    h = history
    ax_score.semilogy(h["epoch"], h["val_score"], color="C3")
    ax_score.plot(best_epoch, best_score, "o", color="C3", mfc="none", ms=10)
    ax_score.set_xlabel("epoch")
    ax_score.set_ylabel("validation dynamics score")
    ax_loss.semilogy(h["epoch"], h["train_loss"], label="training loss (current K)")
    ax_loss.semilogy(h["epoch"], h["val_loss"], label="validation loss (rollout)")
    ax_loss.semilogy(h["epoch"], h["val_one_step"], label="validation loss (one step)")
    for a in (ax_loss, ax_score):
        for e, k, kp in zip(h["epoch"], h["K"], [None] + list(h["K"][:-1])):
            if k != kp:
                a.axvline(e - 0.5, color="k", lw=0.5)
                a.text(e - 0.3, a.get_ylim()[1], f"K={k}", va="top")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss (normalised units²)")
    ax_loss.legend()
    return ax_loss, ax_score


def plot_paired_runs(axes: np.ndarray, t: np.ndarray, X: np.ndarray, Y: np.ndarray,
                     V_S: np.ndarray) -> np.ndarray:
    """ODE runs ``X`` (black) and network runs ``Y`` (colour), both (B, T, 3), against t (s):
    V (mV) in the top row and S in the bottom row of ``axes`` (2, B), one column per V_S."""
    axes = np.asarray(axes)
    X, Y = real_array(X, "X"), real_array(Y, "Y")
    V_S = np.atleast_1d(real_array(V_S, "V_S"))
    if axes.shape != (2, V_S.size) or X.shape != Y.shape or X.shape[::2] != (V_S.size, 3) \
            or X.shape[1] != np.size(t):
        raise ValueError(f"need axes (2, B), X and Y (B, T, 3), t (T,), V_S (B,); got axes "
                         f"{axes.shape}, X {X.shape}, Y {Y.shape}, t {np.shape(t)}, V_S "
                         f"{V_S.shape}")
    for c, v in enumerate(V_S):
        check_ax(axes[0, c])
        axes[0, c].plot(t, X[c, :, 0], "k", lw=0.7, label="ODE")
        axes[0, c].plot(t, Y[c, :, 0], color="C1", lw=0.7, alpha=0.8, label="network")
        axes[0, c].set_title(f"$V_S$ = {v:.2f} mV (held out)")
        axes[0, c].set_ylabel("V (mV)")
        axes[1, c].plot(t, X[c, :, 2], "k", lw=0.9)
        axes[1, c].plot(t, Y[c, :, 2], color="C1", lw=0.9)
        axes[1, c].set_ylabel("S")
        axes[1, c].set_xlabel("t (s)")
    # Above the panels: inside a panel the legend hid the bursts.
    axes[0, 0].figure.legend(*axes[0, 0].get_legend_handles_labels(),
                             loc="outside upper center", ncol=2)
    return axes


def plot_phase_pair(ax_ode: plt.Axes, ax_net: plt.Axes, t: np.ndarray, X: np.ndarray,
                    Y: np.ndarray, V_S: np.ndarray, t_min: float = 0.0
                    ) -> tuple[plt.Axes, plt.Axes]:
    """Phase portraits in the (S, V) plane for t >= ``t_min`` s: ODE runs ``X`` on
    ``ax_ode``, network runs ``Y`` on ``ax_net`` (both (B, T, 3)), one colour per V_S (mV)."""
    check_ax(ax_ode)
    check_ax(ax_net)
    X, Y = real_array(X, "X"), real_array(Y, "Y")
    V_S = np.atleast_1d(real_array(V_S, "V_S"))
    if X.shape != Y.shape or X.shape[::2] != (V_S.size, 3) or X.shape[1] != np.size(t):
        raise ValueError(f"need X and Y (B, T, 3), t (T,), V_S (B,); got X {X.shape}, "
                         f"Y {Y.shape}, t {np.shape(t)}, V_S {V_S.shape}")
    sel = np.asarray(t) >= t_min
    for c, v in enumerate(V_S):
        ax_ode.plot(X[c, sel, 2], X[c, sel, 0], lw=0.5, color=f"C{c}", label=f"$V_S$ = {v:.2f} mV")
        ax_net.plot(Y[c, sel, 2], Y[c, sel, 0], lw=0.5, color=f"C{c}")
    ax_ode.set_title("ODE")
    ax_net.set_title("network map")
    for a in (ax_ode, ax_net):
        a.set_xlabel("S")
    ax_ode.set_ylabel("V (mV)")
    ax_ode.legend()
    return ax_ode, ax_net
