"""LICENSE, CITATION.cff and CHANGELOG.md exist and say what they must (issue 26)."""
import datetime
import re
import tomllib

import pytest

from conftest import REPO

yaml = pytest.importorskip("yaml")


def _citation() -> dict:
    return yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))


def test_license_states_mit_for_code_and_cc_by_for_text():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in text and "Permission is hereby granted, free of charge" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert "Creative Commons Attribution 4.0 International" in text
    assert "https://creativecommons.org/licenses/by/4.0/" in text


def test_citation_cff_has_the_required_keys():
    cff = _citation()
    # CFF 1.2.0's required keys, and what this project promises besides
    for key in ("cff-version", "message", "title", "authors", "version", "date-released",
                "license", "references"):
        assert key in cff, key
    assert cff["cff-version"] == "1.2.0"
    assert cff["authors"] == [{"name": "hh-nn-book contributors"}]
    assert set(cff["license"]) == {"MIT", "CC-BY-4.0"}
    datetime.date.fromisoformat(str(cff["date-released"]))


def test_citation_version_is_the_package_version():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert str(_citation()["version"]) == project["version"]


def test_citation_references_the_source_paper_as_in_references_bib():
    (paper,) = [r for r in _citation()["references"] if "2203.14138" in r.get("url", "")]
    for key in ("type", "title", "authors"):
        assert key in paper, key
    bib = (REPO / "references.bib").read_text(encoding="utf-8")
    entry = bib[bib.index("@misc{kuptsov2022"):]
    entry = entry[:entry.index("\n}")]
    bib_title = re.search(r"title\s*=\s*\{(.*)\},", entry).group(1)
    bib_title = bib_title.replace("{", "").replace("}", "").replace("--", "–")
    assert " ".join(paper["title"].split()) == bib_title
    assert [a["family-names"] for a in paper["authors"]] == ["Kuptsov", "Stankevich",
                                                              "Bagautdinova"]
    assert paper["year"] == 2022


def test_changelog_keeps_an_unreleased_section_and_the_release():
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "Keep a Changelog" in text
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert headings[0] == "Unreleased"
    assert "0.1.0" in headings
    assert f"## [{_citation()['version']}] - {_citation()['date-released']}" in text


def test_readme_points_to_license_and_citation():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "## License and citation" in text
    assert "`LICENSE`" in text and "`CITATION.cff`" in text
