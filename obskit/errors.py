"""The one exception tree of obskit.

Every error obskit raises on purpose derives from :class:`ObskitError` and carries
structured fields, so that callers (and the CLI) can report *where* and *why* without
parsing messages::

    ObskitError                      root; .reason, .path, .line, .column
    ├── ConfigError                  bad or missing config file / option
    ├── SourceError                  a source cannot be read at all (missing, unreachable)
    │   └── RemoteError              an HTTP API answered with an error (.status, .url)
    ├── ParseError                   a record in a source is malformed (strict mode)
    ├── SchemaError                  a frame violates a canonical schema (.violations)
    ├── AnalysisError                an analysis cannot run on the data it was given
    ├── InvalidArgument              a public function got a bad argument (also a ValueError)
    ├── AlertRuleError               an alert rule is invalid (.rule)
    ├── ReportError                  a report failed to execute or render
    └── MissingDependencyError       an optional component (NVML, a binary) is absent

Examples
--------
>>> from obskit.errors import ParseError
>>> err = ParseError("invalid JSON", path="logs/a.jsonl", line=3)
>>> str(err)
'logs/a.jsonl:3: invalid JSON'
>>> err.line
3
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

__all__ = [
    "AlertRuleError",
    "AnalysisError",
    "ConfigError",
    "InvalidArgument",
    "MissingDependencyError",
    "ObskitError",
    "ParseError",
    "RemoteError",
    "ReportError",
    "SchemaError",
    "SourceError",
    "Violation",
]


class ObskitError(Exception):
    """Root of every error obskit raises on purpose.

    Parameters
    ----------
    reason
        What went wrong, in one sentence, without the location.
    path
        The file, URL or config key the error is about, if any.
    line
        1-based line number in ``path``, if known.
    column
        Column name or 1-based column number, if known.
    """

    def __init__(
        self,
        reason: str,
        *,
        path: str | PathLike[str] | None = None,
        line: int | None = None,
        column: str | int | None = None,
    ) -> None:
        self.reason = reason
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        super().__init__(self._format())

    def __reduce__(self) -> tuple[object, ...]:
        # pickling keeps every structured field (subclasses add theirs to __dict__), not only the message
        return (_rebuild, (type(self), dict(self.__dict__), str(self)))

    def _format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
        elif self.line is not None:
            where = f"line {self.line}"
        if self.column is not None:
            where += f" [column {self.column}]" if where else f"column {self.column}"
        return f"{where}: {self.reason}" if where else self.reason


def _rebuild(cls: type[ObskitError], state: dict[str, object], message: str | None = None) -> ObskitError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    # the message as it was: a subclass may have formatted it from more than its fields
    Exception.__init__(err, err._format() if message is None else message)
    return err


class ConfigError(ObskitError):
    """A configuration file or option is missing or invalid.

    >>> str(ConfigError("unknown key 'sorces'", path="obskit.toml"))
    "obskit.toml: unknown key 'sorces'"
    """


class SourceError(ObskitError):
    """A source cannot be read at all: missing file, empty file, unreachable server.

    >>> str(SourceError("file not found", path="/data/missing.jsonl"))
    '/data/missing.jsonl: file not found'
    """


class RemoteError(SourceError):
    """A remote API answered with an error (HTTP status or an error body).

    Credentials are never part of ``url`` or the message.

    >>> e = RemoteError("HTTP 503 Service Unavailable", url="http://127.0.0.1:9090/api/v1/query", status=503)
    >>> e.status
    503
    """

    def __init__(self, reason: str, *, url: str | None = None, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(reason, path=url)


class ParseError(ObskitError):
    """A record in a source is malformed (raised in strict mode; counted in lenient mode).

    >>> str(ParseError("expected a number, got 'abc'", path="m.prom", line=12, column=5))
    "m.prom:12 [column 5]: expected a number, got 'abc'"
    """


@dataclass(frozen=True)
class Violation:
    """One way a frame breaks its schema.

    >>> str(Violation("latency_ms", "3 negative values"))
    'latency_ms: 3 negative values'
    """

    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.column}: {self.reason}"


class SchemaError(ObskitError):
    """A frame violates a canonical schema; ``violations`` lists every problem at once.

    >>> err = SchemaError("requests", [Violation("latency_ms", "missing column")])
    >>> str(err)
    'requests frame: 1 schema violation: latency_ms: missing column'
    """

    def __init__(
        self,
        frame: str,
        violations: Sequence[Violation],
        *,
        path: str | PathLike[str] | None = None,
    ) -> None:
        self.frame = frame
        self.violations = list(violations)
        n = len(self.violations)
        detail = "; ".join(str(v) for v in self.violations)
        plural = "violation" if n == 1 else "violations"
        super().__init__(f"{frame} frame: {n} schema {plural}: {detail}", path=path)


class AnalysisError(ObskitError):
    """An analysis cannot run on the data it was given (empty window, missing column...)."""


class InvalidArgument(ObskitError, ValueError):
    """A public function was called with a bad argument (a malformed duration, an unknown option...).

    It is also a :class:`ValueError`, so callers that caught ``ValueError`` keep working.

    >>> err = InvalidArgument("every: expected a duration like '5m', got '5x'")
    >>> isinstance(err, ValueError), str(err)
    (True, "every: expected a duration like '5m', got '5x'")
    """


class AlertRuleError(ObskitError):
    """An alert rule is invalid; ``rule`` names it.

    >>> str(AlertRuleError("unknown signal 'eror_rate'", rule="high-errors"))
    "alert rule 'high-errors': unknown signal 'eror_rate'"
    """

    def __init__(self, reason: str, *, rule: str, path: str | PathLike[str] | None = None) -> None:
        self.rule = rule
        super().__init__(f"alert rule {rule!r}: {reason}", path=path)
        self.reason = reason


class ReportError(ObskitError):
    """A report failed to execute or render (``cell`` is the failing cell index, if any)."""

    def __init__(
        self,
        reason: str,
        *,
        path: str | PathLike[str] | None = None,
        cell: int | None = None,
    ) -> None:
        self.cell = cell
        super().__init__(reason, path=path)


class MissingDependencyError(ObskitError):
    """An optional component is absent (NVIDIA driver, a binary, a Python package).

    >>> str(MissingDependencyError("NVML not found: no NVIDIA driver on this machine"))
    'NVML not found: no NVIDIA driver on this machine'
    """
