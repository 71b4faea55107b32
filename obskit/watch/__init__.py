"""Real time: ``obskit watch`` evaluates the alert rules as the logs grow (see :mod:`obskit.watch.engine`)."""

from obskit.watch.engine import Tick, Watcher, WatchOptions

__all__ = ["Tick", "WatchOptions", "Watcher"]
