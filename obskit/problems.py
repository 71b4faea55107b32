"""What went wrong with a source, as the pages and the status say it.

A :class:`Problem` is recorded on the :class:`~obskit.session.Session` by whoever finds it
(a loader that failed, a panel query, a latency unit that cannot be right) and read by the
report's status and its Sources section. It lives below the session so that every layer
can record one without importing the session.

>>> Problem("requests", "file not found")
Problem(source='requests', reason='file not found')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem"]


@dataclass(frozen=True)
class Problem:
    """A source that failed, or loaded with figures that cannot be right (a latency unit), and why."""

    source: str
    reason: str
