"""The public contract: the namespace, cheap import, README examples, user notebooks, a wheel install."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

import obskit
from obskit.cli import main
from obskit.report import run_report
from obskit.report.notebooks import available_notebooks, copy_notebook, resolve_notebook
from tests.browser import render

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_all_is_exactly_the_documented_list() -> None:
    block = re.search(r"<!-- public-api -->(.*?)<!-- /public-api -->", README, re.S)
    assert block is not None
    documented = re.findall(r"`([A-Za-z_]+)`", block.group(1))
    assert sorted(obskit.__all__) == sorted(documented) == documented


@pytest.mark.parametrize("name", obskit.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(obskit, name) is not None


def test_the_analyses_index_points_at_real_functions() -> None:
    import importlib

    for name, where in obskit.analyses.items():
        module, func = where.rsplit(".", 1)
        assert func == name
        fn = getattr(importlib.import_module(module), func)
        assert callable(fn) and fn.__doc__, where


def test_import_obskit_loads_no_data_library() -> None:
    code = ("import sys, obskit; heavy = sorted(m for m in ('polars', 'pandas', 'numpy', 'scipy', 'altair', "
            "'papermill', 'evidently') if m in sys.modules); print(heavy); "
            "print(len([m for m in sys.modules if m.startswith('obskit')]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, n_obskit = r.stdout.splitlines()
    assert heavy == "[]"
    assert int(n_obskit) <= 3  # obskit and obskit.errors


def test_explore_is_the_function_even_after_the_module_is_imported() -> None:
    import obskit.explorer

    assert callable(obskit.explore) and obskit.explore.__name__ == "explore"


PY_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(PY_BLOCKS)))
def test_readme_python_examples_run(index: int) -> None:
    assert len(PY_BLOCKS) >= 3
    env = {**os.environ, "OBSKIT_PROGRESS": "0"}
    r = subprocess.run([sys.executable, "-c", PY_BLOCKS[index]], cwd=REPO, capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]


def test_notebook_cli_lists_and_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notebook", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in available_notebooks())
    assert main(["notebook", "copy", "health_report", str(tmp_path / "mine.ipynb")]) == 0
    assert (tmp_path / "mine.ipynb").read_bytes() == resolve_notebook("health_report").read_bytes()
    assert main(["notebook", "copy", "health_report", str(tmp_path / "mine.ipynb")]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["../x", "nope", "../../etc/passwd", "missing.ipynb", "README.md"])
def test_bad_notebook_names_are_one_line_exit_2(bad: str, capsys: pytest.CaptureFixture[str],
                                                samples_dir: Path) -> None:
    assert main(["report", "--config", str(samples_dir / "obskit.toml"), "--notebook", bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("obskit: error:") and "Traceback" not in err


def test_a_users_edited_copy_runs_with_header_summary_and_index(tmp_path: Path, samples_dir: Path) -> None:
    mine = copy_notebook("health_report", tmp_path / "nb" / "my_health.ipynb")
    nb = nbformat.read(mine, as_version=4)
    md = next(c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Traffic"))
    md.source = "## Traffic, as our team reads it\n\nOur own words about traffic peaks."
    nbformat.write(nb, mine)
    out = tmp_path / "reports"
    res = run_report(samples_dir / "obskit.toml", notebook=str(mine), out=out, parameters={"window": "1h"})
    page = res.html.read_text()
    assert res.html == out / "2026-11-22" / "my_health.html"
    assert "Our own words about traffic peaks." in page
    assert "obskit-header" in page and "product-image-classifier" in page  # the usual header
    summary = json.loads(res.summary.read_text())
    assert res.summary.name == "my_health.summary.json"
    assert summary["notebook"] == "my_health" and summary["figures"]["requests"] == 150_000
    index = (out / "index.html").read_text()
    assert 'href="2026-11-22/my_health.html"' in index


def _wheel(tmp: Path) -> Path:
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("obskit-*.whl")
    return wheel


def test_the_wheel_carries_notebooks_template_and_sample_code(tmp_path: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(_wheel(tmp_path)).namelist())
    for name in available_notebooks():
        assert f"obskit/notebooks/{name}.ipynb" in names
    assert {"obskit/templates/obskit/index.html.j2", "obskit/templates/obskit/conf.json", "obskit/py.typed"} <= names
    assert not any(n.startswith(("tests/", "benchmarks/", "data/")) for n in names)


@pytest.mark.slow
def test_wheel_install_runs_a_report_from_any_directory(tmp_path: Path) -> None:
    """pip install the wheel (no checkout on sys.path), then `obskit sample` and `obskit report` from a temp dir."""
    wheel = _wheel(tmp_path)
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # --no-compile: byte-compiling every dependency is most of the install's time; Python
    # compiles what the report imports on first use instead
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
                          str(wheel)],
                         capture_output=True, text=True, timeout=1500)
    if pip.returncode != 0 and "No matching distribution" in pip.stderr:
        pytest.skip(f"no package index reachable for the wheel's dependencies: {pip.stderr[-300:]}")
    assert pip.returncode == 0, pip.stderr[-3000:]
    work = tmp_path / "somewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OBSKIT_PROGRESS"] = "0"
    obskit_bin = str(env_dir / "bin" / "obskit")
    where = subprocess.run([str(py), "-c", "import obskit.report.notebooks as n; print(n.__file__)"], cwd=work,
                           capture_output=True, text=True, env=env, check=True)
    assert str(env_dir) in where.stdout and str(REPO) not in where.stdout
    r = subprocess.run([obskit_bin, "sample", "--out", "day", "--requests", "20000"], cwd=work, capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([obskit_bin, "report", "--config", "day/obskit.toml"], cwd=work, capture_output=True,
                       text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "without encryption" not in r.stderr
    pages = list((work / "reports").glob("*/health.html"))
    assert len(pages) == 1
    page = render(pages[0])
    charts = re.findall(r'<div class="obskit-chart[ "][^>]*>', page.dom)
    assert len(charts) >= 8 and all('data-rendered="ok"' in c for c in charts)
