"""New log lines into canonical ``requests`` rows, with the loader's own checks.

A batch of complete lines from :class:`~obskit.watch.tail.LogTail` goes through the same
loader as a file (:func:`obskit.load.logs.load_requests` with the source's options): the
same column mapping, units, status convention and row checks; a rejected row is counted
with its file and line number in that file. A CSV file's header is its first line: it is
kept and put in front of every later batch of that file.

Examples
--------
>>> from obskit.load.registry import SourceConfig
>>> from obskit.watch.tail import Chunk
>>> src = SourceConfig("requests", "requests", {"path": "logs/*.jsonl"})
>>> p = LineParser(src)
>>> ok = (b'{"timestamp": "2026-01-01T00:00:00Z", "request_id": "r1", "model": "m", "model_version": "v1", '
...       b'"latency_ms": 12, "status": "ok"}\\n')
>>> bad = ok.replace(b"2026-01-01T00:00:00Z", b"yesterday").replace(b"r1", b"r2")
>>> rows = p.parse(Chunk("logs/a.jsonl", ok + bad, 1))
>>> rows.height, p.quarantine.count
(1, 1)
>>> int(p.quarantine.frame()["line"][0])
2
"""

from __future__ import annotations

import io
from dataclasses import replace

import polars as pl

from obskit.errors import ObskitError
from obskit.load._quarantine import Quarantine
from obskit.load.registry import KINDS, LoadContext, SourceConfig
from obskit.watch.tail import Chunk

__all__ = ["LineParser"]


def _format(src: SourceConfig, path: str) -> str:
    fmt = src.get("format")
    if fmt:
        return str(fmt)
    return "csv" if path.lower().endswith((".csv", ".tsv")) else "jsonl"


class LineParser:
    """Parse batches of new lines of one request (or ``feedback``) source into canonical rows."""

    def __init__(self, src: SourceConfig, *, timezone: str = "UTC", model: str = "", kind: str = "requests") -> None:
        self.src = src
        self.kind = kind
        self.timezone = timezone
        self.model = model
        self.quarantine = Quarantine()
        self._headers: dict[str, bytes] = {}

    def parse(self, chunk: Chunk) -> pl.DataFrame:
        """The chunk's valid rows (possibly none); rejected rows land in :attr:`quarantine`."""
        fmt = _format(self.src, chunk.path)
        data, shift = chunk.data, chunk.first_line - 1
        if fmt == "csv":
            if chunk.first_line == 1:
                head, _, rest = data.partition(b"\n")
                self._headers[chunk.path] = head + b"\n"
                if not rest.strip():
                    return pl.DataFrame()
            else:
                header = self._headers.get(chunk.path)
                if header is None:  # resumed past the header: read it again from the file
                    header = self._read_header(chunk.path)
                    self._headers[chunk.path] = header
                data = header + data
                shift -= 1
        q = Quarantine()
        options = {**self.src.options, "path": io.BytesIO(data), "format": fmt}
        try:
            frame = KINDS[self.kind].load(replace(self.src, options=options), LoadContext(q, self.timezone,
                                                                                        self.model))
        except ObskitError as exc:
            if q.count == 0:  # nothing per row to count: the whole batch is refused with the reason
                lines = data.count(b"\n") - (1 if fmt == "csv" else 0)
                for i in range(lines):
                    self.quarantine.add(chunk.path, shift + i + 1 + (1 if fmt == "csv" else 0), str(exc))
                return pl.DataFrame()
            frame = pl.DataFrame()
        if q.count:
            bad = q.frame().with_columns(pl.lit(chunk.path).alias("source"),
                                         (pl.col("line") + shift).alias("line"))
            self.quarantine.extend(bad)
        return frame

    @staticmethod
    def _read_header(path: str) -> bytes:
        try:
            with open(path, "rb") as fh:
                return fh.readline()
        except OSError:
            return b""
