"""The introduction's outline ("How the book is organised") names every part and every
chapter of the table of contents, so a chapter added to _toc.yml cannot be left out of it,
and the README and the introduction give the same recipe for rerunning a chapter."""
import re

import yaml

from conftest import REPO


def _outline() -> str:
    text = (REPO / "book" / "intro.md").read_text(encoding="utf-8")
    m = re.search(r"^## How the book is organised\n(.*?)^## ", text, flags=re.S | re.M)
    assert m, "book/intro.md has no section 'How the book is organised'"
    return m.group(1)


def test_outline_names_every_part_and_chapter():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    outline = _outline()
    for part in toc["parts"]:
        assert f"**{part['caption']}.**" in outline, f"part {part['caption']!r} not in outline"
        for chapter in part["chapters"]:
            stem = chapter["file"].split("/")[-1]
            assert f"{{doc}}`{stem}`" in outline, f"chapter {stem} not in the intro's outline"


def _bash_blocks(path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [b for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S) if "papermill" in b]


def test_readme_and_intro_give_one_papermill_recipe():
    readme = _bash_blocks(REPO / "README.md")
    intro = _bash_blocks(REPO / "book" / "intro.md")
    assert len(readme) == 1 and len(intro) == 1
    assert readme[0] == intro[0]


def test_teaching_page_gives_the_same_recipe_and_real_commands():
    """book/teaching.md (issue 26) repeats the README's recipe word for word, and the make
    target and the training flags it names exist."""
    page = REPO / "book" / "teaching.md"
    text = page.read_text(encoding="utf-8")
    assert _bash_blocks(REPO / "README.md")[0] in _bash_blocks(page)
    assert re.search(r"^student:", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)
    assert "make student" in text and "hide_solutions" in text
    script = (REPO / "scripts" / "train_network.py").read_text(encoding="utf-8")
    for flag in set(re.findall(r"`(--[\w-]+)", text)) - {"--cwd", "--help"}:
        assert f'"{flag}"' in script, f"teaching.md names {flag}, which train_network lacks"
