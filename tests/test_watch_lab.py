"""End to end: the live explorer in a real JupyterLab follows a log as it grows, in headless Chromium.

A notebook opens ``obskit.explore(config, live=True, interval=1)``; the test appends lines to
the log (an error burst among them) and waits, without touching the page, for the explorer's
request count to grow and for the alert to be listed as firing. A cell run meanwhile still
answers (the refreshes run on the kernel's event loop). A screenshot goes to
``test-artifacts/explorer-live.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest

from tests.test_explore_e2e import (  # noqa: F401 - chromium: fixture
    BROWSER_ARGS,
    REPO,
    chromium,
    run_all_cells,
    running_lab,
)
from tests.test_watch_live import CONFIG, _write

pytestmark = [pytest.mark.chromium, pytest.mark.slow]

@pytest.fixture
def live_lab(tmp_path: Path) -> Iterator[tuple[str, Path, datetime]]:
    root = tmp_path / "work"
    (root / "logs").mkdir(parents=True)
    t0 = (datetime.now(UTC) - timedelta(minutes=20)).replace(second=0, microsecond=0)
    log = root / "logs" / "requests.jsonl"
    _write(log, range(0, 10), t0=t0)
    (root / "obskit.toml").write_text(CONFIG)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "import obskit\n"
        "live = obskit.explore('obskit.toml', live=True, last='30m', interval=1)\n"
        "live"),
        nbformat.v4.new_code_cell("print('answered', live.refreshes > 0)")]
    nbformat.write(nb, root / "live.ipynb")
    with running_lab(tmp_path, root, "live.ipynb") as url:
        yield url, log, t0


def test_live_explorer_follows_the_log_in_jupyterlab(chromium: str, live_lab: tuple[str, Path, datetime]) -> None:  # noqa: F811
    from playwright import sync_api

    url, log, t0 = live_lab
    shots = REPO / "test-artifacts"
    shots.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        try:
            run_all_cells(page, url)
            page.locator(".obskit-live").first.wait_for(state="visible", timeout=60_000)
            count = ("() => { const b = document.querySelector('.obskit-explorer-summary b[data-requests]'); "
                     "return b ? Number(b.dataset.requests) : 0; }")
            page.wait_for_function(f"({count})() === 2000", timeout=60_000)
            page.wait_for_function(  # the second cell ran while the explorer follows the log
                "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                ".some(o => o.textContent.includes('answered True'))", timeout=60_000)
            assert "firing" not in page.locator(".obskit-live-alerts").first.inner_text()
            # the service goes on writing, with an error burst up to the present: nobody touches the page
            _write(log, range(10, 20), errors=range(10, 20), t0=t0)
            page.wait_for_function(f"({count})() > 2000", timeout=60_000)
            page.wait_for_selector(".obskit-live-alerts li[data-state='firing']", timeout=60_000)
            assert "error-burst" in page.locator(".obskit-live-alerts").first.inner_text()
            page.wait_for_selector(".obskit-live-status [data-status='alerting']", timeout=30_000)
            page.wait_for_selector(".obskit-live .vega-embed svg, .obskit-live .vega-embed canvas", timeout=60_000)
            assert "Javascript Error" not in page.locator(".obskit-live").first.inner_text()
            page.locator(".obskit-live").first.screenshot(path=str(shots / "explorer-live.png"))
        except BaseException:
            page.screenshot(path=str(shots / "explorer-live-failure.png"))
            raise
        finally:
            browser.close()
