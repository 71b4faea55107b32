"""Follow growing and rotating log files: the complete new lines of every file a glob names.

:class:`LogTail` keeps, per file it has seen (identified by device and inode, not by name),
how many bytes and lines it has read, and any incomplete last line. Each :meth:`LogTail.poll`

* reads every open file to its end (a file renamed by rotation is read to its end through
  the handle still open, so no line written before the rename is lost),
* opens the files the glob names now that it has not seen (a new hour's file, the fresh
  file after a rotation), from their first byte,
* starts a file again from its first byte when it shrank (``copytruncate`` rotation),
* closes the files the glob no longer names once they are read to their end.

Only complete lines (ending in ``\\n``) are returned; a line still being written waits for
the next poll. :meth:`LogTail.positions` and :meth:`LogTail.restore` carry the positions
across a restart, so a restarted watcher neither reads a line twice nor skips one.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp())
>>> log = d / "requests.jsonl"
>>> _ = log.write_text('{"a": 1}\\n{"a": 2')
>>> tail = LogTail(str(d / "*.jsonl"))
>>> [(c.first_line, c.data) for c in tail.poll()]
[(1, b'{"a": 1}\\n')]
>>> with log.open("a") as fh:
...     _ = fh.write("}\\n")
>>> [(c.first_line, c.data) for c in tail.poll()]
[(2, b'{"a": 2}\\n')]
"""

from __future__ import annotations

import glob as _glob
import os
from dataclasses import dataclass
from typing import IO, Any

__all__ = ["Chunk", "LogTail"]

#: Most bytes read from one file in one poll (the rest waits for the next poll).
MAX_READ = 64 << 20


@dataclass(frozen=True)
class Chunk:
    """Complete new lines of one file: its ``path``, the ``data`` and the number of its first line."""

    path: str
    data: bytes
    first_line: int


@dataclass
class _File:
    path: str
    key: tuple[int, int]
    handle: IO[bytes] | None
    offset: int = 0
    line: int = 0
    partial: bytes = b""


def _key(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


class LogTail:
    """Complete new lines of the files ``pattern`` (a path or a glob) names, poll after poll."""

    def __init__(self, pattern: str) -> None:
        self.pattern = str(pattern)
        self._files: dict[tuple[int, int], _File] = {}
        self._restored: dict[tuple[int, int], dict[str, Any]] = {}

    def _names(self) -> list[str]:
        if any(ch in self.pattern for ch in "*?["):
            return sorted(p for p in _glob.glob(self.pattern) if os.path.isfile(p))
        return [self.pattern] if os.path.isfile(self.pattern) else []

    def _open(self, path: str) -> _File | None:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - kept open across polls to survive a rename
            st = os.fstat(handle.fileno())
        except OSError:
            return None
        f = _File(path, _key(st), handle)
        saved = self._restored.pop(f.key, None)  # the same file, under its old name or a new one
        if saved and int(saved["offset"]) <= st.st_size:
            f.offset, f.line = int(saved["offset"]), int(saved["line"])
            handle.seek(f.offset)
        return f

    def poll(self) -> list[Chunk]:
        """The complete lines written since the last poll, per file (see the module doc)."""
        names = self._names()
        current: dict[tuple[int, int], str] = {}
        for path in names:
            try:
                current[_key(os.stat(path))] = path
            except OSError:
                continue
        for key, path in current.items():
            if key not in self._files:
                f = self._open(path)
                if f is not None:
                    self._files[f.key] = f
            else:
                self._files[key].path = path
        out = []
        for key, f in list(self._files.items()):
            chunk = self._read(f)
            if chunk is not None:
                out.append(chunk)
            if key not in current and f.handle is not None:  # rotated away and read to its end
                f.handle.close()
                del self._files[key]
        return out

    def _read(self, f: _File) -> Chunk | None:
        if f.handle is None:
            return None
        try:
            size = os.fstat(f.handle.fileno()).st_size
            if size < f.offset:  # truncated in place: its new content starts at byte 0
                f.offset, f.partial = 0, b""
                f.handle.seek(0)
            data = f.handle.read(MAX_READ)
        except OSError:
            return None
        if not data:
            return None
        f.offset += len(data)
        data = f.partial + data
        cut = data.rfind(b"\n") + 1
        f.partial = data[cut:]
        if not cut:
            return None
        first = f.line + 1
        complete = data[:cut]
        f.line += complete.count(b"\n")
        return Chunk(f.path, complete, first)

    @property
    def files(self) -> list[str]:
        """The files followed now."""
        return sorted(f.path for f in self._files.values())

    def positions(self) -> dict[str, dict[str, Any]]:
        """Per file: identity, the byte offset of its first unreturned line, and lines returned (JSON-ready)."""
        return {f.path: {"key": list(f.key), "offset": f.offset - len(f.partial), "line": f.line}
                for f in self._files.values()}

    def restore(self, positions: dict[str, dict[str, Any]]) -> None:
        """Resume from :meth:`positions` of an earlier run: a file with the same identity continues there."""
        self._restored = {(int(p["key"][0]), int(p["key"][1])): p for p in positions.values()}

    def close(self) -> None:
        """Close every open file."""
        for f in self._files.values():
            if f.handle is not None:
                f.handle.close()
        self._files.clear()

