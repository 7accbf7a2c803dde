"""How far a chapter's results move when the CPU kernels change their last bits.

The book is built with MKL's code path pinned (``hhlib/kernels.py``), so every x86-64 CPU
prints the same numbers. ``make spread`` also executes every chapter under last-bit
perturbations of the kernels (another MKL code path; NumPy's SIMD functions and OpenBLAS
restricted to AVX2) and records the results in ``references/perturbed/``. A chaotic
quantity (a long free run, a count near a transition, a selection among close candidates)
moves under them; this module reads those records, so that a chapter can print such a
quantity with its measured spread and say which verdicts do not survive a last-bit change.
"""
from __future__ import annotations

import json
from pathlib import Path

PERTURBED = Path(__file__).resolve().parent.parent / "references" / "perturbed"
# What each chapter shows: glued name -> (label, format of a number).
LABELS = {
    "04_network": {
        "abl_chosen": ("variant chosen by the validation rule", "{}"),
        "abl_random_ok": ("its random starts physical", "{:.0f}"),
        "abl_outside_ok": ("its random starts from outside the training box physical",
                           "{:.0f}"),
        "abl_exactly_one": ("its grid values with one fixed point", "{:.0f}"),
        "abl_eig_ok": ("its grid values with eigenvalues in tolerance", "{:.0f}"),
        "abl_worst_V": ("its worst V* error (mV)", "{:.2f}"),
        "abl_margin": ("its criterion's margin over the runner-up", "{:.4f}"),
        "seed_one_min": ("fewest one-fixed-point values of a seed", "{:.0f}"),
        "robust_verdict": ("robust targets", "{}")},
    "05_dynamics_recovery": {
        "tr_net": ("network's bursting-to-spiking transition (mV)", "{:.3f}"),
        "n_within_spikes_per_burst": ("values within one spike per burst", "{:.0f}"),
        "n_within_burst_period": ("values within 10 % of the burst period", "{:.0f}"),
        "hopf_net": ("Neimark–Sacker point (mV)", "{:.3f}"),
        "verdict": ("verdict on the targets", "{}")},
    "06_bistability": {
        "bi_chosen": ("network chosen by the validation criterion", "{}"),
        "bi_hopf_net": ("network's Hopf point (mV)", "{:.3f}"),
        "bi_width_net": ("network's bistable width (mV)", "{:.3f}"),
        "bi_agree": ("basins that agree (%)", "{:.1f}"),
        "bi_n_met": ("targets met", "{:.0f}")},
    "08_other_methods": {
        f"{m}_{col}": (f"{m.replace('_', '-')}: {label}", "{:.0f}")
        for m in ("original", "vector_field", "sindy_polynomial", "sindy_sigmoid")
        for col, label in (("random_ok", "random starts physical"),
                           ("exactly_one", "values with one fixed point"),
                           ("checks_ok", "fixed-point checks met"))},
}


def runs(stem: str) -> list[dict]:
    """The recorded perturbed runs of chapter ``stem`` (file stem, e.g. ``04_network``)."""
    return [json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(PERTURBED.glob(f"*.{stem}.json"))]


def _value(text: str):
    text = text.strip().strip("'\"")
    try:
        return float(text)
    except ValueError:
        return text


def _shown(v, fmt: str) -> str:
    return fmt.format(v) if isinstance(v, float) else str(v)


def spread_rows(stem: str, values: dict[str, object]) -> list[list[str]]:
    """One row per quantity of ``LABELS[stem]``: its label, this build's value (from
    ``values``), and what the perturbed runs gave (a range for a number, the distinct
    values of a verdict with their counts), and whether all of them agree."""
    recorded = runs(stem)
    rows = []
    for name, (label, fmt) in LABELS[stem].items():
        value = values[name]
        seen = [_value(r["glue"][name]["text"]) for r in recorded if name in r["glue"]]
        if not seen:
            rows.append([label, _shown(value, fmt), "not measured (run `make spread`)", "–"])
            continue
        if all(isinstance(s, float) for s in seen) and isinstance(value, (int, float)):
            lo, hi = min(seen + [float(value)]), max(seen + [float(value)])
            same = _shown(lo, fmt) == _shown(hi, fmt)
            spread = "the same" if same else f"{_shown(lo, fmt)} to {_shown(hi, fmt)}"
        else:
            counts: dict[str, int] = {}
            for s in seen:
                counts[str(s)] = counts.get(str(s), 0) + 1
            same = set(counts) == {str(value)}
            spread = "the same" if same else "; ".join(
                f"{k} ({n} of {len(seen)})" for k, n in counts.items())
        rows.append([label, _shown(value, fmt), spread, "yes" if same else "no"])
    return rows


def spread_section(stem: str, short: str, **values):
    """The chapter's table of results under perturbed kernels; glues ``<short>_spread_runs``
    (how many runs) and ``<short>_spread_text`` (which results moved) for the prose."""
    from IPython.display import Markdown
    from myst_nb import glue

    from hhlib.plotting import markdown_table

    rows = spread_rows(stem, values)
    glue(f"{short}_spread_runs", len(runs(stem)), display=False)
    glue(f"{short}_spread_text", flipped_text(rows), display=False)
    return Markdown(markdown_table(SPREAD_HEAD, rows))


SPREAD_HEAD = ["quantity", "this build", "under perturbed kernels", "the same?"]


def flipped(rows: list[list[str]]) -> list[str]:
    """Labels of the quantities whose value or verdict a perturbation changed."""
    return [r[0] for r in rows if r[3] == "no"]


def flipped_text(rows: list[list[str]]) -> str:
    """A sentence for the prose: which results a last-bit change of the kernels moved."""
    measured = [r for r in rows if not r[2].startswith("not measured")]
    moved = flipped(measured)
    if not measured:
        return "no perturbed runs are recorded for this chapter (`make spread`)"
    if not moved:
        return f"none of these {len(measured)} results moved under the perturbed kernels"
    return (f"{len(moved)} of these {len(measured)} results moved under the perturbed "
            "kernels: " + ", ".join(moved))
