"""Every figure's text is legible at the page's width (issue 26).

A browser shows a figure's PNG at its own size, or scaled down to the text column when
wider, and its labels with it. The smallest text a figure can hold (style()'s tick, label,
legend and title sizes, and every explicit ``fontsize=`` of the library plot functions it
calls and of its own cell) must then be at least as large as the page's smallest body
text:

    displayed px = font pt * dpi / 72 * min(1, column px / image px)

Each figure is found in the chapters' code cells (jupytext, no execution): a
``plt.subplots``/``plt.figure`` call, or a call of a library function that makes one,
with its ``figsize`` (style()'s default without one). Its size is then what pyplot makes of
it after style(), hooks included.
"""
from __future__ import annotations

import ast
import re

import jupytext
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402

from conftest import REPO, chapter_notebooks  # noqa: E402

# The book's text column at a 1920-px-wide desktop, in CSS px (root font 16 px), from
# sphinx-book-theme 1.3 on pydata-sphinx-theme 0.17: the page is capped at 88rem; the left
# sidebar takes 20 % of it and the page's contents 17rem; the article (max 60em, not reached)
# has 2rem of padding on each side, and a cell's output an indent of 1em.
COLUMN_PX = 88 * 16 * (1 - 0.20) - 17 * 16 - 2 * 2 * 16 - 16          # 774.4
# The smallest body text on the page: code (cells and inline) and Bootstrap's .small and
# .figure-caption, 0.875em of 16 px.
SMALLEST_TEXT_PX = 0.875 * 16                                           # 14

# The library and the chapters' companions (book/_code), whose plot functions make figures.
LIBRARY = [*sorted((REPO / "hhlib").rglob("*.py")), *sorted((REPO / "benchmarks").glob("*.py")),
           *sorted((REPO / "book" / "_code").glob("*.py"))]
FONT_KEYWORDS = {"fontsize", "labelsize", "title_fontsize"}
# style()'s sizes of the text a figure holds.
STYLE_SIZES = ("font.size", "xtick.labelsize", "ytick.labelsize", "axes.labelsize",
               "axes.titlesize", "legend.fontsize", "figure.titlesize", "figure.labelsize")


def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return None


def _makes_figure(call: ast.Call) -> bool:
    f = call.func
    return (isinstance(f, ast.Attribute) and f.attr in ("subplots", "figure", "subplot_mosaic")
            and isinstance(f.value, ast.Name) and f.value.id == "plt")


def _called_name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def scan(tree: ast.AST) -> dict:
    """The figures (their ``figsize``, None for the default), explicit font sizes and names of
    called functions in ``tree``; a size or figsize that is not a literal is kept as its
    source text, which the test reports."""
    found = {"figures": [], "fonts": [], "calls": set()}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        found["calls"].add(_called_name(node))
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if _makes_figure(node):
            size = kw.get("figsize")
            found["figures"].append(None if size is None
                                    else _literal(size) or ast.unparse(size))
        for name, value in kw.items():
            if name in FONT_KEYWORDS:
                found["fonts"].append(_literal(value) or ast.unparse(value))
            elif name in ("prop", "fontdict") and isinstance(value, ast.Dict):
                found["fonts"] += [_literal(v) or ast.unparse(v) for k, v in
                                   zip(value.keys, value.values) if _literal(k) == "size"]
    return found


def library_functions(files=LIBRARY) -> dict[str, dict]:
    """name -> :func:`scan` of each function defined in ``files`` (same names merged)."""
    out: dict[str, dict] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                s = scan(node)
                d = out.setdefault(node.name, {"figures": [], "fonts": [], "calls": set()})
                d["figures"] += s["figures"]
                d["fonts"] += s["fonts"]
                d["calls"] |= s["calls"]
    return out


def reached(calls, library: dict) -> list[dict]:
    """The library functions ``calls`` reach, directly or through each other."""
    seen, todo = {}, [c for c in calls if c in library]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen[name] = library[name]
            todo += [c for c in library[name]["calls"] if c in library]
    return list(seen.values())


def _code(source: str) -> str:
    # IPython magics and shell lines are not Python.
    return "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source.splitlines())


def _figure_id(cell) -> str:
    name = cell.metadata.get("mystnb", {}).get("figure", {}).get("name")
    glued = re.search(r"""glue\(["'](\w+)["'],\s*fig\b""", cell.source)
    if name or glued:
        return name or glued.group(1)
    # An unnamed figure (an exercise's solution): the line that makes it.
    return next(line.strip() for line in cell.source.splitlines()
                if re.search(r"plt\.(subplots|figure)\(|=\s*plot_\w+\(", line))


def chapter_figures(paths, library: dict) -> list[dict]:
    """One entry per figure a chapter's code cell makes: chapter, id, figsize, and the
    explicit font sizes of the cell and of the library functions it calls."""
    figures = []
    for path in paths:
        for cell in jupytext.read(path).cells:
            if cell.cell_type != "code":
                continue
            s = scan(ast.parse(_code(cell.source)))
            used = reached(s["calls"], library)
            sizes = s["figures"] + [f for d in used for f in d["figures"]]
            fonts = s["fonts"] + [f for d in used for f in d["fonts"]]
            for size in sizes:
                figures.append({"chapter": path.stem, "id": _figure_id(cell),
                                "figsize": size, "fonts": fonts})
    return figures


def points(size) -> float:
    """A Matplotlib font size (points, or a name relative to font.size) in points."""
    return FontProperties(size=size).get_size_in_points()


def displayed_px(font_pt: float, figsize) -> tuple[float, float]:
    """(px on the page, figure width in inches as made) of ``font_pt`` in a figure asked for
    at ``figsize`` (None: the default), under the current rcParams (hooks included)."""
    fig = plt.figure(figsize=figsize)
    try:
        width, dpi = fig.get_size_inches()[0], fig.get_dpi()
    finally:
        plt.close(fig)
    # Jupyter saves with bbox_inches="tight": the drawing plus pad_inches on each side.
    image_px = (width + 2 * mpl.rcParams["savefig.pad_inches"]) * dpi
    return font_pt * dpi / 72 * min(1.0, COLUMN_PX / image_px), width


def smallest_text(fig: dict) -> tuple[float, str]:
    """(points, where) of the smallest text of a figure under the current rcParams."""
    sizes = [(points(mpl.rcParams[k]), k) for k in STYLE_SIZES]
    sizes += [(points(f), "explicit fontsize") for f in fig["fonts"]]
    return min(sizes)


def measure(fig: dict) -> dict:
    """The figure's smallest text on the page, in px, under the book's style()."""
    from hhlib.plotting import style
    with mpl.rc_context():
        style()
        pt, where = smallest_text(fig)
        px, width = displayed_px(pt, fig["figsize"])
    return {**fig, "pt": pt, "where": where, "px": px, "width": width}


LIBRARY_FUNCTIONS = library_functions()
FIGURES = chapter_figures(chapter_notebooks(), LIBRARY_FUNCTIONS)


def _param(fig):
    return pytest.param(fig, id=f"{fig['chapter']}:{fig['id'][:40]}")


def test_figures_are_found():
    # Each chapter draws some; chapter 6 through library functions that make their figure.
    assert {f["chapter"] for f in FIGURES} >= {p.stem for p in chapter_notebooks()}
    assert any(f["id"] == "fig-bi-z" and f["figsize"] == (10, 3.4) for f in FIGURES)


def test_sizes_are_literals():
    odd = [(f["chapter"], f["id"], x) for f in FIGURES for x in [f["figsize"], *f["fonts"]]
           if isinstance(x, str) and x not in mpl.font_manager.font_scalings]
    assert not odd, f"sizes this test cannot read (write them as numbers): {odd}"


@pytest.mark.parametrize("fig", [_param(f) for f in FIGURES])
def test_figure_text_is_legible(fig):
    m = measure(fig)
    assert m["px"] >= SMALLEST_TEXT_PX, (
        f"{fig['chapter']} {fig['id']}: its smallest text ({m['where']}, {m['pt']:.3g} pt) "
        f"shows at {m['px']:.1f} px in the {COLUMN_PX:.0f}-px column (figure "
        f"{m['width']:.2f} in wide), under the page's smallest text, {SMALLEST_TEXT_PX:g} px")


def test_figures_fit_the_column():
    # style() draws a wide figure at the column's width rather than letting it be shrunk.
    m = measure({"chapter": "x", "id": "x", "figsize": (12, 3.6), "fonts": []})
    assert m["width"] < 7.1 and m["px"] >= SMALLEST_TEXT_PX


# ----------------------------------------------------------------- negative controls
def test_a_small_font_is_flagged():
    tree = ast.parse("fig, ax = plt.subplots(figsize=(6, 3))\nax.legend(fontsize=7)\n"
                     "ax.text(0, 0, 'x', fontsize='x-small')\n")
    s = scan(tree)
    assert s["figures"] == [(6, 3)] and s["fonts"] == [7, "x-small"]
    m = measure({"chapter": "x", "id": "x", "figsize": (6, 3), "fonts": s["fonts"]})
    assert m["pt"] == pytest.approx(6.94, abs=0.01) and m["px"] < SMALLEST_TEXT_PX


def test_a_figure_shrunk_to_the_column_is_flagged():
    # Without the fitting hook, a 12-inch figure is shrunk to 58 %: 10 pt shows at 8.8 px.
    with mpl.rc_context():
        from hhlib.plotting import style
        style()
        mpl.rcParams["figure.hooks"] = []
        px, width = displayed_px(10.0, (12, 3.6))
    assert width == 12 and px == pytest.approx(8.82, abs=0.05) and px < SMALLEST_TEXT_PX


def test_fonts_of_called_library_functions_count(tmp_path):
    lib = {"plot_a": {"figures": [], "fonts": [], "calls": {"plot_b"}},
           "plot_b": {"figures": [(10, 3)], "fonts": [6], "calls": {"plot_a"}}}
    path = tmp_path / "01_x.md"
    path.write_text("```{code-cell} ipython3\nfig = plot_a(x)\n```\n", encoding="utf-8")
    assert chapter_figures([path], lib) == [
        {"chapter": "01_x", "id": "fig = plot_a(x)", "figsize": (10, 3), "fonts": [6]}]
