"""gzip is inflated by ISA-L when installed and by the standard library otherwise: the same bytes either way.

Each case is run both ways (``isal`` hidden for the second): members concatenated, a stream
cut short (kept up to the cut, with the reason), and corrupt data (a clear error).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest

from obskit.errors import SourceError
from obskit.load._sources import GzipBlocks, salvage

LINES = b"".join(b'{"i": %d}\n' % (i * 7919 % 10007) for i in range(30_000))


@pytest.fixture(params=["isal", "stdlib"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stdlib":
        monkeypatch.setitem(sys.modules, "isal", None)  # import isal now raises ImportError
    else:
        pytest.importorskip("isal")
    return str(request.param)


def test_members_are_all_read(codec: str) -> None:
    data, why = salvage(gzip.compress(LINES[:1000]) + gzip.compress(LINES[1000:]), "x.gz")
    assert (data, why) == (LINES, "")


def test_a_cut_stream_keeps_what_came_before(codec: str) -> None:
    data, why = salvage(gzip.compress(LINES)[:-3000], "x.gz")
    assert why.startswith("truncated gzip") and 0 < len(data) < len(LINES) and LINES.startswith(data)


def test_corrupt_data_is_a_source_error(codec: str) -> None:
    blob = bytearray(gzip.compress(LINES))
    blob[40:60] = b"\xff" * 20
    with pytest.raises(SourceError, match="corrupt gzip"):
        salvage(bytes(blob), "x.gz")


@pytest.mark.parametrize("size", [64, 4096, 1 << 20])
def test_blocks_read_every_member_and_keep_what_a_cut_stream_held(codec: str, size: int, tmp_path: Path) -> None:
    whole = gzip.compress(LINES[:5000]) + b"\0" * 8 + gzip.compress(LINES[5000:])  # padding between members
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(whole)
    with open(path, "rb") as fh:
        blocks = GzipBlocks(fh, "x.gz", size)
        assert b"".join(blocks) == LINES and blocks.truncated == ""
    path.write_bytes(whole[:-3000])
    with open(path, "rb") as fh:
        blocks = GzipBlocks(fh, "x.gz", size)
        data = b"".join(blocks)
    assert blocks.truncated.startswith("truncated gzip") and 5000 < len(data) < len(LINES)
    assert LINES.startswith(data)
