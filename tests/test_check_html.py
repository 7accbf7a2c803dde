"""tests/check_html.py on small pages: each defect class is found, clean pages pass."""
from __future__ import annotations

import json

import pytest

from check_html import book_pages, check_page, main

# A page shaped like the book's (MyST-NB cells, MathJax spans, a figure), with no defect.
CLEAN = """<!DOCTYPE html>
<html><head><title>Model</title>
<script>const path = "/home/runner/x"; // {numref}`x` in a script is not shown</script>
<style>td { color: red }</style></head>
<body>
<p>See <a href="#fig-model-isi">Fig. 1.4</a> and the table below; a path such as
<code class="docutils literal notranslate"><span class="pre">book/tmp/x</span></code> is
relative, and so is https://example.org/home/page.</p>
<p>Written in a role: <code class="docutils literal notranslate">{numref}`fig-x`</code>.</p>
<span class="math notranslate nohighlight">\\(\\mathrm{atol} = |x|\\)</span>
<div class="cell docutils container">
<div class="cell_input docutils container"><div class="highlight"><pre>
<span class="n">warnings</span><span class="o">.</span><span class="n">simplefilter</span>(<span class="s2">"ignore"</span>, DeprecationWarning)
</pre></div></div>
<div class="cell_output docutils container">
<table class="table"><thead><tr><th>a</th><th>b</th></tr></thead>
<tbody><tr><td>1</td><td>|x|</td></tr></tbody></table>
<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre>
fixed point (V mV, n, S): [-45.1  0.002  0.3]
</pre></div></div>
<figure class="align-default" id="fig-model-isi">
<img alt="ISI against V_S: one dot per inter-spike interval" src="../_images/ab12.png" />
</figure>
</div></div>
<pre>| a | b |
|---|---|</pre>
</body></html>
"""

DEFECTS = [
    ("raw Markdown table",
     "<div class='cell_output'><p>| a | b |\n|---|---|\n| 1 | 2 |</p></div>"),
    ("raw Markdown table", "<p>| a | b |\n| :--- | ---: |</p>"),
    # As the build writes it: smart quotes make the separator's dashes an em dash.
    ("raw Markdown table", "<p>| a | b |\n|\u2014|\n| 1 | 2 |</p>"),
    ("raw Markdown table", "<p>| a | b |\n|\u2014|\u2013|</p>"),
    ("raw Markdown table",
     "<div class='cell_output'><div class='output text_plain'><pre>|---|---|</pre></div></div>"),
    ("absolute machine path", "<p>Saved to /work/main/book/x.npz</p>"),
    ("absolute machine path", "<p>cache (/home/alice/.cache/hh)</p>"),
    ("absolute machine path", "<div class='output'><pre>/tmp/tmpab12/x.json</pre></div>"),
    ("absolute machine path", "<p>at /private/var/folders/x</p>"),
    ("absolute machine path", "<p>at C:\\Users\\alice\\book</p>"),
    ("absolute machine path",
     "<div class='cell_input'><pre>np.load('/root/data.npz')</pre></div>"),
    ("traceback or warning",
     "<div class='output stderr'><pre>Traceback (most recent call last):\n  File x</pre></div>"),
    ("traceback or warning",
     "<div class='output stderr'><pre>x.py:3: UserWarning: careful</pre></div>"),
    ("traceback or warning", "<div class='output'><pre>RuntimeWarning: overflow</pre></div>"),
    ("traceback or warning",
     "<div class='output'><pre>DeprecationWarning is raised</pre></div>"),
    ("error output (traceback)", "<div class='output traceback highlight-ipythontb'></div>"),
    ("unresolved MyST role or directive", "<p>As {numref}`fig-model-isi` shows.</p>"),
    ("unresolved MyST role or directive", "<p>V = {glue:text}`fp38_V:.2f` mV</p>"),
    ("unresolved MyST role or directive", "<p>See {doc}</p>"),
    ("unresolved MyST role or directive", "<p>Kuptsov {cite}<code>k22</code></p>"),
    ("unresolved MyST role or directive", "<p>```{exercise} A fixed point</p>"),
    ("unresolved MyST role or directive", "<p>{unknownrole}`x`</p>"),
    ("image without alt text", '<img src="../_images/ab12.png">'),
    ("image without alt text", '<img src="../_images/ab12.png" alt="  " />'),
    ("image without alt text", '<img src="../_images/ab12.png" alt="../_images/ab12.png">'),
    ("image without alt text", '<img src="x/ab12.png" alt="ab12.png">'),
]


def test_clean_page_passes():
    assert check_page(CLEAN) == []


@pytest.mark.parametrize("defect, snippet", DEFECTS, ids=[f"{d}-{i}" for i, (d, _) in
                                                        enumerate(DEFECTS)])
def test_each_defect_is_found(defect, snippet):
    page = CLEAN.replace("</body>", snippet + "\n</body>")
    found = check_page(page)
    assert [d for _, d, _ in found] == [defect], found
    # The line number points into the page, at the added snippet.
    assert found[0][0] >= CLEAN.count("\n") - 1


# As sphinxcontrib-bibtex writes them: a citation in the text and the list entry it links to.
def _cited(text: str, label: str) -> str:
    return (f'<p>Seen before <span class="bibtex-citation" id="id1">[<a class="reference '
            f'internal" href="#id6">{text}</a>]</span>.</p>\n<div role="list" '
            f'class="citation-list">\n<div class="citation" id="id6" role="doc-biblioentry">\n'
            f'<span class="label"><span class="fn-bracket">[</span><a role="doc-backlink" '
            f'href="#id1">{label}</a><span class="fn-bracket">]</span></span>\n'
            f'<p>Arthur Sherman, John Rinzel, and Joel Keizer. Emergence. 1988.</p>\n</div></div>')


@pytest.mark.parametrize("text, label, defects", [
    ("Sherman <em>et al.</em>, 1988", "Sherman et al., 1988", []),
    ("Sherman <em>et al.</em>, 1988", "1",
     [(3, "numbered reference list under author-year citations", "[1]")]),   # the label's line
    # Numbers in the text and in the list agree: not this check's business.
    ("1", "1", []),
])
def test_reference_list_labelled_as_the_text_cites(text, label, defects):
    page = CLEAN.replace("</body>", _cited(text, label) + "\n</body>")
    assert [(line - CLEAN.count("\n"), d, s) for line, d, s in check_page(page)] == defects


def test_main_lists_defects_and_exits_1(tmp_path, capsys):
    (tmp_path / "book").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "book" / "01_model.html").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "index.html").write_text(CLEAN, encoding="utf-8")
    # Sphinx's own pages and static files are not the book's: never read.
    (tmp_path / "genindex.html").write_text("<p>/home/x</p>", encoding="utf-8")
    (tmp_path / "_static" / "x.html").write_text("<p>/home/x</p>", encoding="utf-8")
    assert [p.name for p in book_pages(tmp_path)] == ["01_model.html", "index.html"]
    assert main([str(tmp_path)]) == 0

    (tmp_path / "book" / "02_x.html").write_text("<p>\n\nat /home/alice/x</p>", encoding="utf-8")
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "book/02_x.html:3: absolute machine path: at /home/alice/x" in out


def test_main_fails_without_pages(tmp_path):
    assert main([str(tmp_path)]) == 1


NOTEBOOK_SOURCE = ("---\njupytext:\n  text_representation:\n    extension: .md\nkernelspec:\n"
                   "  name: python3\n---\n\n# The model\n")
BUTTON = ('<a href="../_sources/book/01_model.ipynb" target="_blank"\n'
          '   class="btn btn-sm btn-download-notebook-button dropdown-item">.ipynb</a>')


def _notebook(markdown: str) -> str:
    return json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": markdown}],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.mark.parametrize("button, notebook, defect", [
    (BUTTON, _notebook("V = -45.12 mV (Fig. 3)"), None),
    ("", _notebook("V = -45.12 mV"), "no download link to its notebook"),
    (BUTTON, None, "download link to a missing notebook"),
    (BUTTON, "<html>not a notebook</html>", "download link to a file that is no notebook"),
    (BUTTON, _notebook("V = {glue:text}`fp38_V:.2f` mV"),
     "unresolved MyST markup in ../_sources/book/01_model.ipynb, cell 0"),
    (BUTTON, _notebook("```{exercise} A fixed point\n```"), "unresolved MyST markup"),
])
def test_chapter_pages_link_their_resolved_notebook(tmp_path, capsys, button, notebook, defect):
    (tmp_path / "book").mkdir()
    (tmp_path / "_sources" / "book").mkdir(parents=True)
    (tmp_path / "book" / "01_model.html").write_text(
        CLEAN.replace("<body>", "<body>" + button), encoding="utf-8")
    (tmp_path / "_sources" / "book" / "01_model.md").write_text(NOTEBOOK_SOURCE, encoding="utf-8")
    if notebook:
        (tmp_path / "_sources" / "book" / "01_model.ipynb").write_text(notebook, encoding="utf-8")
    # a page made from plain Markdown needs no notebook
    (tmp_path / "book" / "intro.html").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "_sources" / "book" / "intro.md").write_text("# Intro\n", encoding="utf-8")
    assert main([str(tmp_path)]) == (1 if defect else 0)
    problems = [p for p in capsys.readouterr().out.splitlines() if p.startswith("book/")]
    assert len(problems) == (1 if defect else 0), problems
    assert not defect or problems[0].startswith("book/01_model.html:") and defect in problems[0]
