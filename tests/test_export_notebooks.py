"""scripts/export_notebooks.py: the downloadable notebooks keep the page's numbers in their
prose, keep every code cell and output, and the export fails on markup it cannot resolve.

Executed notebooks are written the way the build leaves them: glue outputs as MyST-NB's
``glue()`` writes them (as in references/notebooks/), split off into ``<doc>.glue.json`` by
MyST-NB's own ``extract_glue_data``. No chapter is executed.
"""
from __future__ import annotations

import copy
import json
import logging
import sys
from types import SimpleNamespace

import nbformat
import pytest
from myst_nb.ext.glue import extract_glue_data
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from conftest import REPO
from check_html import unresolved_markup

sys.path.insert(0, str(REPO / "scripts"))
import export_notebooks as export  # noqa: E402

PREFIX = "application/papermill.record/"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJ"
       "RU5ErkJggg==\n")


def glued(name: str, **data: str):
    """An output of ``glue(name, value, display=False)``: ``data`` is the value's mime bundle."""
    return new_output("display_data",
                      data={PREFIX + k.replace("_", "/"): v for k, v in data.items()},
                      metadata={"scrapbook": {"name": name, "mime_prefix": PREFIX}})


def chapter_a(extra: str = ""):
    stderr = new_output("stream", name="stderr", text="/work/main/hhlib/x.py:3: UserWarning\n")
    return new_notebook(cells=[
        new_markdown_cell("# Chapter A\n\nCites {cite}`hodgkin1952` and "
                          "{cite}`mosekilde2001,stankevich2017`; {cite:t}`sherman1988`."),
        new_code_cell("glue(...)", outputs=[
            glued("x", text_plain="3.14159265"), glued("n", text_plain="7"),
            glued("s", text_plain="'a text'"), glued("odd", text_plain="'V in [0, 1] * 2_x $'"),
            glued("np", text_plain="np.float64(0.5)"),
            glued("md", text_markdown="**bold** and $x^2$",
                  text_plain="<IPython.core.display.Markdown object>"),
            glued("fig", image_png=PNG, text_plain="<Figure size 10x10 with 1 Axes>"),
            new_output("stream", name="stdout", text="fixed point: -45.1\n"), stderr]),
        new_markdown_cell("Values {glue:text}`x:.2f`, {glue:text}`x`, {glue:text}`n:d`, "
                          "{glue:text}`n:.1f`, {glue:text}`s`, {glue:md}`md`; "
                          "{glue:text}`odd`; {glue}`s`." + extra),
        new_code_cell("plot()", metadata={"mystnb": {"figure": {
            "caption": "A line, see {numref}`fig-b`.", "name": "fig-a"}}},
            outputs=[new_output("display_data",
                                data={"image/png": PNG, "text/plain": "<Figure>"})]),
        new_markdown_cell("{numref}`fig-a` and {numref}`Figure %s <fig-g>`; see {doc}`02_b`, "
                          "{doc}`the second <02_b>` and {doc}`intro`; {eq}`eq-one`.\n\n"
                          "$$\nx = 1\n$$ (eq-one)\n\n"
                          "```{glue:figure} fig\n:name: fig-g\n:alt: A glued line.\n\n"
                          "Glued caption.\n```\n\n```{glue:md} md\n:format: myst\n```\n\n"
                          "```python\nprint(1)\n```"),
        new_markdown_cell("## Exercises\n\n```{exercise} First one\n:label: a-ex-1\n\n"
                          "Do it with {glue:text}`x:.1f`.\n```\n\n"
                          "```{solution-start} a-ex-1\n:class: dropdown\n```\n\nSolution text."),
        new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")]),
        new_markdown_cell("```{solution-end}\n```\n\n```{bibliography}\n"
                          ":filter: docname in docnames\n```"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})


def chapter_b(text: str = "Cross {glue:text}`01_a.md::x:.3f` and own {glue:text}`y:.1f`."):
    return new_notebook(cells=[
        new_markdown_cell("# Chapter B\n\n" + text),
        new_code_cell("glue('y', 2.5)", outputs=[glued("y", text_plain="2.5")])])


# Pages as Sphinx, MyST-NB and sphinx-exercise write them (markup of a real build); numbering
# runs across the book.
PAGES = {
    "book/01_a": """<h1>Chapter A<a class="headerlink" href="#chapter-a">#</a></h1>
<figure class="align-default" id="fig-a"><img alt="A line." src="../_images/a.png" />
<figcaption><p><span class="caption-number">Fig. 1 </span><span class="caption-text">A line
</span><a class="headerlink" href="#fig-a">#</a></p></figcaption></figure>
<figure class="align-default" id="fig-g"><figcaption><p><span class="caption-number">Fig. 2 </span>
</p></figcaption></figure>
<div class="math notranslate nohighlight" id="equation-eq-one">
<span class="eqno">(1)<a class="headerlink" href="#equation-eq-one">#</a></span>\\[x = 1\\]</div>
<section id="exercises"><div class="exercise admonition" id="a-ex-1">
<p class="admonition-title"><span class="caption-number">Exercise 1 </span> (First one)</p>
</div></section>""",
    "book/02_b": """<h1>Chapter B<a class="headerlink" href="#chapter-b">#</a></h1>
<figure class="align-default" id="fig-b"><figcaption><p><span class="caption-number">Fig. 3 </span>
</p></figcaption></figure>""",
    "book/intro": '<h1>Introduction<a class="headerlink" href="#intro">#</a></h1>',
}


def build(tmp_path, notebooks: dict, pages: dict | None = None):
    """The build's folders: jupyter_execute/ (notebooks and glue, as MyST-NB writes them) and
    html/ (``pages``); returns both."""
    executed, html = tmp_path / "jupyter_execute", tmp_path / "html"
    for doc, nb in notebooks.items():
        glue = extract_glue_data(nb, [0] * len(nb.cells), logging.getLogger("test"))
        path = executed / f"{doc}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
        path.with_name(path.stem + ".glue.json").write_text(json.dumps(glue), encoding="utf-8")
    for doc, body in (pages or {}).items():
        (html / doc).parent.mkdir(parents=True, exist_ok=True)
        (html / f"{doc}.html").write_text(f"<html><body>{body}</body></html>", encoding="utf-8")
    html.mkdir(exist_ok=True)
    return executed, html


def exported(tmp_path, pages=PAGES, a=None, b=None):
    executed, html = build(tmp_path, {"book/01_a": a or chapter_a(), "book/02_b": b or chapter_b()},
                           pages)
    assert export.main([str(executed), str(html)]) == 0
    return {doc: nbformat.read(str(html / "_sources" / f"{doc}.ipynb"), as_version=4)
            for doc in ("book/01_a", "book/02_b")}


def markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_glue_values_in_the_formats_myst_nb_prints(tmp_path):
    text = markdown(exported(tmp_path)["book/01_a"])
    assert "Values 3.14, 3.14159265, 7, 7.0, a text, **bold** and $x^2$;" in text
    # Markdown's and math's characters in a glued text are escaped, so Jupyter shows them
    assert r"V in \[0, 1\] \* 2\_x \$; 'a text'." in text     # {glue}: text/plain as it is
    assert "Do it with 3.1." in text


def test_glue_from_another_chapter(tmp_path):
    assert "Cross 3.142 and own 2.5." in markdown(exported(tmp_path)["book/02_b"])


def test_citations_and_reference_list(tmp_path):
    text = markdown(exported(tmp_path)["book/01_a"])
    assert ("Cites [Hodgkin and Huxley, 1952] and [Mosekilde *et al.*, 2001, Stankevich and "
            "Mosekilde, 2017]; Sherman *et al.* [1988].") in text
    refs = text.split("**References**")[1].strip().splitlines()
    assert [r.split("]")[0] for r in refs] == [
        "- [Hodgkin and Huxley, 1952", "- [Mosekilde et al., 2001",
        "- [Sherman et al., 1988", "- [Stankevich and Mosekilde, 2017"]
    assert refs[0].endswith("doi:[10.1113/jphysiol.1952.sp004764]"
                            "(https://doi.org/10.1113/jphysiol.1952.sp004764)")


def test_reference_list_as_the_pages_show_it():
    """Every entry of references.bib: the export's label and order are those of the pages'
    lists (scripts/author_year_labels.py, run by Sphinx), which the text's citations match."""
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin
    import author_year_labels

    style = find_plugin("pybtex.style.formatting", "author_year")()
    pages = [author_year_labels.label(e)
             for e in style.sort(parse_file(REPO / "references.bib").entries.values())]
    bib = export.read_bib(REPO / "references.bib")
    items = sorted((export.bib_item(e) for e in bib.values()), key=str.lower)
    assert [item[3:item.index("]")] for item in items] == pages


def test_numbers_titles_and_links_from_the_pages(tmp_path):
    nb = exported(tmp_path)["book/01_a"]
    text = markdown(nb)
    assert ("Fig. 1 and Figure 2; see [Chapter B](02_b.ipynb), [the second](02_b.ipynb) and "
            "Introduction; (1).") in text
    assert "$$\nx = 1\n\\tag{1} $$" in text
    # a figure's caption follows its cell, as on the page
    sources = [c.source for c in nb.cells]
    assert sources[sources.index("plot()") + 1] == "**Fig. 1:** A line, see Fig. 3."
    cell = next(c for c in nb.cells if "attachment:" in c.source)
    assert "![A glued line.](attachment:fig.png)\n\n**Fig. 2:** Glued caption." in cell.source
    assert cell.attachments == {"fig.png": {"image/png": PNG}}
    assert "```python\nprint(1)\n```" in text


def test_without_pages_the_labels_stand_in(tmp_path):
    text = markdown(exported(tmp_path, pages={})["book/01_a"])
    assert ("fig-a and Figure fig-g; see [02_b](02_b.ipynb), [the second](02_b.ipynb) "
            "and intro") in text
    assert "**Exercise** (First one)" in text


def test_exercises_become_headings_with_their_content(tmp_path):
    text = markdown(exported(tmp_path)["book/01_a"])
    assert "**Exercise 1** (First one)\n\nDo it with 3.1." in text
    assert "**Solution to Exercise 1** (First one)\n\nSolution text." in text


def test_cells_outputs_and_validity(tmp_path):
    source = chapter_a()
    nb = exported(tmp_path, a=source)["book/01_a"]
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.source for c in code] == [c.source for c in source.cells if c.cell_type == "code"]
    streams = [(o.name, o.text) for o in code[0].outputs]
    assert streams == [("stdout", "fixed point: -45.1\n")]      # glue and stderr are not shown
    assert code[2].outputs[0].text == "1\n"
    assert nb.metadata.kernelspec.name == "python3"
    assert not any(unresolved_markup(c.source) for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("a, b, message", [
    (chapter_a(" {glue:text}`nokey:.2f`"), None, "book/01_a: cell 2: glue key 'nokey' not found"),
    (None, chapter_b("{glue:text}`01_a.md::nokey:.2f`"), "book/02_b: cell 0: glue key 'nokey'"),
    (chapter_a(" {glue:text}`np:.2f`"), None, "glue 'np' cannot be formatted as '.2f'"),
    (chapter_a(" {foo}`bar`"), None, "book/01_a: cell 2: role {foo} is not handled"),
    (chapter_a(" {cite}`nobody2020`"), None, "citation key(s) nobody2020 not in references.bib"),
    (chapter_a("\n\n```{note}\nA note.\n```"), None, "cell 2: directive {note} is not handled"),
    (chapter_a(" {numref}`fig-nowhere`"), None, "no number for label 'fig-nowhere'"),
    # markup left where the export does not look (a code block) is still found
    (chapter_a("\n\n```text\n{glue:text}`x`\n```"), None, "cell 2: unresolved {glue:text}`x`"),
])
def test_unresolved_markup_fails_the_export(tmp_path, capsys, a, b, message):
    executed, html = build(tmp_path, {"book/01_a": a or chapter_a(), "book/02_b": b or chapter_b()},
                           PAGES)
    assert export.main([str(executed), str(html)]) == 1
    assert message in capsys.readouterr().err


def test_bad_arguments(tmp_path, capsys):
    assert export.main([str(tmp_path)]) == 2
    assert export.main([str(tmp_path / "missing"), str(tmp_path)]) == 1
    assert "missing is not a folder" in capsys.readouterr().err


def test_download_button_only_on_notebook_pages():
    app = SimpleNamespace(env=SimpleNamespace(metadata={
        "book/01_a": {"kernelspec": {"name": "python3"}}, "book/intro": {}}))
    contexts = {page: {} for page in ("book/01_a", "book/intro")}
    for page, context in contexts.items():
        export._link_notebook(app, page, "page.html", context, None)
    assert contexts == {"book/01_a": {"ipynb_source": "book/01_a.ipynb"}, "book/intro": {}}
    # where the theme's button points is where the export writes
    assert export.notebook_path(REPO / "_build" / "html", "book/01_a") == (
        REPO / "_build" / "html" / "_sources" / "book/01_a.ipynb")


def test_published_chapters_export_completely(tmp_path):
    """Every role and directive of every committed chapter (references/notebooks/: executed,
    images removed) is resolved; every code cell and non-stderr output is kept."""
    sources = {f"book/{p.stem}": nbformat.read(str(p), as_version=4)
               for p in sorted((REPO / "references" / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    assert len(sources) == 8
    executed, html = build(tmp_path, copy.deepcopy(sources))
    written = export.export_all(executed, html)
    assert len(written) == len(sources)
    for doc, source in sources.items():
        nb = nbformat.read(str(export.notebook_path(html, doc)), as_version=4)
        roles = sum(len(unresolved_markup(c.source)) for c in source.cells
                    if c.cell_type == "markdown")
        assert roles > 10, doc          # there was markup to resolve
        assert not any(unresolved_markup(c.source) for c in nb.cells if c.cell_type == "markdown")
        code = [c for c in source.cells if c.cell_type == "code"]
        out = [c for c in nb.cells if c.cell_type == "code"]
        assert [c.source for c in out] == [c.source for c in code], doc
        for kept, was in zip(out, code):
            shown = [o for o in was.outputs if "scrapbook" not in o.get("metadata", {})
                     and o.get("name") != "stderr"]
            assert kept.outputs == shown, (doc, kept.source[:60])
