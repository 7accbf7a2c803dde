"""hhlib.targets: verdicts, the NaN rule, and the one-sentence summary."""
import math

import pytest

from hhlib.targets import Target, as_json, count_met, from_json, verdict, worst


def test_nan_is_a_miss_everywhere():
    t = Target.at_most("V*", float("nan"), 0.5, " mV")
    assert not t.met
    assert worst([0.1, float("nan"), 0.3]) == math.inf
    assert from_json(as_json([t]))["V*"]["met"] is False


def test_at_most_and_at_least_bounds_are_inclusive():
    assert Target.at_most("a", 0.5, 0.5).met
    assert not Target.at_most("a", 0.5000001, 0.5).met
    assert Target.at_least("b", 0.98, 0.98).met


def test_verdict_names_the_missed_targets():
    ts = [Target.at_most("V*", 0.2, 0.5), Target.at_most("n*", 0.01, 0.005),
          Target.at_most("S*", float("nan"), 0.005)]
    text = verdict(ts, "the fixed-point targets")
    assert text.startswith("1 of 3 of the fixed-point targets are met")
    assert "n*" in text and "S*" in text and "V*" not in text.split("missed:")[1]
    assert count_met(ts) == 1
    assert verdict(ts[:1]).startswith("All 1 ")
    assert verdict(ts[1:]).startswith("None of")


def test_verdict_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        verdict([])
    with pytest.raises(TypeError, match="Target"):
        verdict(["V*"])


def test_worst_keeps_inf_and_honours_the_mask():
    assert worst([1.0, math.inf]) == math.inf
    assert worst([1.0, 5.0, float("nan")], mask=[True, False, False]) == 1.0
    with pytest.raises(ValueError):
        worst([1.0], mask=[False])
