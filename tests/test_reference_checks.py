"""The machinery that compares a run of the book with its reference results
(tests/refs.py) and the target records it guards (hhlib.targets)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import refs
from hhlib.targets import Target, as_json, count_met, from_json, table_rows, worst

TIGHT = refs.Tolerance(rel=1e-6, abs=1e-12)


def test_equal_text_passes():
    assert refs.compare_text("V* = -52.499 mV at 12 values", "V* = -52.499 mV at 12 values",
                             TIGHT) is None


def test_words_must_match():
    assert refs.compare_text("target met", "target missed", TIGHT) == "text differs"
    assert refs.compare_text("✓ 0.1", "✗ 0.1", TIGHT) == "text differs"


def test_rounding_boundary_is_one_printed_unit():
    # 0.14999999 and 0.15000001 print as 0.150 and 0.150, but at 2 decimals a value a hair
    # from 0.145 prints 0.14 on one CPU and 0.15 on another: one unit of the last digit.
    assert refs.compare_text("0.14 mV", "0.15 mV", TIGHT) is None
    assert refs.compare_text("0.14 mV", "0.16 mV", TIGHT) is not None
    assert refs.compare_text("1.2e-05", "1.3e-05", TIGHT) is None
    assert refs.compare_text("1.2e-05", "1.4e-05", TIGHT) is not None


def test_integers_are_exact_unless_declared():
    assert refs.compare_text("12 of 12", "11 of 12", TIGHT) is not None
    loose = refs.Tolerance(rel=0.0, abs=1.0)
    assert refs.compare_text("12 of 12", "11 of 12", loose) is None


def test_full_precision_floats_use_relative_tolerance():
    a, b = "np.float64(-44.72160001)", "np.float64(-44.72160002)"
    assert refs.compare_text(a, b, TIGHT) is None                       # 2e-10 relative
    assert refs.compare_text(a, "np.float64(-44.72170001)", TIGHT) is not None  # 2e-6 rel.


def test_identifiers_are_not_numbers():
    words, numbers = refs._split("x0 float64 V_S −30.5 1e-3")
    assert [n[0] for n in numbers] == [-30.5, 1e-3]


def test_nan_matches_only_nan():
    assert refs.compare_text("nan", "nan", TIGHT) is None
    # "nan" is a word, not a number, so a NaN that turns into a number changes the words
    assert refs.compare_text("nan", "0.5", TIGHT) is not None


def test_sanitizers_hide_timings():
    san = refs.load_sanitizers()
    a = refs.sanitize("wall time 12.3 s for 200 steps", san)
    b = refs.sanitize("wall time 14.9 s for 200 steps", san)
    assert a == b and "200" in a


def test_tolerance_rules(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text('[default]\nrel = 1e-6\nabs = 0\n'
                 '[[quantity]]\nchapter = "04_*"\nnames = ["n_long*"]\nabs = 2\n'
                 'reason = "chaotic"\n'
                 '[[quantity]]\nchapter = "*"\nnames = ["t_*"]\ncompare = false\n'
                 'reason = "timing"\n')
    default, rules = refs.load_tolerances(f)
    assert refs.tolerance_for("04_network", "n_long_ok", default, rules).abs == 2
    assert refs.tolerance_for("05_x", "n_long_ok", default, rules) == default
    assert refs.tolerance_for("07_cost", "t_train", default, rules).compare is False
    f.write_text('[default]\nrel = 1e-6\nabs = 0\n[[quantity]]\nchapter = "*"\nnames = ["a"]\n')
    with pytest.raises(ValueError, match="reason"):
        refs.load_tolerances(f)


def test_committed_tolerances_have_reasons():
    default, rules = refs.load_tolerances()
    assert 0 < default.rel <= 1e-4
    for q in rules:
        assert q["reason"].strip()
        if q.get("compare") is False:   # only timings and facts about the build machine
            assert q["reason"].startswith(("timing", "machine")), q


def _nb(glue: dict, texts: list[list[str]] | None = None) -> dict:
    return {"glue": {k: {"text": v} for k, v in glue.items()},
            "cells": [{"first_line": "x", "source_sha": "", "compared": True, "text": t}
                      for t in (texts or [])]}


def test_glue_comparison_names_the_quantity():
    ref = _nb({"hopf": "-44.7216", "t_run": "3.2"})
    new = _nb({"hopf": "-44.80", "t_run": "9.9"})
    rules = [{"chapter": "*", "names": ["t_*"], "compare": False, "reason": "timing"}]
    problems = refs.compare_glue("05_dyn", ref, new, TIGHT, rules)
    assert len(problems) == 1 and "05_dyn" in problems[0] and "hopf" in problems[0]
    assert refs.compare_glue("05_dyn", ref, _nb({"hopf": "-44.7216"}), TIGHT, rules)


def test_cell_comparison():
    ref = _nb({}, [["regime correct at 12 of 12"]])
    assert refs.compare_cells("04", ref, _nb({}, [["regime correct at 12 of 12"]]), TIGHT) == []
    assert refs.compare_cells("04", ref, _nb({}, [["regime correct at 11 of 12"]]), TIGHT)
    assert "make refs" in refs.compare_cells("04", ref, _nb({}, []), TIGHT)[0]


def test_target_regression_is_reported_with_both_values():
    met = as_json([Target.at_most("fixed point V*", 0.2, 0.5), Target.at_most("Hopf", 0.3, 0.15)])
    missed = as_json([Target.at_most("fixed point V*", 0.7, 0.5), Target.at_most("Hopf", 0.4, 0.15)])
    problems = refs.targets_regressions("05_dyn", _nb({"targets": repr(met)}),
                                        _nb({"targets": repr(missed)}))
    assert len(problems) == 1
    assert "05_dyn" in problems[0] and "fixed point V*" in problems[0]
    assert "0.7" in problems[0] and "0.2" in problems[0]
    # a target missed in the references is reported by the chapter, not asserted
    assert refs.targets_regressions("05_dyn", _nb({"targets": repr(missed)}),
                                    _nb({"targets": repr(met)})) == []


def test_target_verdicts_and_nan_rule():
    t = Target.at_most("V*", float("nan"), 0.5, " mV")
    assert t.met is False                       # not measured is a miss
    assert Target.at_least("basins", 96.8, 90, " %").met
    assert worst([0.1, np.nan, 0.3]) == math.inf
    assert worst([0.1, np.nan, 0.3], [True, False, True]) == 0.3
    ts = [Target.at_most("a", 1, 2), Target.at_most("b", 3, 2)]
    assert count_met(ts) == 1
    assert [r[3] for r in table_rows(ts)] == ["✓", "✗"]
    rec = from_json(as_json(ts))
    assert rec["b"] == {"met": False, "measured": 3.0}
    json.dumps(rec)


def test_target_bad_input():
    with pytest.raises(ValueError, match="name"):
        Target("", "≤ 1", 0.5, True)
    with pytest.raises(TypeError, match="measured"):
        Target("a", "≤ 1", "small", True)
    with pytest.raises(ValueError, match="unique"):
        as_json([Target.at_most("a", 1, 2), Target.at_most("a", 1, 2)])
    with pytest.raises(TypeError, match="Target"):
        as_json([("a", 1)])
    with pytest.raises(ValueError, match="at least one"):
        worst([])


def test_split_stdout_is_one_text(tmp_path):
    """The kernel may deliver one print in several stream chunks (timing-dependent); the
    extraction joins consecutive stdout chunks, with stderr and glued values in between."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    def nb(chunks):
        cell = new_code_cell("print(x)")
        cell.outputs = chunks
        path = tmp_path / f"nb{len(chunks)}.ipynb"
        nbformat.write(new_notebook(cells=[cell]), str(path))
        return refs.extract(path)

    glued = new_output("display_data", data={"application/papermill.record/text/plain": "1"},
                       metadata={"scrapbook": {"name": "x", "mime_prefix":
                                               "application/papermill.record/"}})
    one = nb([new_output("stream", name="stdout", text="a 1\nb 2\n")])
    split = nb([new_output("stream", name="stdout", text="a 1\n"),
                new_output("stream", name="stderr", text="warning\n"), glued,
                new_output("stream", name="stdout", text="b 2\n")])
    assert one["cells"][0]["text"] == split["cells"][0]["text"] == ["a 1\nb 2"]
    assert split["glue"] == {"x": {"text": "1"}}


def test_spread_of_perturbed_runs_widens_only_chaotic_numbers():
    # a count that perturbed runs moved from 96 to 94: 93 passes (half the range beyond), 91 fails
    runs = ["96 of 100 bounded, V* = -52.499 mV", "94 of 100 bounded, V* = -52.499 mV"]
    ref = "95 of 100 bounded, V* = -52.499 mV"
    assert refs.compare_text(ref, "93 of 100 bounded, V* = -52.499 mV", TIGHT, runs) is None
    assert refs.compare_text(ref, "91 of 100 bounded, V* = -52.499 mV", TIGHT, runs) is not None
    # the deterministic number next to it is still compared tightly
    assert refs.compare_text(ref, "95 of 100 bounded, V* = -52.512 mV", TIGHT, runs) is not None


def test_spread_accepts_a_verdict_seen_in_a_perturbed_run_only():
    assert refs.compare_text("target met", "target missed", TIGHT, ["target missed"]) is None
    assert refs.compare_text("target met", "target missed", TIGHT, ["target met"]) == "text differs"


def test_perturbed_cells_with_other_source_are_not_used():
    ref = _nb({}, [["regime correct at 12 of 12"]])
    stale = _nb({}, [["regime correct at 9 of 12"]])
    stale["cells"][0]["source_sha"] = "other"
    assert refs.compare_cells("04", ref, _nb({}, [["regime correct at 10 of 12"]]), TIGHT, [stale])
    current = _nb({}, [["regime correct at 9 of 12"]])
    assert refs.compare_cells("04", ref, _nb({}, [["regime correct at 10 of 12"]]), TIGHT,
                              [current]) == []


def test_timing_columns_of_tables_are_sanitised_and_the_rest_compared():
    san = refs.load_sanitizers()
    table = ("| method | CPU time (s) | max \\|dV\\| over 20 s (mV) |\n|---|---|---|\n"
             "| RK45 | 0.0952 | 6.47 |\n| Radau | 1.25 | 0.33 |")
    out = refs.sanitize(table, san)
    assert "0.0952" not in out and "1.25" not in out          # the timing column
    assert "6.47" in out and "0.33" in out and "20 s" in out  # errors and the horizon


def test_time_sanitiser_keeps_periods_and_erases_wall_times():
    san = refs.load_sanitizers()
    assert refs.sanitize("damped oscillation: period 5.9 s, decay time 3.38 s", san) == \
        "damped oscillation: period 5.9 s, decay time 3.38 s"
    assert "1.84" not in refs.sanitize("B = 256: wall time 1.84 s (7.2 ms per trajectory)", san)
    assert "LOAD" in refs.sanitize("this build, machine load [1.4, 1.34, 1.16] (1, 5 min)", san)


def _extraction(value: str, cell_text: str, sha: str) -> dict:
    return {"glue": {"V_star": {"text": value}, "ns_rhs": {"text": "20.1"}},
            "cells": [{"first_line": "import x", "source_sha": sha, "compared": True,
                       "text": []},
                      {"first_line": "print(v)", "source_sha": "b", "compared": True,
                       "text": [cell_text]}]}


def test_same_as_allows_moved_imports_and_nothing_else():
    old = _extraction("-52.499", "V* = -52.499 mV", "a")
    # a refactor: an import cell's source changed, a timing (compare = false) moved
    new = {**_extraction("-52.499", "V* = -52.499 mV", "c"),
           "glue": {"V_star": {"text": "-52.499"}, "ns_rhs": {"text": "25.0"}}}
    problems, summary = refs.same_results("07_cost", old, new)
    assert problems == [] and "1 glued values and 1 text outputs identical" in summary
    assert "1 of 2 cells' sources changed" in summary
    # within any tolerance is not enough: the last digit of a value or a printed number
    problems, _ = refs.same_results("07_cost", old, _extraction("-52.498", "V* = -52.499 mV", "a"))
    assert len(problems) == 1 and "V_star" in problems[0]
    problems, _ = refs.same_results("07_cost", old, _extraction("-52.499", "V* = -52.498 mV", "a"))
    assert len(problems) == 1 and "code cell 2" in problems[0]
