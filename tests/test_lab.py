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
    # No --allow-root here: the Makefile adds it as root (containers and CI often run as root).
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


# ------------------------------------------------------------- settings, against the schemas
OVERRIDES = REPO / ".jupyter" / "labconfig" / "default_setting_overrides.json"
SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"


def _schema(plugin: str) -> dict:
    """The installed JupyterLab's settings schema of ``plugin`` ("@scope/package:name")."""
    package, name = plugin.split(":")
    path = SCHEMAS / package / f"{name}.json"
    if not SCHEMAS.is_dir():
        pytest.skip(f"no JupyterLab schemas at {SCHEMAS}")
    assert path.is_file(), f"{plugin}: no such plugin in the installed JupyterLab ({path})"
    return json.loads(path.read_text(encoding="utf-8"))


def _valid(value, prop: dict) -> bool:
    if "oneOf" in prop:
        return any(value == c.get("const") for c in prop["oneOf"])
    if "enum" in prop:
        return value in prop["enum"]
    kind = {"boolean": bool, "string": str, "object": dict, "array": list}.get(prop.get("type"))
    return kind is None or isinstance(value, kind)


def test_every_overridden_setting_exists_in_the_installed_schema():
    """A misspelt plugin or setting name is silently ignored by JupyterLab: check each one."""
    overrides = json.loads(OVERRIDES.read_text(encoding="utf-8"))
    for plugin, values in overrides.items():
        props = _schema(plugin)["properties"]
        for key, value in values.items():
            assert key in props, f"{plugin}: no setting {key!r}; it has {sorted(props)}"
            assert _valid(value, props[key]), f"{plugin}:{key} = {value!r} is not allowed"


def test_news_prompt_and_update_checks_are_off():
    """JupyterLab asks "Would you like to get notified about official Jupyter news?" while
    fetchNews is "none" (its default), whatever the server's news_url; "false" is Never."""
    plugin = "@jupyterlab/apputils-extension:notification"
    props = _schema(plugin)["properties"]
    assert {"const": "false", "title": "Never"} in props["fetchNews"]["oneOf"]
    settings = json.loads(OVERRIDES.read_text(encoding="utf-8"))[plugin]
    assert settings == {"fetchNews": "false", "checkForUpdates": False}


def test_make_lab_adds_allow_root_only_as_root():
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    cmd = subprocess.run(["make", "-n", "-o", str(Path(sys.prefix) / ".installed"), "lab",
                          f"VENV={sys.prefix}"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    assert ("--allow-root" in cmd) == as_root, cmd


def test_server_serves_the_news_setting_off(lab):
    s = _get(f"{lab}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={TOKEN}")
    props = s["schema"]["properties"]
    assert props["fetchNews"]["default"] == "false"
    assert props["checkForUpdates"]["default"] is False
