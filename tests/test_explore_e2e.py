"""End to end: a real JupyterLab on loopback, investigate.ipynb run in headless Chromium.

The notebook is copied to a temporary folder (JupyterLab saves outputs into the file it
runs), JupyterLab is started with no network features, the page is driven with
Playwright: run all cells, wait for the explorer's widgets and its Vega charts, pick a
version in the versions filter, and check that the summary and a chart change. A
screenshot of the explorer goes to ``test-artifacts/explorer.png``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from obskit.report.notebooks import copy_notebook
from tests.browser import FLAGS

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
# Flags of tests/browser.py that only make sense for one-shot --dump-dom runs are left out, and
# the proxy and resolver rules are relaxed for 127.0.0.1 only: here the page *is* on loopback,
# and every other address still goes to the dead proxy and resolves to nothing.
_SKIP = ("--headless", "--dump-dom", "--virtual-time-budget", "--enable-logging", "--v=", "--window-size",
         "--proxy-bypass-list", "--host-resolver-rules")
BROWSER_ARGS = [f for f in FLAGS if not f.startswith(_SKIP)] + [
    "--proxy-bypass-list=127.0.0.1", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
DISABLED = {  # JupyterLab plugins that would reach the network
    "@jupyterlab/apputils-extension:announcements": True,
    "@jupyterlab/extensionmanager-extension:plugin": True,
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def chromium() -> str:
    """The Debian chromium binary, or skip."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    return path


def run_all_cells(page: Any, url: str) -> None:
    """Open the notebook at ``url`` in JupyterLab, wait for an idle kernel, then Run > Run All Cells."""
    page.goto(url, wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # wait for the kernel to settle (running cells while it starts can lose them)
    page.wait_for_function(
        "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')",
        timeout=60_000)
    page.wait_for_timeout(1500)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


@contextlib.contextmanager
def running_lab(tmp_path: Path, root: Path, notebook: str, env_extra: dict[str, str] | None = None) -> Iterator[str]:
    """A JupyterLab server on 127.0.0.1 serving ``root``; yields the URL that opens ``notebook``."""
    conf = tmp_path / "config"
    (conf / "labconfig").mkdir(parents=True)
    (conf / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": DISABLED}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(conf), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "OBSKIT_PROGRESS": "0", **(env_extra or {})}
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}", f"--LabApp.workspaces_dir={tmp_path / 'ws'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI and this workplace run as root
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
            time.sleep(0.3)
        yield f"{base}/lab/tree/{notebook}?token={token}&reset"
    finally:
        # ask the server to stop (it shuts its kernels down), then make sure it is gone
        with contextlib.suppress(OSError):
            req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(req, timeout=10).close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    """A JupyterLab server on 127.0.0.1 serving a copy of the notebooks folder."""
    root = tmp_path / "work" / "notebooks"
    root.mkdir(parents=True)
    # what a user does: copy the shipped notebook out of the package, name the config
    copy_notebook("investigate", root)
    with running_lab(tmp_path, root, "investigate.ipynb",
                     {"OBSKIT_CONFIG": str(REPO / "data" / "samples" / "obskit.toml")}) as url:
        yield url


def _wait_for_change(page: Any, before: str) -> str:
    """Wait until the summary's request count differs from ``before``; return the new count."""
    handle = page.wait_for_function(
        "(before) => { const b = document.querySelector('.obskit-explorer-summary b[data-requests]'); "
        "return b && b.dataset.requests !== before ? b.dataset.requests : null; }", arg=before, timeout=30_000)
    return str(handle.json_value())


def _wait_for_chart_change(page: Any, before: str) -> None:
    """Wait until the first chart of the explorer is redrawn."""
    page.wait_for_function(
        "(before) => { const c = document.querySelector('.obskit-explorer .obskit-explorer-chart .vega-embed');"
        " return c && c.innerHTML !== before; }", arg=before, timeout=30_000)


def test_investigate_notebook_in_jupyterlab(chromium: str, lab: str) -> None:
    from playwright import sync_api

    url = lab
    shots = REPO / "test-artifacts"
    shots.mkdir(exist_ok=True)
    console: list[str] = []
    t0 = time.monotonic()

    def step(what: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {what}", flush=True)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        try:
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            step("open notebook")
            run_all_cells(page, url)
            step("kernel idle; all cells run")
            explorer = page.locator(".obskit-explorer").first
            explorer.wait_for(state="visible", timeout=45_000)
            step("explorer shown")
            # the walk-through cells narrow the range to the evening incident
            summary = page.locator(".obskit-explorer-summary .obskit-summary-line").first
            page.wait_for_function(
                "() => { const s = document.querySelector('.obskit-explorer-summary'); "
                "return s && s.textContent.includes('18:30'); }", timeout=60_000)
            chart = page.locator(".obskit-explorer .obskit-explorer-chart .vega-embed").first
            chart.wait_for(state="visible", timeout=60_000)
            page.wait_for_selector(".obskit-explorer .vega-embed svg, .obskit-explorer .vega-embed canvas",
                                   timeout=60_000)
            # every cell has run: the last one shows the slowest requests
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                ".every(p => !p.textContent.includes('*') && /\\[\\d+\\]/.test(p.textContent) "
                "|| p.closest('.jp-MarkdownCell'))", timeout=60_000)
            step("charts drawn, all cells done")
            before_n = summary.locator("b[data-requests]").get_attribute("data-requests", timeout=10_000)
            step(f"summary: {before_n} requests")
            before_chart = chart.inner_html(timeout=10_000)
            assert before_n is not None and int(before_n) > 0
            # Reset filters: the whole day
            page.locator(".obskit-explorer button", has_text="Reset filters").first.click()
            after_reset = _wait_for_change(page, before_n)
            assert int(after_reset) > int(before_n)
            _wait_for_chart_change(page, before_chart)
            before_chart = chart.inner_html(timeout=10_000)
            step(f"reset: {after_reset} requests")
            # pick the canary version in the versions filter
            page.locator(".obskit-explorer-versions select").first.select_option(["v1.5.0"], timeout=10_000)
            after_n = _wait_for_change(page, after_reset)
            assert 0 < int(after_n) < int(after_reset)
            _wait_for_chart_change(page, before_chart)
            step("filter changed the summary and the chart")
            assert "v1.5.0" in summary.inner_text()
            explorer.screenshot(path=str(shots / "explorer.png"))
            errors = [c for c in console if "Error" in c and "vega" in c.lower()]
            assert not errors, errors
        except BaseException:
            page.screenshot(path=str(shots / "explorer-failure.png"))
            (shots / "explorer-failure-console.txt").write_text("\n".join(console))
            raise
        finally:
            browser.close()
