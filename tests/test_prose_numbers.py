"""Every number in the book's prose is computed by the build, never typed in.

A pure-text check of ``book/*.md`` (no execution, well under a second):

* ``test_no_typed_in_numbers_in_prose`` fails on any digit in the prose of a chapter that is
  not inside something the build computes or a definition written as mathematics: code cells
  and other fenced code, math (``$...$``, ``$$...$$``, ``{math}`` roles and directives,
  ``\\begin{...}`` environments), inline code, MyST roles with backtick content
  (``{glue:text}`name:.3f```, ``{numref}``, ``{cite}``, ...), directive option lines, target
  labels, HTML comments, URLs and link targets. Figure captions count as prose, both in
  ``{figure}``-like directive bodies and in the ``caption:`` of a code cell's ``mystnb``
  metadata. A short allowlist (``ALLOWED`` below) covers what is not a result.
* ``test_glue_roles_are_glued_in_the_same_chapter`` fails when a ``{glue...}`` role in a
  chapter names a value that no code cell of that chapter glues.

Inputs that the code itself sets (a sampling step, a tolerance) may be written in math as
definitions; results may not be typed anywhere, they are glued.
"""
from __future__ import annotations

import re

import numpy as np
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(BOOK.glob("*.md"))

# A digit: ASCII/Unicode decimal digits plus the superscripts and vulgar fractions that a
# typed-in number could hide behind ("10⁻⁶", "½").
_DIGIT = r"[\d⁰¹²³⁴⁵⁶⁷⁸⁹½¼¾⅓⅔]"
_TOKEN = re.compile(rf"\S*{_DIGIT}\S*")

# Tokens that are not results, each with its reason. Matched against the whole
# whitespace-delimited token (trailing punctuation stripped).
ALLOWED: dict[str, str] = {
    # The source paper's arXiv identifier (intro), a citation, not a measurement.
    r"\(?arXiv:2203\.14138\)?": "arXiv identifier of the source paper",
    # Units written as reciprocals ("eigenvalues in 1/s"): the 1 is not a quantity.
    r"\(?1/(s|ms|mV)\)?": "a reciprocal unit",
    # Names that contain digits: SciPy's solvers, the Dormand-Prince order pair "5(4)" that
    # names the method, and floating-point types.
    r"\(?(RK45|RK23|DOP853)('s)?\)?": "a SciPy solver's name",
    r"\(?RK4('s)?\)?": "the name of the classical fourth-order Runge-Kutta method",
    r"Tsit5": "a diffrax solver's name",
    r"\(?5\(4\)\)?": "the name of the Dormand-Prince 5(4) pair",
    r"\(?float(16|32|64)\)?": "a floating-point type",
    r"\(?x86-64\)?": "a processor architecture's name",
    # The label that ```{solution-start} <label>``` takes as its argument ("model-ex-1").
    r"[a-z]+-ex-\d+": "an exercise label (the argument of {solution-start})",
}
_ALLOWED_RE = [re.compile(rf"(?:{pattern})[.,;:)]*") for pattern in ALLOWED]

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{[^}]*\}|[\w+-]*)?(.*)$")
# Fenced blocks whose body is prose (captions, admonitions, exercise prompts); every other
# fenced block (code cells, code, math, bibliography) is not scanned.
_CODE_DIRECTIVES = {"{code-cell}", "{code-block}", "{code}", "{math}", "{bibliography}",
                    "{raw}", "{eval-rst}", "{list-table}", "{csv-table}"}
_TITLE_DIRECTIVES = {"{admonition}", "{exercise}", "{exercise-start}", "{topic}",
                     "{sidebar}", "{dropdown}"}
_OPTION_LINE = re.compile(r"^\s*:[\w-]+:(\s.*)?$")
_TARGET_LINE = re.compile(r"^\s*\([\w:.-]+\)=\s*$")
_LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)]\s")
_INLINE_PATTERNS = [
    re.compile(r"\{[\w:.-]+\}(`+)[^`]*?\1"),       # MyST role with backtick content
    re.compile(r"(`+)[^`]*?\1"),                   # inline code
    re.compile(r"\$\$.*?\$\$"),                   # display math on one line
    re.compile(r"(?<!\\)\$[^$]+?(?<!\\)\$"),      # inline math
    re.compile(r"\]\([^)]*\)"),                    # link target
    re.compile(r"<https?://[^>]*>|https?://\S+"),  # URLs
    re.compile(r"\[\^?[A-Za-z][\w:.-]*\]"),         # reference-style link labels / footnotes
]


def _allowed(token: str) -> bool:
    return any(rx.fullmatch(token) for rx in _ALLOWED_RE)


def prose_lines(text: str):
    """Yield ``(line_number, text)`` for every line of prose, math/code/markup already cut.

    A small line-based MyST reader: enough for this book's style (fences at line start,
    ``$$`` display math on lines of its own or inline, HTML comments possibly multi-line).
    """
    lines = text.splitlines()
    i = 0
    # YAML front matter (jupytext header).
    if lines and lines[0].strip() == "---":
        i = 1
        while i < len(lines) and lines[i].strip() != "---":
            i += 1
        i += 1
    fences: list[tuple[str, bool]] = []   # (closing fence, body is prose)
    in_math = False
    in_env: str | None = None
    in_comment = False
    in_inline = False                     # inside $...$ math that spans lines
    in_meta = False                       # a directive's "---" YAML option block
    in_caption: int | None = None         # indentation of a `caption:` key being read
    while i < len(lines):
        line = lines[i]
        n = i + 1
        i += 1
        stripped = line.strip()
        # Closing or opening fences.
        m = _FENCE.match(line)
        if m and not in_math and in_env is None and not in_comment:
            marker = m.group(2)
            if fences and marker[0] == fences[-1][0][0] and len(marker) >= len(fences[-1][0]) \
                    and not (m.group(3) or m.group(4).strip()):
                fences.pop()
                in_meta = False
                in_caption = None
                continue
            if not fences or fences[-1][1]:
                name = (m.group(3) or "").strip()
                is_prose = name.startswith("{") and name not in _CODE_DIRECTIVES
                fences.append((marker, is_prose))
                # A title argument is prose; other arguments (a label, a file, a glue
                # name) are not.
                if name in _TITLE_DIRECTIVES and m.group(4).strip():
                    yield n, m.group(4)
                # A following "---" line opens the directive's YAML options.
                if i < len(lines) and lines[i].strip() == "---":
                    in_meta = True
                    i += 1
                continue
        if in_meta:
            if stripped == "---":
                in_meta = False
                in_caption = None
                continue
            # In YAML options only a figure caption is prose (also in code cells' mystnb).
            indent = len(line) - len(line.lstrip())
            cap = re.match(r"^(\s*)caption:\s*(.*)$", line)
            if cap:
                in_caption = len(cap.group(1))
                yield n, _strip_inline(cap.group(2))
            elif in_caption is not None and indent > in_caption and stripped:
                yield n, _strip_inline(line)
            else:
                in_caption = None
            continue
        if fences and not fences[-1][1]:
            continue                       # code, math or bibliography body
        # HTML comments (possibly spanning lines).
        if in_comment:
            if "-->" in line:
                in_comment = False
                line = line.split("-->", 1)[1]
            else:
                continue
        while "<!--" in line:
            head, rest = line.split("<!--", 1)
            if "-->" in rest:
                line = head + rest.split("-->", 1)[1]
            else:
                line = head
                in_comment = True
        # Display math spanning lines.
        if in_math:
            if "$$" in line:
                in_math = False
                line = line.split("$$", 1)[1]
            else:
                continue
        if line.count("$$") % 2 == 1:
            line = line.split("$$", 1)[0]
            in_math = True
        # amsmath environments at top level.
        if in_env is not None:
            if f"\\end{{{in_env}}}" in line:
                line = line.split(f"\\end{{{in_env}}}", 1)[1]
                in_env = None
            else:
                continue
        env = re.search(r"\\begin\{([\w*]+)\}", line)
        if env and f"\\end{{{env.group(1)}}}" not in line:
            in_env = env.group(1)
            line = line[:env.start()]
        if _OPTION_LINE.match(line) or _TARGET_LINE.match(line):
            continue
        # Inline math that continues from the previous line.
        if in_inline:
            if "$" not in line:
                continue
            line = " " + line.split("$", 1)[1]
            in_inline = False
        line = _strip_inline(_LIST_MARKER.sub(" ", line, count=1))
        # An inline math span left open at the end of the line continues on the next.
        if re.search(r"(?<!\\)\$", line):
            line = re.split(r"(?<!\\)\$", line, maxsplit=1)[0]
            in_inline = True
        yield n, line


def _strip_inline(line: str) -> str:
    for rx in _INLINE_PATTERNS:
        line = rx.sub(" ", line)
    return line


def typed_numbers(path: Path) -> list[tuple[int, str]]:
    hits = []
    for n, line in prose_lines(path.read_text(encoding="utf-8")):
        for token in _TOKEN.findall(line):
            if not _allowed(token):
                hits.append((n, token))
    return hits


def test_no_typed_in_numbers_in_prose():
    problems = []
    for path in CHAPTERS:
        for n, token in typed_numbers(path):
            problems.append(f"book/{path.name}:{n}: {token!r}")
    assert not problems, (
        "Digits typed into the book's prose (outside code, math and glue roles). Glue the "
        "value from the code ({glue:text}`name:fmt`), write an input the code sets as math, "
        "reword, or (only for non-results) extend ALLOWED in tests/test_prose_numbers.py:\n"
        + "\n".join(problems))


_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)(?::[^`]*)?`")
_GLUE_DIRECTIVE = re.compile(r"^\s*[`:]{3,}\{glue(?::\w+)?\}\s+(\S+)", re.M)
_GLUE_CALL = re.compile(r"""\bglue\(\s*(f?)(["'])(.*?)\2""")
# Glue names built at run time (f-strings); each entry is a regex for the names it makes.
DYNAMIC_GLUE: dict[str, list[str]] = {
    # Glued in a loop over a dict of keyword arguments (`for k, v in dict(...).items()`).
    "02_stiff_integration.md": ["wp_gain_b64", "wp_vs_lsoda", "wp_vs_rk45",
                                "acc_vs_lsoda", "acc_vs_radau", "radau_lsoda_cost"],
    # Glued by book/perturbations.py's spread_section, which the chapter calls with its prefix.
    **{f"0{n}_{name}.md": [rf"ch{n}_spread_(runs|text)"]
       for n, name in ((4, "network"), (5, "dynamics_recovery"), (6, "bistability"),
                       (8, "other_methods"))},
}


def _summary_keys() -> list[str]:
    """The keys of _code.ch05.recovery_summary, which chapter 5 glues in a loop: read
    from a call, so that a key the library drops is caught here."""
    from _code.ch05 import recovery_summary
    from hhlib.dynamics.recovery import fixed_point_checks, recovery_targets
    from test_recovery_compare import GOOD_LAM, TOL, _comparison
    checks = fixed_point_checks(_comparison(np.zeros(3), np.tile(GOOD_LAM, (4, 1))), TOL)
    return list(recovery_summary(recovery_targets(-33.8, -33.8, checks)[0], checks))


DYNAMIC_GLUE["05_dynamics_recovery.md"] = DYNAMIC_GLUE["05_dynamics_recovery.md"] + [
    "|".join(_summary_keys())]


def _glued_names(text: str) -> tuple[set[str], list[re.Pattern]]:
    names, patterns = set(), []
    for is_f, _, name in _GLUE_CALL.findall(text):
        if is_f and "{" in name:
            patterns.append(re.compile(re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(name))))
        else:
            names.add(name)
    return names, patterns


_GLUE_OTHER = re.compile(r"\{glue(?::\w+)?\}`([\w.-]+\.md)::([^`:]+)(?::[^`]*)?`")


def test_glue_roles_are_glued_in_the_same_chapter():
    """A role names a key glued in its own chapter, or (``doc.md::key``, as the introduction's
    measured verdicts do) in the chapter it names."""
    problems = []
    book = CHAPTERS[0].parent
    for path in CHAPTERS:
        text = path.read_text(encoding="utf-8")
        names, patterns = _glued_names(text)
        patterns += [re.compile(p) for p in DYNAMIC_GLUE.get(path.name, [])]
        other = _GLUE_OTHER.findall(text)
        text = _GLUE_OTHER.sub("", text)
        used = set(_GLUE_ROLE.findall(text)) | set(_GLUE_DIRECTIVE.findall(text))
        for name in sorted(used):
            if name not in names and not any(p.fullmatch(name) for p in patterns):
                problems.append(f"book/{path.name}: {{glue}} `{name}` is used but never glued")
        for doc, name in sorted(set(other)):
            src = book / doc
            there, pats = _glued_names(src.read_text(encoding="utf-8")) if src.exists() else (
                set(), [])
            pats += [re.compile(p) for p in DYNAMIC_GLUE.get(doc, [])]
            if name not in there and not any(p.fullmatch(name) for p in pats):
                problems.append(f"book/{path.name}: {{glue}} `{doc}::{name}` is not glued there")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("snippet, expected", [
    ("A value of 3.5 mV.", ["3.5"]),
    ("Glued {glue:text}`x:.3f` mV, $V_S = -38$ mV, `t=5`, {numref}`fig-1`.", []),
    ("Text <!-- 42 --> and [link](https://x/1).", []),
    ("Kuptsov {cite}`kuptsov2022`, arXiv:2203.14138.", []),
    ("In (2022) we ran 2000 trajectories.", ["(2022)", "2000"]),
    ("$$\nx = 1\n$$\nthen 7 s.", ["7"]),
    ("```{code-cell} ipython3\nx = 12\n```\nok", []),
    ("```{code-cell} ipython3\n---\nmystnb:\n  figure:\n    caption: near -45 1/s\n"
     "      and 2 more\n    name: fig-x\n---\nx = 1\n```", ["-45", "2"]),
    ("```{figure} a.png\n:name: fig-9\n\nCaption at 10 s.\n```", ["10"]),
    ("1. First claim, no digit.\n2. Second.", []),
    ("See [3] and [label] and {doc}`the model <01_model>`.", ["[3]"]),
    ("Math $x =\n1$ then 3 s.", ["3"]),
    ("````{exercise}\n:label: ex-1\n\nRun for 5 s at $V_S = -38$ mV.\n````\n"
     "```{solution-start} ex-1\n```\nIt takes 7 s.\n```{solution-end}\n```", ["5", "7"]),
])
def test_scanner_on_examples(tmp_path, snippet, expected):
    path = tmp_path / "x.md"
    path.write_text(snippet, encoding="utf-8")
    assert [tok for _, tok in typed_numbers(path)] == expected
