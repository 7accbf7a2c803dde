"""Each chapter executed once for `make test` and `make book` together.

`make test` executes every chapter (nbval, tests/nbval_book.py) and writes the executed
notebook to ``tests/_executed/``, stamped with :func:`inputs_key`: a hash of everything that
can change a chapter's results (the chapter, its helpers in ``book/``, ``hhlib`` and the
shipped weights, ``benchmarks/`` and their recorded results, ``references/perturbed/``
which the chapters read, ``requirements.lock``, and the kernel settings of
``hhlib/kernels.py``). Before `make book` builds, :func:`sync` hands Jupyter Book's
execution cache (``_build/.jupyter_cache``, ``execute_notebooks: cache``) every executed
notebook whose stamp is the current key, and removes every cached chapter whose key is not
current, so that Jupyter Book executes exactly the chapters whose inputs changed. A stale
result cannot be published: a changed input changes the key.

    .venv/bin/python tests/book_cache.py sync      # what `make book` runs first
    .venv/bin/python tests/book_cache.py clear     # forget every cached chapter
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "_build" / ".jupyter_cache"
KEYS = CACHE / "hh-inputs.json"
EXECUTED = REPO / "tests" / "_executed"
KEY_FIELD = "hh_inputs_key"


def _inputs(root: Path, chapter: Path) -> list[Path]:
    shared = [*sorted((root / "hhlib").rglob("*.py")), *sorted((root / "hhlib" / "weights").glob("*")),
              *sorted((root / "benchmarks").rglob("*.py")),
              *sorted((root / "benchmarks" / "results").glob("*")),
              *sorted((root / "book").rglob("*.py")),     # perturbations.py, _code/
              *sorted((root / "references" / "perturbed").glob("*.json")),
              root / "requirements.lock"]
    # dot files are not inputs: loading weights leaves hhlib/weights/.name.lock behind
    return [chapter, *[p for p in shared if p.is_file() and not p.name.startswith(".")]]


def inputs_key(chapter: Path, root: Path = REPO) -> str:
    """sha256 of every input of ``chapter`` (file names and contents) and the kernel settings."""
    h = hashlib.sha256()
    for path in _inputs(root, chapter):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    from hhlib import kernels

    kernels.pin()       # the settings every process of the environment runs with
    h.update(json.dumps({k: os.environ.get(k) for k in kernels.SETTINGS}, sort_keys=True).encode())
    return h.hexdigest()


def _chapters() -> list[Path]:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import chapter_notebooks

    return chapter_notebooks()


def sync(verbose: bool = True) -> dict[str, str]:
    """Bring Jupyter Book's cache in line with the current inputs; what happened to each."""
    import jupytext
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(CACHE))
    keys = json.loads(KEYS.read_text()) if KEYS.exists() else {}
    done = {}
    for chapter in _chapters():
        key = inputs_key(chapter)
        name = chapter.stem
        executed = EXECUTED / f"{name}.ipynb"
        current = jupytext.read(chapter)
        ran = nbformat.read(str(executed), as_version=4) if executed.exists() else None
        if ran is not None and ran.metadata.get(KEY_FIELD) == key:
            ran.metadata["kernelspec"] = current.metadata.get("kernelspec", {})
            cache.cache_notebook_bundle(CacheBundleIn(ran, str(chapter)),
                                        check_validity=False, overwrite=True)
            keys[name] = key
            done[name] = "from make test"
        elif keys.get(name) == key:
            done[name] = "cached"
        else:
            for rec in cache.list_cache_records():
                if rec.uri == str(chapter):
                    cache.remove_cache(rec.pk)
            keys.pop(name, None)
            done[name] = "to execute"
    CACHE.mkdir(parents=True, exist_ok=True)
    KEYS.write_text(json.dumps(keys, indent=1) + "\n")
    if verbose:
        for name, what in done.items():
            print(f"{name}: {what}")
    return done


def stamp_built() -> None:
    """After a successful build every cached chapter is current: record their keys."""
    keys = json.loads(KEYS.read_text()) if KEYS.exists() else {}
    for chapter in _chapters():
        keys[chapter.stem] = inputs_key(chapter)
    KEYS.write_text(json.dumps(keys, indent=1) + "\n")


def clear() -> None:
    import shutil

    shutil.rmtree(CACHE, ignore_errors=True)


if __name__ == "__main__":
    commands = {"sync": sync, "stamp": stamp_built, "clear": clear}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: book_cache.py {{{'|'.join(commands)}}}")
    commands[sys.argv[1]]()
