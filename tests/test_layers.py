"""hhlib's modules form layers (issue 25): the base modules (argument checks, kernel pinning,
targets, plotting, the cache, chapter parameters), then ``ode``, ``maps`` and ``dynamics``, each
importing only the layers before it; no import circle; and no import inside a function body but
the few listed in LAZY, each kept there for a reason this file checks."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "hhlib"
HHLIB = Path(__file__).resolve().parent.parent / PACKAGE
# The layers in order; a module directly in hhlib/ is of the base layer "".
LAYERS = ("", "ode", "maps", "dynamics")

# What a module may import inside a function -> (the modules that do, why not at their top).
# A name starting with "." is a module of hhlib. test_lazy_imports_keep_their_importer_light
# checks that importing each such module does not load the name anyway.
LAZY = {
    "torch": ({"ode.model", "dynamics.recovery"}, "0.9 s to import: `import hhlib`, and the "
              "ODE side of recovery that bistability uses, stay free of it"),
    "torch.func": ({"ode.model"}, "part of torch, as above"),
    "tqdm.auto": ({"ode.integrate", "maps.network", "maps.training"}, "in a Jupyter kernel "
                  "without ipywidgets importing it prints a warning: only a run with "
                  "progress=True may"),
    ".ode.integrate": ({"dynamics.recovery"}, "numba (0.15 s), only for sweep_runner's ODE runs"),
    ".ode.data": ({"maps.network"}, "numba and the integrator (0.15 s), only for load_ensemble"),
    "scipy.stats": ({"dynamics.recovery"}, "0.25 s to import, for one rank correlation"),
    "pysindy": ({"dynamics.baselines"}, "0.45 s to import, only for the SINDy fits"),
    "numba": ({"cache"}, "0.13 s to import, only for its version"),
}


def module_ids(package: Path) -> dict[str, Path]:
    """Every module of the package by its dotted name inside it: ``kernels``, ``ode.model``;
    a package's ``__init__`` as ``ode.__init__`` (the package itself: ``__init__``)."""
    return {".".join(p.relative_to(package).with_suffix("").parts): p
            for p in sorted(package.rglob("*.py"))}


def _imported(node: ast.Import | ast.ImportFrom, me: str, modules: set[str]) -> list[str]:
    """What ``node`` in module ``me`` imports: a module of the package as ".dotted.name"
    (a package as ".name.__init__"), anything else as written."""
    def known(dotted: str) -> str:
        for cand in (dotted, f"{dotted}.__init__" if dotted else "__init__"):
            if cand in modules:
                return "." + cand
        return "." + dotted.rsplit(".", 1)[0] if "." in dotted else ".__init__"

    if isinstance(node, ast.Import):
        return [known(".".join(n.split(".")[1:])) if n.split(".")[0] == PACKAGE else n
                for n in (a.name for a in node.names)]
    if node.level == 0:
        mod = node.module or ""
        if mod != PACKAGE and not mod.startswith(f"{PACKAGE}."):
            return [mod]
        base = mod.split(".")[1:]
    else:
        here = me.split(".")[:-1]              # the package ``me`` is in
        up = node.level - 1
        if up > len(here):
            raise ValueError(f"{me}: relative import beyond the package")
        base = here[:len(here) - up] + (node.module.split(".") if node.module else [])
    if node.module is None or (node.level == 0 and node.module == PACKAGE):
        # ``from . import x``: the module x, or a name of that package's __init__
        return [known(".".join([*base, a.name])) if ".".join([*base, a.name]) in modules
                or f"{'.'.join([*base, a.name])}.__init__" in modules
                else known(".".join(base)) for a in node.names]
    return [known(".".join(base))]


def import_graph(package: Path) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """Module -> the package's modules it imports (at its top or in a function), and every
    import inside a function as (module, function, imported name)."""
    paths = module_ids(package)
    modules = set(paths)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    inside: list[tuple[str, str, str]] = []
    for m, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_function = {}
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    in_function.setdefault(id(node), fn.name)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in _imported(node, m, modules):
                if name.startswith(".") and name[1:] in modules:
                    graph[m].add(name[1:])
                if id(node) in in_function:
                    inside.append((m, in_function[id(node)], name))
    return graph, inside


def layer(module: str) -> str:
    first = module.split(".")[0]
    return first if "." in module and first in LAYERS else ""


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module imports a later layer. The package's own
    ``__init__`` (the version, and its short face) is outside the rule both ways."""
    return sorted((m, n) for m, ns in graph.items() for n in ns
                  if "__init__" not in (m, n)
                  and LAYERS.index(layer(n)) > LAYERS.index(layer(m)))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: each strongly connected group of two or more modules, or a module
    that imports itself (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in graph.get(v, ()):
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def unexplained(inside: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [(m, fn, name) for m, fn, name in inside
            if name not in LAZY or m not in LAZY[name][0]]


def test_hhlib_has_no_import_circle():
    graph, _ = import_graph(HHLIB)
    assert {"ode.model", "maps.training", "dynamics.evaluation"} <= set(graph)  # it is read
    assert "maps.scores" in graph["maps.training"]
    assert cycles(graph) == []


def test_each_layer_imports_only_the_layers_before_it():
    graph, _ = import_graph(HHLIB)
    assert {layer(m) for m in graph} == set(LAYERS)
    assert "ode.model" in graph["dynamics.recovery"]       # a downward import is seen
    assert upward_imports(graph) == []


def test_no_import_inside_a_function_but_the_listed_ones():
    _, inside = import_graph(HHLIB)
    assert unexplained(inside) == [], (
        "import these at the module's top, or add them to LAZY with the reason")


def test_every_listed_lazy_import_is_still_made():
    _, inside = import_graph(HHLIB)
    made = {(m, name) for m, _, name in inside}
    stale = [(m, name) for name, (ms, _) in LAZY.items() for m in sorted(ms)
             if (m, name) not in made]
    assert stale == []


def test_a_circle_a_hidden_and_an_upward_import_are_found(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "ode").mkdir(parents=True)
    (pkg / "maps").mkdir()
    for init in ("__init__.py", "ode/__init__.py", "maps/__init__.py"):
        (pkg / init).write_text("")
    (pkg / "checks.py").write_text("")
    (pkg / "ode" / "low.py").write_text("import math\nfrom ..checks import x\n\n\ndef f():\n"
                                        "    from ..maps.high import g\n    return g()\n")
    (pkg / "maps" / "high.py").write_text("from ..ode.low import f\nfrom . import other\n")
    (pkg / "maps" / "other.py").write_text("import hhlib.maps.other\n")
    graph, inside = import_graph(pkg)
    assert graph == {"__init__": set(), "checks": set(), "ode.__init__": set(),
                     "maps.__init__": set(), "ode.low": {"checks", "maps.high"},
                     "maps.high": {"ode.low", "maps.other"}, "maps.other": {"maps.other"}}
    assert sorted(cycles(graph)) == [["maps.high", "ode.low"], ["maps.other"]]
    assert unexplained(inside) == [("ode.low", "f", ".maps.high")]
    assert upward_imports(graph) == [("ode.low", "maps.high")]
    (pkg / "ode" / "low.py").write_text("import math\n")
    graph, inside = import_graph(pkg)
    assert cycles(graph) == [["maps.other"]] and inside == [] and upward_imports(graph) == []


@pytest.mark.parametrize("module", sorted({m for ms, _ in LAZY.values() for m in ms}))
def test_lazy_imports_keep_their_importer_light(module):
    """Importing the module does not load what it imports lazily: otherwise that import can
    move to its top at no cost."""
    names = sorted(PACKAGE + n if n.startswith(".") else n
                   for n, (ms, _) in LAZY.items() if module in ms)
    code = (f"import sys, {PACKAGE}.{module}; "
            f"print(' '.join(n for n in {names!r} if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=HHLIB.parent)
    assert out.stdout.split() == [], f"importing {PACKAGE}.{module} loads them anyway"


# --- each chapter's presentation beside it (issue 25, item 2) ------------------------------

REPO = HHLIB.parent
COMPANIONS = REPO / "book" / "_code"


def companion_importers(root: Path) -> dict[str, set[str]]:
    """Who imports each companion ``book/_code/chNN.py``: the repository's files (chapters by
    their file name, Python files by their path), tests left out."""
    pattern = re.compile(r"^\s*(?:from\s+_code\.(ch\d\d)\b|import\s+_code\.(ch\d\d)\b"
                         r"|from\s+_code\s+import\s+(ch\d\d)\b)", re.M)
    found: dict[str, set[str]] = {}
    files = [*root.glob("book/*.md"), *root.glob("book/**/*.py"), *root.glob("hhlib/**/*.py"),
             *root.glob("benchmarks/**/*.py"), *root.glob("scripts/*.py")]
    for path in files:
        for match in pattern.finditer(path.read_text()):
            name = next(g for g in match.groups() if g)
            found.setdefault(name, set()).add(str(path.relative_to(root)))
    return found


def misplaced_imports(root: Path) -> list[tuple[str, str]]:
    """(companion, importer) pairs where the importer is not the companion's own chapter."""
    bad = []
    for name, importers in sorted(companion_importers(root).items()):
        for importer in sorted(importers):
            own = importer.startswith(f"book/{name[2:]}_") and importer.endswith(".md")
            if not own and importer != f"book/_code/{name}.py":
                bad.append((name, importer))
    return bad


def test_each_companion_is_imported_by_its_chapter_alone():
    assert misplaced_imports(REPO) == []
    for path in sorted(COMPANIONS.glob("ch*.py")):
        assert path.stem in companion_importers(REPO), f"{path} is imported by no chapter"


def test_a_companion_imported_elsewhere_is_found(tmp_path):
    for rel, text in {"book/05_x.md": "```{code-cell}\nfrom _code.ch05 import rows\n```\n",
                      "book/06_y.md": "from _code.ch05 import rows\n",
                      "hhlib/dynamics/recovery.py": "import _code.ch06\n",
                      "book/_code/ch05.py": "ROWS = 1\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert misplaced_imports(tmp_path) == [("ch05", "book/06_y.md"),
                                           ("ch06", "hhlib/dynamics/recovery.py")]


# --- a layout a newcomer reads in a minute (issue 25, item 5) --------------------------------

def test_every_module_and_layer_opens_with_what_it_holds():
    missing = [m for m, path in module_ids(HHLIB).items()
               if m != "__init__" and not (ast.get_docstring(ast.parse(path.read_text()))
                                           or "").strip()]
    assert missing == []


def test_the_readme_layout_names_every_folder_of_the_library_and_the_book():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    tree = re.search(r"## Layout\n\n```\n(.*?)```", text, re.S)
    assert tree, "README.md's Layout section opens with the tree"
    folders = {p.name for p in HHLIB.iterdir() if p.is_dir() and not p.name.startswith("_")}
    folders |= {p.name for p in (REPO / "book").iterdir() if p.is_dir()
                and not p.name.startswith((".", "__"))}
    named = set(re.findall(r"^\s*(\w+)/", tree.group(1), re.M))
    assert folders - named == set()
