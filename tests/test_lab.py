"""`make lab` starts JupyterLab from the venv, with the chapters opening as notebooks.

Runs the Makefile's own `lab` recipe (the venv step skipped: the tests already run in it) on
a free local port, then asks the server what a reader's browser would get: the default
viewer of Markdown files, a chapter served as a notebook, the kernel, and no online
extension manager. The server is stopped at the end."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO

TOKEN = "hh-nn-book-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode("utf-8"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    venv = Path(sys.prefix)
    port = _free_port()
    flags = [f"--port={port}", "--ServerApp.ip=127.0.0.1", "--no-browser",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--allow-root")        # containers and CI often run as root
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path_factory.mktemp("jupyter_runtime")))
    log = tmp_path_factory.mktemp("lab") / "lab.log"
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(["make", "-s", "-o", str(venv / ".installed"), "lab",
                                 f"VENV={venv}", f"LAB_FLAGS={' '.join(flags)}"],
                                cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/status?token={TOKEN}")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + log.read_text(encoding="utf-8"))
                time.sleep(0.5)
        yield base
    finally:
        # make and the server run in their own session: stop exactly that group.
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_markdown_opens_as_a_jupytext_notebook(lab):
    s = _get(f"{lab}/lab/api/settings/@jupyterlab/docmanager-extension:plugin?token={TOKEN}")
    viewers = s["schema"]["properties"]["defaultViewers"]["default"]
    assert viewers.get("markdown") == "Jupytext Notebook"
    assert viewers.get("myst") == "Jupytext Notebook"


def test_chapter_is_served_as_a_notebook(lab):
    nb = _get(f"{lab}/api/contents/book/01_model.md?type=notebook&token={TOKEN}")
    assert nb["type"] == "notebook"
    cells = nb["content"]["cells"]
    assert any("parameters" in c["metadata"].get("tags", []) for c in cells)
    assert nb["content"]["metadata"]["kernelspec"]["name"] == "python3"
    specs = _get(f"{lab}/api/kernelspecs?token={TOKEN}")
    assert "python3" in specs["kernelspecs"]


def test_no_online_extension_manager(lab):
    with urllib.request.urlopen(f"{lab}/lab?token={TOKEN}", timeout=10) as r:
        page = r.read().decode("utf-8")
    assert '"can_install": false' in page
    assert '"news": {"disabled": true}' in page
