"""Atomic file writes: a temp file in the destination folder, then ``os.replace``.

A reader (a browser, a scheduler, a second report run) never sees a half-written file, and a
failed write leaves the previous file untouched.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
>>> atomic_write_text(p, "hello")
5
>>> p.read_text()
'hello'
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text"]


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temp path next to ``dest``; on success it replaces ``dest`` (mode 0644).

    A ``dest`` that exists and is not a regular file nor a link (``/dev/stdout``, a FIFO, a
    device) is written through, never replaced: replacing ``/dev/null`` with a file would break
    the machine. A link is replaced, never written through (its target may be anyone's file).
    """
    if dest.exists() and not dest.is_symlink() and not dest.is_file() and not dest.is_dir():
        with tempfile.TemporaryDirectory() as scratch:
            staged = Path(scratch) / dest.name
            yield staged
            with open(staged, "rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> int:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the number of bytes written."""
    data = text.encode("utf-8")
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(data)
    return len(data)
