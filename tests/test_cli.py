"""The command line: one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from obskit import __version__
from obskit.cli import main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obskit.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_version_and_help() -> None:
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"obskit {__version__}"
    r = run("--help")
    assert r.returncode == 0 and "sample" in r.stdout and "report" in r.stdout


def test_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    r = run("report", "--config", "does-not-exist.toml", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == "obskit: error: does-not-exist.toml: config file not found"
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sample", "--out", "x", "--requests", "lots"], "expected a whole number"),
        (["sample", "--out", "x", "--requests", "-5"], "expected a positive number"),
        (["sample"], "--out"),
        (["report", "-p", "novalue"], "expected key=value"),
        (["frobnicate"], "invalid choice"),
        (["schema", "nope"], "unknown frame 'nope'"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) <= 2  # argparse may print its usage line first


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[project]\nmodel = 3\n", "project.model: expected str, got 3"),
        ("[sorces]\n", "unknown key 'sorces'"),
        ("[project\n", "invalid TOML"),
        ("[slo]\nwindow = \"5 minutes\"\n", "slo.window: invalid duration"),
        ("[sources.requests]\nformat = \"xml\"\npath = \"r\"\n", "unknown format 'xml'"),
    ],
)
def test_bad_config_names_key_and_file(tmp_path: Path, toml: str, needle: str) -> None:
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(toml)
    r = run("report", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and str(cfg) in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unknown_notebook_and_parameter(tmp_path: Path, samples_dir: Path) -> None:
    cfg = str(samples_dir / "obskit.toml")
    r = run("report", "--config", cfg, "--notebook", "nope", cwd=tmp_path)
    assert r.returncode == 2 and "unknown notebook 'nope'" in r.stderr
    r = run("report", "--config", cfg, "-p", "colour=red", cwd=tmp_path)
    assert r.returncode == 2 and "unknown parameter 'colour'" in r.stderr


def test_schema_prints_units() -> None:
    r = run("schema", "requests")
    assert r.returncode == 0 and "| `latency_ms` | Float64 | ms |" in r.stdout
