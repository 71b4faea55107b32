"""Report sections called in-process on other days and on every subset of sources.

The day here is generated with another seed and size than the committed sample, and each
source combination drops some of its sources: every section must return a Section whose
status tells the truth (skipped with a reason when its input is missing), never raise.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import nbformat
import polars as pl
import pytest

from obskit.report import canary, drift, gpu, health
from obskit.report.notebooks import available_notebooks, resolve_notebook
from obskit.report.section import ReportContext, Section, open_report
from obskit.sample import generate

SECTIONS = {
    "health": [getattr(health, n) for n in ("alerts", "summary", "traffic", "latency", "errors", "gpu", "drift",
                                            "business", "versions", "metrics", "timeline")],
    "drift": [getattr(drift, n) for n in ("verdict", "features", "over_time", "distributions", "prediction",
                                          "quality")],
    "gpu": [gpu.utilization, gpu.capacity, gpu.serving, gpu.processes, gpu.kernels],
    "canary": [canary.rollouts, canary.traffic, canary.verdict],
}


def drop_tables(text: str, prefixes: tuple[str, ...]) -> str:
    """The config text without the TOML tables whose header starts with one of ``prefixes``."""
    out, skipping = [], False
    for line in text.splitlines():
        header = re.match(r"\s*\[\[?([^\]]+)\]", line)
        if header:
            skipping = header.group(1).strip().startswith(prefixes)
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smaller day with another seed than the committed sample."""
    out = tmp_path_factory.mktemp("day")
    generate(out, requests=12_000, seed=7)
    return out


OPTIONAL = ("sources.gpu", "sources.prometheus", "sources.feedback", "sources.reference")
# every subset of the optional sources dropped, plus requests-only, GPU-only and a GPU log of another day
COMBOS: dict[str, tuple[str, ...]] = {
    ("all" if not mask else "no-" + "-".join(o.split(".")[1] for o, bit in zip(OPTIONAL, f"{mask:04b}", strict=True)
                                             if bit == "1")):
    tuple(o for o, bit in zip(OPTIONAL, f"{mask:04b}", strict=True) if bit == "1")
    for mask in range(16)
}
COMBOS["requests-only"] = (*OPTIONAL, "features")
COMBOS["gpu-only"] = ("sources.requests", "sources.feedback", "sources.reference", "sources.prometheus", "alerts")
COMBOS["gpu-other-day"] = ()


@pytest.fixture(scope="module")
def other_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("other")
    generate(out, requests=2_000, seed=11, day="2026-12-24", reference_rows=1_000)
    return out


def _config(day: Path, combo: str, other: Path | None = None) -> Path:
    path = day / f"{combo}.toml"
    text = drop_tables((day / "obskit.toml").read_text(), COMBOS[combo])
    if combo == "gpu-other-day":
        assert other is not None
        text = text.replace('path = "gpu/nvidia-smi.csv"', f'path = "{other}/gpu/nvidia-smi.csv"')
    path.write_text(text)
    return path


def _run_all(rep: ReportContext) -> dict[str, Section]:
    done = {}
    for group, fns in SECTIONS.items():
        for fn in fns:
            sec = fn(rep)
            assert isinstance(sec, Section)
            assert sec.status in ("ok", "warning", "skipped")
            if sec.status != "ok":
                assert sec.reason, f"{group}.{fn.__name__} is {sec.status} without a reason"
            sec.to_html()  # renders without error
            done[f"{group}.{fn.__name__}"] = sec
    return done


@pytest.mark.parametrize("combo", list(COMBOS))
def test_every_section_renders_on_any_set_of_sources(day: Path, other_day: Path, combo: str, tmp_path: Path) -> None:
    rep = open_report(str(_config(day, combo, other_day)), output_dir=str(tmp_path))
    done = _run_all(rep)
    dropped = COMBOS[combo] + (("sources.gpu",) if combo == "gpu-other-day" else ())
    has_requests = "sources.requests" not in dropped
    assert (done["health.gpu"].status == "skipped") == ("sources.gpu" in dropped)
    assert (done["gpu.utilization"].status == "skipped") == ("sources.gpu" in dropped)
    assert (done["health.traffic"].status == "skipped") == (not has_requests)
    assert (done["health.drift"].status == "skipped") == (not has_requests or "sources.reference" in dropped
                                                         or "features" in dropped)
    if "sources.gpu" in dropped:
        assert "GPU" in done["health.gpu"].reason
    if combo == "gpu-other-day":
        assert done["health.gpu"].reason == "the GPU trace has no sample in this period"
    # Triton's own phase breakdown, from the saved query_range responses whenever they are configured
    assert (done["gpu.serving"].status == "ok") == ("sources.prometheus" not in COMBOS[combo])
    if has_requests:
        tl = done["health.timeline"].frames["timeline"]
        assert ("gpu_util_pct" in tl.columns) == ("sources.gpu" not in dropped)
    if has_requests and "sources.feedback" in dropped:
        assert rep.figures["correction_rate"] is None  # unknown, not 0.0
    rep.finish()
    summary = json.loads((tmp_path / "summary.json").read_text())
    warned = [s["title"] for s in summary["figures"]["sections"] if s["status"] == "warning"]
    assert (summary["status"] == "ok") <= (not warned), warned  # a warning on the page is never an "ok" run
    if combo == "gpu-other-day":  # configured, read, but nothing in the period: a problem, never "ok"
        assert summary["status"] == "degraded"
        assert [p["source"] for p in summary["problems"]] == ["gpu"]
        assert "no rows in the period" in summary["problems"][0]["reason"]
        return
    assert summary["figures"]["sections"] and summary["status"] in ("ok", "alerting", "slo_breached", "drift",
                                                                    "warning")
    assert summary["problems"] == []  # nothing configured failed: an absent source is not a failure
    if has_requests:
        assert summary["day"] == "2026-11-22"
    else:
        assert summary["day"] == "2026-11-22" and summary["period"].startswith("2026-11-22 00:00")


def test_sections_agree_with_the_analyses(day: Path) -> None:
    from obskit.analyze.errors import top_errors
    from obskit.analyze.serving import window_stats

    rep = open_report(str(day / "obskit.toml"))
    requests = rep.requests
    assert requests is not None
    assert health.traffic(rep).frames["stats"].equals(window_stats(requests, every=rep.window))
    assert health.errors(rep).frames["top_errors"].equals(top_errors(requests))
    biz = health.business(rep)
    frame = biz.frames["business"]
    assert rep.figures["confident_rate"] == pytest.approx(frame["confident"].sum() / frame["answered"].sum())


def test_a_period_without_requests_skips_with_the_reason(day: Path) -> None:
    rep = open_report(str(day / "obskit.toml"), start="2031-01-01T00:00:00Z", end="2031-01-02T00:00:00Z")
    sec = health.traffic(rep)
    assert sec.status == "skipped" and "no request matches" in sec.reason
    assert health.alerts(rep).status == "skipped"


def test_canary_parameters_pick_the_pair(day: Path) -> None:
    rep = open_report(str(day / "obskit.toml"), baseline="nope", canary="")
    sec = canary.verdict(rep)
    assert sec.status == "skipped" and "nope" in sec.reason


# ---------------------------------------------------------------- thin notebooks

_ALLOWED = (ast.Import, ast.ImportFrom, ast.Expr, ast.Assign)


def _code_cells(name: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(resolve_notebook(name), as_version=4)
    return [c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("name", available_notebooks())
def test_notebooks_are_thin(name: str) -> None:
    """A cell imports, opens the report, or makes one call: no analysis logic in any notebook."""
    for cell in _code_cells(name):
        tree = ast.parse(cell.source)
        calls = 0
        for node in tree.body:
            assert isinstance(node, _ALLOWED), f"{name}: {type(node).__name__} in cell:\n{cell.source}"
            if not isinstance(node, ast.Import | ast.ImportFrom):
                calls += 1
        for node in ast.walk(tree):
            assert not isinstance(node, ast.Lambda | ast.ListComp | ast.DictComp | ast.GeneratorExp | ast.IfExp |
                                  ast.BinOp | ast.Compare | ast.BoolOp), f"{name}: logic in cell:\n{cell.source}"
        assert calls <= 2, f"{name}: more than one call in a cell:\n{cell.source}"


@pytest.mark.parametrize("name", ["health_report", "drift_report", "gpu_report", "canary_report", "trends_report"])
def test_every_report_section_function_is_called_by_its_notebook(name: str) -> None:
    from obskit.report import trends

    module = {"health_report": health, "drift_report": drift, "gpu_report": gpu, "canary_report": canary,
              "trends_report": trends}[name]
    source = "\n".join(c.source for c in _code_cells(name))
    short = module.__name__.rsplit(".", 1)[1]
    alias = re.search(rf"import {short} as (\w+)", source)  # imported under another name (never a parameter's)
    called = set(re.findall(rf"\b{alias.group(1) if alias else short}\.(\w+)\((?:rep|tr)\)", source))
    sections = {n for n in module.__all__ if inspect.isfunction(getattr(module, n))
                and inspect.signature(getattr(module, n)).return_annotation == "Section"}
    assert len(sections) >= 3
    assert called == sections


def test_section_html_escapes_user_strings() -> None:
    sec = Section("x").note("<script>alert(1)</script>").table(pl.DataFrame({"a": ["<b>"]}))
    html = sec.to_html()
    assert "<script>alert" not in html and "&lt;b&gt;" in html


def test_gpu_report_reads_processes_and_kernels_from_real_captures(real_dir: Path, tmp_path: Path) -> None:
    capture = real_dir / "nvidia-smi" / "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt"
    trace = real_dir / "torch-profiler" / "rank-0.Apr_03_18_51_38.1102.pt.trace.json.gz"
    cfg = tmp_path / "obskit.toml"
    cfg.write_text(f'[sources.h100]\nkind = "dmon"\npath = "{capture}"\n'
                   f'[sources.h100_procs]\nkind = "pmon"\npath = "{capture}"\nhost = "h100"\n'
                   f'[sources.h100_apps]\nkind = "compute_apps"\npath = "{capture}"\nhost = "h100"\n'
                   f'[sources.train]\nkind = "torch_trace"\npath = "{trace}"\n')
    rep = open_report(str(cfg))
    assert rep.session.problems == [], rep.session.problems
    util = gpu.utilization(rep)
    assert util.status != "skipped" and util.frames["stats"].height >= 1
    procs = gpu.processes(rep)
    assert procs.status == "ok", procs.reason
    table = procs.frames["processes"]
    assert "gpu_burn" in table["process_name"].to_list() and set(table["host"].to_list()) == {"h100"}
    kern = gpu.kernels(rep)
    assert kern.status == "ok", kern.reason
    top = kern.frames["top"]
    assert top.height > 0 and 0 < top["share"].sum() <= 1.0 + 1e-9
    assert kern.frames["streams"]["share"].sum() == pytest.approx(1.0)


def test_the_health_timeline_marks_anomalies_with_the_one_detector() -> None:
    from datetime import UTC, datetime, timedelta

    from obskit.analyze.detect import flag_anomalies
    from obskit.analyze.timeline import timeline_anomalies

    t0 = datetime(2026, 11, 22, tzinfo=UTC)
    rps = [20.0 + (i % 12) * 0.5 for i in range(288)]
    rps[200] = 90.0
    tl = pl.DataFrame({"window_start": [t0 + timedelta(minutes=5 * i) for i in range(288)], "rps": rps,
                       "p99_ms": [50.0] * 288})
    stats = tl.select("window_start", pl.lit(40.0).alias("p95_ms"))
    marked, markers, found = health._anomaly_markers(tl, {"rps": "requests/s", "p99_ms": "p99 ms"}, stats)
    assert found == {"rps": ["16:40"]}  # row 200 = 16:40; a flat p99 has none
    assert markers == {"rps": "rps_anomaly", "p99_ms": "p99_ms_anomaly"}
    assert marked.equals(timeline_anomalies(tl, ["rps", "p99_ms"], stats=stats))  # the explorer's verdicts
    assert marked.equals(flag_anomalies(tl, ["rps", "p99_ms"]))  # (no requests column: the detector's alone)
