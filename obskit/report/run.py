"""What the report's lower modules (status, the scale path) read of a run, as protocols.

:class:`~obskit.report.section.ReportContext` is the one implementation. Typing against these
protocols lets :mod:`obskit.report.status` and :mod:`obskit.report.scale` serve the module
that opens a report without importing it (no import cycle, not even a type-only one).

>>> from obskit.report.section import ReportContext, Section
>>> isinstance(Section("Latency"), Shown)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import polars as pl

    from obskit.config import Config
    from obskit.session import Session

__all__ = ["Run", "Shown"]


@runtime_checkable
class Shown(Protocol):
    """A section as the run status reads it: its title, status, flags and their reasons."""

    title: str
    status: Any
    flags: set[str]
    flag_reasons: dict[str, str]

    def note(self, text: str, *, kind: str = "info") -> Any:
        """Add a note to the section."""


class Run(Protocol):
    """A report run as the status and the scale path read it."""

    session: Session
    window: str
    figures: dict[str, Any]

    @property
    def sections(self) -> Sequence[Shown]:
        """The sections shown so far."""

    @property
    def config(self) -> Config:
        """The project config."""

    @property
    def scale(self) -> Any:
        """The scale source when the run is at scale, else None."""

    @property
    def requests(self) -> pl.DataFrame | None:
        """The period's requests, or None."""

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per run."""
