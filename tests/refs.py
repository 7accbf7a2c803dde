"""Reference results of the published book: make them, and compare a run with them.

The book's chapters are executed in their published mode (the ``parameters`` cell's
defaults, ``fast=False``) and their results are kept in ``references/NN_name.json``:

* ``glue``: every value the chapter glues (``myst_nb.glue``), as its text representation;
* ``cells``: the text outputs (stdout, text/plain, text/markdown) of every code cell, after
  the sanitisers of ``tests/nbval_sanitize.cfg`` (timings, addresses, progress bars).
  Images are not kept, stderr (warnings, progress) is not kept, and cells tagged
  ``nbval-ignore-output`` are kept for review but not compared.

``tests/test_published.py`` executes every chapter again and compares it with these files:
text outside numbers must be identical; numbers must agree within the tolerance declared
for the quantity in ``references/tolerances.toml`` (default: 1e-6 relative), and a number
printed with k decimals may also differ by one unit in its last printed digit, since a value
a hair from a rounding boundary rounds either way on different CPUs. Timings are declared
``compare = false``.

Regenerate the references on purpose (a changed result is then a reviewable diff)::

    make refs                                   # every chapter, published mode
    .venv/bin/python tests/refs.py regenerate 04_network        # one chapter
    .venv/bin/python tests/refs.py regenerate --from-executed   # from tests/_executed/
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOOK = REPO / "book"
REFERENCES = REPO / "references"
TOLERANCES = REFERENCES / "tolerances.toml"
SANITIZE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
EXECUTED = Path(__file__).resolve().parent / "_executed"
IGNORE_TAG = "nbval-ignore-output"
GLUE_PREFIX = "application/papermill.record/"
TEXT_MIMES = ("text/markdown", "text/plain")

# A number as printed: optional sign (ASCII or Unicode minus), digits with an optional
# fraction, optional exponent; not part of an identifier such as x0, float64 or fig-2.
NUMBER = re.compile(r"(?<![\w.])([-+\u2212]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([-+\u2212]?\d+))?(?![\w])")


# ----------------------------------------------------------------------------- sanitisers
def load_sanitizers(path: Path = SANITIZE) -> list[tuple[re.Pattern, str]]:
    """The regex/replace pairs of an nbval sanitiser file, in order."""
    pairs, regex = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("regex:"):
            regex = line[len("regex:"):].strip()
        elif line.startswith("replace:") and regex is not None:
            pairs.append((re.compile(regex), line[len("replace:"):].strip()))
            regex = None
    return pairs


def sanitize(text: str, sanitizers) -> str:
    for rx, rep in sanitizers:
        text = rx.sub(rep, text)
    return text.replace("\r\n", "\n").rstrip()


# ----------------------------------------------------------------------------- extraction
def _text(data: dict) -> str | None:
    for mime in TEXT_MIMES:
        if mime in data:
            v = data[mime]
            return "".join(v) if isinstance(v, list) else str(v)
    return None


def extract(notebook: Path) -> dict:
    """Glued values and sanitised text outputs of an executed notebook."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    sanitizers = load_sanitizers()
    glue: dict[str, dict] = {}
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.get("metadata", {}).get("tags", []))
        texts: list[str] = []
        joined = False          # the kernel splits a stream into chunks at random points:
        for out in cell.get("outputs", []):   # consecutive stdout chunks make one text
            kind = out.get("output_type")
            if kind == "stream":
                if out.get("name") == "stdout":
                    chunk = "".join(out.get("text", ""))
                    if joined:
                        texts[-1] += chunk
                    else:
                        texts.append(chunk)
                        joined = True
            elif kind in ("display_data", "execute_result"):
                meta = out.get("metadata", {}).get("scrapbook")
                data = out.get("data", {})
                if meta:                       # a glued value: invisible, kept apart
                    prefix = meta.get("mime_prefix", "")
                    plain = {k[len(prefix):] if k.startswith(prefix) else k: v
                             for k, v in data.items()}
                    text = _text(plain)
                    glue[meta["name"]] = {"text": text if text is not None else "<non-text>"}
                    continue
                text = _text(data)
                if text is not None and "image/png" not in data:
                    texts.append(text)
                    joined = False
            elif kind == "error":
                texts.append(f"ERROR {out.get('ename')}: {out.get('evalue')}")
                joined = False
        texts = [sanitize(t, sanitizers) for t in texts]
        src = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        cells.append({"first_line": src.strip().splitlines()[0][:80] if src.strip() else "",
                      "source_sha": hashlib.sha256(src.encode()).hexdigest()[:12],
                      "compared": IGNORE_TAG not in tags, "text": texts})
    return {"glue": glue, "cells": cells}


# ----------------------------------------------------------------------------- tolerances
@dataclass(frozen=True)
class Tolerance:
    rel: float
    abs: float
    compare: bool = True
    reason: str = ""


def load_tolerances(path: Path = TOLERANCES) -> tuple[Tolerance, list[dict]]:
    spec = tomllib.loads(path.read_text(encoding="utf-8"))
    d = spec["default"]
    default = Tolerance(float(d["rel"]), float(d["abs"]), True, d.get("reason", ""))
    rules = []
    for q in spec.get("quantity", []):
        for key in ("chapter", "names", "reason"):
            if key not in q:
                raise ValueError(f"{path.name}: every [[quantity]] needs {key!r}: {q}")
        rules.append(q)
    return default, rules


def tolerance_for(chapter: str, name: str, default: Tolerance, rules: list[dict]) -> Tolerance:
    """The last rule whose chapter and name patterns match, else the default."""
    tol = default
    for q in rules:
        if fnmatch.fnmatch(chapter, q["chapter"]) and any(
                fnmatch.fnmatch(name, pat) for pat in q["names"]):
            tol = Tolerance(float(q.get("rel", default.rel)), float(q.get("abs", default.abs)),
                            bool(q.get("compare", True)), q["reason"])
    return tol


# ----------------------------------------------------------------------------- comparison
def _number(sign: str, mant: str, exp: str | None) -> tuple[float, float]:
    """(value, one unit in the last printed digit; 0 for an integer, taken as exact)."""
    neg = sign in ("-", "\u2212")
    e = int(exp.replace("\u2212", "-")) if exp else 0
    value = float(mant) * 10.0 ** e * (-1 if neg else 1)
    if "." in mant:
        decimals = len(mant.split(".")[1])
        ulp = 10.0 ** (e - decimals)
    elif exp:
        ulp = 10.0 ** e
    else:
        ulp = 0.0
    return value, ulp


def _split(text: str) -> tuple[list[str], list[tuple[float, float, str]]]:
    words, numbers, pos = [], [], 0
    for m in NUMBER.finditer(text):
        words.append(text[pos:m.start()])
        value, ulp = _number(*m.groups())
        numbers.append((value, ulp, m.group(0)))
        pos = m.end()
    words.append(text[pos:])
    return words, numbers


def compare_text(ref: str, new: str, tol: Tolerance) -> str | None:
    """None if ``new`` matches ``ref``: the same words, and each number within
    max(abs, rel * |value|, one unit of its last printed digit); else what differs."""
    rw, rn = _split(ref)
    nw, nn = _split(new)
    if [w.split() for w in rw] != [w.split() for w in nw]:
        return "text differs"
    bad = []
    for (a, ua, sa), (b, ub, sb) in zip(rn, nn):
        if math.isnan(a) or math.isnan(b):
            if not (math.isnan(a) and math.isnan(b)):
                bad.append(f"{sa} -> {sb}")
            continue
        allowed = max(tol.abs, tol.rel * max(abs(a), abs(b)), max(ua, ub) * (1 + 1e-9))
        if abs(a - b) > allowed:
            bad.append(f"{sa} -> {sb} (|Δ| {abs(a - b):.3g} > {allowed:.3g})")
    return "; ".join(bad) if bad else None


def _snippet(text: str, n: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + " …"


def compare_cells(chapter: str, ref: dict, new: dict, tol: Tolerance) -> list[str]:
    """Differences between the compared text outputs of two extractions."""
    rc, nc = ref["cells"], new["cells"]
    if len(rc) != len(nc):
        return [f"{chapter}: {len(nc)} code cells, the references have {len(rc)}: "
                "the chapter's cells changed; if that is intended, run `make refs`"]
    problems = []
    for i, (r, n) in enumerate(zip(rc, nc)):
        if not (r["compared"] and n["compared"]):
            continue
        where = f"{chapter}, code cell {i + 1} ({n['first_line']!r})"
        if len(r["text"]) != len(n["text"]):
            problems.append(f"{where}: {len(n['text'])} text outputs, references "
                            f"{len(r['text'])}")
            continue
        for rt, nt in zip(r["text"], n["text"]):
            why = compare_text(rt, nt, tol)
            if why:
                problems.append(f"{where}: {why}\n  reference: {_snippet(rt)}\n"
                                f"  now:       {_snippet(nt)}")
    return problems


def compare_glue(chapter: str, ref: dict, new: dict, default: Tolerance,
                 rules: list[dict]) -> list[str]:
    problems = []
    rg, ng = ref["glue"], new["glue"]
    for name in sorted(set(rg) - set(ng)):
        problems.append(f"{chapter}: glued value {name!r} is in the references but no "
                        "longer glued")
    for name in sorted(set(ng) - set(rg)):
        problems.append(f"{chapter}: new glued value {name!r} is not in the references "
                        "(run `make refs`)")
    for name in sorted(set(rg) & set(ng)):
        tol = tolerance_for(chapter, name, default, rules)
        if not tol.compare:
            continue
        why = compare_text(rg[name]["text"], ng[name]["text"], tol)
        if why:
            problems.append(f"{chapter}: {name} = {_snippet(ng[name]['text'], 120)}, "
                            f"reference {_snippet(rg[name]['text'], 120)}: {why} "
                            f"[tolerance rel {tol.rel:g}, abs {tol.abs:g}]")
    return problems


def targets_regressions(chapter: str, ref: dict, new: dict) -> list[str]:
    """Targets recorded as met in the references that are missed now."""
    from hhlib.targets import from_json

    if "targets" not in ref["glue"]:
        return []
    import ast

    def parse(glued: dict) -> dict:
        return from_json(ast.literal_eval(glued["targets"]["text"]))

    old = parse(ref["glue"])
    if "targets" not in new["glue"]:
        return [f"{chapter}: the chapter no longer records its targets"]
    now = parse(new["glue"])
    out = []
    for name, r in sorted(old.items()):
        if not r["met"]:
            continue
        if name not in now:
            out.append(f"{chapter}: target {name!r} (met in the references, measured "
                       f"{r['measured']:.6g}) is no longer reported")
        elif not now[name]["met"]:
            out.append(f"{chapter}: target {name!r} is now MISSED: measured "
                       f"{now[name]['measured']:.6g}, references {r['measured']:.6g} (met)")
    return out


GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)")
GLUE_DIRECTIVE = re.compile(r"^```\{glue(?::\w+)?\}\s+(\S+)", re.M)


def glue_roles(chapter_md: Path) -> set[str]:
    """Names used by {glue} roles and directives in a chapter's Markdown."""
    text = chapter_md.read_text(encoding="utf-8")
    return set(GLUE_ROLE.findall(text)) | set(GLUE_DIRECTIVE.findall(text))


# ----------------------------------------------------------------------------- files
def reference_path(stem: str) -> Path:
    return REFERENCES / f"{stem}.json"


def load_reference(stem: str) -> dict:
    path = reference_path(stem)
    if not path.exists():
        raise FileNotFoundError(f"no reference results for {stem}: {path} is missing "
                                "(run `make refs`)")
    return json.loads(path.read_text(encoding="utf-8"))


def _machine() -> dict:
    """The build machine, from the benchmarks' own record (no date or load: they would
    change every reference file on every regeneration)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from benchmarks.common import machine_info

    info = machine_info(include_torch=True)
    keep = ("cpu_model", "python", "numpy", "scipy", "torch", "torch_cpu_capability")
    return {**{k: info[k] for k in keep if k in info},
            "NPY_DISABLE_CPU_FEATURES": os.environ.get("NPY_DISABLE_CPU_FEATURES", "")}


def write_reference(stem: str, extracted: dict) -> Path:
    """Write ``references/<stem>.json`` atomically."""
    REFERENCES.mkdir(exist_ok=True)
    doc = {"chapter": f"book/{stem}.md", "mode": "published (parameters cell defaults)",
           "regenerate": f".venv/bin/python tests/refs.py regenerate {stem}",
           "machine": _machine(), **extracted}
    path = reference_path(stem)
    fd, tmp = tempfile.mkstemp(dir=REFERENCES, prefix=f".{stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False, sort_keys=False)
            f.write("\n")
        os.chmod(tmp, 0o644)                  # mkstemp makes it private; it is a shared file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _main(argv: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from conftest import NotebookExecutor, chapter_notebooks

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    reg = sub.add_parser("regenerate", help="execute chapters (published mode) and write "
                                            "their reference results")
    reg.add_argument("chapters", nargs="*", help="chapter stems, e.g. 04_network (default: all)")
    reg.add_argument("--from-executed", action="store_true",
                     help="use the notebooks already executed in tests/_executed/")
    args = ap.parse_args(argv)
    chapters = chapter_notebooks()
    if args.chapters:
        known = {c.stem: c for c in chapters}
        unknown = [c for c in args.chapters if c not in known]
        if unknown:
            ap.error(f"unknown chapters {unknown}; known: {sorted(known)}")
        chapters = [known[c] for c in args.chapters]
    runner = NotebookExecutor("python3")
    for chapter in chapters:
        out = NotebookExecutor.executed_path(chapter)
        if not args.from_executed:
            print(f"executing {chapter.name} (published mode) ...", flush=True)
            runner.execute(chapter)
        elif not out.exists():
            ap.error(f"{out} does not exist: run without --from-executed")
        path = write_reference(chapter.stem, extract(out))
        print(f"wrote {path.relative_to(REPO)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
