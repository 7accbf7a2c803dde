"""The built HTML typesets equations with no network: MathJax comes from a pinned package
(``sphinx-mathjax-offline``, MathJax 3.2.2) and is copied into the build, and no page loads
anything from a CDN.

A one-page book is built with the repository's own ``_config.yml`` (a few seconds, no
notebook): what the full book would do with math, in miniature.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

from conftest import REPO

# Hosts that serve JavaScript, CSS or fonts to web pages; none may appear in the HTML.
CDN_HOSTS = ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "unpkg.com", "polyfill.io",
             "cdn.mathjax.org", "ajax.googleapis.com", "fonts.googleapis.com",
             "fonts.gstatic.com", "code.jquery.com", "stackpath.bootstrapcdn.com")
# sphinx-thebe writes the address of thebe's bundle into an inline variable on every page;
# it is fetched only when a reader presses a live-code launch button, and the book has none
# (``launch_buttons: thebe: false``). The test removes exactly that statement, nothing else.
THEBE_CONST = re.compile(r'const THEBE_JS_URL = "https://unpkg\.com/thebe@[0-9.]+/lib/index\.js";?')

# Chapter 1's system of equations, as written there (an ``aligned`` pair in $$ ... $$,
# which MyST's amsmath/dollarmath turn into \begin{split}\begin{aligned}...).
PAGE = r"""# Offline math

Inline math $\mu = e^{\lambda\,\Delta t}$ and chapter 1's system:

$$
\begin{aligned}
\tau \,\frac{dV}{dt} &= -I_{Ca}(V) - I_K(V, n) - I_S(V, S),\\
\tau \,\frac{dn}{dt} &= \sigma\,\bigl(n_\infty(V) - n\bigr),\\
\tau_S \frac{dS}{dt} &= S_\infty(V) - S,
\end{aligned}
\qquad
\begin{aligned}
I_{Ca} &= g_{Ca}\, m_\infty(V)\,(V - V_{Ca}),\\
I_K &= g_K\, n\,(V - V_K),\\
I_S &= g_S\, S\,(V - V_K),
\end{aligned}
$$

```{math}
:label: eq-offline
\lambda_{1,2} = \tfrac{1}{2}\Bigl(\operatorname{tr} J \pm \sqrt{(\operatorname{tr} J)^2 - 4\det J}\Bigr)
```
"""


@pytest.fixture(scope="module")
def html_dir() -> Path:
    """Build the one-page book with the repository's configuration; return _build/html."""
    jb = Path(sys.executable).parent / "jupyter-book"
    assert jb.exists(), f"jupyter-book not found next to {sys.executable}"
    with tempfile.TemporaryDirectory(prefix="offline_html_") as tmp:
        root = Path(tmp)
        shutil.copy(REPO / "_config.yml", root / "_config.yml")
        shutil.copy(REPO / "references.bib", root / "references.bib")
        # the local Sphinx extension _config.yml loads, and the module it reads
        shutil.copytree(REPO / "scripts", root / "scripts",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (root / "tests").mkdir()
        shutil.copy(REPO / "tests" / "check_html.py", root / "tests" / "check_html.py")
        (root / "_toc.yml").write_text("format: jb-book\nroot: index\n", encoding="utf-8")
        (root / "index.md").write_text(PAGE, encoding="utf-8")
        # -W as in `make book`: a warning (e.g. a missing extension) fails the build.
        proc = subprocess.run([str(jb), "build", str(root), "--builder", "html", "-W",
                               "--keep-going"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        out = root / "_build" / "html"
        assert (out / "index.html").is_file()
        yield out


def _pages(html_dir: Path) -> list[Path]:
    pages = sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts)
    assert pages, "no HTML pages built"
    return pages


def test_no_page_loads_anything_remote(html_dir):
    """Every script, stylesheet, icon, image and frame of every page is a local file."""
    for page in _pages(html_dir):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag, attr in (("script", "src"), ("link", "href"), ("img", "src"),
                          ("iframe", "src"), ("source", "src"), ("video", "src"),
                          ("audio", "src")):
            for el in soup.find_all(tag):
                url = el.get(attr)
                if not url or (tag == "link" and "canonical" in (el.get("rel") or [])):
                    continue
                parsed = urlparse(url)
                assert not parsed.scheme.startswith("http") and not url.startswith("//"), (
                    f"{page.name}: <{tag} {attr}={url!r}> loads from the network")


def test_no_cdn_address_in_html(html_dir):
    """No CDN host name anywhere in the pages (inline scripts included)."""
    for page in _pages(html_dir):
        text = page.read_text(encoding="utf-8")
        text = THEBE_CONST.sub("", text)
        found = [h for h in CDN_HOSTS if h in text]
        assert not found, f"{page.name} names CDN host(s) {found}"


def test_mathjax_is_shipped_in_the_build(html_dir):
    """The page's MathJax script is MathJax 3 under _static/, with its CHTML fonts next to
    it (MathJax loads fonts and TeX extensions relative to its own script)."""
    page = html_dir / "index.html"
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    srcs = [s["src"] for s in soup.find_all("script", src=True) if "mathjax" in s["src"].lower()]
    assert len(srcs) == 1, srcs
    script = (page.parent / srcs[0]).resolve()
    assert script.is_file(), f"{srcs[0]} referenced but not in the build"
    assert script.is_relative_to(html_dir.resolve() / "_static")
    assert 'VERSION="3.' in script.read_text(encoding="utf-8", errors="replace")
    fonts = list((script.parent / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) > 10, "MathJax CHTML fonts missing from the build"
    assert (script.parent / "input" / "tex" / "extensions" / "ams.js").is_file()
    # The equations reach MathJax as TeX in math containers (not as pre-rendered text).
    blocks = soup.select("div.math")
    assert len(blocks) == 2 and any(r"\begin{aligned}" in b.get_text() for b in blocks)


def test_equations_typeset_in_a_browser_without_network(html_dir):
    """Headless Chromium with every host name unresolvable: MathJax replaces each equation
    by its rendering (``mjx-container``) and reports no TeX error (``mjx-merror``)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium_") as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
             "--virtual-time-budget=10000", "--dump-dom",
             (html_dir / "index.html").as_uri()],
            capture_output=True, text=True, timeout=60)
    dom = proc.stdout
    assert "<body" in dom, proc.stderr[-2000:]
    containers = re.findall(r"<mjx-container[^>]*>", dom)
    # one inline, one $$ display, one {math} display
    assert len(containers) == 3, proc.stderr[-2000:]
    assert sum('display="true"' in c for c in containers) == 2
    assert "<mjx-merror" not in dom
