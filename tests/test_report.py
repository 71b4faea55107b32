"""End to end: papermill executes the health notebook; the HTML renders offline in Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from obskit.errors import ReportError
from obskit.report import notebook_parameters, run_report
from obskit.report.notebooks import available_notebooks, resolve_notebook, shipped_notebooks_dir
from tests.browser import render

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("reports")
    res = run_report(samples_dir / "obskit.toml", out=out)
    assert res.status == "alerting" and res.flags == ("alerting", "drift", "warning")  # checked: rules fired, and more
    assert res.html == out / "2026-11-22" / "health.html"
    return res.html


def test_summary_has_the_key_figures(report: Path) -> None:
    summary = json.loads((report.parent / "summary.json").read_text())
    assert summary["day"] == "2026-11-22" and summary["status"] == "alerting"
    assert summary["flags"] == ["alerting", "drift", "warning"]  # the GPU pressure episode and brightness too
    figures = summary["figures"]
    assert figures["requests"] == 150_000
    assert 0.0005 < figures["error_rate"] < 0.01
    assert figures["alerts_fired"] == 12
    assert 0.005 < figures["correction_rate"] < 0.05


def test_alerts_json_and_summary_on_top(report: Path) -> None:
    alerts = json.loads((report.parent / "alerts.json").read_text())
    assert alerts["counts"]["fired"] == 12
    assert {a["rule"] for a in alerts["alerts"]} >= {"high-error-rate", "p99-latency-slo", "feature-drift"}
    html = report.read_text()
    assert html.index("12 alert(s) fired") < html.index("Requests per second")


def test_index_lists_the_run(report: Path) -> None:
    index = (report.parent.parent / "index.html").read_text()
    assert 'href="2026-11-22/health.html"' in index


def test_page_is_small_and_self_contained(report: Path) -> None:
    html = report.read_text()
    assert len(html.encode()) <= 2_000_000
    # no script or stylesheet is fetched from anywhere
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=\"https?:", html)
    # the Vega bundle is inlined once, not once per chart
    assert html.count("vegaEmbed") < 40
    assert html.count('class="obskit-chart-spec"') >= 10


def test_every_chart_renders_offline_in_chromium(report: Path) -> None:
    page = render(report, screenshot=ARTIFACTS / "health_report.png")
    charts = re.findall(r'<div class="obskit-chart[ "][^>]*>', page.dom)
    assert len(charts) == report.read_text().count('class="obskit-chart-spec"') >= 10
    assert all('data-rendered="ok"' in c for c in charts), charts
    assert page.dom.count("<svg") >= len(charts)
    errors = [c for c in page.console if "error" in c.lower()]
    assert errors == []
    assert (ARTIFACTS / "health_report.png").stat().st_size > 10_000


HOSTILE = '"); import pathlib; pathlib.Path("PWNED").write_text("x"); ("\n<script>alert(1)</script>'


def test_hostile_parameters_never_execute_and_are_escaped(tmp_path: Path, samples_dir: Path) -> None:
    cfg = tmp_path / "obskit.toml"
    text = (samples_dir / "obskit.toml").read_text()
    text = text.replace('name = "product-image-classifier"', 'name = "<img src=x onerror=alert(1)>"')
    text = text.replace('path = "', f'path = "{samples_dir}/')
    cfg.write_text(text)
    res = run_report(cfg, out=tmp_path / "r", parameters={"version": HOSTILE, "window": "1h"})
    assert not (tmp_path / "PWNED").exists() and not (shipped_notebooks_dir() / "PWNED").exists()
    html = res.html.read_text()
    assert "<img src=x onerror" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(1)</script>" not in html
    page = render(res.html)
    assert "alert" not in " ".join(page.console)


def _copy_reports(report: Path, out: Path) -> Path:
    """The module's sample-day report folder copied to ``out`` (a finished run, without running it again)."""
    shutil.copytree(report.parent.parent, out, dirs_exist_ok=True)
    return out / report.parent.name / report.name


def test_failing_cell_keeps_the_last_good_report(tmp_path: Path, samples_dir: Path, report: Path) -> None:
    import nbformat

    from obskit.errors import ConfigError
    from obskit.report.notebooks import copy_notebook

    good = _copy_reports(report, tmp_path)  # the last good report of that day
    before = good.read_bytes()
    with pytest.raises(ConfigError, match="invalid duration"):  # a bad parameter never starts a kernel
        run_report(samples_dir / "obskit.toml", out=tmp_path, parameters={"window": "5 parsecs"})
    broken = copy_notebook("health_report", tmp_path / "nb" / "health_report.ipynb")
    nb = nbformat.read(broken, as_version=4)
    nb.cells.insert(4, nbformat.v4.new_code_cell("raise RuntimeError('the data source went away')"))
    nbformat.write(nb, broken)
    with pytest.raises(ReportError) as exc:
        run_report(samples_dir / "obskit.toml", notebook=str(broken), out=tmp_path)
    assert "RuntimeError: the data source went away" in str(exc.value)
    assert exc.value.cell is not None
    assert good.read_bytes() == before
    assert not list(tmp_path.glob(".obskit-run-*"))


@pytest.mark.parametrize("name", ["drift_report", "gpu_report", "canary_report"])
def test_other_reports_render_offline(name: str, tmp_path: Path, samples_dir: Path) -> None:
    res = run_report(samples_dir / "obskit.toml", notebook=name, out=tmp_path)
    short = name.removesuffix("_report")
    assert res.html == tmp_path / "2026-11-22" / f"{short}.html"
    assert (tmp_path / "2026-11-22" / f"{short}.summary.json").is_file()
    html = res.html.read_text()
    assert len(html.encode()) <= 2_000_000
    page = render(res.html, screenshot=ARTIFACTS / f"{name}.png")
    charts = re.findall(r'<div class="obskit-chart[ "][^>]*>', page.dom)
    assert len(charts) >= 2 and all('data-rendered="ok"' in c for c in charts), charts
    # each page concludes what the sample day's injected incidents imply, not only that it ran
    summary = json.loads((tmp_path / "2026-11-22" / f"{short}.summary.json").read_text())
    figures = summary["figures"]
    sections = {s["title"]: s for s in figures["sections"]}
    if name == "canary_report":  # v1.5.0 is deliberately slower in its tail
        assert (figures["baseline"], figures["canary"]) == ("v1.4.0", "v1.5.0")
        assert figures["canary_verdict"].startswith("v1.5.0 is slower: p95 +")
        assert re.search(r"p95 \+\d+% \[CI \+\d+%, \+\d+%\]", figures["canary_verdict"])
        assert sections["Verdict"]["status"] == "warning"
        assert "v1.5.0 is slower" in html
        assert summary["status"] == "warning" and any("v1.5.0 is slower" in r for r in summary["reasons"])
    elif name == "drift_report":  # brightness shifts from 16:00
        assert figures["features_drifted"] == ["brightness"]
        assert figures["drift_started"] == {"brightness": "2026-11-22T15:00:00+00:00"}  # injected at 15:00
        assert summary["status"] == "drift"
        assert sections["Verdict"]["status"] == "warning" and "brightness" in sections["Verdict"]["reason"]
    else:  # one GPU memory-pressure episode
        assert figures["gpu_memory_pressure_episodes"] == 1
        assert sections["Utilization and memory"]["status"] == "warning"
        assert summary["status"] == "warning"  # the page's warning is the run's, never "ok"


def test_no_shipped_notebook_cell_rebinds_a_parameter() -> None:
    """A cell that assigns or imports a parameter's name silently replaces the user's value."""
    import ast

    import nbformat

    for name in available_notebooks():
        path = resolve_notebook(name)
        params = set(notebook_parameters(path))
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code" or "parameters" in cell.metadata.get("tags", []):
                continue
            for node in ast.walk(ast.parse(cell.source)):
                bound: list[str] = []
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    bound = [(a.asname or a.name).split(".")[0] for a in node.names]
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    bound = [node.id]
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    bound = [node.name]
                assert not params & set(bound), f"{name}: a cell rebinds parameter(s) {params & set(bound)}"


@pytest.mark.parametrize("name", [n for n in available_notebooks() if n.endswith("_report")])
def test_notebooks_declare_parameters(name: str) -> None:
    params = notebook_parameters(resolve_notebook(name))
    assert {"config", "start", "end"} <= set(params)


def test_failed_source_degrades_the_run_but_not_the_report(tmp_path: Path, samples_dir: Path) -> None:
    cfg = tmp_path / "obskit.toml"
    text = (samples_dir / "obskit.toml").read_text().replace('path = "', f'path = "{samples_dir}/')
    text = text.replace(f'path = "{samples_dir}/requests.jsonl.gz"', 'path = "/nonexistent/requests.jsonl.gz"')
    cfg.write_text(text)
    res = run_report(cfg, out=tmp_path / "r")
    assert res.status == "degraded"
    summary = json.loads(res.summary.read_text())
    assert summary["problems"][0]["source"] == "requests"
    assert "/nonexistent/requests.jsonl.gz: file not found" in summary["problems"][0]["reason"]
    page = res.html.read_text()
    assert "Degraded run" in page and "file not found" in page


def test_cli_exit_code_says_degraded(tmp_path: Path, samples_dir: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "obskit.toml"
    cfg.write_text('[project]\nmodel = "m"\n[sources.requests]\npath = "missing.jsonl"\n')
    r = subprocess.run([sys.executable, "-m", "obskit.cli", "report", "--config", str(cfg), "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 4, r.stderr
    assert "(degraded)" in r.stdout
    assert (tmp_path / "index.html").is_file()


def test_a_new_day_updates_the_index_and_the_trends_report(tmp_path: Path, samples_dir: Path, report: Path) -> None:
    from obskit.sample import generate

    generate(tmp_path / "day2", requests=20_000, seed=3, clean=True, day="2026-11-23", reference_rows=5_000)
    out = tmp_path / "reports"
    _copy_reports(report, out)  # the sample day's nightly run, as the module's report left it
    run_report(tmp_path / "day2" / "obskit.toml", out=out)
    index = (out / "index.html").read_text()
    assert 'href="2026-11-23/health.html"' in index and 'href="2026-11-22/health.html"' in index
    assert index.index("2026-11-23") < index.index("2026-11-22")  # newest first
    assert "vs previous" in index  # run-over-run change, e.g. "p99 -12% vs previous"
    assert index.count("<svg") >= 4  # sparklines
    # each night saved its rollup; the trends report merges them without reading a log
    assert (out / "2026-11-22" / "rollup" / "meta.json").is_file() and (out / "2026-11-23" / "rollup").is_dir()
    res = run_report(samples_dir / "obskit.toml", notebook="trends", out=out, start="2026-11-20", end="2026-11-24")
    assert res.html == out / "2026-11-23" / "trends.html"
    summary = json.loads((out / "2026-11-23" / "trends.summary.json").read_text())
    assert summary["figures"]["requests"] == 170_000 and summary["figures"]["days"] == 2
    assert summary["status"] == "incomplete" and summary["flags"] == ["incomplete"]  # 2 of 4 days: never "ok"
    page = render(res.html, screenshot=ARTIFACTS / "trends_report.png")
    charts = re.findall(r'<div class="obskit-chart[ "][^>]*>', page.dom)
    assert len(charts) >= 4 and all('data-rendered="ok"' in c for c in charts), charts


@pytest.mark.parametrize("name", available_notebooks())
def test_papermill_sees_each_notebooks_parameters(name: str) -> None:
    import papermill

    params = papermill.inspect_notebook(str(resolve_notebook(name)))
    assert "config" in params
    assert params["config"]["inferred_type_name"] == "str"
    if name.endswith("_report"):
        assert {"start", "end", "output_dir"} <= set(params)
    if name.endswith("_report") and name != "trends_report":  # trends read saved rollups, not request rows
        assert {"model", "version", "window"} <= set(params)
