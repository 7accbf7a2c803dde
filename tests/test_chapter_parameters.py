"""A chapter stops on a parameter papermill injected that it does not have (issue 26).

``papermill -p fats True`` only warns and runs the chapter in its published mode; with
``check_parameters(globals(), fast=fast)`` in the settings cell the misspelt name is an
error that names it and the chapter's parameters, before any work.
"""
from __future__ import annotations

import sys

import pytest

from hhlib.chapter import ParameterError, check_parameters, injected_names

PARAMETERS_CELL = "fast = False\nretrain = False\n"
SETTINGS_CELL = ("from hhlib.chapter import check_parameters\n"
                 "check_parameters(globals(), fast=fast, retrain=retrain)\n"
                 "ran = True\n")


def _namespace(*cells: str) -> dict:
    """A kernel's user namespace after ``cells``, as IPython keeps it (``In`` holds sources)."""
    ns = {"In": ["", *cells], "Out": {}, "_": "", "_i1": cells[0] if cells else ""}
    for src in cells:
        exec(src, ns)
    return ns


def test_injected_names_are_read_from_papermills_cell():
    ns = _namespace(PARAMETERS_CELL, "# Parameters\nfats = True\nretrain = True\n")
    assert injected_names(ns) == ["fats", "retrain"]
    assert injected_names(_namespace(PARAMETERS_CELL)) == []
    assert injected_names({}) == []


def test_unknown_injected_name_is_an_error_naming_it_and_the_parameters():
    ns = _namespace(PARAMETERS_CELL, "# Parameters\nfats = True\n")
    with pytest.raises(ParameterError, match=r"'fats'.*fast, retrain") as e:
        check_parameters(ns, fast=ns["fast"], retrain=ns["retrain"])
    assert isinstance(e.value, TypeError) and len(str(e.value)) < 200


def test_known_injected_names_and_a_rerun_settings_cell_pass():
    ns = _namespace(PARAMETERS_CELL, "# Parameters\nfast = True\n")
    check_parameters(ns, fast=ns["fast"], retrain=ns["retrain"])
    # JupyterLab, no papermill: the chapter's own variables exist when the cell runs again
    ns = _namespace(PARAMETERS_CELL, "t_end = 120.0\nn_grid = 71\n")
    check_parameters(ns, fast=ns["fast"], retrain=ns["retrain"])


def test_a_parameter_of_another_chapter_is_unknown_here():
    ns = _namespace("fast = False\n", "# Parameters\nretrain = True\n")
    with pytest.raises(ParameterError, match=r"'retrain'.*are fast\b"):
        check_parameters(ns, fast=ns["fast"])


def test_non_boolean_value_is_a_short_error():
    ns = _namespace(PARAMETERS_CELL, "# Parameters\nfast = 'maybe'\n")
    with pytest.raises(ParameterError, match=r"fast must be True or False, got 'maybe'") as e:
        check_parameters(ns, fast=ns["fast"], retrain=ns["retrain"])
    assert "\n" not in str(e.value)


def test_in_a_real_ipython_shell():
    """``In`` holds each executed cell's source, as the check assumes."""
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    main = sys.modules["__main__"]    # the shell replaces it; multiprocessing's spawn needs it
    shell = InteractiveShell.instance()
    try:
        for src in (PARAMETERS_CELL, "# Parameters\nfats = True\n", SETTINGS_CELL):
            result = shell.run_cell(src, store_history=True, silent=False)
        assert isinstance(result.error_in_exec, ParameterError)
        assert "fats" in str(result.error_in_exec) and "ran" not in shell.user_ns
        shell.reset()
        for src in (PARAMETERS_CELL, "# Parameters\nfast = True\n", SETTINGS_CELL):
            result = shell.run_cell(src, store_history=True)
        assert result.success and shell.user_ns["ran"] and shell.user_ns["fast"] is True
    finally:
        InteractiveShell.clear_instance()
        sys.modules["__main__"] = main


def test_papermill_stops_a_notebook_on_a_misspelt_parameter(tmp_path):
    """End to end with papermill and a kernel, on a two-cell notebook (not a chapter)."""
    nbformat = pytest.importorskip("nbformat")
    papermill = pytest.importorskip("papermill")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(SETTINGS_CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "toy.ipynb")
    run = dict(kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    papermill.execute_notebook(tmp_path / "toy.ipynb", tmp_path / "ok.ipynb",
                               parameters={"fast": True}, **run)
    with pytest.raises(papermill.PapermillExecutionError, match="ParameterError") as e:
        papermill.execute_notebook(tmp_path / "toy.ipynb", tmp_path / "bad.ipynb",
                                   parameters={"fats": True}, **run)
    assert "'fats'" in str(e.value) and "fast, retrain" in str(e.value)


# The model chapter also takes the model's own parameters (papermill -p g_K 9.0).
MODEL_PARAMETERS_CELL = "fast = False\n"
MODEL_SETTINGS = ("from hhlib.chapter import check_parameters\n"
                  "from hhlib.ode.model import HHParams\n"
                  "model = check_parameters(globals(), model=HHParams, fast=fast)\n")


def test_a_model_parameter_is_returned_for_the_chapters_model():
    from hhlib.chapter import model_fields
    from hhlib.ode.model import HHParams

    ns = _namespace(MODEL_PARAMETERS_CELL, "# Parameters\ng_K = 9.0\nfast = True\n",
                    MODEL_SETTINGS)
    assert ns["model"] == {"g_K": 9.0} and HHParams(**ns["model"]).g_K == 9.0
    assert _namespace(MODEL_PARAMETERS_CELL, MODEL_SETTINGS)["model"] == {}
    fields = model_fields(HHParams)
    # the control parameter is the chapters' own; the bistable variant's fields have no number
    assert "g_K" in fields and "tau_S" in fields and "V_S" not in fields
    assert not {"variant", "tau_S_lo", "V_t", "k_t"} & set(fields)


def test_a_model_parameter_is_unknown_where_the_chapter_takes_none():
    ns = _namespace(MODEL_PARAMETERS_CELL, "# Parameters\ng_K = 9.0\n")
    with pytest.raises(ParameterError, match=r"'g_K'.*are fast;"):
        check_parameters(ns, fast=ns["fast"])


def test_a_misspelt_model_parameter_names_the_models_parameters():
    ns = _namespace(MODEL_PARAMETERS_CELL, "# Parameters\ng_k = 9.0\n")
    from hhlib.ode.model import HHParams

    with pytest.raises(ParameterError, match=r"'g_k'.*fast, and the model's g_Ca, g_K"):
        check_parameters(ns, model=HHParams, fast=ns["fast"])


@pytest.mark.parametrize("cell, match", [
    ("tau_S = -1.0\n", r"refuses.*tau_S must be > 0"),
    ("g_K = 'nine'\n", r"g_K must be a number, got 'nine'"),
    ("g_K = True\n", r"g_K must be a number, got True"),
    ("g_K = float('nan')\n", r"refuses.*g_K must be finite")])
def test_a_bad_model_value_stops_the_chapter_in_its_settings_cell(cell, match):
    from hhlib.ode.model import HHParams

    ns = _namespace(MODEL_PARAMETERS_CELL, "# Parameters\n" + cell)
    with pytest.raises(ParameterError, match=match):
        check_parameters(ns, model=HHParams, fast=ns["fast"])


def test_model_must_be_a_dataclass_type():
    from hhlib.chapter import model_fields
    from hhlib.ode.model import HHParams

    with pytest.raises(TypeError, match="model must be a dataclass type"):
        model_fields(HHParams())
    with pytest.raises(TypeError, match="model must be a dataclass type"):
        check_parameters({}, model=dict, fast=False)


def _bracket(notebook) -> tuple[float, float]:
    """The bursting-to-spiking bracket that chapter 1 prints, from an executed notebook."""
    import re

    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            m = re.search(r"bursting -> tonic spiking between V_S = (\S+) and (\S+) mV",
                          out.get("text", ""))
            if m:
                return float(m[1]), float(m[2])
    raise AssertionError(f"{notebook} prints no transition bracket")


def test_the_teachers_command_moves_the_model_chapters_transition(tmp_path):
    """The command of book/teaching.md, run as written (into a temporary folder)."""
    import re
    import subprocess
    from pathlib import Path


    repo = Path(__file__).resolve().parent.parent
    blocks = re.findall(r"```bash\n(.*?)```", (repo / "book" / "teaching.md").read_text(),
                        re.S)
    command = next(b for b in blocks if "-p g_K 9.0" in b).replace("_build/rerun", str(tmp_path))
    subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=repo, check=True,
                   capture_output=True, timeout=900)
    out = tmp_path / "01_model_gK9.ipynb"
    table = out.read_text()      # the parameter table is a Markdown output
    assert re.search(r"`g_K` \| 9(\.0)? \|", table), "the table must show g_K = 9"
    lo, hi = _bracket(out)
    ref_lo, ref_hi = _bracket(repo / "references" / "notebooks" / "01_model.ipynb")
    gap = abs(0.5 * (lo + hi) - 0.5 * (ref_lo + ref_hi))
    assert gap > (hi - lo) + (ref_hi - ref_lo), (lo, hi, ref_lo, ref_hi)


def test_the_teachers_command_runs_the_recovery_chapter_on_another_network(tmp_path):
    """book/teaching.md's command for chapter 5 on a network of the class's own, as written
    but for the network: a shipped seed member copied into a folder of its own stands in for
    `my-net` (a trained one would cost the test minutes)."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    import nbformat

    repo = Path(__file__).resolve().parent.parent
    blocks = re.findall(r"```bash\n(.*?)```", (repo / "book" / "teaching.md").read_text(),
                        re.S)
    command = next(b for b in blocks if "-p network my-net" in b)
    assert "-p weights_dir ../weights-scratch" in command
    folder = tmp_path / "weights"
    folder.mkdir()
    for suffix in (".pt", ".json"):
        shutil.copy(repo / "hhlib" / "weights" / f"original-seed1{suffix}", folder)
    command = (command.replace("_build/rerun", str(tmp_path))
               .replace("my-net", "original-seed1").replace("../weights-scratch", str(folder)))
    subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=repo, check=True,
                   capture_output=True, timeout=900)
    nb = nbformat.read(str(tmp_path / "05_original-seed1.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "original-seed1: network time step" in printed
    # a name the folder does not hold stops the chapter at its first step, naming what it has
    bad = command.replace("-p network original-seed1", "-p network my-nett")
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", bad], cwd=repo,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "no pretrained weights named 'my-nett'" in run.stderr
    assert "original-seed1" in run.stderr
