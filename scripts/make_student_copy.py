"""Write a student copy of the chapters: every exercise solution's code replaced by a stub.

    .venv/bin/python scripts/make_student_copy.py            # into _build/student/
    .venv/bin/python scripts/make_student_copy.py --out DIR

Solutions live between ```{solution-start}``` and ```{solution-end}``` directives at the end
of each chapter (sphinx-exercise). Inside them, each code cell keeps its opening line, its
metadata (a ``---`` block or ``:tags:`` lines) and its first comment line (if any); its
code becomes ``...  # your code here``. Everything else (the prose of the solutions
included, which says how to go about it) is copied byte for byte, so the copy has the same
cells as the chapter.

No code cell of a chapter comes after its first solution except other solutions
(tests/test_student_copy.py checks it), so no remaining cell needs a stubbed solution's
names: a student copy runs from top to bottom, stubs included (``...`` is a valid
statement). Chapters read files by paths relative to book/, so run a copy with its kernel
started there (papermill ``--cwd book``, as in README's "Rerunning one chapter"), or copy it
into book/ to open it in ``make lab``.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOOK = REPO / "book"
STUB = "...  # your code here"

# Opening fences of the directives and of code cells (backticks or colons, MyST style).
SOLUTION_START = re.compile(r"^\s*(`{3,}|:{3,})\{solution-start\}")
SOLUTION_END = re.compile(r"^\s*(`{3,}|:{3,})\{solution-end\}")
CODE_CELL = re.compile(r"^(`{3,})\{code-cell\}")
OPTION_LINE = re.compile(r"^:[\w-]+:")


def chapters(book: Path = BOOK) -> list[Path]:
    """The chapters, ``book/NN_name.md``, in order."""
    return sorted(book.glob("[0-9][0-9]_*.md"))


def stub_body(body: list[str]) -> list[str]:
    """A solution cell's code lines -> its first comment line (if any) and the stub."""
    comments = [ln.strip() for ln in body if ln.strip().startswith("#")]
    return comments[:1] + [STUB]


def student_text(text: str) -> str:
    """The chapter's text with each solution's code cells stubbed; all else unchanged."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    in_solution = False
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if SOLUTION_START.match(line):
            in_solution = True
        elif SOLUTION_END.match(line):
            in_solution = False
        fence = CODE_CELL.match(line)
        if not (in_solution and fence):
            out.append(line)
            continue
        # A solution's code cell: keep the opening line and its metadata, a "---" block or
        # ":key: value" option lines (with the blank line after them).
        out.append(line)
        if i < len(lines) and lines[i].strip() == "---":
            end = next(k for k in range(i + 1, len(lines)) if lines[k].strip() == "---")
            out.extend(lines[i:end + 1])
            i = end + 1
        elif i < len(lines) and OPTION_LINE.match(lines[i]):
            while i < len(lines) and OPTION_LINE.match(lines[i]):
                out.append(lines[i])
                i += 1
            if i < len(lines) and not lines[i].strip():
                out.append(lines[i])
                i += 1
        # The body runs to the closing fence: the same backticks, alone on their line.
        end = next(k for k in range(i, len(lines)) if lines[k].strip() == fence.group(1))
        out.extend(ln + "\n" for ln in stub_body([ln.rstrip("\n") for ln in lines[i:end]]))
        i = end   # the closing fence is copied on the next pass
    return "".join(out)


def write_copies(out_dir: Path, book: Path = BOOK) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for chapter in chapters(book):
        target = out_dir / chapter.name
        target.write_text(student_text(chapter.read_text(encoding="utf-8")), encoding="utf-8")
        written.append(target)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "_build" / "student",
                    help="folder for the copies (default: _build/student in the repository)")
    args = ap.parse_args(argv)
    written = write_copies(args.out)
    print(f"wrote {len(written)} student chapters to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
