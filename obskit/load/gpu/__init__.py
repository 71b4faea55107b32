"""Loaders for what ``nvidia-smi`` prints: query CSV logs, ``dmon`` and ``pmon``.

Four loaders, two canonical frames:

==========================  ==========================================  =================
function                    input                                       frame
==========================  ==========================================  =================
:func:`load_nvidia_smi`     ``--query-gpu=... --format=csv[,nounits]``  ``gpu``
:func:`load_dmon`           ``nvidia-smi dmon [-o DT] [-s ...]``        ``gpu``
:func:`load_pmon`           ``nvidia-smi pmon [-o DT] [-s um]``         ``gpu_processes``
:func:`load_compute_apps`   ``--query-compute-apps=... --format=csv``   ``gpu_processes``
==========================  ==========================================  =================

Shared behaviour
----------------
* Units may sit in the header (``memory.used [MiB]``), in the values (``575 MiB``), in both,
  or nowhere (``--format=csv,nounits`` keeps them in the header only); values are converted
  to the canonical unit (MiB, W, MHz, %, °C). A unit obskit does not know is an error that
  names the column.
* ``[N/A]``, ``[Not Supported]``, ``[Unknown Error]``, any other ``[...]`` value, ``N/A``
  and (dmon/pmon) ``-`` become null.
* nvidia-smi writes *local* wall-clock time without a zone; ``timezone`` says which zone
  the logging host used, and timestamps come out in UTC. In a DST fall-back hour the
  earlier of the two instants is taken.
* Header lines repeated in the middle of a log (a restarted ``nvidia-smi -l 5 >> log.csv``,
  dmon's periodic header) start a new block; the header may differ between blocks.
* Capture files with ``# <phase> :: <title>`` / ``# $ <command>`` section banners (the
  nvidia_gpu_exporter captures) are understood: each loader reads only the sections whose
  command it parses; see :func:`split_capture_sections`.
* Bad rows (wrong field count, unparsable number, unknown unit) raise
  :class:`~obskit.errors.ParseError` with file, line and column when ``strict=True``, and
  go to the :class:`~obskit.load._quarantine.Quarantine` otherwise. Problems that make a
  whole file unreadable (empty file, no header, no timestamps at all) always raise.
* Non-UTF-8 bytes are replaced by U+FFFD; UTF-16 files with a BOM (PowerShell ``>``) are
  decoded as UTF-16.

Examples
--------
>>> import io
>>> log = io.BytesIO(b"timestamp, index, utilization.gpu [%], memory.used [MiB]\\n"
...                  b"2024/01/15 10:00:00.000, 0, 38 %, 575 MiB\\n")
>>> load_nvidia_smi(log, timezone="Europe/Berlin").select("timestamp", "memory_used_mib").row(0)
(datetime.datetime(2024, 1, 15, 9, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), 575.0)
"""

from __future__ import annotations

from obskit.load.gpu._text import CaptureSection, split_capture_sections
from obskit.load.gpu.mon import load_dmon, load_pmon
from obskit.load.gpu.query import load_compute_apps, load_nvidia_smi

__all__ = [
    "CaptureSection",
    "load_compute_apps",
    "load_dmon",
    "load_nvidia_smi",
    "load_pmon",
    "split_capture_sections",
]
