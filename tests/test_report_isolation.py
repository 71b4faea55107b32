"""Reports never collide: four projects' reports start at once from a read-only copy of the package.

The kernel's connection file and sockets must live in a private folder of each run. Before,
they were made in the package's ``notebooks/`` folder: two runs started together picked the
same socket names (``Invalid Signature``), and a read-only install could not run a report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from obskit.report.runner import private_kernel_manager
from obskit.sample import generate

REPO = Path(__file__).resolve().parents[1]


def _read_only_prefix(folder: Path) -> list[str]:
    """A command prefix that runs its command with ``folder`` read-only (even for root), or skip."""
    if os.geteuid() != 0:
        return []  # chmod a-w is enough for an ordinary user
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("root without unshare(1): cannot make a folder read-only for root")
    probe = subprocess.run([unshare, "--mount", "sh", "-c",
                            f'mount --bind -o ro "{folder}" "{folder}" && ! touch "{folder}/.probe" 2>/dev/null'],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot bind-mount read-only here: {probe.stderr.strip()[:200]}")
    return [unshare, "--mount", "sh", "-c", f'mount --bind -o ro "{folder}" "{folder}" && exec "$@"', "sh"]


def test_kernel_manager_keeps_its_files_in_the_given_folder(tmp_path: Path) -> None:
    km = private_kernel_manager(tmp_path)(kernel_name="python3")
    assert km.transport == "ipc"
    assert Path(km.connection_file).parent == tmp_path
    assert Path(km.ip).parent == tmp_path


@pytest.mark.slow
def test_four_reports_at_once_from_a_read_only_package(tmp_path: Path) -> None:
    pkg_root = tmp_path / "ro"
    shutil.copytree(REPO / "obskit", pkg_root / "obskit", ignore=shutil.ignore_patterns("__pycache__"))
    for path in pkg_root.rglob("*"):
        path.chmod(path.stat().st_mode & ~0o222)
    before = sorted(p.name for p in (pkg_root / "obskit" / "notebooks").iterdir())
    prefix = _read_only_prefix(pkg_root)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)}
    env.update(PYTHONPATH=str(pkg_root), PYTHONDONTWRITEBYTECODE="1", OBSKIT_PROGRESS="0")
    procs = []
    for i in range(4):
        project = tmp_path / f"project{i}"
        generate(project, requests=1_500, seed=100 + i, reference_rows=500)
        cmd = [*prefix, sys.executable, "-c", "import sys; from obskit.cli import main; sys.exit(main())",
               "report", "--config", str(project / "obskit.toml"), "--out", str(project / "reports")]
        procs.append(subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    for i, proc in enumerate(procs):
        _out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"report {i}: exit {proc.returncode}: {err[-2000:]}"
        summaries = list((tmp_path / f"project{i}" / "reports").glob("*/summary.json"))
        assert len(summaries) == 1, err[-2000:]
        summary = json.loads(summaries[0].read_text())
        assert summary["figures"]["requests"] > 0
    # each page is its own project's: the seeds differ, so the medians do
    counts = {json.loads(next((tmp_path / f"project{i}" / "reports").glob("*/summary.json")).read_text())
              ["figures"]["p50_ms"] for i in range(4)}
    assert len(counts) >= 2
    assert sorted(p.name for p in (pkg_root / "obskit" / "notebooks").iterdir()) == before
