"""Text of nvidia-smi outputs: lines, capture-file sections and the blocks each loader reads."""


from __future__ import annotations

import re
from dataclasses import dataclass, field

from obskit.errors import ParseError, SourceError
from obskit.load._sources import Input, SourceLike, decompressed_bytes, resolve

_SUFFIXES = tuple(f"{s}{c}" for s in (".csv", ".txt", ".log") for c in ("", ".gz", ".zst"))

# ---------------------------------------------------------------------------------------
# Text and capture sections
# ---------------------------------------------------------------------------------------

Line = tuple[int, str]  # (1-based line number, text without line end)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def _read_lines(inp: Input) -> list[Line]:
    text = _decode(decompressed_bytes(inp))
    if not text.strip():
        raise SourceError("empty file", path=inp.name)
    return [(i, ln.rstrip("\r")) for i, ln in enumerate(text.split("\n"), start=1)]


_BANNER_RE = re.compile(r"^#{20,}\s*$")
_TITLE_RE = re.compile(r"^# (\S[^:]*?) :: (.+?)\s*$")
_COMMAND_RE = re.compile(r"^# \$ (.*?)\s*$")


@dataclass(frozen=True)
class CaptureSection:
    """One ``# <phase> :: <title>`` section of a capture file.

    Attributes
    ----------
    source
        File the section came from.
    phase
        Text before ``::`` (``idle``, ``load``, ``capabilities``).
    title
        Text after ``::``.
    command
        The command line that produced the section (from the ``# $ ...`` line).
    lines
        The body as ``(line number, text)`` pairs, line numbers counted in the whole file.
    """

    source: str
    phase: str
    title: str
    command: str
    lines: tuple[Line, ...] = field(repr=False)

    @property
    def kind(self) -> str | None:
        """``query-gpu``, ``query-compute-apps``, ``dmon``, ``pmon`` or None (other output)."""
        return _command_kind(self.command)


def _command_kind(command: str) -> str | None:
    if "--query-gpu=" in command:
        return "query-gpu"
    if "--query-compute-apps=" in command:
        return "query-compute-apps"
    for word in ("dmon", "pmon"):
        if re.search(rf"(^|\s){word}(\s|$)", command):
            return word
    return None


def _is_banner_comment(text: str) -> bool:
    return text.startswith("# ") and not _BANNER_RE.match(text)


def _sections(name: str, lines: list[Line]) -> list[CaptureSection]:
    out: list[CaptureSection] = []
    i = 0
    while i < len(lines) - 1:
        title = _TITLE_RE.match(lines[i][1])
        command = _COMMAND_RE.match(lines[i + 1][1])
        if not (title and command and (i == 0 or _BANNER_RE.match(lines[i - 1][1]))):
            i += 1
            continue
        start = i + 2
        while start < len(lines) and _is_banner_comment(lines[start][1]):
            start += 1  # further banner lines (e.g. '# library sha256: ...')
        start += 1 if start < len(lines) and _BANNER_RE.match(lines[start][1]) else 0
        end = start
        while end < len(lines) and not _BANNER_RE.match(lines[end][1]):
            end += 1
        body = tuple(ln for ln in lines[start:end] if ln[1].strip())
        out.append(CaptureSection(name, title.group(1), title.group(2), command.group(1), body))
        i = end
    return out


def split_capture_sections(source: SourceLike) -> list[CaptureSection]:
    """Split capture files with ``# phase :: title`` / ``# $ command`` banners into sections.

    Parameters
    ----------
    source
        Path, glob, directory, list of paths or file-like object.

    Returns
    -------
    list of CaptureSection
        In file order; empty for a file without banners (a plain log).

    Examples
    --------
    >>> import io
    >>> text = b"#####################\\n# idle :: dmon\\n# $ nvidia-smi dmon -c 1\\n"
    >>> text += b"#####################\\n# gpu pwr\\n# Idx W\\n    0  69\\n"
    >>> [(s.phase, s.kind, len(s.lines)) for s in split_capture_sections(io.BytesIO(text))]
    [('idle', 'dmon', 3)]
    """
    out: list[CaptureSection] = []
    for inp in resolve(source, suffixes=_SUFFIXES):
        out.extend(_sections(inp.name, _read_lines(inp)))
    return out


@dataclass
class _Block:
    """Consecutive lines of one tool's output (a whole plain file, or one capture section)."""

    source: str
    lines: list[Line]


def _blocks(inp: Input, kind: str, what: str) -> list[_Block]:
    lines = _read_lines(inp)
    first = next(text for _, text in lines if text.strip())
    if first.strip() == "go test fuzz v1":
        raise ParseError(
            f"this is a Go fuzz-corpus entry ('go test fuzz v1'), not {what} output",
            path=inp.name,
            line=1,
        )
    sections = _sections(inp.name, lines)
    if not sections:
        return [_Block(inp.name, lines)]
    wanted = [_Block(inp.name, list(s.lines)) for s in sections if s.kind == kind]
    if not wanted:
        found = sorted({s.kind for s in sections if s.kind})
        raise SourceError(
            f"capture file has no {what} section (it has: {', '.join(found) or 'none'})",
            path=inp.name,
        )
    return wanted
