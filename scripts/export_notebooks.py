"""Each chapter as a downloadable executed notebook, with its numbers in the prose (issue 26).

    .venv/bin/python scripts/export_notebooks.py _build/jupyter_execute _build/html

Run by ``make book`` after the build: every notebook MyST-NB executed (``<doc>.ipynb``, its
glued values in ``<doc>.glue.json``) goes to ``<html>/_sources/<doc>.ipynb``, where the
page's download button points (``setup``: the Sphinx extension that adds the button).
Jupyter shows MyST markup raw, so it is replaced: glue by the glued value as MyST-NB formats
it; citations by their author-year text; ``{doc}`` by a link to that notebook (the page's
title for a page that is none); ``{numref}``, ``{eq}`` and exercises by the numbers the
built pages show (the bare label when the HTML folder has no pages); a figure's caption by
a Markdown cell after it. Code cells and outputs are kept, but not stderr (the build's log,
left out of the pages too). Exit 1, naming chapter, cell and markup, if any is left.
"""
from __future__ import annotations

import copy
import json
import mimetypes
import posixpath
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from myst_nb.core.variables import format_plain_text

REPO = Path(__file__).resolve().parent.parent
sys.path.append(str(REPO / "tests"))          # check_html: the markup it looks for
from check_html import ROLE, VOID, book_pages, unresolved_markup  # noqa: E402

ROLE_CALL = re.compile(ROLE + r"(?P<content>[^`]*)`")
# A fenced block: a directive ({name} after the fence) or code (CommonMark info string).
FENCE = re.compile(r"^(?:(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>[^}]+)\}\s*(?P<arg>.*?)"
                   r"|(?P<code>`{3,}|~{3,})[^`{]*?)\s*$")
# The closing "$$ (label)" of a labelled equation (MyST's dollarmath).
LABELLED_MATH = re.compile(r"\$\$\s*\((?P<label>[^()\s]+)\)\s*$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
# Characters that would turn a glued plain text into Markdown (or math) in Jupyter.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<$|])")


class ExportError(Exception):
    """Markup the export cannot resolve (the message names it)."""


# -- references.bib ---------------------------------------------------------------------------
def read_bib(path: Path) -> dict[str, dict[str, str]]:
    """BibTeX entries by key: lowercase field names, values without braces or line breaks."""
    text, entries = path.read_text(encoding="utf-8"), {}
    for head in re.finditer(r"^@(\w+)\s*\{\s*([^,\s]+)\s*,", text, re.M):
        fields, pos = {}, head.end()
        while m := re.compile(r"\s*(\w+)\s*=\s*").match(text, pos):
            value, pos = _bib_value(text, m.end())
            fields[m.group(1).lower()] = " ".join(value.replace("--", "\u2013").split())
            pos = re.compile(r"\s*,?").match(text, pos).end()
        entries[head.group(2)] = fields
    return entries


def _bib_value(text: str, pos: int) -> tuple[str, int]:
    """The value starting at ``pos`` ({...}, "..." or a bare word) and the position after it."""
    if text[pos] not in "{\"":
        m = re.compile(r"[^,}\s]+").match(text, pos)
        return m.group(0), m.end()
    depth, out, close = 0, [], "}" if text[pos] == "{" else "\""
    for i in range(pos + 1, len(text)):
        c = text[i]
        if depth == 0 and c == close:
            return "".join(out), i + 1
        depth += (c == "{") - (c == "}")
        if c not in "{}":
            out.append(c)
    raise ValueError(f"unterminated value at character {pos}")


def _authors(entry: dict[str, str]) -> list[str]:
    return [a.strip() for a in entry.get("author", "").split(" and ") if a.strip()]


def _last_name(author: str) -> str:
    # pybtex ties "de" to "Silva" with a no-break space, as the pages show it
    return "\xa0".join(author.split(",")[0].split()) if "," in author else author.split()[-1]


def cite_label(entry: dict[str, str], et_al: str = "*et al.*") -> tuple[str, str]:
    """(names, year) as sphinxcontrib-bibtex's author_year style prints them."""
    names = [_last_name(a) for a in _authors(entry)]
    if len(names) > 2 or "others" in names:
        who = f"{names[0]} {et_al}"
    else:
        who = " and ".join(names)
    return who, entry.get("year", "")


def cite_text(keys: list[str], textual: bool, bib: dict) -> str:
    """``{cite}``, ``{cite:p}``: "[A *et al.*, 2001, B and C, 2017]"; ``{cite:t}``: "A [2001]"."""
    labels = [cite_label(bib[k]) for k in keys]
    if textual:
        return ", ".join(f"{who} [{year}]" for who, year in labels)
    return "[" + ", ".join(f"{who}, {year}" for who, year in labels) + "]"


def bib_item(entry: dict[str, str]) -> str:
    """One line of a chapter's reference list: label, authors, title, venue and year, link.
    The label is the one the pages' lists show (scripts/author_year_labels.py): the
    citation's text, without the italics a list label cannot hold."""
    people = [" ".join(reversed(a.split(",", 1))).strip() for a in _authors(entry)]
    who, year = cite_label(entry, et_al="et al.")
    venue = entry.get("journal") or entry.get("booktitle") or entry.get("publisher")
    parts = [", ".join(people), entry.get("title"), f"*{venue}*, {year}" if venue else year]
    link = (f" doi:[{entry['doi']}](https://doi.org/{entry['doi']})" if "doi" in entry
            else f" <{entry['url']}>" if "url" in entry else "")
    return f"- [{who}, {year}] " + ". ".join(p for p in parts if p) + "." + link


# -- the built pages: titles and the numbers Sphinx gave figures, equations, exercises -------
def _anchor(label: str) -> str:
    # docutils turns a label into an HTML id this way (lowercase, runs of others -> "-")
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


class _PageNumbers(HTMLParser):
    """A page's title (its h1) and the number in each captioned element with an id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.title: list[str] | None = None
        self.numbers: dict[str, str] = {}
        self.owner: str | None = None      # the id whose number is being read
        self.skip = False                  # inside a headerlink ("#")
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        cls = (attrs.get("class") or "").split()
        if tag == "span" and ("caption-number" in cls or "eqno" in cls):
            self.owner = next((i for _, i in reversed(self.stack) if i), None)
        self.skip = self.skip or (tag == "a" and "headerlink" in cls)
        if tag == "h1" and self.title is None:
            self.title, self.in_title = [], True
        if tag not in VOID:
            self.stack.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                del self.stack[k:]
                break
        if tag == "span":
            self.owner = None
        if tag == "a":
            self.skip = False
        if tag == "h1":
            self.in_title = False

    def handle_data(self, data):
        if self.skip:
            return
        if self.owner:
            # MyST's dollarmath gives an equation labelled x the id "equation-x"
            ident = self.owner.removeprefix("equation-")
            self.numbers[ident] = (self.numbers.get(ident, "") + data).strip()
        if self.in_title:
            self.title.append(data)


def read_site(html_root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Page titles by docname, and the number ("Fig. 3", "(2)", "Exercise 1") of each label."""
    titles, numbers = {}, {}
    for page in book_pages(html_root):
        parser = _PageNumbers()
        parser.feed(page.read_text(encoding="utf-8"))
        doc = page.relative_to(html_root).with_suffix("").as_posix()
        titles[doc] = " ".join("".join(parser.title or []).split())
        numbers.update(parser.numbers)
    return titles, numbers


# -- one notebook -----------------------------------------------------------------------------
class Book:
    """What a chapter's markup refers to: every notebook's glue, the site, the bibliography."""

    def __init__(self, glue: dict[str, dict], titles: dict[str, str], numbers: dict[str, str],
                 bib: dict[str, dict]):
        self.glue, self.titles, self.numbers, self.bib = glue, titles, numbers, bib
        self.strict = bool(titles)      # a built site must know every label it is asked for

    def number(self, label: str, unnumbered: str | None = None) -> str:
        """What the pages call ``label`` ("Fig. 3"); with no pages, ``unnumbered`` or the label."""
        if _anchor(label) in self.numbers:
            return self.numbers[_anchor(label)]
        if self.strict:
            raise ExportError(f"no number for label {label!r} in the built pages")
        return unnumbered or label

    def value(self, doc: str, key: str) -> dict:
        if key not in self.glue.get(doc, {}):
            raise ExportError(f"glue key {key!r} not found in {doc}")
        return self.glue[doc][key]


class Chapter:
    """Resolves the markup of one notebook (``doc``: its docname, e.g. ``book/01_model``)."""

    def __init__(self, book: Book, doc: str, cited: list[str]):
        self.book, self.doc, self.cited = book, doc, cited
        self.exercises: dict = {}       # label -> ("Exercise 1", " (its title)")
        self.attachments: dict[str, dict] = {}

    def _doc(self, target: str) -> str:
        return posixpath.normpath(posixpath.join(posixpath.dirname(self.doc), target)
                                  if not target.startswith("/") else target[1:])

    # roles
    def role(self, m: re.Match) -> str:
        name, content = m.group("role"), m.group("content")
        if name in ("glue:text", "glue", "glue:", "glue:any", "glue:md"):
            return self.glue(name, content)
        if name in ("cite", "cite:p", "cite:t"):
            keys = [k.strip() for k in content.split(",")]
            unknown = [k for k in keys if k not in self.book.bib]
            if unknown:
                raise ExportError(f"citation key(s) {', '.join(unknown)} not in references.bib")
            return cite_text(keys, name == "cite:t", self.book.bib)
        text, target = _text_target(content)
        if name == "doc":
            doc = self._doc(target.removesuffix(".md").removesuffix(".ipynb"))
            title = text or self.book.titles.get(doc)
            if doc in self.book.glue:       # a notebook of the export: link to it
                rel = posixpath.relpath(doc + ".ipynb", posixpath.dirname(self.doc))
                return f"[{title or posixpath.basename(doc)}]({rel})"
            if self.book.strict and title is None:
                raise ExportError(f"no page {doc!r} for {{doc}}`{content}`")
            return title or posixpath.basename(doc)
        if name == "numref":
            number = self.book.number(target)
            if not text:
                return number
            return text.replace("%s", number.split()[-1]).replace("{number}", number.split()[-1])
        if name == "eq":
            return text or self.book.number(target)
        raise ExportError(f"role {{{name}}} is not handled")

    def glue(self, name: str, content: str) -> str:
        # the key (and format) as MyST-NB's roles split them (myst_nb/ext/glue/roles.py)
        if name == "glue:text":
            key, fmt = content.rsplit(":", 1) if ":" in content else (content, "s")
        else:
            key = content.rsplit(":", 1)[0] if name == "glue:md" else content
        doc, key = key.split("::", 1) if "::" in key else ("", key)
        output = self.book.value(self._doc(doc.removesuffix(".md").removesuffix(".ipynb"))
                                 if doc else self.doc, key)
        if name == "glue:text":
            if "text/plain" not in output["data"]:
                raise ExportError(f"glue {key!r} has no text/plain")
            try:      # MyST-NB's own formatter, so the text is the page's
                text = format_plain_text(output["data"]["text/plain"], fmt)
            except Exception as exc:     # a warning in MyST-NB, which fails `make book` (-W)
                raise ExportError(f"glue {key!r} cannot be formatted as {fmt!r}: {exc}")
            return MARKDOWN_SPECIAL.sub(r"\\\1", text)
        if "text/markdown" in output["data"]:
            return self.markdown(output["data"]["text/markdown"])
        if name == "glue:md" or "text/plain" not in output["data"] or len(output["data"]) > 1:
            raise ExportError(f"glue {key!r} has no form the role {{{name}}} can paste here")
        return MARKDOWN_SPECIAL.sub(r"\\\1", output["data"]["text/plain"])

    # directives
    def directive(self, name: str, arg: str, options: dict[str, str], body: str) -> str:
        if name == "exercise":
            label = options.get("label")
            self.exercises[label] = (self.book.number(label, "Exercise") if label else "Exercise",
                                     f" ({arg})" if arg else "")
            number, title = self.exercises[label]
            return f"**{number}**{title}\n\n" + self.markdown(body)
        if name == "solution-start":
            number, title = self.exercises.get(arg) or (self.book.number(arg, "Exercise"), "")
            return f"**Solution to {number}**{title}"
        if name == "solution-end":
            return ""
        if name == "bibliography":
            return "**References**\n\n" + "\n".join(
                sorted({bib_item(self.book.bib[k]) for k in self.cited if k in self.book.bib},
                       key=str.lower))
        if name == "glue:md":
            return self.glue("glue:md", arg)
        if name == "glue:figure":
            output = self.book.value(self.doc, arg)
            mime = next((m for m in output["data"] if m.startswith("image/")), None)
            if mime is None:
                raise ExportError(f"glue {arg!r} has no image for {{glue:figure}}")
            file = arg + (mimetypes.guess_extension(mime) or "")
            self.attachments[file] = {mime: output["data"][mime]}
            image = f"![{options.get('alt', arg)}](attachment:{file})"
            return image + "\n\n" + self.caption(options.get("name"), body)
        raise ExportError(f"directive {{{name}}} is not handled")

    def caption(self, label: str | None, text: str) -> str:
        text = self.markdown(text.strip())
        return f"**{self.book.number(label)}:** {text}" if label else f"*{text}*"

    def markdown(self, text: str) -> str:
        """``text`` with every role and directive replaced; fenced code kept as it is."""
        lines, out, i = text.split("\n"), [], 0
        while i < len(lines):
            m = FENCE.match(lines[i].strip())
            if not m:
                line = LABELLED_MATH.sub(lambda e: "\\tag{%s} $$" % self.book.number(
                    e.group("label")).strip("()"), lines[i])
                out.append(ROLE_CALL.sub(self.role, line))
                i += 1
                continue
            fence, end = m.group("fence") or m.group("code"), i + 1
            close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
            while end < len(lines) and not close.match(lines[end]):
                end += 1
            if m.group("code"):                   # code: Jupyter shows it as it is
                out.extend(lines[i:end + 1])
            else:
                body = lines[i + 1:end]
                options = {}
                while body and OPTION.match(body[0]):
                    o = OPTION.match(body.pop(0))
                    options[o.group("key")] = o.group("value")
                out.append(self.directive(m.group("name"), m.group("arg"), options,
                                          "\n".join(body).strip("\n")))
            i = end + 1
        return "\n".join(out)


def _text_target(content: str) -> tuple[str, str]:
    m = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content)
    return (m.group(1).strip(), m.group(2).strip()) if m else ("", content.strip())


def export_notebook(nb, doc: str, book: Book):
    """The downloadable copy of the executed notebook ``nb`` (docname ``doc``)."""
    nb = copy.deepcopy(nb)
    # a chapter's reference list holds what it cites, captions included
    texts = [c.source if c.cell_type == "markdown" else
             c.metadata.get("mystnb", {}).get("figure", {}).get("caption", "") for c in nb.cells]
    cited = [k.strip() for text in texts for m in ROLE_CALL.finditer(text)
             if m.group("role").startswith("cite") for k in m.group("content").split(",")]
    chapter = Chapter(book, doc, list(dict.fromkeys(cited)))
    cells = []
    for index, cell in enumerate(nb.cells):
        try:
            if cell.cell_type == "markdown":
                chapter.attachments = {}
                cell.source = re.sub(r"\n{3,}", "\n\n", chapter.markdown(cell.source)).strip("\n")
                if chapter.attachments:
                    cell.attachments = chapter.attachments
                left = unresolved_markup(cell.source)
                if left:
                    raise ExportError(f"unresolved {left[0]}")
                if cell.source or cell.get("attachments"):
                    cells.append(cell)
                continue
            cells.append(cell)
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.output_type == "stream" and o.name == "stderr")]
                figure = cell.metadata.get("mystnb", {}).get("figure", {})
                if figure.get("caption"):
                    cells.append(nbformat.v4.new_markdown_cell(
                        chapter.caption(figure.get("name"), figure["caption"])))
        except ExportError as exc:
            raise ExportError(f"{doc}: cell {index}: {exc}") from None
    nb.cells = cells
    nb.metadata.pop("source_map", None)       # MyST-NB's, for the page's cells, not these
    nbformat.validate(nb)
    return nb


# -- the whole book -------------------------------------------------------------------------
def export_all(executed: Path, html: Path, bib: Path = REPO / "references.bib") -> list[Path]:
    """Export every notebook under ``executed`` into ``html/_sources``; the files written."""
    for folder in (executed, html):
        if not folder.is_dir():
            raise ExportError(f"{folder} is not a folder")
    docs = {p.relative_to(executed).with_suffix("").as_posix(): p
            for p in sorted(executed.rglob("*.ipynb"))}
    if not docs:
        raise ExportError(f"no executed notebooks under {executed}")
    glue = {}
    for doc, path in docs.items():
        glue_file = path.with_name(path.stem + ".glue.json")
        glue[doc] = json.loads(glue_file.read_text(encoding="utf-8")) if glue_file.exists() else {}
    book = Book(glue, *read_site(html), read_bib(bib))
    written, errors = [], []
    for doc, path in docs.items():
        if book.strict and doc not in book.titles:
            continue          # left in the folder by an earlier build: no page links to it
        try:
            nb = export_notebook(nbformat.read(str(path), as_version=4), doc, book)
        except ExportError as exc:
            errors.append(str(exc))
            continue
        out = notebook_path(html, doc)
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(out))
        written.append(out)
    if errors:
        raise ExportError("\n".join(errors))
    return written


def notebook_path(html: Path, doc: str) -> Path:
    """Where a page's download button points (sphinx-book-theme: ``_sources/`` + ipynb_source)."""
    return html / "_sources" / f"{doc}.ipynb"


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        written = export_all(Path(args[0]), Path(args[1]))
    except ExportError as exc:
        print(exc, file=sys.stderr)
        print("export_notebooks: failed", file=sys.stderr)
        return 1
    print(f"export_notebooks: {len(written)} notebook(s) under {Path(args[1]) / '_sources'}")
    return 0


# -- Sphinx extension: the download button ----------------------------------------------------
def _link_notebook(app, pagename, templatename, context, doctree):
    # sphinx-book-theme lists "<_sources>/<ipynb_source>" in the download menu, but sets it
    # only when a launch button is configured; the book has none. A page made from a
    # notebook (MyST-NB records its kernelspec) gets the file export_all writes there.
    if "kernelspec" in app.env.metadata.get(pagename, {}):
        context["ipynb_source"] = pagename + ".ipynb"


def setup(app):
    app.connect("html-page-context", _link_notebook, priority=500)   # before the theme's 501
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.exit(main())
