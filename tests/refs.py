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

A refactor moves no result; after ``make refs`` it shows so against the commit before it::

    .venv/bin/python tests/refs.py same-as HEAD     # every compared value identical
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

# Last-bit perturbations under which the chapters are executed to measure the spread of
# every chaotic quantity (tests compare within it). Each changes the kernels of one family
# that cpu_fingerprint.py shows to dispatch by CPU: MKL's code path (torch's BLAS and vector
# maths), and NumPy's SIMD functions together with OpenBLAS's kernels (NumPy's BLAS, LAPACK).
PERTURBATIONS = {
    "unpinned": {"HHLIB_PIN_KERNELS": "0"},
    "mkl-avx2": {"HHLIB_PIN_KERNELS": "0", "MKL_CBWR": "AVX2"},
    "numpy-avx2-openblas-haswell": {
        "MKL_CBWR": "COMPATIBLE",
        "NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL,AVX512_SPR",
        "OPENBLAS_CORETYPE": "Haswell"},
}
PERTURBED = REFERENCES / "perturbed"
NOTEBOOKS = REFERENCES / "notebooks"

# Allowed excursion beyond the range spanned by the reference and the perturbed runs, as a
# multiple of that range on each side: three or four runs sample the spread of a chaotic
# quantity, they do not bound it.
SPREAD_MARGIN = 0.5

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


# A table column of timings or machine rates, by its header: its cells are replaced, the
# rest of the table (methods, errors, counts, verdicts) is compared.
TIMING_COLUMN = re.compile(r"(?i)\bwall\b|\bcpu\b|time \((?:s|ms)\)|speed-?up|\bms per|"
                           r"per traj|gflop|\bpeak\b|/s\b|\bcost\b")


def _sanitize_tables(text: str) -> tuple[str, set[int]]:
    """Timing columns of pipe tables replaced by TIME; also the indices of table lines."""
    lines = text.split("\n")
    table: set[int] = set()
    bar = re.compile(r"(?<!\\)\|")             # a column bar; "\|" is a bar inside a cell
    i = 0
    while i < len(lines):
        if len(bar.findall(lines[i])) < 2:
            i += 1
            continue
        j = i
        while j < len(lines) and len(bar.findall(lines[j])) >= 2:
            j += 1
        if j - i < 2 or len(bar.findall(lines[i])) != len(bar.findall(lines[i + 1])):
            i = j                                  # a line with bars, not a table
            continue
        header = bar.split(lines[i])
        timing = [k for k, h in enumerate(header) if TIMING_COLUMN.search(h)]
        for k in range(i + 1, j):
            cells = bar.split(lines[k])
            if len(cells) == len(header) and not set(lines[k]) <= set("|-: "):
                for c in timing:
                    cells[c] = " TIME "
                lines[k] = "|".join(cells)
        table.update(range(i, j))
        i = j
    return "\n".join(lines), table


def sanitize(text: str, sanitizers) -> str:
    """nbval's regex sanitisers on every line but table lines, whose timing columns are
    replaced instead (a header such as "CPU time (s) | max |dV| over 20 s" would otherwise
    lose the horizon "20 s" with the timings)."""
    text, table = _sanitize_tables(text.replace("\r\n", "\n"))
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if k not in table:
            for rx, rep in sanitizers:
                line = rx.sub(rep, line)
            lines[k] = line
    return "\n".join(lines).rstrip()


# ----------------------------------------------------------------------------- extraction
def _text(data: dict) -> str | None:
    for mime in TEXT_MIMES:
        if mime in data:
            v = data[mime]
            return "".join(v) if isinstance(v, list) else str(v)
    return None


def cell_texts(outputs: list) -> list[str]:
    """The compared text outputs of one code cell, sanitised: stdout (the kernel splits a
    stream into chunks at random points, so consecutive chunks make one text), Markdown or
    plain results and displays, errors; not glued values, images or stderr."""
    texts: list[str] = []
    joined = False
    for out in outputs:
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
            data = out.get("data", {})
            if out.get("metadata", {}).get("scrapbook"):
                continue
            text = _text(data)
            if text is not None and "image/png" not in data:
                texts.append(text)
                joined = False
        elif kind == "error":
            texts.append(f"ERROR {out.get('ename')}: {out.get('evalue')}")
            joined = False
    sanitizers = load_sanitizers()
    return [sanitize(t, sanitizers) for t in texts]


def glued(outputs: list) -> dict[str, dict]:
    """The values a cell glues (``myst_nb.glue``), as text."""
    out = {}
    for o in outputs:
        meta = o.get("metadata", {}).get("scrapbook")
        if o.get("output_type") in ("display_data", "execute_result") and meta:
            prefix = meta.get("mime_prefix", "")
            plain = {k[len(prefix):] if k.startswith(prefix) else k: v
                     for k, v in o.get("data", {}).items()}
            text = _text(plain)
            out[meta["name"]] = {"text": text if text is not None else "<non-text>"}
    return out


def extract(notebook: Path) -> dict:
    """Glued values and sanitised text outputs of an executed notebook."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    glue: dict[str, dict] = {}
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.get("metadata", {}).get("tags", []))
        glue.update(glued(cell.get("outputs", [])))
        src = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        cells.append({"first_line": src.strip().splitlines()[0][:80] if src.strip() else "",
                      "source_sha": hashlib.sha256(src.encode()).hexdigest()[:12],
                      "compared": IGNORE_TAG not in tags,
                      "text": cell_texts(cell.get("outputs", []))})
    return {"glue": glue, "cells": cells}


def write_notebook(stem: str, executed: Path) -> Path:
    """Commit the executed chapter as nbval's reference, without its images (figures are
    not compared) and without run-specific metadata, so the diff shows results only."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.execution_count = 1
        for out in cell.outputs:
            if "data" in out:
                for mime in [m for m in out.data if m.startswith("image/")]:
                    out.data[mime] = ""
            out.pop("execution_count", None)
            if out.get("output_type") == "execute_result":
                out["execution_count"] = 1
    nb.metadata.pop("papermill", None)
    NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    path = NOTEBOOKS / f"{stem}.ipynb"
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, str(tmp))
    os.replace(tmp, path)
    return path


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


def compare_text(ref: str, new: str, tol: Tolerance, observed: list[str] = ()) -> str | None:
    """None if ``new`` matches ``ref``: the same words, and each number within
    max(abs, rel * |value|, one unit of its last printed digit); else what differs.

    ``observed`` are the same output from runs under last-bit perturbations (see
    :data:`PERTURBATIONS`). With them, ``new`` may have the words of any of those runs, and
    each number may lie anywhere in the range the runs spanned, widened on each side by
    :data:`SPREAD_MARGIN` times that range (a few runs under-sample the range) or the
    tolerance above, whichever is larger. A deterministic quantity spans no range, so it is
    compared as tightly as without runs."""
    nw, nn = _split(new)
    shape = [w.split() for w in nw]
    runs = [_split(t) for t in (ref, *observed)]
    same = [nums for words, nums in runs if [w.split() for w in words] == shape]
    if not same:
        return "text differs"
    bad = []
    for i, (b, ub, sb) in enumerate(nn):
        seen = [nums[i] for nums in same]
        a, ua, sa = seen[0]
        if any(math.isnan(v[0]) for v in seen) or math.isnan(b):
            if not (math.isnan(b) and any(math.isnan(v[0]) for v in seen)):
                bad.append(f"{sa} -> {sb}")
            continue
        lo, hi = min(v[0] for v in seen), max(v[0] for v in seen)
        ulp = max([ub] + [v[1] for v in seen])
        allowed = max(tol.abs, tol.rel * max(abs(lo), abs(hi), abs(b)), ulp * (1 + 1e-9),
                      SPREAD_MARGIN * (hi - lo))
        if not (lo - allowed <= b <= hi + allowed):
            span = f" (perturbed runs {lo:.6g} to {hi:.6g})" if hi > lo else ""
            bad.append(f"{sa} -> {sb} (outside {sa} ± {allowed:.3g}{span})")
    return "; ".join(bad) if bad else None


def _snippet(text: str, n: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + " …"


def compare_cells(chapter: str, ref: dict, new: dict, tol: Tolerance,
                  perturbed: list[dict] = ()) -> list[str]:
    """Differences between the compared text outputs of two extractions (within the
    spread of ``perturbed`` runs of the same cells)."""
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
        runs = perturbed_texts(rc, i, perturbed)
        for k, (rt, nt) in enumerate(zip(r["text"], n["text"])):
            why = compare_text(rt, nt, tol, [run[k] for run in runs])
            if why:
                problems.append(f"{where}: {why}\n  reference: {_snippet(rt)}\n"
                                f"  now:       {_snippet(nt)}")
    return problems


def _occurrence(cells: list[dict], i: int) -> tuple[str, int]:
    """A cell's identity across runs of other versions: its source, and how many cells
    before it have the same source (cells are added and removed, so indices move)."""
    sha = cells[i]["source_sha"]
    return sha, sum(c["source_sha"] == sha for c in cells[:i])


def perturbed_texts(cells: list[dict], i: int, perturbed: list[dict]) -> list[list[str]]:
    """The text outputs of cell ``i`` in each perturbed run that executed the same cell."""
    want = _occurrence(cells, i)
    out = []
    for p in perturbed:
        for j in range(len(p["cells"])):
            if p["cells"][j]["source_sha"] == want[0] and _occurrence(p["cells"], j) == want:
                if len(p["cells"][j]["text"]) == len(cells[i]["text"]):
                    out.append(p["cells"][j]["text"])
                break
    return out


def stale_spread(ref: dict, perturbed: list[dict]) -> list[str]:
    """Compared cells with output, and glued values, that some perturbed run did not
    produce (the chapter changed after `make spread`): their spread is unmeasured."""
    out = []
    for i, c in enumerate(ref["cells"]):
        if c["compared"] and c["text"] and len(perturbed_texts(ref["cells"], i, perturbed)) \
                < len(perturbed):
            out.append(f"code cell {i + 1} ({c['first_line']!r})")
    for name in sorted(ref["glue"]):
        if any(name not in p["glue"] for p in perturbed):
            out.append(f"glued value {name!r}")
    return out


def compare_glue(chapter: str, ref: dict, new: dict, default: Tolerance,
                 rules: list[dict], perturbed: list[dict] = ()) -> list[str]:
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
        runs = [p["glue"][name]["text"] for p in perturbed if name in p["glue"]]
        why = compare_text(rg[name]["text"], ng[name]["text"], tol, runs)
        if why:
            problems.append(f"{chapter}: {name} = {_snippet(ng[name]['text'], 120)}, "
                            f"reference {_snippet(rg[name]['text'], 120)}: {why} "
                            f"[tolerance rel {tol.rel:g}, abs {tol.abs:g}]")
    return problems


def _targets(glued: dict) -> dict | None:
    import ast

    from hhlib.targets import from_json

    if "targets" not in glued:
        return None
    return from_json(ast.literal_eval(glued["targets"]["text"]))


def targets_regressions(chapter: str, ref: dict, new: dict,
                        perturbed: list[dict] = ()) -> list[str]:
    """Targets met in the references, and in every perturbed run, that are missed now.

    A target that a last-bit perturbation flips is not a stable verdict: it is not
    asserted here, and ``unstable_verdicts`` lists it for the chapter to say so."""
    old = _targets(ref["glue"])
    if old is None:
        return []
    now = _targets(new["glue"])
    if now is None:
        return [f"{chapter}: the chapter no longer records its targets"]
    flipped = unstable_targets(ref, perturbed)
    out = []
    for name, r in sorted(old.items()):
        if not r["met"] or name in flipped:
            continue
        if name not in now:
            out.append(f"{chapter}: target {name!r} (met in the references, measured "
                       f"{r['measured']:.6g}) is no longer reported")
        elif not now[name]["met"]:
            out.append(f"{chapter}: target {name!r} is now MISSED: measured "
                       f"{now[name]['measured']:.6g}, references {r['measured']:.6g} (met)")
    return out


def unstable_targets(ref: dict, perturbed: list[dict]) -> set[str]:
    """Targets whose verdict differs between the references and some perturbed run."""
    old = _targets(ref["glue"]) or {}
    out = set()
    for p in perturbed:
        other = _targets(p["glue"]) or {}
        out |= {k for k in old if k in other and other[k]["met"] != old[k]["met"]}
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


def load_perturbed(stem: str) -> list[dict]:
    """The chapter's results under every setting of :data:`PERTURBATIONS` that has been run."""
    out = []
    for setting in sorted(PERTURBATIONS):
        path = PERTURBED / f"{setting}.{stem}.json"
        if path.exists():
            out.append(json.loads(path.read_text(encoding="utf-8")))
    return out


def spread_report(stem: str) -> str:
    """What moved under the perturbations: glued values and printed numbers with their
    range, words that changed (verdicts), and targets whose verdict flipped."""
    ref, runs = load_reference(stem), load_perturbed(stem)
    lines = [f"## {stem}: {len(runs)} perturbed runs ({', '.join(p['setting'] for p in runs)})"]

    def moved(label: str, texts: list[str]) -> None:
        shapes = {tuple(tuple(w.split()) for w in _split(t)[0]) for t in texts}
        if len(shapes) > 1:
            lines.append(f"- {label}: WORDS DIFFER: " + " || ".join(
                _snippet(t, 160) for t in dict.fromkeys(texts)))
            return
        nums = [_split(t)[1] for t in texts]
        for k in range(len(nums[0])):
            vals = [n[k] for n in nums]
            lo, hi = min(v[0] for v in vals), max(v[0] for v in vals)
            if hi > lo:
                ulp = max(v[1] for v in vals)
                flag = "  (beyond its printed precision)" if ulp and hi - lo > ulp else ""
                lines.append(f"- {label}, number {k + 1} ({vals[0][2]}): {lo:.6g} to {hi:.6g}"
                             f"{flag}")

    for name in sorted(ref["glue"]):
        moved(f"glue {name}", [ref["glue"][name]["text"]]
              + [p["glue"][name]["text"] for p in runs if name in p["glue"]])
    for i, c in enumerate(ref["cells"]):
        if c["compared"]:
            others = perturbed_texts(ref["cells"], i, runs)
            for k, t in enumerate(c["text"]):
                moved(f"cell {i + 1} output {k + 1}", [t] + [o[k] for o in others])
    flips = unstable_targets(ref, runs)
    if flips:
        lines.append(f"- TARGETS WHOSE VERDICT FLIPPED: {sorted(flips)}")
    return "\n".join(lines)


def _pinned() -> bool:
    from hhlib import kernels

    return kernels.pinning_enabled() and all(os.environ.get(k) == v
                                             for k, v in kernels.PINNED.items())


def _machine() -> dict:
    """The build machine, from the benchmarks' own record (no date or load: they would
    change every reference file on every regeneration)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from benchmarks.common import machine_info

    info = machine_info(include_torch=True)
    keep = ("cpu_model", "python", "numpy", "scipy", "torch", "torch_cpu_capability")
    return {**{k: info[k] for k in keep if k in info},
            **{k: os.environ.get(k, "") for k in ("HHLIB_PIN_KERNELS", "MKL_CBWR",
                                                  "NPY_DISABLE_CPU_FEATURES",
                                                  "OPENBLAS_CORETYPE")}}


def write_reference(stem: str, extracted: dict) -> Path:
    """Write ``references/<stem>.json`` atomically."""
    REFERENCES.mkdir(exist_ok=True)
    doc = {"chapter": f"book/{stem}.md", "mode": "published (parameters cell defaults)",
           "regenerate": f".venv/bin/python tests/refs.py regenerate {stem}",
           "machine": _machine(), **extracted}
    path = reference_path(stem)
    _write_json(path, doc)
    return path


def _write_json(path: Path, doc: dict) -> None:
    """Write ``doc`` to ``path`` atomically."""
    stem = path.stem
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False, sort_keys=False)
            f.write("\n")
        os.chmod(tmp, 0o644)                  # mkstemp makes it private; it is a shared file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise




def _perturb(setting: str, chapters: list[Path], executor_cls) -> int:
    env = PERTURBATIONS[setting]
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)                       # inherited by papermill's kernels
    try:
        runner = executor_cls("python3", out_dir=EXECUTED.parent / "_perturbed" / setting)
        for chapter in chapters:
            print(f"executing {chapter.name} under {setting} {env} ...", flush=True)
            out = runner.execute(chapter)
            PERTURBED.mkdir(parents=True, exist_ok=True)
            path = PERTURBED / f"{setting}.{chapter.stem}.json"
            doc = {"chapter": f"book/{chapter.stem}.md", "setting": setting, "env": env,
                   "regenerate": f".venv/bin/python tests/refs.py perturb {setting}",
                   "machine": _machine(), **extract(out)}
            _write_json(path, doc)
            print(f"wrote {path.relative_to(REPO)}", flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return 0


def same_results(stem: str, old: dict, new: dict) -> tuple[list[str], str]:
    """A refactor's check: every glued value (but those declared ``compare = false``) and
    every compared text output of ``new`` is character for character the one of ``old``.
    Cells are paired by position, so a changed cell source (an import moved) is allowed."""
    default, rules = load_tolerances()
    problems = []
    if set(old["glue"]) != set(new["glue"]):
        problems.append(f"{stem}: glued names differ: only before "
                        f"{sorted(set(old['glue']) - set(new['glue']))}, only now "
                        f"{sorted(set(new['glue']) - set(old['glue']))}")
    glue = [n for n in sorted(set(old["glue"]) & set(new["glue"]))
            if tolerance_for(stem, n, default, rules).compare]
    problems += [f"{stem}: {n} = {_snippet(new['glue'][n]['text'], 120)}, before "
                 f"{_snippet(old['glue'][n]['text'], 120)}"
                 for n in glue if old["glue"][n]["text"] != new["glue"][n]["text"]]
    oc, nc = old["cells"], new["cells"]
    if len(oc) != len(nc):
        problems.append(f"{stem}: {len(nc)} code cells, {len(oc)} before")
        return problems, ""
    texts = 0
    for i, (o, n) in enumerate(zip(oc, nc)):
        if o["compared"] != n["compared"]:
            problems.append(f"{stem}, code cell {i + 1}: compared before {o['compared']}, "
                            f"now {n['compared']}")
        elif o["compared"]:
            texts += len(o["text"])
            if o["text"] != n["text"]:
                problems.append(f"{stem}, code cell {i + 1} ({n['first_line']!r}): "
                                f"text outputs differ\n  before: {_snippet(str(o['text']))}"
                                f"\n  now:    {_snippet(str(n['text']))}")
    moved = sum(o["source_sha"] != n["source_sha"] for o, n in zip(oc, nc))
    return problems, (f"{stem}: {len(glue)} glued values and {texts} text outputs identical "
                      f"({len(old['glue']) - len(glue)} values not compared by declaration; "
                      f"{moved} of {len(oc)} cells' sources changed)")


def _same_as(rev: str, stems: list[str]) -> int:
    import subprocess

    bad = 0
    for stem in stems:
        rel = reference_path(stem).relative_to(REPO)
        old = json.loads(subprocess.run(["git", "show", f"{rev}:{rel}"], cwd=REPO, check=True,
                                        capture_output=True, text=True).stdout)
        problems, summary = same_results(stem, old, load_reference(stem))
        print("\n".join(problems) if problems else summary, flush=True)
        bad += bool(problems)
    return 1 if bad else 0


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
    reg.add_argument("--allow-unpinned", action="store_true",
                     help="write references although the CPU kernels are not pinned")
    per = sub.add_parser("perturb", help="execute chapters under one of the PERTURBATIONS "
                                         "and record their results in references/perturbed/")
    per.add_argument("setting", choices=sorted(PERTURBATIONS))
    per.add_argument("chapters", nargs="*", help="chapter stems (default: all)")
    sub.add_parser("spread-report", help="list the quantities the perturbed runs moved, and "
                                         "every verdict (words, targets) they flipped")
    same = sub.add_parser("same-as", help="after a refactor and `make refs`: check that every "
                          "compared result equals the one in the references at git REV")
    same.add_argument("rev", help="a git revision, e.g. main or HEAD~1")
    same.add_argument("chapters", nargs="*", help="chapter stems (default: all)")
    args = ap.parse_args(argv)
    if args.cmd == "spread-report":
        for chapter in chapter_notebooks():
            print(spread_report(chapter.stem))
        return 0
    chapters = chapter_notebooks()
    if args.chapters:
        known = {c.stem: c for c in chapters}
        unknown = [c for c in args.chapters if c not in known]
        if unknown:
            ap.error(f"unknown chapters {unknown}; known: {sorted(known)}")
        chapters = [known[c] for c in args.chapters]
    if args.cmd == "same-as":
        return _same_as(args.rev, [c.stem for c in chapters])
    if args.cmd == "perturb":
        return _perturb(args.setting, chapters, NotebookExecutor)
    if not args.allow_unpinned and not _pinned():
        ap.error("the references are made with the CPU kernels pinned (hhlib/kernels.py): "
                 f"MKL_CBWR is {os.environ.get('MKL_CBWR')!r} here; run `make refs` from the "
                 "project's environment without HHLIB_PIN_KERNELS=0 or MKL_CBWR set")
    runner = NotebookExecutor("python3")
    for chapter in chapters:
        out = runner.executed_path(chapter)
        if not args.from_executed:
            print(f"executing {chapter.name} (published mode) ...", flush=True)
            runner.execute(chapter)
        elif not out.exists():
            ap.error(f"{out} does not exist: run without --from-executed")
        path = write_reference(chapter.stem, extract(out))
        print(f"wrote {path.relative_to(REPO)}", flush=True)
        path = write_notebook(chapter.stem, out)
        print(f"wrote {path.relative_to(REPO)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
