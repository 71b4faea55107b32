"""Progress reporting: a live bar on a terminal, a few plain lines in logs, nothing by default there.

On a TTY (or in a notebook) progress is a live bar. When stderr is not a TTY (cron, CI,
a log file) nothing is written unless ``OBSKIT_PROGRESS=1`` asks for it, and then as a few
plain lines (every quarter) — never carriage returns, which turn a log into one giant line.
``OBSKIT_PROGRESS=0`` silences it everywhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import TextIO, TypeVar

T = TypeVar("T")

__all__ = ["enabled", "live", "progress", "reporter"]


def live(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    s = stream or sys.stderr
    return bool(getattr(s, "isatty", lambda: False)())


def enabled(force: bool | None = None) -> bool:
    """Whether progress output is on: ``force`` if given, else env, else "stderr is a TTY"."""
    if force is not None:
        return force
    env = os.environ.get("OBSKIT_PROGRESS")
    if env is not None:
        return env not in ("0", "false", "no", "")
    return live()


def reporter(desc: str, *, unit: str = "", show: bool | None = None,
             stream: TextIO | None = None) -> Callable[[int, int], None]:
    """A ``(done, total)`` callback: a live line on a TTY, plain lines at each quarter otherwise.

    >>> import io
    >>> buf = io.StringIO()
    >>> tick = reporter("load", unit="rows", show=True, stream=buf)
    >>> for done in range(0, 101, 10):
    ...     tick(done, 100)
    >>> print(buf.getvalue(), end="")
    load: 30/100 rows (30%)
    load: 50/100 rows (50%)
    load: 80/100 rows (80%)
    load: 100/100 rows (100%)
    """
    out = stream or sys.stderr
    on = enabled(show)
    is_live = live(out)
    last_quarter = [0]
    suffix = f" {unit}" if unit else ""

    def tick(done: int, total: int) -> None:
        if not on or total <= 0:
            return
        share = min(max(done / total, 0.0), 1.0)
        line = f"{desc}: {done:,}/{total:,}{suffix} ({share:.0%})"
        if is_live:
            print(f"\r{line}", end="\n" if done >= total else "", file=out, flush=True)
            return
        quarter = int(share * 4)
        if quarter > last_quarter[0]:
            last_quarter[0] = quarter
            print(line, file=out, flush=True)

    return tick


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str = "", show: bool | None = None, unit: str = "it"
) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar when :func:`enabled` (plain lines when not a TTY).

    >>> list(progress([1, 2], show=False))
    [1, 2]
    """
    if not enabled(show):
        yield from items
        return
    if not live():
        n = total if total is not None else (len(items) if isinstance(items, Sized) else 0)
        tick = reporter(desc or "progress", unit=unit, show=True)
        for i, item in enumerate(items, start=1):
            yield item
            tick(i, n)
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
