"""Answer-blind discovery (issue 23): no Newton search, continuation or Neimark–Sacker
search in a chapter or in the library starts from the ODE's answer.

The check reads the code: a value computed from the ODE's fixed point, its branch or its
Hopf point (`fixed_points`, `fixed_point_branch`, `hopf_point`, `locate_hopf`, or a
comparison's `ode_state`) is tainted, and so is every name assigned from a tainted
expression; no tainted value may reach the starting-state argument of a map's Newton
search, continuation or Neimark–Sacker search. Matching a map's fixed points to the ODE's
after they are found (`compare_fixed_points`, `map_fixed_point_near`) is allowed."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import jupytext
import pytest

import hhlib

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))

SOURCES = {"fixed_points", "fixed_point_branch", "hopf_point", "locate_hopf"}
SOURCE_ATTRS = {"ode_state", "ode_eigenvalues"}
# function -> (position of the start argument, its keyword)
SINKS = {"map_fixed_points": (2, "starts"), "continue_map_fixed_point": (2, "x_start"),
         "map_hopf_point": (2, "x_start")}


def _name(f: ast.expr) -> str | None:
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _tainted(expr: ast.AST, names: set[str]) -> bool:
    for n in ast.walk(expr):
        if isinstance(n, ast.Call) and _name(n.func) in SOURCES:
            return True
        if isinstance(n, ast.Attribute) and n.attr in SOURCE_ATTRS:
            return True
        if isinstance(n, ast.Name) and n.id in names:
            return True
    return False


def _targets(t: ast.AST):
    for n in ast.walk(t):
        if isinstance(n, ast.Name):
            yield n.id


def seeded_calls(code: str) -> list[str]:
    """Calls in ``code`` whose start argument depends on the ODE's answer, as text."""
    tree = ast.parse(code)
    names: set[str] = set()
    changed = True
    while changed:                     # taint flows through assignments, in any order
        changed = False
        for node in ast.walk(tree):
            pairs = []
            if isinstance(node, ast.Assign):
                pairs = [(t, node.value) for t in node.targets]
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
                pairs = [(node.target, node.value)]
            elif isinstance(node, (ast.For, ast.comprehension)):
                pairs = [(node.target, node.iter)]
            for target, value in pairs:
                if _tainted(value, names):
                    new = set(_targets(target)) - names
                    if new:
                        names |= new
                        changed = True
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in SINKS:
            pos, kw = SINKS[_name(node.func)]
            args = [a for i, a in enumerate(node.args) if i == pos]
            args += [k.value for k in node.keywords if k.arg == kw]
            if any(_tainted(a, names) for a in args):
                bad.append(ast.unparse(node))
    return bad


def _chapter_code(path: Path) -> str:
    nb = jupytext.read(path)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code"
                     and not c.source.lstrip().startswith(("%", "!")))


def test_the_check_catches_a_seeded_search():
    code = ("x0 = fixed_points(P.replace(V_S=-46.0))[0].state\n"
            "guess = x0 + 0.1\n"
            "v = map_hopf_point(net, (-46.0, -44.0), guess)\n"
            "st = continue_map_fixed_point(net, grid, x_start=cmp.ode_state[0])\n"
            "fps = map_fixed_points(net, -40.0, starts=ode_g.states[None])\n"
            "ode_g = fixed_point_branch(PB, grid)\n")
    assert len(seeded_calls(code)) == 3
    clean = ("fps = map_fixed_points(net, -46.0)\n"
             "v = map_hopf_point(net, (-46.0, -44.0), fps[0].state)\n"
             "ref = fixed_points(P)[0].state\n"
             "near = map_fixed_point_near(net, -40.0, ref)\n")
    assert seeded_calls(clean) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_chapter_seeds_a_search_with_the_odes_answer(path):
    assert seeded_calls(_chapter_code(path)) == []


def test_no_library_function_seeds_a_search_with_the_odes_answer():
    bad = {}
    for module in sorted((ROOT / "hhlib").rglob("*.py")):
        tree = ast.parse(module.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef):
                found = seeded_calls(ast.unparse(fn))
                if found:
                    bad[f"{module.name}:{fn.name}"] = found
    assert bad == {}


def test_the_discovery_functions_take_no_starting_state():
    from hhlib.dynamics.recovery import continue_both_ways, neimark_sacker_points
    for fn in (continue_both_ways, neimark_sacker_points):
        params = inspect.signature(fn).parameters
        assert not {"x_start", "x_first", "x_last", "starts"} & set(params), fn.__name__
