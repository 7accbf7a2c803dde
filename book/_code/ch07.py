"""Chapter 7's tables, sentences and figure: a report of ``benchmarks/map_vs_integrator.py``
read into tables, ratios, break-even batch sizes and the verdict, the cost-per-step table and
the executor comparison's texts. The chapter imports this module as ``bench``, so it also
holds the benchmark's own ``run_small``, ``load_report``, ``DEFAULT_JSON`` and
``net_flops_per_step``."""
from __future__ import annotations

import numpy as np

from benchmarks.map_vs_integrator import (DEFAULT_JSON, _check_report,  # noqa: F401
                                          load_report, net_flops_per_step, run_small)

__all__ = ["STYLE", "TIME_HEAD", "ACCURACY_HEAD", "FLOAT64_HEAD", "method_label",
           "layers_text", "targets_text", "time_rows", "accuracy_rows", "float64_rows",
           "run_description", "plot_times", "by_batch", "largest_batch", "headline",
           "map_step_ns", "break_even", "rate_lines", "thread_lines", "training_payoff",
           "payoff_text", "cpu_ratios", "ratios_text", "gpu_text", "accuracy_text", "verdict",
           "COST_HEAD", "cost_rows", "timing_text", "executor_texts"]


# Method -> (label in the chapter's tables, colour, marker in its figure).
STYLE = {"lsoda_loop": ("LSODA loop", "k", "o"), "ensemble": ("simulate_ensemble", "C0", "s"),
         "rollout_cpu_1thread": ("network, CPU, 1 thread", "C1", "^"),
         "rollout_cpu_2threads": ("network, CPU, 2 threads", "C3", "v"),
         "rollout_cpu_float64": ("network, CPU, float64", "C2", "D"),
         "rollout_cuda": ("network, CUDA", "C4", "P")}
TIME_HEAD = ["B", "method", "wall time (s)", "ms per trajectory-second", "peak memory (MB)",
             "statistics within targets", "speed-up over LSODA loop", "speed-up over ensemble"]
ACCURACY_HEAD = ["B", "method", "regime as reference", "within targets",
                 "max spikes-per-burst error", "max burst-period error (%)",
                 "max mean-ISI error (%)"]
FLOAT64_HEAD = ["B", "float32 within targets", "float64 within targets",
                "float32 max period error (%)", "float64 max period error (%)",
                "float64 time / float32 time"]
COST_HEAD = ["per trajectory", "cost", "how many per model-second", "cost per model-second"]


def method_label(name: str) -> str:
    """The chapter's label for a method key of the report (the key itself if unknown)."""
    return STYLE.get(name, (name,))[0]


def layers_text(hidden) -> str:
    """The network's hidden layers in words, e.g. '3 hidden layers of 128 units'."""
    hidden = [int(h) for h in hidden]
    if not hidden:
        raise ValueError("hidden must name at least one layer width")
    if len(set(hidden)) == 1:
        return f"{len(hidden)} hidden layers of {hidden[0]} units"
    return f"hidden layers of {', '.join(map(str, hidden))} units"


def targets_text(rep: dict) -> str:
    """The accuracy targets of the run in words (spikes per burst, period, tonic ISI)."""
    tg = _check_report(rep)["config"]["targets"]
    return (f"{tg['spikes_per_burst']:g} spike per burst, "
            f"{100 * tg['burst_period_rel']:g} % burst period, "
            f"{100 * tg['tonic_isi_rel']:g} % tonic ISI")


def time_rows(rep: dict) -> list[tuple]:
    """Rows (B, method, wall s, ms per trajectory-second, peak MB, within targets, speed-ups
    over the loop and over simulate_ensemble) of every method that ran (columns TIME_HEAD)."""
    rows = []
    for r in _check_report(rep)["results"]:
        for name, m in r["methods"].items():
            if "skipped" in m:
                continue
            label = method_label(name)
            if m.get("extrapolated"):
                label += f" (extrapolated from {m['timed_trajectories']})"
            a = m["accuracy"]
            rows.append((r["B"], label, m["wall_time_s"],
                         1e3 * m["time_per_trajectory_model_second_s"],
                         m["peak_memory_MB"] if m["peak_memory_MB"] is not None else np.nan,
                         f"{a['within_targets']}/{a['n_checked']}",
                         m["speedup_over_lsoda_loop"], m["speedup_over_ensemble"]))
    return rows


def accuracy_rows(rep: dict) -> list[tuple]:
    """Rows of the burst-statistics errors of every method (columns ACCURACY_HEAD; errors
    of period and ISI in %)."""
    rows = []
    for r in _check_report(rep)["results"]:
        for name, m in r["methods"].items():
            if "accuracy" in m:
                a = m["accuracy"]
                rows.append((r["B"], method_label(name), f"{a['regimes_match']}/{a['n_checked']}",
                             f"{a['within_targets']}/{a['n_checked']}",
                             a["max_abs_spikes_per_burst_err"],
                             100 * a["max_abs_burst_period_rel_err"],
                             100 * a["max_abs_isi_rel_err"]))
    return rows


def float64_rows(rep: dict) -> list[tuple]:
    """float32 against float64 network, per B where both ran (columns FLOAT64_HEAD)."""
    rows = []
    for r in _check_report(rep)["results"]:
        m = r["methods"]
        if "rollout_cpu_float64" in m:
            a32 = m["rollout_cpu_1thread"]["accuracy"]
            a64 = m["rollout_cpu_float64"]["accuracy"]
            rows.append((r["B"], f"{a32['within_targets']}/{a32['n_checked']}",
                         f"{a64['within_targets']}/{a64['n_checked']}",
                         100 * a32["max_abs_burst_period_rel_err"],
                         100 * a64["max_abs_burst_period_rel_err"],
                         m["rollout_cpu_float64"]["wall_time_s"]
                         / m["rollout_cpu_1thread"]["wall_time_s"]))
    return rows


def run_description(rep: dict, shipped_sha256: str) -> str:
    """Where, when and on what the run was measured, and whether it used the shipped weights
    (``shipped_sha256``: the digest recorded with them)."""
    mach, cfg = _check_report(rep)["machine"], rep["config"]
    same = cfg["weights_sha256"] == shipped_sha256
    return (f"last full run of benchmarks/map_vs_integrator.py: {mach['date']}, "
            f"{mach.get('cpu_model', '')} ({mach['cpus_available']} cores available), torch "
            f"{mach['torch']}, NumPy {mach['numpy']}, SciPy {mach['scipy']}; CUDA device: "
            f"{mach.get('cuda_device', 'none')}\n"
            f"load average at start {mach['load_average_at_start']}, at end "
            f"{mach['load_average_at_end']}; B = {cfg['batch']}, {cfg['t_end_s']:g} s per "
            f"trajectory, statistics over t >= {cfg['t_min_s']:g} s\n"
            f"network of the full run: {cfg['weights']!r}, sha256 {cfg['weights_sha256'][:12]}…; "
            + ("the shipped weights" if same else
               "NOT the shipped weights: its accuracy figures are of another network, rerun "
               "benchmarks/map_vs_integrator.py"))


def plot_times(ax, rep: dict, title: str) -> None:
    """Wall time (s) against B, one line per method, log-log (the LSODA loop dashed)."""
    for name, (label, color, marker) in STYLE.items():
        pts = [(r["B"], r["methods"][name]["wall_time_s"]) for r in _check_report(rep)["results"]
               if name in r["methods"] and "wall_time_s" in r["methods"][name]]
        if pts:
            b, w = zip(*pts)
            ax.loglog(b, w, marker=marker, color=color, label=label,
                      ls="--" if name == "lsoda_loop" else "-")
    ax.set_xlabel("batch size B (trajectories)")
    ax.set_ylabel("wall time (s)")
    ax.set_title(title)


def by_batch(rep: dict) -> dict[int, dict]:
    """The report's results keyed by batch size B."""
    return {r["B"]: r for r in _check_report(rep)["results"]}


def largest_batch(rep: dict) -> tuple[int, dict]:
    """(B_max, the methods measured at B_max)."""
    res = by_batch(rep)
    B_max = max(res)
    return B_max, res[B_max]["methods"]


def _threads_key(methods: dict) -> str | None:
    return next((k for k in methods if k.startswith("rollout_cpu_") and k.endswith("threads")),
                None)


def headline(rep: dict) -> dict[str, float]:
    """The chapter's headline numbers at the largest batch: B_max, the map's share of the
    torch.mm rate (%), GFLOP/s of map and mm, the same share and rate of the step alone
    (:func:`step_rates`), ms per trajectory-second of map, integrator and loop, and the map's
    speed-ups over the integrator and the loop."""
    B_max, top = largest_batch(rep)
    net1, ens, loop = top["rollout_cpu_1thread"], top["ensemble"], top["lsoda_loop"]
    return {"B_max": float(B_max),
            "frac_mm": float(100 * net1["fraction_of_mm_rate"]),
            "gflops_net": float(net1["achieved_GFLOP_s"]),
            "gflops_mm": float(rep["mm_rate"]["cpu_1thread"]["square_GFLOP_s"]),
            "frac_mm_step": float(100 * net1["step_fraction_of_mm_rate"]),
            "gflops_step": float(net1["step_GFLOP_s"]),
            "ms_net": float(1e3 * net1["time_per_trajectory_model_second_s"]),
            "ms_ens": float(1e3 * ens["time_per_trajectory_model_second_s"]),
            "ms_loop": float(1e3 * loop["time_per_trajectory_model_second_s"]),
            "x_ens": float(net1["speedup_over_ensemble"]),
            "x_loop": float(net1["speedup_over_lsoda_loop"])}


def map_step_ns(rep: dict) -> float:
    """Wall time (ns) per trajectory and step of the 1-thread map at the largest batch."""
    B_max, top = largest_batch(rep)
    n_steps = by_batch(rep)[B_max]["n_steps"]
    return top["rollout_cpu_1thread"]["wall_time_s"] / (B_max * n_steps) * 1e9


def break_even(rep: dict, name: str, against: str) -> int | None:
    """Smallest B of the run at which ``name`` is faster than ``against`` in wall time
    (None if at no B)."""
    for B, r in sorted(by_batch(rep).items()):
        m = r["methods"]
        for key in (name, against):
            if key not in m or "wall_time_s" not in m[key]:
                raise ValueError(f"method {key!r} was not timed at B = {B}")
        if m[name]["wall_time_s"] < m[against]["wall_time_s"]:
            return B
    return None


def rate_lines(rep: dict) -> str:
    """The torch.mm rates, the map's rate at the largest batch as a share of them, the
    map/integrator time ratios per B and the break-even with the loop, as printed lines."""
    B_max, top = largest_batch(rep)
    mm = rep["mm_rate"]
    lines = [f"torch.mm (float32, {mm['cpu_1thread']['size']}^2): "
             + ", ".join(f"{k} {v['square_GFLOP_s']:.1f} GFLOP/s" for k, v in mm.items())]
    for k in ("rollout_cpu_1thread", _threads_key(top)):
        if k:
            m = top[k]
            lines.append(
                f"B = {B_max}, {method_label(k)}: {m['achieved_GFLOP_s']:.1f} GFLOP/s = "
                f"{100 * m['fraction_of_mm_rate']:.0f} % of the torch.mm rate at the same "
                f"threads ({100 * m['fraction_of_mm_rate_network_shape']:.0f} % of torch.mm at "
                f"the network's own shape, {m['mm_rate_network_shape_GFLOP_s']:.1f} GFLOP/s); "
                f"the step alone, median of runs paired with torch.mm: "
                f"{m['step_GFLOP_s']:.1f} GFLOP/s = {100 * m['step_fraction_of_mm_rate']:.0f} %")
    for B, r in sorted(by_batch(rep).items()):
        net_m, ens_m = r["methods"]["rollout_cpu_1thread"], r["methods"]["ensemble"]
        lines.append(f"B = {B}: network (1 thread) / simulate_ensemble time ratio "
                     f"{net_m['wall_time_s'] / ens_m['wall_time_s']:.2f} in wall time, "
                     f"{net_m['cpu_time_s'] / ens_m['cpu_time_s']:.2f} in CPU time "
                     "(below 1: network faster)")
    lines.append("network (1 thread) faster than the LSODA loop from B = "
                 f"{break_even(rep, 'rollout_cpu_1thread', 'lsoda_loop')} (None: at no B)")
    return "\n".join(lines)


def thread_lines(rep: dict) -> str:
    """The all-core network's wall time over the 1-thread one, per B where it ran."""
    thr = [(r["B"], k, m["wall_time_s"] / r["methods"]["rollout_cpu_1thread"]["wall_time_s"])
           for r in _check_report(rep)["results"] for k, m in r["methods"].items()
           if k.startswith("rollout_cpu_") and k.endswith("threads")]
    if not thr:
        B_max, _ = largest_batch(rep)
        return (f"the full run measured one torch thread only (all-core variant from B = "
                f"{rep['config']['threads_min_batch']} on, beyond its largest B = {B_max})")
    return "\n".join(f"B = {B}: {method_label(k)} took {ratio:.2f} times the 1-thread time"
                     for B, k, ratio in thr)


def training_payoff(rep: dict, record: dict) -> dict:
    """Whether the cost of the data and of training (s, from the weights' ``record``) is
    recovered by the map's saving against simulate_ensemble at the largest batch: the
    saving per trajectory-second in wall and CPU time (s) and the break-even in
    trajectories of the run's length (inf where the map saves nothing)."""
    for key in ("dataset_seconds", "train_seconds"):
        if key not in record:
            raise ValueError(f"record lacks {key!r}: pass the record of load_pretrained")
    B_max, top = largest_batch(rep)
    net1, ens = top["rollout_cpu_1thread"], top["ensemble"]
    t_end = rep["config"]["t_end_s"]
    t_data, t_train = record["dataset_seconds"], record["train_seconds"]
    saving = (ens["time_per_trajectory_model_second_s"]
              - net1["time_per_trajectory_model_second_s"])   # s saved per trajectory-second
    saving_cpu = (ens["cpu_time_s"] - net1["cpu_time_s"]) / (B_max * t_end)
    amort = (t_data + t_train) / saving if saving > 0 else float("inf")
    return {"B_max": B_max, "t_end": t_end, "t_data": float(t_data), "t_train": float(t_train),
            "saving": saving, "saving_cpu": saving_cpu, "amort": amort,
            "amort_traj": float(amort / t_end)}


def payoff_text(pay: dict, record: dict) -> str:
    """The training cost and where it pays off, in words (from ``training_payoff``)."""
    B_max, saving = pay["B_max"], pay["saving"]
    lines = [f"shipped network ({record['date']}, {record['machine']}, {record['threads']} "
             f"thread(s)): dataset {pay['t_data']:.0f} s, training {pay['t_train']:.0f} s",
             f"saving per trajectory-second at B = {B_max}: {saving * 1e6:.3g} µs in wall "
             f"time, {pay['saving_cpu'] * 1e6:.3g} µs in CPU time"]
    if saving > 0:
        lines.append(f"at B = {B_max} the map saves {saving * 1e3:.3g} ms per trajectory-second "
                     f"against simulate_ensemble: the data and training pay off after "
                     f"{pay['amort']:.3g} trajectory-seconds ({pay['amort_traj']:.3g} "
                     f"trajectories of {pay['t_end']:g} s)")
    else:
        lines.append(f"at B = {B_max} the map is slower than simulate_ensemble: training never "
                     "pays off in simulation time on this machine")
    return "\n".join(lines)


def cpu_ratios(rep: dict) -> dict[int, float]:
    """simulate_ensemble's CPU time over the 1-thread map's, per B (above 1: map cheaper).
    CPU time, not wall time: the compiled integrator runs a batch on all cores (its CPU time
    then exceeds its wall time), while the map runs on one thread."""
    return {B: r["methods"]["ensemble"]["cpu_time_s"]
            / r["methods"]["rollout_cpu_1thread"]["cpu_time_s"]
            for B, r in sorted(by_batch(rep).items())}


def ratios_text(rep: dict) -> str:
    """The CPU-time ratios of ``cpu_ratios`` in words, e.g. '0.5× at B = 256, …'."""
    return ", ".join(f"{x:.2g}× at B = {B}" for B, x in cpu_ratios(rep).items())


def gpu_text(rep: dict, rep_now: dict) -> str:
    """Whether a GPU was measured in the full run and in this build's run, read from the
    runs' records rather than typed in."""
    def gpus(report):
        return [r["methods"]["rollout_cuda"].get("device", "a CUDA device")
                for r in _check_report(report)["results"]
                if "skipped" not in r["methods"].get("rollout_cuda", {"skipped": ""})]

    full, now = gpus(rep), gpus(rep_now)
    return ((f"the last full run measured it on {full[0]}" if full
             else "the last full run had no GPU")
            + (f", and this build's run on {now[0]}." if now else
               ", and neither had this build's run."))


def accuracy_text(rep: dict) -> str:
    """Whether the map met the targets on a larger share of the checked trajectories than
    simulate_ensemble at the largest batch, in words."""
    _, top = largest_batch(rep)
    na, ne = top["rollout_cpu_1thread"]["accuracy"], top["ensemble"]["accuracy"]
    more = na["within_targets"] / na["n_checked"] > ne["within_targets"] / ne["n_checked"]
    return (("The map met the targets on a larger share of the checked trajectories "
             "than the integrator it replaces" if more else
             "The map is also no more accurate than the integrator it replaces")
            + f" ({na['within_targets']}/{na['n_checked']} against "
            f"{ne['within_targets']}/{ne['n_checked']} within the targets)")


def verdict(rep: dict) -> str:
    """The chapter's verdict on the full run, one sentence: the map against the batched
    integrator in CPU time at each B, against the LSODA loop, its share of the matrix-multiply
    rate, and its accuracy against the integrator's."""
    mach = _check_report(rep)["machine"]
    B_max, top = largest_batch(rep)
    net1, ens = top["rollout_cpu_1thread"], top["ensemble"]
    ratio = cpu_ratios(rep)
    faster = [B for B, x in ratio.items() if x > 1]
    slower = [B for B, x in ratio.items() if x <= 1]
    ratios = ratios_text(rep)
    if not faster:
        ens_part = f"is slower than the batched integrator at every B of the run ({ratios})"
    elif not slower:
        ens_part = f"is faster than the batched integrator at every B of the run ({ratios})"
    elif max(faster) < min(slower):
        ens_part = (f"is faster than the batched integrator up to B = {max(faster)} and slower "
                    f"from B = {min(slower)} on, so the break-even lies between ({ratios})")
    else:
        ens_part = (f"is faster than the batched integrator at some B and slower at others "
                    f"({ratios})")
    be_loop = break_even(rep, "rollout_cpu_1thread", "lsoda_loop")
    return (f"On this machine ({mach.get('cpu_model', mach['processor'])}, "
            f"{mach['cpus_available']} cores, "
            + (f"GPU {mach['cuda_device']}" if mach.get("cuda_available") else "no GPU")
            + f", one torch thread) the network map, in CPU time, {ens_part}; it beats a loop "
            + "of LSODA calls "
            + (f"from B = {be_loop} on ({net1['speedup_over_lsoda_loop']:.2g}× at B = {B_max})"
               if be_loop else "at no B")
            + f", runs at {100 * net1['fraction_of_mm_rate']:.0f} % of the machine's "
            f"matrix-multiply rate (its step alone at "
            f"{100 * net1['step_fraction_of_mm_rate']:.0f} %), and its burst statistics met the targets for "
            f"{net1['accuracy']['within_targets']}/{net1['accuracy']['n_checked']} checked "
            f"trajectories against {ens['accuracy']['within_targets']}/"
            f"{ens['accuracy']['n_checked']} for the integrator.")


def cost_rows(*, ns_rhs: float, evals_per_s: float, batch: int, ns_ens_model_s: float,
              ns_step: float, dt: float, B_full: int) -> list[tuple[str, str, str, str]]:
    """Rows (columns COST_HEAD) of what a trajectory costs per model-second: the vector
    field's evaluations alone (this build, ``batch`` states), all of simulate_ensemble and
    one step of the map (the full run's largest batch ``B_full``). Times in ns; ``dt`` the
    map's step in s."""
    if dt <= 0:
        raise ValueError(f"dt must be positive, got {dt}")
    return [(f"vector field, evaluations only (this build, B = {batch})", f"{ns_rhs:.0f} ns",
             f"{evals_per_s:.0f} per s", f"{ns_rhs * evals_per_s / 1e6:.3g} ms"),
            (f"simulate_ensemble, everything (full run, B = {B_full})", "–", "–",
             f"{ns_ens_model_s / 1e6:.3g} ms"),
            (f"network, one step (full run, B = {B_full})", f"{ns_step:.0f} ns",
             f"{1 / dt:.0f} per s", f"{ns_step / dt / 1e6:.3g} ms")]


def timing_text(result: dict | None) -> str:
    """The wall times of a :func:`compare_local_and_dask` result (they depend on the machine
    and its load, so they are kept apart from :func:`executor_texts`)."""
    if result is None:
        return "dask.distributed is not installed: the sweep ran on no dask cluster"
    return (f"local processes: wall time {result['t_local']:.1f} s; dask LocalCluster "
            f"({result.get('n_workers', '?')} workers): wall time {result['t_other']:.1f} s")


def executor_texts(result: dict | None) -> tuple[str, str]:
    """(a paragraph, a summary clause) on a :func:`compare_local_and_dask` result, or on its
    absence (None: dask not installed)."""
    if result is None:
        return ("`dask.distributed` is not installed here (it is the optional extra "
                "`distributed`), so this build did not run the sweep on a dask cluster.",
                "the comparison with a dask cluster did not run in this build")
    same = "identical to the last bit" if result["identical"] else "not identical"
    return (f"{result['n_values']} values of $V_S$ in chunks of {result['chunk_size']}: "
            f"{result['n_isi']} ISIs; local processes and the dask cluster gave results {same}.",
            f"here a dask cluster and local processes gave results {same}")
