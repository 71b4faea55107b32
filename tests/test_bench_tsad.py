"""The second anomaly corpus and its scorer (benchmarks.tsad): labels, event counting, one global threshold."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import tsad


def _series(n: int = 1000, ranges: tuple[tuple[int, int], ...] = ((500, 520),)) -> tsad.Series:
    labels = np.zeros(n, dtype=bool)
    for a, b in ranges:
        labels[a:b + 1] = True
    return tsad.Series("s", np.zeros(n), labels, ranges)


@pytest.mark.parametrize(("start", "found", "false"), [
    (500 - tsad.MARGIN, 1, 0),  # the widened range's edges count
    (520 + tsad.MARGIN, 1, 0),
    (520 + tsad.MARGIN + 1, 0, 1),
    (300, 0, 1),
])
def test_a_detection_is_true_when_it_starts_near_the_anomaly(start: int, found: int, false: int) -> None:
    hit = np.zeros(1000, dtype=bool)
    hit[start:start + 5] = True
    assert tsad.events(_series(), hit) == (found, false)


def test_runs_count_once_and_the_warm_up_is_not_scored() -> None:
    s = _series()
    hit = np.zeros(1000, dtype=bool)
    hit[100:160] = True  # on through the end of the warm-up (row 150): one false detection from there
    hit[505:530] = True  # one run inside the anomaly
    hit[700] = hit[702] = True  # two runs outside
    assert tsad.events(s, hit) == (1, 3)
    assert tsad.f1(1, 3, 1) == (0.25, 1.0, 0.4)
    score = np.where(hit, 1.0, 0.0)
    f1, p, r, thr = tsad.best_event_f1([s], [score])
    assert (f1, p, r) == (0.4, 0.25, 1.0) and 0.0 < thr <= 1.0
    assert tsad.best_event_f1([s], [np.full(1000, np.nan)])[0] == 0.0  # no score: nothing found, no crash


def test_the_committed_corpus_has_one_anomaly_per_series_after_its_first_fifth() -> None:
    corpus = tsad.load()
    assert len(corpus) == 124
    for s in corpus:
        assert 6000 <= s.values.size <= 12_000 and np.isfinite(s.values).all()
        assert len(s.ranges) == 1 and s.ranges[0][0] >= 0.2 * s.values.size
