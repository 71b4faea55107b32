"""Run a report notebook with papermill and render it to one offline HTML page.

``run_report`` executes a shipped notebook (``obskit/notebooks/<name>.ipynb``) or a user's own
``.ipynb`` in a fresh kernel with typed parameters
(papermill writes them as Python literals; values are never evaluated as code), converts
the executed notebook with nbconvert and the ``templates/obskit`` template (code hidden,
header, table of contents, Vega JS inlined once), and writes
``<out>/<day>/<short name>.html`` plus ``summary.json`` atomically. A failing cell raises
:class:`~obskit.errors.ReportError` and leaves the last good report untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obskit._atomic import atomic_write_text
from obskit.config import load_config
from obskit.errors import ConfigError, ReportError
from obskit.limits import SHORTEST_WINDOW, check_period
from obskit.report.notebooks import default_config, notebook_parameters, resolve_notebook, template_dir

__all__ = ["ReportResult", "run_report", "vega_bundle"]


@dataclass(frozen=True)
class ReportResult:
    """Where a report went and how it ended."""

    html: Path
    summary: Path
    status: str
    notebook: Path
    alerts_fired: int = 0
    flags: tuple[str, ...] = ()
    alerts: Path | None = None


def _cache_dir() -> Path | None:
    """This user's cache folder for obskit (``$XDG_CACHE_HOME/obskit``), or None if it cannot be made private."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "obskit"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = base.stat()
    except OSError:
        return None
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
        return None  # someone else's, or writable by others: never read code from it
    return base


def vega_bundle() -> str:
    """The Vega + Vega-Lite + vega-embed JS bundle (built by vl-convert, cached in the user's cache folder).

    The bundle is inlined into every page, so it is only ever read from a folder that belongs
    to this user and that no one else can write to.
    """
    import vl_convert

    version = getattr(vl_convert, "__version__", "x")
    folder = _cache_dir()
    cache = folder / f"vega-bundle-{version}.js" if folder is not None else None
    if cache is not None and cache.is_file() and cache.stat().st_size > 100_000:
        return cache.read_text(encoding="utf-8")
    js: str = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    js = js.replace("</script", "<\\/script")
    if cache is not None:
        with contextlib.suppress(OSError):
            atomic_write_text(cache, js)
    return js


def _coerce(name: str, value: str, default: Any) -> Any:
    """Convert a ``-p key=value`` string to the type of the notebook's default."""
    if isinstance(default, bool):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"parameter {name!r} expects true/false, got {value!r}")
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"parameter {name!r} expects an integer, got {value!r}") from None
    if isinstance(default, float):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"parameter {name!r} expects a number, got {value!r}") from None
    return value


def _short(name: str) -> str:
    return name[: -len("_report")] if name.endswith("_report") else name


def run_report(
    config: str | Path | None = None,
    *,
    notebook: str | Path = "health_report",
    out: str | Path = "reports",
    start: str = "",
    end: str = "",
    parameters: dict[str, str] | None = None,
    kernel_name: str = "python3",
    timeout: int = 900,
) -> ReportResult:
    """Execute a report notebook and write its HTML page and ``summary.json``.

    Parameters
    ----------
    config
        Project config; default ``./obskit.toml`` or the bundled sample day.
    notebook
        A shipped notebook's name (see :func:`~obskit.report.notebooks.available_notebooks`)
        or the path of a user's ``.ipynb`` (one with a ``parameters`` cell).
    out
        Reports root; the page goes to ``<out>/<day>/<name>.html``.
    start, end
        Period (ISO 8601); empty means all the data.
    parameters
        Extra ``name -> value`` strings, converted to the type of the notebook's default.

    Raises
    ------
    ConfigError
        Missing config, unknown notebook or parameter, badly typed value.
    ReportError
        A cell failed (``cell`` tells which); the previous report is left in place.
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    import obskit

    cfg_path = Path(config) if config else default_config()
    cfg = load_config(cfg_path)  # fail fast, before a kernel starts
    nb_path = resolve_notebook(notebook)
    name = nb_path.stem
    defaults = notebook_parameters(nb_path)
    params: dict[str, Any] = {"config": str(cfg_path.resolve()), "start": start, "end": end}
    for key, value in (parameters or {}).items():
        if key in ("config", "output_dir", "reports_dir"):
            raise ConfigError(f"parameter {key!r} is set by obskit (use --config or --out)")
        if key not in defaults:
            raise ConfigError(f"unknown parameter {key!r} for {name} (known: {', '.join(sorted(defaults))})")
        params[key] = _coerce(key, value, defaults[key])
    params = {k: v for k, v in params.items() if k in defaults}
    _check_period(str(params.get("start", start) or ""), str(params.get("end", end) or ""))
    if params.get("window"):
        _check_duration("window", str(params["window"]))
    out_root = Path(out)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        _clean_interrupted(out_root)
        work = Path(tempfile.mkdtemp(prefix=f".obskit-run-{_host_tag()}-{os.getpid()}-", dir=out_root))
    except OSError as exc:
        raise ConfigError(f"cannot write reports there: {exc.strerror or exc}", path=out_root) from None
    try:
        params["output_dir"] = str(work.resolve()) if "output_dir" in defaults else ""
        if "reports_dir" in defaults and not params.get("reports_dir"):
            params["reports_dir"] = str(out_root.resolve())
        executed = work / f"{name}.ipynb"
        # the kernel's connection file and sockets live in a private folder of this run, never
        # beside the notebook: an installed package may be read-only or shared by other runs
        sockets = Path(tempfile.mkdtemp(prefix="obskit-kernel-"))
        try:
            papermill.execute_notebook(
                str(nb_path), str(executed), parameters=params, kernel_name=kernel_name,
                cwd=str(nb_path.parent), progress_bar=False, log_output=False, request_save_on_cell_execute=False,
                execution_timeout=timeout, kernel_manager_class=private_kernel_manager(sockets),
            )
        except papermill.PapermillExecutionError as exc:
            raise ReportError(
                f"{name}: cell {exc.exec_count} failed: {exc.ename}: {exc.evalue}".strip(),
                path=nb_path, cell=exc.cell_index,
            ) from None
        finally:
            shutil.rmtree(sockets, ignore_errors=True)
        summary_path = work / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        day = summary.get("day") or f"{datetime.now(UTC):%Y-%m-%d}"
        # a notebook that wrote no summary checked nothing obskit can vouch for
        status = str(summary.get("status") or "unknown")
        fired = int((summary.get("figures") or {}).get("alerts_fired") or 0)
        flags = tuple(str(f) for f in summary.get("flags") or ([status] if status != "ok" else []))
        if fired and "alerting" not in flags:
            flags += ("alerting",)
        nb = nbformat.read(executed, as_version=4)
        exporter = HTMLExporter(template_name="obskit", extra_template_basedirs=[str(template_dir())])
        resources = {
            "obskit": {
                "title": f"{cfg.project.name}: {nb.metadata.get('title', name)}",
                "model": summary.get("model") or cfg.project.model,
                "period": summary.get("period", ""),
                "generated_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
                "version": obskit.__version__,
                "status": status,
                "flags": [f for f in flags if f != status],
                # the alert badge already says how many fired; the header line gives the other reasons
                "reasons": [str(r) for r in summary.get("reasons") or [] if not str(r).endswith("alert(s) fired")],
                "alerts": fired,
                "problems": [p for p in summary.get("problems") or [] if isinstance(p, dict)],
                "rejected": int(summary.get("rejected_records") or 0),
                "vega_js": vega_bundle(),
            },
            "metadata": {"name": _short(name)},
        }
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        dest = out_root / day
        html_path = dest / f"{_short(name)}.html"
        atomic_write_text(html_path, body)
        final_summary = dest / ("summary.json" if name == "health_report" else f"{_short(name)}.summary.json")
        summary.update({"notebook": name, "html": html_path.name,
                        "generated_at": resources["obskit"]["generated_at"]})
        atomic_write_text(final_summary, json.dumps(summary, indent=2) + "\n")
        alerts_src = work / "alerts.json"
        alerts_name = "alerts.json" if name == "health_report" else f"{_short(name)}.alerts.json"
        if not alerts_src.is_file():
            (dest / alerts_name).unlink(missing_ok=True)  # an older run's alerts are not this run's
        else:
            atomic_write_text(dest / alerts_name, alerts_src.read_text(encoding="utf-8"))
        _keep_rollup(work, dest)
        from obskit.history import write_index

        write_index(out_root, title=f"{cfg.project.name}: reports")
        alerts_path = dest / alerts_name if (dest / alerts_name).is_file() else None
        return ReportResult(html_path, final_summary, status, nb_path, fired, flags, alerts_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _keep_rollup(work: Path, dest: Path) -> None:
    """Move the run's rollup (if the notebook saved one) into the day folder, replacing an older one."""
    from obskit.scale.rollup import ROLLUP_DIR

    src = work / ROLLUP_DIR
    if not src.is_dir():
        return
    target = dest / ROLLUP_DIR
    old = dest / f".{ROLLUP_DIR}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    src.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def private_kernel_manager(folder: Path) -> type:
    """A kernel manager whose kernel talks over Unix sockets kept in ``folder``.

    No TCP port is opened, and the connection file and the ``ipc`` sockets are created in
    ``folder`` (a private temporary folder of one run), never in the working directory: two
    reports started at the same moment cannot pick the same socket names, and a read-only
    install runs reports.
    """
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import CaselessStrEnum, Unicode

    class PrivateIpcKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
        connection_file = Unicode(str(folder / "kernel.json"), config=True)
        ip = Unicode(str(folder / "ipc"), config=True)

    return PrivateIpcKernelManager


def _check_period(start: str, end: str) -> None:
    """The period's bounds parse, and the start is before the end (checked before a kernel starts)."""
    from obskit.timeutil import parse_time

    bounds = {}
    for key, value in (("--start", start), ("--end", end)):
        if value:
            try:
                bounds[key] = parse_time(value)
            except ValueError as exc:
                raise ConfigError(f"{key}: {exc}") from None
    if len(bounds) == 2 and bounds["--start"] >= bounds["--end"]:
        raise ConfigError(f"--start {start} is not before --end {end}: the period is empty")
    check_period(bounds.get("--start"), bounds.get("--end"), key="--start/--end")


def _check_duration(key: str, value: str) -> None:
    from obskit.timeutil import bounded_duration

    bounded_duration(f"parameter {key!r}", value, shortest=SHORTEST_WINDOW)


def _host_tag() -> str:
    """A short tag of this machine (run folders of other machines sharing the folder are never judged)."""
    import hashlib
    import socket

    return hashlib.sha1(socket.gethostname().encode(), usedforsecurity=False).hexdigest()[:8]


def _clean_interrupted(root: Path) -> None:
    """Remove what killed runs left here: work folders of dead processes, obskit's half-written files.

    A work folder is ``.obskit-run-<host tag>-<pid>-<random>``: it is removed when it belongs
    to this machine and its process is gone, or, from another machine, after two days.
    Half-written files are obskit's own temp names (``.<page or summary>.<random>.tmp``) in
    the day folders, older than an hour.
    """
    import re
    import time

    host = _host_tag()
    for work in root.glob(".obskit-run-*"):
        m = re.fullmatch(r"\.obskit-run-([0-9a-f]{8})-(\d+)-.+", work.name)
        with contextlib.suppress(OSError):
            age = time.time() - work.stat().st_mtime
            if m and m.group(1) == host:
                stale = int(m.group(2)) != os.getpid() and not _alive(int(m.group(2)))
            else:
                stale = age > 2 * 86400
            if stale and work.is_dir():
                shutil.rmtree(work, ignore_errors=True)
    for tmp in root.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]/.*.tmp"):
        if not re.fullmatch(r"\.[\w.-]+\.(html|json)\.[\w]+\.tmp", tmp.name):
            continue
        with contextlib.suppress(OSError):
            if time.time() - tmp.stat().st_mtime > 3600:
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
