"""Reports: shipped and user notebooks run by papermill into self-contained HTML pages.

- :func:`run_report` executes a notebook (a shipped name or a path to an ``.ipynb``) and
  writes ``<out>/<day>/<name>.html``, ``summary.json``, ``alerts.json`` and the history index.
- :mod:`obskit.report.section` is what a cell shows (:class:`Section`) and the run's context
  (:func:`open_report`).
- :mod:`obskit.report.health`, :mod:`~obskit.report.drift`, :mod:`~obskit.report.gpu` and
  :mod:`~obskit.report.canary` hold one function per report section: a notebook cell is one call.
- :mod:`obskit.report.notebooks` finds the shipped notebooks and template (package data) and
  copies one out as the start of a user's own report.

Names are imported on first use, so ``import obskit.report`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from obskit.report.notebooks import (
        available_notebooks,
        copy_notebook,
        default_config,
        notebook_parameters,
        resolve_notebook,
    )
    from obskit.report.runner import ReportResult, run_report, vega_bundle
    from obskit.report.section import ReportContext, Section, open_report

__all__ = [
    "ReportContext",
    "ReportResult",
    "Section",
    "available_notebooks",
    "copy_notebook",
    "default_config",
    "notebook_parameters",
    "open_report",
    "resolve_notebook",
    "run_report",
    "vega_bundle",
]

_HOME = {
    "ReportResult": "runner", "run_report": "runner", "vega_bundle": "runner",
    "ReportContext": "section", "Section": "section", "open_report": "section",
    "available_notebooks": "notebooks", "copy_notebook": "notebooks", "default_config": "notebooks",
    "notebook_parameters": "notebooks", "resolve_notebook": "notebooks",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'obskit.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"obskit.report.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
