"""Check the built HTML of the book for defects a reader would see (issue 26).

    .venv/bin/python tests/check_html.py _build/html

Run by ``make book`` after the build. Reads the book's own pages (every ``*.html`` outside
Sphinx's ``_static``/``_sources``/``_images`` folders, ``genindex``, ``search`` and
``py-modindex`` excluded) and fails (exit status 1) listing ``file:line: defect: snippet``
for each of:

* raw Markdown table text (a ``|---|---|`` separator row shown as text, not a ``<table>``);
* an absolute path of the machine that built the book (``/work/``, ``/home/``, ``C:\\``...)
  in the visible text;
* a Python traceback or warning (``Traceback (most recent call last)``, ``UserWarning:``...)
  in the visible text, or an error output (an element of class ``traceback``);
* a MyST role or directive left unresolved (``{numref}``, ``{glue:text}``... as text);
* an ``<img>`` without a real ``alt``: missing, empty, or the file name that docutils puts
  there when a figure has no alt text;
* a page made from a notebook (its copy in ``_sources/`` has a ``kernelspec``) without a
  download link to its executed notebook, a download link to a notebook that is not there,
  or such a notebook whose Markdown still holds a MyST role or directive
  (scripts/export_notebooks.py resolves them);
* a reference list labelled by numbers ([1], [2]) on a page whose citations are author-year
  ("[Sherman et al., 1988]"): the reader cannot find a citation in it.

Only the standard library (``html.parser``), so the check runs wherever the book builds.
"""
from __future__ import annotations

import json
import posixpath
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

# Sphinx's generated pages, not the book's.
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}

# A separator row of a Markdown table: only pipes, dashes, colons and spaces, with at least
# one `|` after a cell of dashes. Pipes and dashes inside a rendered <table> never reach the
# text this way. Docutils' smart quotes turn the "---" of a table left as text into an em
# dash ("|—|") and "--" into an en dash, so a cell is three hyphens or any run with one.
_DASHES = r"\s*:?(?:-{3,}|[-\u2013\u2014]*[\u2013\u2014][-\u2013\u2014]*):?\s*"
TABLE_SEPARATOR = re.compile(rf"^\s*\|?(?:{_DASHES}\|)+(?:{_DASHES})?\s*$")
# Folders of the machine that built the book (Linux, macOS, Windows). The look-behind keeps
# relative paths ("book/tmp/") and URLs ("https://x.org/home/") out.
MACHINE_PATH = re.compile(
    r"(?<![\w.~/:-])(/work/|/home/|/root/|/tmp/|/private/var/|/var/folders/|/Users/|/mnt/)"
    r"|(?<![\w])[A-Za-z]:\\\\?[\w.$]")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)"
                       r"|\b[A-Z]\w*Warning:|\bDeprecationWarning\b")
# Roles and directives of MyST, MyST-NB, sphinx-exercise and sphinxcontrib-bibtex that the
# book uses; a `{name}` followed by a backtick is any role left as text.
MYST_NAMES = (r"glue(?::\w+)?|numref|ref|doc|eq|cite(?::\w+)?|term|download|math"
              r"|exercise(?:-start|-end)?|solution(?:-start|-end)?|code-cell|figure"
              r"|bibliography|admonition|note|warning|dropdown|list-table|prf:\w+")
ROLE = r"\{(?P<role>[\w:.-]+)\}`"
UNRESOLVED = re.compile(rf"\{{(?:{MYST_NAMES})\}}|{ROLE}")
# In a notebook's Markdown (where math such as $V_{ref}$ is raw text): a role, or the
# opening fence of a directive.
MARKUP = re.compile(rf"{ROLE}|^[ \t]*(?:`{{3,}}|~{{3,}}|:{{3,}})\{{[^}}]+\}}.*$", re.M)
# sphinx-book-theme's ".ipynb" entry of the download menu.
NOTEBOOK_BUTTON = "btn-download-notebook-button"
IMAGE_FILE = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.I)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr"}
HIDDEN = {"script", "style", "template", "head", "noscript"}


def _classes(attrs) -> set[str]:
    return set((dict(attrs).get("class") or "").split())


class PageChecker(HTMLParser):
    """Collects ``(line, defect, snippet)`` for one page.

    A stack of open elements tells where a piece of text is: hidden (scripts, styles),
    math (MathJax source, full of braces and backslashes), a code cell's input (the chapter's
    own source), or literal code in prose (``<code>``, a ``<pre>`` that is no cell output),
    where a writer may show a role or a table on purpose.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.defects: list[tuple[int, str, str]] = []
        self.notebook_links: list[tuple[int, str]] = []
        self.list_labels: list[tuple[int, str]] = []     # a reference list's labels
        self.citations: list[str] = []                   # pieces of the text's citations

    # -- where we are ---------------------------------------------------------------------
    def _inside(self, test) -> bool:
        return any(test(tag, cls) for tag, cls in self.stack)

    def _hidden(self) -> bool:
        return self._inside(lambda t, c: t in HIDDEN)

    def _math(self) -> bool:
        return self._inside(lambda t, c: "math" in c or t == "math")

    def _cell_input(self) -> bool:
        return self._inside(lambda t, c: "cell_input" in c)

    def _list_label(self) -> bool:
        # sphinxcontrib-bibtex: <div class="citation"><span class="label"><span
        # class="fn-bracket">[</span>1<span class="fn-bracket">]</span></span>.
        return (self._inside(lambda t, c: "citation" in c)
                and self._inside(lambda t, c: t == "span" and "label" in c)
                and not self._inside(lambda t, c: "fn-bracket" in c))

    def _literal(self) -> bool:
        in_output = self._inside(lambda t, c: "cell_output" in c or "output" in c)
        return self._inside(lambda t, c: t == "code" or (t == "pre" and not in_output))

    # -- parser callbacks -----------------------------------------------------------------
    def handle_starttag(self, tag, attrs):
        line = self.getpos()[0]
        if tag == "img":
            self._check_img(line, dict(attrs))
        cls = _classes(attrs)
        if tag == "a" and NOTEBOOK_BUTTON in cls:
            self.notebook_links.append((line, dict(attrs).get("href") or ""))
        if "traceback" in cls and not self._hidden():
            self.defects.append((line, "error output (traceback)", f"<{tag} class=traceback>"))
        if tag not in VOID:
            self.stack.append((tag, cls))

    def handle_startendtag(self, tag, attrs):
        if tag == "img":
            self._check_img(self.getpos()[0], dict(attrs))

    def handle_endtag(self, tag):
        # Pop up to the matching element; HTML5 pages may leave some (<p>, <li>) unclosed.
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                del self.stack[k:]
                return

    def handle_data(self, data):
        if self._hidden() or self._math() or not data.strip():
            return
        first = self.getpos()[0]
        if self._list_label():
            self.list_labels.append((first, data.strip()))
        if self._inside(lambda t, c: "bibtex-citation" in c):
            self.citations.append(data)
        prose = not (self._cell_input() or self._literal())
        for k, text in enumerate(data.splitlines()):
            line = first + k
            if MACHINE_PATH.search(text):
                self._add(line, "absolute machine path", text)
            if self._cell_input():
                continue
            if TRACEBACK.search(text):
                self._add(line, "traceback or warning", text)
            if prose and TABLE_SEPARATOR.match(text):
                self._add(line, "raw Markdown table", text)
            if prose and UNRESOLVED.search(text):
                self._add(line, "unresolved MyST role or directive", text)

    # -- checks ---------------------------------------------------------------------------
    def _check_img(self, line, attrs):
        alt = (attrs.get("alt") or "").strip()
        src = attrs.get("src") or ""
        # docutils writes the image's URI as its alt when a figure has none.
        if not alt or alt == src or alt == src.rsplit("/", 1)[-1] or IMAGE_FILE.search(alt):
            self._add(line, "image without alt text", f'<img src="{src}" alt="{alt}">')

    def _check_reference_list(self):
        # A numbered citation holds digits, brackets and commas only; a name means author-year.
        if any(re.search(r"[^\W\d_]", text) for text in self.citations):
            for line, label in self.list_labels:
                if label.isdigit():
                    self._add(line, "numbered reference list under author-year citations",
                              f"[{label}]")

    def _add(self, line, defect, snippet):
        self.defects.append((line, defect, snippet.strip()[:120]))


def _parse(html: str) -> PageChecker:
    checker = PageChecker()
    checker.feed(html)
    checker.close()
    checker._check_reference_list()
    return checker


def check_page(html: str) -> list[tuple[int, str, str]]:
    """Defects of one page, as ``(line, defect, snippet)``."""
    return _parse(html).defects


def unresolved_markup(markdown: str) -> list[str]:
    """The roles and directive fences left in a notebook's Markdown (Jupyter shows them raw)."""
    return [markdown[m.start():m.start() + 80].split("\n")[0] for m in MARKUP.finditer(markdown)]


def made_from_notebook(root: Path, page: Path) -> bool:
    """Whether the page's source (its copy under ``_sources/``) is a notebook: a kernelspec
    in its front matter, as MyST-NB and sphinx-book-theme decide."""
    source = (root / "_sources" / page.relative_to(root)).with_suffix(".md")
    text = source.read_text(encoding="utf-8") if source.exists() else ""
    return text.startswith("---") and "\nkernelspec:" in text.split("\n---", 1)[0]


def check_notebook_links(root: Path, page: Path, links: list[tuple[int, str]]):
    """Defects of a page's download links to its notebook, as ``(line, defect, snippet)``."""
    if not links:
        return ([(1, "no download link to its notebook", page.name)]
                if made_from_notebook(root, page) else [])
    defects = []
    for line, href in links:
        target = page.parent / posixpath.normpath(href.split("#")[0].split("?")[0])
        if not href or "://" in href or not target.is_file():
            defects.append((line, "download link to a missing notebook", href))
            continue
        try:
            cells = json.loads(target.read_text(encoding="utf-8"))["cells"]
        except (ValueError, KeyError, TypeError):
            defects.append((line, "download link to a file that is no notebook", href))
            continue
        for index, cell in enumerate(cells):
            if cell.get("cell_type") == "markdown":
                for left in unresolved_markup("".join(cell.get("source", ""))):
                    defects.append((line, f"unresolved MyST markup in {href}, cell {index}", left))
    return defects


def book_pages(root: Path) -> list[Path]:
    """The book's own pages under ``root`` (a Sphinx HTML output folder)."""
    return sorted(p for p in root.rglob("*.html")
                  if p.name not in SKIP_PAGES
                  and not any(part.startswith("_") for part in p.relative_to(root).parts[:-1]))


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    root = Path(args[0])
    pages = book_pages(root)
    if not pages:
        print(f"check_html: no pages under {root}", file=sys.stderr)
        return 1
    problems = []
    for page in pages:
        checker = _parse(page.read_text(encoding="utf-8"))
        found = checker.defects + check_notebook_links(root, page, checker.notebook_links)
        for line, defect, snippet in found:
            problems.append(f"{page.relative_to(root)}:{line}: {defect}: {snippet}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_html: {len(problems)} defect(s) in {len(pages)} page(s)", file=sys.stderr)
        return 1
    print(f"check_html: {len(pages)} page(s), no defects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
