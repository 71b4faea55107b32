"""A watcher's checkpoint: what it read, what it counted, what it announced, and its status.

In ``state_dir``:

``checkpoint.json``
    The read positions of every followed file (request logs and corrections), the announced
    episodes, the counters, the
    count state's parameters and the list of row parts; written last, atomically, so it
    only ever names files that are complete.
``state/*.parquet``
    The :class:`~obskit.alerts.count_state.CountState` (minutes, latency sketches, business
    hours): small, rewritten at each save.
``rows/part-NNNNNNNN.parquet``
    The recent rows, one part per save with the rows read since the previous one; a part
    whose newest row left the row horizon is deleted. Nothing is rewritten.
``status.json``
    The latest tick's status (``ok``, ``alerting``, ``degraded``, ``no_data``, ``no_rules``), for people
    and probes.

Examples
--------
>>> import tempfile
>>> c = Checkpoint(tempfile.mkdtemp())
>>> c.load() is None
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from obskit._atomic import atomic_path, atomic_write_text
from obskit.alerts.count_state import CountState
from obskit.scale.sketches import RateCounts, SketchTable
from obskit.scale.streaming import WindowState

__all__ = ["Checkpoint", "Saved"]

VERSION = 1


@dataclass
class Saved:
    """What :meth:`Checkpoint.load` gives back."""

    state: CountState | None
    rows: list[pl.DataFrame]
    positions: dict[str, Any]
    sent: dict[str, Any]
    counters: dict[str, Any]
    feedback: pl.DataFrame | None = None


def _write(frame: pl.DataFrame, dest: Path) -> None:
    with atomic_path(dest) as tmp:
        frame.write_parquet(tmp, compression="zstd", compression_level=1)


class Checkpoint:
    """Save and load a watcher's state in ``folder`` (see the module doc)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._seq = 0
        self._parts: list[dict[str, Any]] = []

    @property
    def status_path(self) -> Path:
        """Where the latest status is written."""
        return self.folder / "status.json"

    def save(self, *, state: CountState | None, new_rows: Sequence[pl.DataFrame], positions: dict[str, Any],
             sent: dict[str, Any], counters: dict[str, Any], row_cutoff: datetime, status: dict[str, Any],
             feedback: pl.DataFrame | None = None) -> None:
        """Write the checkpoint (state, new rows, positions, corrections...) and the status."""
        (self.folder / "state").mkdir(parents=True, exist_ok=True)
        (self.folder / "rows").mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"version": VERSION, "positions": positions, "sent": sent, "counters": counters}
        if state is not None:
            lat = state.latency
            _write(state.minutes, self.folder / "state" / "minutes.parquet")
            _write(lat.counts.frame, self.folder / "state" / "latency_counts.parquet")
            _write(lat.latency.buckets, self.folder / "state" / "latency_buckets.parquet")
            _write(lat.latency.summary, self.folder / "state" / "latency_summary.parquet")
            if state.business is not None:
                _write(state.business, self.folder / "state" / "business.parquet")
            meta["state"] = {"every_s": lat.every_s, "by": list(lat.by), "present": sorted(lat.present),
                             "alpha": lat.latency.alpha, "min_value": lat.latency.min_value,
                             "keys": list(lat.counts.keys), "business": state.business is not None,
                             "corrections": state.corrections}
        meta["feedback"] = feedback is not None
        if feedback is not None:
            _write(feedback, self.folder / "state" / "feedback.parquet")
        rows = [r for r in new_rows if r.height]
        if rows:
            frame = pl.concat(rows, how="diagonal_relaxed")
            self._seq += 1
            name = f"part-{self._seq:08d}.parquet"
            _write(frame, self.folder / "rows" / name)
            newest = frame["timestamp"].max()
            self._parts.append({"name": name, "newest": newest.isoformat() if isinstance(newest, datetime) else None})
        kept = []
        for part in self._parts:
            if part["newest"] is not None and datetime.fromisoformat(part["newest"]) < row_cutoff:
                (self.folder / "rows" / part["name"]).unlink(missing_ok=True)
            else:
                kept.append(part)
        self._parts = kept
        meta["rows"] = {"seq": self._seq, "parts": kept}
        atomic_write_text(self.folder / "checkpoint.json", json.dumps(meta, default=str) + "\n")
        atomic_write_text(self.status_path, json.dumps(status, default=str, indent=1) + "\n")

    def load(self) -> Saved | None:
        """The saved state, or None when there is no checkpoint (or one of another format)."""
        path = self.folder / "checkpoint.json"
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if meta.get("version") != VERSION:
            return None
        state = None
        info = meta.get("state")
        if info:
            folder = self.folder / "state"
            keys = tuple(info["keys"])
            latency = WindowState(
                int(info["every_s"]), tuple(info["by"]),
                RateCounts(keys, pl.read_parquet(folder / "latency_counts.parquet")),
                SketchTable(keys, pl.read_parquet(folder / "latency_buckets.parquet"),
                            pl.read_parquet(folder / "latency_summary.parquet"), float(info["alpha"]),
                            float(info["min_value"])),
                frozenset(info["present"]))
            business = pl.read_parquet(folder / "business.parquet") if info.get("business") else None
            state = CountState(pl.read_parquet(folder / "minutes.parquet"), latency, business,
                               bool(info.get("corrections")))
        rows_meta = meta.get("rows") or {}
        self._seq = int(rows_meta.get("seq") or 0)
        self._parts = list(rows_meta.get("parts") or [])
        listed = {p["name"] for p in self._parts}
        for stray in (self.folder / "rows").glob("part-*.parquet"):
            if stray.name not in listed:  # written by a save that did not finish
                stray.unlink(missing_ok=True)
        rows = [pl.read_parquet(self.folder / "rows" / p["name"]) for p in self._parts]
        feedback = pl.read_parquet(self.folder / "state" / "feedback.parquet") if meta.get("feedback") else None
        return Saved(state, rows, dict(meta.get("positions") or {}), dict(meta.get("sent") or {}),
                     dict(meta.get("counters") or {}), feedback)
