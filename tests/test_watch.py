"""``obskit watch`` parts: following logs, the episodes to notify, and a replayed day against the report."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from obskit.watch.episodes import Sent, due
from obskit.watch.tail import LogTail

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples"


def _lines(chunks: list) -> list[bytes]:
    return [line for c in chunks for line in c.data.splitlines()]


def test_tail_survives_rename_rotation_and_reads_the_old_file_to_its_end(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"a\nb\n")
    tail = LogTail(str(log))
    assert _lines(tail.poll()) == [b"a", b"b"]
    with log.open("ab") as fh:
        fh.write(b"c\n")
    os.rename(log, tmp_path / "app.log.1")  # rotated: the last line written before the rename is not lost
    log.write_bytes(b"d\n")
    assert sorted(_lines(tail.poll())) == [b"c", b"d"]
    assert tail.files == [str(log)]


def test_tail_restarts_a_truncated_file_and_waits_for_a_complete_line(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"one\ntwo\nthr")
    tail = LogTail(str(log))
    assert _lines(tail.poll()) == [b"one", b"two"]
    with log.open("ab") as fh:
        fh.write(b"ee\n")
    chunks = tail.poll()
    assert _lines(chunks) == [b"three"] and chunks[0].first_line == 3
    log.write_bytes(b"x\n")  # copytruncate
    assert _lines(tail.poll()) == [b"x"]


def test_tail_follows_new_files_of_a_glob_and_resumes_where_it_stopped(tmp_path: Path) -> None:
    (tmp_path / "h1.jsonl").write_bytes(b"1\n2\n")
    tail = LogTail(str(tmp_path / "*.jsonl"))
    assert _lines(tail.poll()) == [b"1", b"2"]
    saved = tail.positions()
    tail.close()
    with (tmp_path / "h1.jsonl").open("ab") as fh:
        fh.write(b"3\n")
    (tmp_path / "h2.jsonl").write_bytes(b"4\n")
    again = LogTail(str(tmp_path / "*.jsonl"))
    again.restore(saved)
    assert sorted(_lines(again.poll())) == [b"3", b"4"]  # neither a line twice nor one skipped


@pytest.mark.parametrize("shift", ["08:10", "09:00"])
def test_an_episode_whose_start_left_the_window_is_not_announced_again(shift: str) -> None:
    sent = Sent()
    first = {"rule": "r", "labels": {"v": "1"}, "state": "firing", "pending_at": "2026-01-01T08:00:00Z",
             "firing_at": "2026-01-01T08:05:00Z", "resolved_at": None}
    assert [r["state"] for r in due([first], sent)] == ["firing"]
    slid = {**first, "pending_at": f"2026-01-01T{shift}:00Z", "firing_at": f"2026-01-01T{shift}:00Z"}
    assert due([slid], sent) == []
    done = {**slid, "state": "resolved", "resolved_at": "2026-01-01T10:00:00Z"}
    out = due([done], sent)
    assert [(r["state"], r["firing_at"]) for r in out] == [("resolved", "2026-01-01T08:05:00Z")]
    assert due([done], sent) == []
    again = {**first, "pending_at": "2026-01-01T11:00:00Z", "firing_at": "2026-01-01T11:02:00Z"}
    assert [r["state"] for r in due([again], sent)] == ["firing"]  # a new episode of the same series


def test_an_episode_that_seems_to_start_earlier_or_overlaps_is_not_announced_again() -> None:
    """Seen in a 10-minute replay: one feature-drift episode announced at 15:20 (pending 15:10),
    then again at 15:25 (pending 15:15); one tail episode announced three times (19:14, 19:15,
    19:22). One series has one episode at a time: an overlapping one is the same."""
    def rec(pending: str, firing: str, resolved: str | None = None) -> dict[str, object]:
        return {"rule": "r", "labels": {}, "state": "resolved" if resolved else "firing",
                "pending_at": f"2026-01-01T{pending}:00Z", "firing_at": f"2026-01-01T{firing}:00Z",
                "resolved_at": resolved and f"2026-01-01T{resolved}:00Z"}

    sent = Sent()
    assert [r["state"] for r in due([rec("15:10", "15:20")], sent)] == ["firing"]
    assert due([rec("15:15", "15:25")], sent) == []
    sent = Sent()
    assert [r["state"] for r in due([rec("19:12", "19:14")], sent)] == ["firing"]
    assert due([rec("19:13", "19:15")], sent) == []
    out = due([rec("19:12", "19:14", "19:47")], sent)
    assert [(r["state"], r["firing_at"]) for r in out] == [("resolved", "2026-01-01T19:14:00Z")]
    assert due([rec("19:20", "19:22", "19:33")], sent) == []  # inside the announced, resolved episode
    assert [r["state"] for r in due([rec("20:00", "20:02")], sent)] == ["firing"]  # after it: a new one


def test_a_replayed_day_is_announced_as_the_report_finds_it_even_across_a_restart(tmp_path: Path) -> None:
    """The sample day written to a live log 30 minutes at a time, the watcher restarted at noon."""
    from obskit.alerts.notify import alert_records
    from obskit.config import load_config
    from obskit.session import Session
    from obskit.watch import Watcher, WatchOptions

    for name in ("reference.parquet", "feedback.jsonl", "gpu"):
        src = SAMPLE / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    text = (SAMPLE / "obskit.toml").read_text().replace('path = "requests.jsonl.gz"', 'path = "logs/*.jsonl"')
    start, stop = text.index("[sources.prometheus]"), text.index("[sources.gpu]")
    (tmp_path / "obskit.toml").write_text(text[:start] + text[stop:])
    lines = gzip.decompress((SAMPLE / "requests.jsonl.gz").read_bytes()).splitlines(keepends=True)
    ts = [datetime.fromisoformat(json.loads(line)["ts"].replace("Z", "+00:00")) for line in lines]
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "requests.jsonl"
    log.touch()
    options = WatchOptions(interval=60, state_dir=tmp_path / "state", host=False, nvml=False)
    config = load_config(tmp_path / "obskit.toml")
    watcher = Watcher(config, options)
    sent = []
    now, i = ts[0].replace(second=0, microsecond=0), 0
    last = ts[-1].replace(second=0, microsecond=0) + timedelta(minutes=1)  # the data stops there: so does the replay
    while now < last:
        now = min(now + timedelta(minutes=30), last)
        j = i
        while j < len(lines) and ts[j] < now:
            j += 1
        with log.open("ab") as fh:
            fh.write(b"".join(lines[i:j]))
        i = j
        sent += watcher.tick(now).sent
        if now.hour == 12 and now.minute == 0:
            watcher.close()
            watcher = Watcher(config, options)  # restarted from its checkpoint
    assert watcher.lines_total == len(lines)
    report = alert_records(Session.open(tmp_path / "obskit.toml").alerts())
    fired = {(r["rule"], json.dumps(r["labels"], sort_keys=True), r["firing_at"]) for r in report}
    announced = [(r["rule"], json.dumps(r["labels"], sort_keys=True), r["firing_at"]) for r in sent
                 if r["state"] == "firing"]
    assert len(announced) == len(set(announced))  # each once
    assert fired <= set(announced)  # every alert of the report, at the same firing time
    extra = {a[0] for a in set(announced) - fired}
    # a row signal at the edge of the kept rows may fire where the whole day's does not
    assert extra <= {"tail-latency-regression"}, extra
    resolved = {(r["rule"], json.dumps(r["labels"], sort_keys=True), r["firing_at"], r["resolved_at"])
                for r in sent if r["state"] == "resolved"}
    day_end = max(r["resolved_at"] or "" for r in report)
    ended = {(r["rule"], json.dumps(r["labels"], sort_keys=True), r["firing_at"], r["resolved_at"]) for r in report
             if r["resolved_at"] is not None and r["resolved_at"] < day_end}
    assert ended <= resolved
