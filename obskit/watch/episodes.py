"""Which alert episodes to notify now: each firing once, each resolution once, across restarts.

A watcher re-evaluates its rules over the window it keeps at every interval, so an episode
shows up again and again. :func:`due` compares the episodes of the latest evaluation
(records of :func:`obskit.alerts.notify.alert_records`) with what was already sent
(:class:`Sent`, saved in the checkpoint) and returns the records to send: an episode that
fires and was not announced, and an announced one that has resolved. An episode is known
by its rule, labels and firing time; one whose start moved as the kept window slid (so it
seems to start later, or earlier) is still the one announced when their spans overlap: one
series has one episode at a time.

Examples
--------
>>> rec = {"id": "a1", "rule": "errors", "labels": {}, "state": "firing",
...        "firing_at": "2026-01-01T00:05:00Z", "pending_at": "2026-01-01T00:04:00Z", "resolved_at": None}
>>> sent = Sent()
>>> [r["state"] for r in due([rec], sent)]
['firing']
>>> due([rec], sent)
[]
>>> done = {**rec, "state": "resolved", "resolved_at": "2026-01-01T00:09:00Z"}
>>> [r["state"] for r in due([done], sent)], due([done], sent)
(['resolved'], [])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Sent", "due"]


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _key(rec: Mapping[str, Any]) -> str:
    return f"{rec['rule']}|{json.dumps(rec.get('labels') or {}, sort_keys=True)}"


@dataclass
class Sent:
    """Announced episodes: per rule and labels, ``[firing_at, resolved_at or None]`` pairs (ISO text)."""

    episodes: dict[str, list[list[str | None]]] = field(default_factory=dict)

    def find(self, rec: Mapping[str, Any]) -> list[str | None] | None:
        """The announced episode ``rec`` is, if any.

        The same firing time, or else the announced episode of the same rule and labels whose
        span overlaps ``rec``'s (from its pending time to its resolution, open when unresolved):
        one series has one episode at a time, so an overlapping one is the same episode seen
        from a window that slid (its beginning left the rows or minutes the watcher keeps, or
        its rolled signal changed with them), whether it now seems to start later or earlier.
        """
        start = rec.get("pending_at") or rec.get("firing_at")
        end = rec.get("resolved_at")
        eps = self.episodes.get(_key(rec), [])
        for ep in eps:
            if ep[0] == rec.get("firing_at"):
                return ep
        for ep in eps:
            if ep[0] is None:
                continue
            begins_before_end = end is None or _time(ep[0]) <= _time(end)
            ends_after_start = ep[1] is None or start is None or _time(start) <= _time(ep[1])
            if begins_before_end and ends_after_start:
                return ep
        return None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the checkpoint)."""
        return {"episodes": self.episodes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sent:
        """Inverse of :meth:`as_dict`."""
        return cls({str(k): [list(e) for e in v] for k, v in dict(data.get("episodes") or {}).items()})

    def forget_before(self, when: datetime) -> None:
        """Drop resolved episodes that ended before ``when`` (they left the kept window)."""
        for key in list(self.episodes):
            kept = [e for e in self.episodes[key] if e[1] is None or _time(e[1]) >= when]
            if kept:
                self.episodes[key] = kept
            else:
                del self.episodes[key]


def due(records: Sequence[Mapping[str, Any]], sent: Sent) -> list[dict[str, Any]]:
    """The records to notify now (``state`` firing or resolved), marking them sent in ``sent``.

    Records are taken in the order of their start (an earlier episode's resolution is seen
    before a later one of the same series). A resolution carries the announced firing time.
    """
    out: list[dict[str, Any]] = []
    for rec in sorted(records, key=lambda r: r.get("pending_at") or r.get("firing_at") or ""):
        if rec.get("firing_at") is None:
            continue  # pending only: nothing to say yet
        ep = sent.find(rec)
        if ep is None:
            ep = [rec["firing_at"], None]
            sent.episodes.setdefault(_key(rec), []).append(ep)
            out.append({**rec, "state": "firing", "resolved_at": None})
        if rec.get("state") == "resolved" and ep[1] is None:
            ep[1] = rec.get("resolved_at")
            out.append({**rec, "firing_at": ep[0]})
    return out
