"""The evaluation cache (hhlib/cache.py, issue 24 item 3): a second chapter reads what the
first computed, and nothing that could change the result can return a stale one."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import hhlib.cache as cache_mod
from hhlib.dynamics.ablation import evaluate_all
from hhlib.cache import cache_key, cached_call
from hhlib.ode.model import HHParams
from hhlib.maps.network import MapNet, load_pretrained
from hhlib.dynamics.recovery import FP_TOL

CALLS: list = []


def _square(x, *, shift=0.0):
    CALLS.append(x)
    return {"value": np.float64(x) ** 2 + shift, "pair": (x, None)}


def test_a_second_call_reads_the_stored_result(tmp_path):
    CALLS.clear()
    first = cached_call(tmp_path, _square, (3.0,), {"shift": 1.0})
    again = cached_call(tmp_path, _square, (3.0,), {"shift": 1.0})
    assert first == again == {"value": 10.0, "pair": (3.0, None)} and CALLS == [3.0]
    # the stored value keeps its types (a NumPy scalar, a tuple): the chapters print them
    assert type(again["value"]) is np.float64 and type(again["pair"]) is tuple
    cached_call(tmp_path, _square, (3.0,), {"shift": 2.0})
    assert CALLS == [3.0, 3.0]
    assert len(list(tmp_path.glob("*.pkl"))) == 2 and not list(tmp_path.glob(".part-*"))


def test_the_key_changes_with_everything_that_fixes_the_result(tmp_path, monkeypatch):
    net = MapNet(dt=0.01, hidden=(4,))
    k = cache_key(_square, (net, np.arange(3.0)), {"p": HHParams()})
    assert k == cache_key(_square, (net, np.arange(3.0)), {"p": HHParams()})
    other = MapNet(dt=0.01, hidden=(4,))
    with torch.no_grad():
        other.load_state_dict(net.state_dict())
        next(other.parameters()).view(-1)[0] += 1e-7               # one weight, last bits
    changed = [cache_key(_square, (other, np.arange(3.0)), {"p": HHParams()}),
               cache_key(_square, (net, np.arange(3.0, dtype=np.float32)), {"p": HHParams()}),
               cache_key(_square, (net, np.arange(3.0)), {"p": HHParams(g_K=9.0)}),
               cache_key(_square, (net, np.arange(3.0), 1), {"p": HHParams()}),
               cache_key(cached_call, (net, np.arange(3.0)), {"p": HHParams()})]
    monkeypatch.setenv("MKL_CBWR", "AVX2")
    changed.append(cache_key(_square, (net, np.arange(3.0)), {"p": HHParams()}))
    monkeypatch.delenv("MKL_CBWR")
    # the library's code: an edited module asks for another file
    code = tmp_path / "hhlib"
    code.mkdir()
    (code / "model.py").write_text("x = 1\n")
    monkeypatch.setattr(cache_mod, "_PACKAGE", code)
    before = cache_key(_square, (net,), {})
    (code / "model.py").write_text("x = 2\n")
    assert cache_key(_square, (net,), {}) != before
    assert len({k, *changed}) == 1 + len(changed)


def test_an_argument_it_cannot_key_is_an_error_not_a_guess(tmp_path):
    with pytest.raises(TypeError, match="cannot key an argument of type object"):
        cached_call(tmp_path, _square, (object(),))
    with pytest.raises(TypeError, match="directory must be a path"):
        cached_call(None, _square, (1.0,))


def test_a_failed_store_keeps_the_result(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")                       # a file where the folder should be
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cached_call(blocked / "sub", _square, (2.0,))
    assert out["value"] == 4.0 and "could not store" in str(caught[0].message)


def test_evaluate_all_with_a_cache_gives_the_same_numbers_and_reuses_random_runs(tmp_path):
    """Chapter 8 after chapter 4: the same model's random-start runs are read, not rerun,
    and every number is the one computed without the cache."""
    net, rec = load_pretrained("original")
    kw = dict(val_trajectories=np.zeros((1, 201, 3)) + [-60.0, 0.001, 0.18],
              val_V_S=[-40.0], test_V_S=[-40.0, -32.0], test_x0=[[-60.0, 0.001, 0.18]] * 2,
              t_compare=20.0, t_min=10.0, params=HHParams(), V_S_grid=[-40.0],
              tol=FP_TOL, n_random=3, t_random=3.0)
    plain = evaluate_all({"a": (net, rec)}, **kw, n_outside=2)
    stored = evaluate_all({"a": (net, rec)}, **kw, n_outside=2, cache=tmp_path)
    assert stored == plain
    files = set(tmp_path.glob("*.pkl"))
    assert len(files) == 3                       # random runs, outside runs, the rest
    again = evaluate_all({"a": (net, rec)}, **kw, n_outside=2, cache=tmp_path)
    assert again == plain and set(tmp_path.glob("*.pkl")) == files
    # without the outside runs, as chapter 8 asks: its random runs are read, the rest is new
    fewer = evaluate_all({"b": (net, rec)}, **kw, cache=tmp_path)
    assert fewer["b"][1] == evaluate_all({"b": (net, rec)}, **kw)["b"][1]
    new = set(tmp_path.glob("*.pkl")) - files
    assert len(new) == 1
    with pytest.raises(TypeError, match="cache must be None or a folder's path"):
        evaluate_all({"a": (net, rec)}, **kw, cache=3)


def test_a_process_running_edited_library_code_bypasses_the_cache(tmp_path, monkeypatch):
    """After hhlib is edited, a kernel that imported it before runs the old code: its answer
    must not be filed under the new code's key, nor an answer of the new code read."""
    assert cached_call(tmp_path, _square, (3.0,))["value"] == 9.0
    stored = sorted(tmp_path.iterdir())
    monkeypatch.setattr(cache_mod, "_IMPORTED", b"the code before an edit")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cached_call(tmp_path, _square, (4.0,))["value"] == 16.0
        CALLS.clear()
        assert cached_call(tmp_path, _square, (3.0,))["value"] == 9.0
    assert CALLS == [3.0]                        # computed again, not read
    assert sorted(tmp_path.iterdir()) == stored
    assert len(caught) == 2 and "changed on disk" in str(caught[0].message)
