"""Chapter 4's comparison is registered in book/candidates.toml (issue 23, item 3): the
chapter evaluates exactly the candidates listed there, with the rule stated there, and
hhlib.dynamics.ablation's selection uses the parameters the file states."""
import inspect
import re

import numpy as np
import pytest

from conftest import REPO
from hhlib.dynamics import ablation
from hhlib.dynamics.ablation import SELECTION_RULE, read_candidates, selection_criterion
from hhlib.maps.network import load_pretrained, seed_members

FILE = REPO / "book" / "candidates.toml"
CHAPTER = REPO / "book" / "04_network.md"


def _code(path) -> str:
    text = path.read_text(encoding="utf-8")
    return "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, flags=re.S))


def test_the_chapter_evaluates_exactly_the_registered_candidates():
    code = _code(CHAPTER)
    assert 'registered = read_candidates("candidates.toml")' in code
    # One assignment each, from the file; the models and the evaluation follow from them.
    assert re.findall(r"^variants\s*=.*$", code, flags=re.M) == [
        'variants = registered["candidates"]              # exactly the registered candidates']
    assert re.findall(r"^ensemble_names\s*=.*$", code, flags=re.M)[0].startswith(
        'ensemble_names = registered["headline"]')
    assert re.findall(r"^models\s*=.*$", code, flags=re.M) == [
        "models = {name: load_pretrained(name) for name in variants}"]
    assert "evaluate_all(\n    models," in code
    assert 'assert list(evaluated) == registered["candidates"]' in code
    # The rule is printed before the table is computed.
    assert code.index('print("rule:"') < code.index("evaluate_all(\n    models,")
    # Nothing else adds a model to the comparison.
    assert not re.search(r"models\[[^\]]+\]\s*=|models\.update|variants\.(append|extend)", code)


def test_the_file_lists_shipped_networks_and_the_recipe_s_seeds():
    reg = read_candidates(FILE)
    for name in reg["candidates"]:
        load_pretrained(name)                   # shipped, with a verified checksum
    assert reg["headline"] == seed_members(reg["headline"][0])
    assert "original" in reg["candidates"]


def test_the_rule_s_parameters_are_the_ones_the_selection_uses():
    reg = read_candidates(FILE)
    assert reg["parameters"] == SELECTION_RULE
    sig = inspect.signature(selection_criterion).parameters
    for k in ("n_random", "t_random", "seed"):
        assert sig[k].default == reg["parameters"][k]
    # The weight is the one selection_criterion applies: a map whose every random-start run
    # leaves the box scores exactly escape_weight (the untrained identity scores 0).
    from hhlib.maps.network import MapNet
    val = np.zeros((1, 51, 3)) + [-60.0, 0.001, 0.18]
    drift = MapNet(dt=0.01, hidden=(4,), d_mean=(5.0, 0.0, 0.0))
    assert selection_criterion(drift, val, np.array([-40.0]), n_random=2, t_random=1.0) == \
        pytest.approx(reg["parameters"]["escape_weight"])
    assert "escape_weight" in reg["rule"] and "ties go to the first" in reg["rule"]


def test_read_candidates_refuses_a_file_that_disagrees(tmp_path):
    text = FILE.read_text(encoding="utf-8")
    bad = tmp_path / "c.toml"
    bad.write_text(text.replace("escape_weight = 10.0", "escape_weight = 5.0"), encoding="utf-8")
    with pytest.raises(ValueError, match="parameters"):
        read_candidates(bad)
    bad.write_text(text.replace('    "original-multistep",\n', '    "original",\n'),
                   encoding="utf-8")
    with pytest.raises(ValueError, match="distinct"):
        read_candidates(bad)
    bad.write_text(text.replace('headline = [', 'headline = ["nope",'), encoding="utf-8")
    with pytest.raises(ValueError, match="headline"):
        read_candidates(bad)
    assert ablation.read_candidates(FILE)["candidates"][0] == "original"
