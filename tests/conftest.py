"""Shared helpers for the notebook tests.

Every chapter listed in ``_toc.yml`` is executed once per test session, in its published
mode (the defaults of its ``parameters`` cell, as ``make book`` runs it), by papermill in the
``book/`` directory, into ``tests/_executed/``; ``tests/test_published.py`` compares the
result with the committed reference results (``references/``, see ``tests/refs.py``).

This module must stay free of side effects at import time: ``tests/refs.py`` imports it.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BOOK = REPO / "book"
TESTS = REPO / "tests"
EXECUTED = TESTS / "_executed"
KERNEL_NAME = "python3"
# Published mode: the parameters cell's own defaults (fast=False), as the book is built.
PARAMETERS: dict = {}
# Per-cell limit for papermill (seconds); the whole test is bounded by pytest-timeout.
CELL_TIMEOUT = 1200

_CHAPTER_RE = re.compile(r"^book/\d\d_[^/]+$")


def _toc_files(node) -> list[str]:
    """All ``file:`` / ``root:`` entries of a jb-book table of contents, in order."""
    out: list[str] = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                out.append(node[key])
        for value in node.values():
            if isinstance(value, (list, dict)):
                out.extend(_toc_files(value))
    elif isinstance(node, list):
        for item in node:
            out.extend(_toc_files(item))
    return out


def chapter_notebooks() -> list[Path]:
    """Chapter notebooks (``book/NN_*.md``) listed in ``_toc.yml``, in book order."""
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    chapters = []
    for entry in _toc_files(toc):
        entry = entry.strip().removesuffix(".md").removesuffix(".ipynb")
        if _CHAPTER_RE.match(entry):
            path = REPO / f"{entry}.md"
            if path not in chapters:
                chapters.append(path)
    return chapters


def _is_jupytext_notebook(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return False
    header = text.split("---", 2)[1]
    return "kernelspec:" in header and ("jupytext:" in header or "file_format: mystnb" in header)


def _kernel_spec_problem() -> str | None:
    """Return a message if the ``python3`` kernel does not run this interpreter's environment."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        return f"no Jupyter kernel named {KERNEL_NAME!r}"
    exe = spec.argv[0]
    if exe in {"python", f"python{sys.version_info[0]}", "{python}"}:
        return None  # jupyter_client substitutes sys.executable for these
    if Path(exe).is_absolute() and Path(exe).parent == Path(sys.executable).parent:
        return None
    return (f"kernel {KERNEL_NAME!r} ({spec.resource_dir}) runs {exe}, "
            f"not this environment's {sys.executable}")


@pytest.fixture(scope="session")
def venv_kernel() -> str:
    """Make sure the ``python3`` kernel used by papermill is this environment's Python.

    ``make venv`` registers it; when the tests are started some other way and the kernel
    points elsewhere, it is registered here (inside ``sys.prefix``) as well.
    """
    problem = _kernel_spec_problem()
    if problem is not None:
        proc = subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix",
             "--name", KERNEL_NAME, "--display-name", "Python 3"],
            capture_output=True, text=True)
        problem2 = _kernel_spec_problem()
        if proc.returncode != 0 or problem2 is not None:
            pytest.fail(f"Jupyter kernel problem: {problem}; registering it failed: "
                        f"{problem2 or ''}\n{proc.stdout}\n{proc.stderr}")
    return KERNEL_NAME


class NotebookExecutor:
    """Runs the papermill stage and remembers the outcome for the rest of the session."""

    def __init__(self, kernel_name: str, out_dir: Path = EXECUTED):
        self.kernel_name = kernel_name
        self.out_dir = out_dir
        self.results: dict[Path, BaseException | None] = {}

    def executed_path(self, chapter: Path) -> Path:
        return self.out_dir / f"{chapter.stem}.ipynb"

    def execute(self, chapter: Path) -> Path:
        """Convert ``chapter`` with jupytext and execute it with papermill (published mode)."""
        import jupytext
        import papermill as pm

        if not chapter.exists():
            raise FileNotFoundError(f"{chapter.relative_to(REPO)} is listed in _toc.yml but missing")
        if not _is_jupytext_notebook(chapter):
            raise ValueError(f"{chapter.relative_to(REPO)} has no jupytext/kernelspec header")
        import book_cache

        key = book_cache.inputs_key(chapter)     # before it runs: the inputs it ran with
        self.out_dir.mkdir(parents=True, exist_ok=True)
        source = self.out_dir / f"{chapter.stem}.source.ipynb"
        output = self.executed_path(chapter)
        output.unlink(missing_ok=True)
        jupytext.write(jupytext.read(chapter), source, fmt="ipynb")
        try:
            pm.execute_notebook(
                str(source), str(output),
                parameters=PARAMETERS,
                kernel_name=self.kernel_name,
                cwd=str(BOOK),
                progress_bar=False,
                execution_timeout=CELL_TIMEOUT,
            )
        except BaseException as exc:
            self.results[chapter] = exc
            raise
        self.results[chapter] = None
        if self.out_dir == EXECUTED:     # `make book` may publish it (tests/book_cache.py)
            import nbformat

            import book_cache
            nb = nbformat.read(str(output), as_version=4)
            nb.metadata[book_cache.KEY_FIELD] = key
            nbformat.write(nb, str(output))
        return output

    def ensure(self, chapter: Path) -> Path:
        """Path of an up-to-date executed notebook, running papermill only when needed."""
        if chapter in self.results:
            exc = self.results[chapter]
            if exc is not None:
                pytest.fail(f"papermill stage failed for {chapter.name} "
                            f"(see test_papermill[{chapter.stem}]): {type(exc).__name__}",
                            pytrace=False)
            return self.executed_path(chapter)
        output = self.executed_path(chapter)
        if _current(output, chapter):
            return output
        return self.execute(chapter)


def _current(executed: Path, chapter: Path) -> bool:
    """Whether ``executed`` ran with the chapter's current inputs: its stamp (written by
    nbval's run or by :meth:`NotebookExecutor.execute`) is the inputs' key now."""
    import nbformat

    import book_cache

    if not executed.exists():
        return False
    stamp = nbformat.read(str(executed), as_version=4).metadata.get(book_cache.KEY_FIELD)
    return stamp == book_cache.inputs_key(chapter)


@pytest.fixture(scope="session")
def notebook_executor(venv_kernel) -> NotebookExecutor:
    return NotebookExecutor(venv_kernel)
