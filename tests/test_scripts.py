"""The training scripts cannot overwrite the shipped weights by accident (issue 26).

Argument handling only: the dataset build, the training and the fit are replaced by
functions that fail the test if they are reached.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from hhlib.maps.network import WEIGHTS_DIR

REPO = Path(__file__).resolve().parent.parent


def _script(name: str, monkeypatch):
    spec = importlib.util.spec_from_file_location(f"{name}_cli", REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)

    def no_work(*a, **k):
        raise AssertionError("work started before the arguments were checked")
    for attr in ("load_or_make_dataset", "train", "load_pretrained", "fit_sindy"):
        if hasattr(mod, attr):
            monkeypatch.setattr(mod, attr, no_work)
    return mod


SCRIPTS = {"train_network": [], "fit_sindy": ["--library", "polynomial", "--degree", "1"]}


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_default_output_is_a_scratch_folder_not_the_shipped_weights(script, monkeypatch):
    mod = _script(script, monkeypatch)
    scratch = mod.SCRATCH_DIR.resolve()
    assert scratch != WEIGHTS_DIR.resolve() and WEIGHTS_DIR.resolve() not in scratch.parents
    assert scratch.parent == REPO
    ignored = (REPO / ".gitignore").read_text().split()
    assert f"{scratch.name}/" in ignored


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_help_names_the_scratch_folder_and_force(script, monkeypatch, capsys):
    mod = _script(script, monkeypatch)
    with pytest.raises(SystemExit) as e:
        mod.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "weights-scratch" in out and "--force" in out


@pytest.mark.parametrize("script", list(SCRIPTS))
@pytest.mark.parametrize("shipped", ["original", "sindy-polynomial"])
def test_a_shipped_name_is_refused_before_any_work(script, shipped, monkeypatch, tmp_path, capsys):
    assert (WEIGHTS_DIR / f"{shipped}.pt").exists()
    mod = _script(script, monkeypatch)
    monkeypatch.setattr(mod, "SCRATCH_DIR", tmp_path / "scratch")   # the default, not made here
    for out in ([], ["--out", str(tmp_path)], ["--out", str(WEIGHTS_DIR)]):
        with pytest.raises(SystemExit) as e:
            mod.main(["--name", shipped, *SCRIPTS[script], *out])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "--force" in err and f"{shipped}.pt" in err
    assert [p.name for p in tmp_path.rglob("*")] == ["scratch"]


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_an_existing_name_in_the_target_folder_is_refused(script, monkeypatch, tmp_path, capsys):
    (tmp_path / "mine.json").write_text("{}")
    mod = _script(script, monkeypatch)
    with pytest.raises(SystemExit) as e:
        mod.main(["--name", "mine", "--out", str(tmp_path), *SCRIPTS[script]])
    assert e.value.code == 2 and "--force" in capsys.readouterr().err
    assert (tmp_path / "mine.json").read_text() == "{}"


@pytest.mark.parametrize("script", list(SCRIPTS))
def test_force_lets_the_work_start(script, monkeypatch, tmp_path):
    (tmp_path / "original.pt").write_bytes(b"")
    mod = _script(script, monkeypatch)
    with pytest.raises(AssertionError, match="work started"):
        mod.main(["--name", "original", "--out", str(tmp_path), "--force", *SCRIPTS[script]])


def test_a_new_name_in_the_scratch_folder_starts_the_work(monkeypatch, tmp_path):
    mod = _script("train_network", monkeypatch)
    monkeypatch.setattr(mod, "SCRATCH_DIR", tmp_path / "scratch")
    with pytest.raises(AssertionError, match="work started"):
        mod.main([])
    assert (tmp_path / "scratch").is_dir()


def _dataset_config_of(mod, monkeypatch, args):
    """The DatasetConfig that ``train_network.main(args)`` asks for, stopped before any work."""
    seen = {}

    def record(config, **k):
        seen["dataset"] = config
        raise AssertionError("work started")
    monkeypatch.setattr(mod, "load_or_make_dataset", record)
    with pytest.raises(AssertionError, match="work started"):
        mod.main(args)
    return seen["dataset"]


def test_small_preset_sets_a_short_schedule_and_a_small_dataset(monkeypatch, tmp_path):
    mod = _script("train_network", monkeypatch)
    config = _dataset_config_of(mod, monkeypatch, ["--preset", "small", "--out", str(tmp_path)])
    small = mod.PRESETS["small"]
    assert config.n_train == small["dataset"]["n_train"] < 160
    assert config.t_keep == small["dataset"]["t_keep"]
    # explicit flags still win over the preset
    config = _dataset_config_of(mod, monkeypatch, ["--preset", "small", "--out", str(tmp_path),
                                                   "--transient-runs", "3"])
    assert config.n_transient == 3 and config.n_train == 40


def test_small_preset_schedule_and_flags_that_override_it(monkeypatch, tmp_path):
    mod = _script("train_network", monkeypatch)
    seen = {}

    class FakeDataset:
        cuts = {"train": None, "val": None}
        cut_V_S = V_S = trajectories = cuts
        extra_cuts: dict = {}

    def record(*a, config=None, **k):
        seen["train"] = a[5]
        raise AssertionError("work started")
    monkeypatch.setattr(mod, "load_or_make_dataset", lambda *a, **k: FakeDataset())
    monkeypatch.setattr(mod, "train", record)
    with pytest.raises(AssertionError, match="work started"):
        mod.main(["--preset", "small", "--out", str(tmp_path)])
    assert seen["train"].stages == ((1, 60),) and seen["train"].max_minutes == 2.0
    with pytest.raises(AssertionError, match="work started"):
        mod.main(["--preset", "small", "--out", str(tmp_path), "--stages", "1:5"])
    assert seen["train"].stages == ((1, 5),) and seen["train"].patience == 60


def test_exclude_band_reaches_the_dataset_config(monkeypatch, tmp_path):
    mod = _script("train_network", monkeypatch)
    config = _dataset_config_of(mod, monkeypatch, ["--out", str(tmp_path), "--exclude-band",
                                                   "-38.5", "-37.5"])
    assert config.exclude_band == (-38.5, -37.5)
    with pytest.raises(SystemExit):            # outside V_S_range: refused before any work
        mod.main(["--out", str(tmp_path), "--exclude-band", "-50", "-48"])
