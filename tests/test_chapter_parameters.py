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
