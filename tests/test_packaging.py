"""pyproject.toml ships what exists: every package-data pattern matches at least one file (a
pattern matching nothing, such as weights in a format the project does not write, misleads
readers about what the package holds)."""
import tomllib

from conftest import REPO


def test_every_package_data_pattern_matches_a_file():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = cfg["tool"]["setuptools"]["package-data"]
    assert package_data
    for package, patterns in package_data.items():
        root = REPO / package.replace(".", "/")
        for pattern in patterns:
            assert list(root.glob(pattern)), f"{package}: {pattern!r} matches no file"
