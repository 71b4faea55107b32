"""Progress reporting: a bar in a terminal or notebook, quiet in non-interactive runs.

Set ``OBSKIT_PROGRESS=1`` to force progress output (e.g. in CI logs), ``0`` to silence it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

__all__ = ["enabled", "progress"]


def enabled(force: bool | None = None) -> bool:
    """Whether progress output is on: ``force`` if given, else env, else "stderr is a TTY"."""
    if force is not None:
        return force
    env = os.environ.get("OBSKIT_PROGRESS")
    if env is not None:
        return env not in ("0", "false", "no", "")
    return sys.stderr.isatty()


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str = "", show: bool | None = None, unit: str = "it"
) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar when :func:`enabled`.

    >>> list(progress([1, 2], show=False))
    [1, 2]
    """
    if not enabled(show):
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
