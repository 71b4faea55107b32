"""Open a page in real headless Chromium with no network; return its rendered DOM and console."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_binary

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
    "--virtual-time-budget=15000", "--window-size=1280,2000",
]


@dataclass
class Page:
    dom: str
    console: list[str]


def render(page: Path, screenshot: Path | None = None) -> Page:
    """Load ``page`` (file://) in headless Chromium, offline; dump the DOM after scripts ran."""
    chromium = require_binary("chromium")
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium, *FLAGS, f"--user-data-dir={profile}"]
        r = subprocess.run([*base, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                           timeout=120)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([*base, f"--screenshot={screenshot}", page.resolve().as_uri()], capture_output=True,
                           timeout=120)
    console = [line for line in r.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return Page(r.stdout, console)
