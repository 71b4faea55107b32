"""Lenient/strict handling of bad records: nothing is dropped without being counted.

Loaders take ``strict: bool`` and an optional :class:`Quarantine`. In strict mode the
first bad record raises :class:`~obskit.errors.ParseError` with file and line. In lenient
mode it is appended to the quarantine (file, line, reason, raw text) and loading goes on;
if the caller passed no quarantine, a warning states how many records were rejected.

Examples
--------
>>> q = Quarantine()
>>> q.add("a.jsonl", 3, "invalid JSON", "{oops")
>>> q.count
1
>>> q.frame().row(0)
('a.jsonl', 3, 'invalid JSON', '{oops')
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import polars as pl

from obskit.errors import ParseError

__all__ = ["LoadStats", "Quarantine", "RejectedRecordsWarning", "reject"]

QUARANTINE_SCHEMA = pl.Schema(
    {"source": pl.String(), "line": pl.Int64(), "reason": pl.String(), "raw": pl.String()}
)
_RAW_LIMIT = 2000


class RejectedRecordsWarning(UserWarning):
    """Emitted by a lenient load that rejected records and had no quarantine to put them in."""


@dataclass
class LoadStats:
    """What a load read: files, bytes as stored, rows kept, rows rejected."""

    files: list[str] = field(default_factory=list)
    bytes: int = 0
    rows: int = 0
    rejected: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): unreadable files of a glob
    #: (source, why): a source that loaded but looks wrong (a latency median in another unit)
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for logs and progress output.

        >>> LoadStats(["a", "b"], 2048, 10, 1).summary()
        'read 2 files (2.0 KiB), 10 rows, 1 rejected'
        """
        size = self.bytes / 1024
        unit = "KiB"
        if size >= 1024:
            size, unit = size / 1024, "MiB"
        n = len(self.files)
        return f"read {n} file{'s' if n != 1 else ''} ({size:.1f} {unit}), {self.rows} rows, {self.rejected} rejected"


@dataclass
class Quarantine:
    """Collects rejected records with where they came from and why."""

    _sources: list[str] = field(default_factory=list)
    _lines: list[int | None] = field(default_factory=list)
    _reasons: list[str] = field(default_factory=list)
    _raws: list[str | None] = field(default_factory=list)
    stats: LoadStats = field(default_factory=LoadStats)

    def add(self, source: str, line: int | None, reason: str, raw: str | None = None) -> None:
        """Record one rejected record."""
        self._sources.append(source)
        self._lines.append(line)
        self._reasons.append(reason)
        self._raws.append(None if raw is None else raw[:_RAW_LIMIT])

    def extend(self, frame: pl.DataFrame) -> None:
        """Record many rejected records from a frame with columns source, line, reason, raw."""
        for row in frame.select(list(QUARANTINE_SCHEMA)).iter_rows():
            self.add(*row)

    @property
    def count(self) -> int:
        """Number of rejected records."""
        return len(self._reasons)

    def frame(self) -> pl.DataFrame:
        """The rejected records: source, line, reason, raw."""
        return pl.DataFrame(
            {"source": self._sources, "line": self._lines, "reason": self._reasons, "raw": self._raws},
            schema=QUARANTINE_SCHEMA,
        )


def reject(
    quarantine: Quarantine | None,
    strict: bool,
    source: str,
    line: int | None,
    reason: str,
    raw: str | None = None,
    column: str | None = None,
) -> None:
    """Raise in strict mode, else put the record in quarantine."""
    if strict:
        raise ParseError(reason, path=source, line=line, column=column)
    if quarantine is not None:
        quarantine.add(source, line, reason, raw)


def warn_unquarantined(count: int, what: str) -> None:
    """Warn that ``count`` records were rejected and not kept anywhere by the caller."""
    if count:
        warnings.warn(
            f"{what}: {count} records rejected; pass quarantine=Quarantine() to keep them "
            "or strict=True to fail on the first one",
            RejectedRecordsWarning,
            stacklevel=3,
        )
