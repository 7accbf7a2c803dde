"""`make book` publishes a chapter that `make test` executed only while none of its inputs
changed (tests/book_cache.py): a stale result cannot reach the book."""
from __future__ import annotations

import nbformat
import pytest

import book_cache
from conftest import chapter_notebooks


def _tree(tmp_path):
    for rel, text in {"book/01_x.md": "# x\n", "book/helpers.py": "A = 1\n",
                      "book/_code/ch01.py": "ROWS = 1\n",
                      "hhlib/ode/model.py": "g_K = 10.0\n", "hhlib/weights/original.json": "{}",
                      "benchmarks/run.py": "", "benchmarks/results/run.json": "{}",
                      "references/perturbed/unpinned.01_x.json": "{}",
                      "requirements.lock": "torch==2.13.0\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path / "book" / "01_x.md"


@pytest.mark.parametrize("edited", ["book/01_x.md", "book/helpers.py", "book/_code/ch01.py",
                                    "hhlib/ode/model.py",
                                    "hhlib/weights/original.json", "benchmarks/run.py",
                                    "benchmarks/results/run.json",
                                    "references/perturbed/unpinned.01_x.json",
                                    "requirements.lock"])
def test_every_input_changes_the_key(tmp_path, edited):
    chapter = _tree(tmp_path)
    before = book_cache.inputs_key(chapter, tmp_path)
    assert book_cache.inputs_key(chapter, tmp_path) == before
    with open(tmp_path / edited, "a") as f:
        f.write(" ")
    assert book_cache.inputs_key(chapter, tmp_path) != before


def test_kernel_settings_change_the_key(tmp_path, monkeypatch):
    chapter = _tree(tmp_path)
    before = book_cache.inputs_key(chapter, tmp_path)
    monkeypatch.setenv("NPY_DISABLE_CPU_FEATURES", "X86_V4")
    assert book_cache.inputs_key(chapter, tmp_path) != before


def test_sync_publishes_current_runs_and_drops_stale_ones(tmp_path, monkeypatch):
    import jupytext
    from jupyter_cache import get_cache

    chapter = chapter_notebooks()[0]
    for name in ("CACHE", "EXECUTED"):
        monkeypatch.setattr(book_cache, name, tmp_path / name.lower())
    monkeypatch.setattr(book_cache, "KEYS", tmp_path / "cache" / "keys.json")
    monkeypatch.setattr(book_cache, "_chapters", lambda: [chapter])
    nb = jupytext.read(chapter)
    nb.metadata[book_cache.KEY_FIELD] = book_cache.inputs_key(chapter)
    book_cache.EXECUTED.mkdir()
    nbformat.write(nb, str(book_cache.EXECUTED / f"{chapter.stem}.ipynb"))

    assert book_cache.sync(verbose=False) == {chapter.stem: "from make test"}
    assert get_cache(str(book_cache.CACHE)).match_cache_notebook(jupytext.read(chapter))

    # a library file changed after the tests ran: the chapter must be executed again
    monkeypatch.setattr(book_cache, "inputs_key", lambda chapter, root=None: "edited")
    assert book_cache.sync(verbose=False) == {chapter.stem: "to execute"}
    with pytest.raises(KeyError):
        get_cache(str(book_cache.CACHE)).match_cache_notebook(jupytext.read(chapter))


def test_lock_files_left_by_loading_weights_are_not_inputs(tmp_path):
    chapter = _tree(tmp_path)
    before = book_cache.inputs_key(chapter, tmp_path)
    (tmp_path / "hhlib" / "weights" / ".original.lock").write_text("")
    assert book_cache.inputs_key(chapter, tmp_path) == before
