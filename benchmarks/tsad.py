"""Score online anomaly detectors on a second labelled corpus, beside peer libraries.

``python -m benchmarks.tsad [--corpus PARQUET] [--detector NAME ...] [--limit N]``

The corpus (``benchmarks/tsad_corpus/gutentag_corpus.parquet``, rebuilt by ``make_corpus.py`` in the
same folder) is 124 univariate series of 6,000 to 12,000 rows made by GutenTAG (TimeEval's
public generator, MIT licence, fixed seeds), each with one labelled anomaly after its first
20 %: sine, square, sawtooth and ECG bases with periods of 40 to 300 rows, plus random walks,
cylinder-bell-funnel and random-mode jumps; ten kinds of anomaly in equal numbers (global and
local extremes, mean shifts, platforms, variance, trend, amplitude, frequency, pattern and
pattern shift) and three noise levels. It is built to look like the periodic telemetry
(physiological, industrial, spacecraft) where shape anomalies matter.

Every detector is run causally: each row's score reads that row and earlier rows only
(obskit's by construction; the peers online, or refitted on past rows only). Rules, the same
for every detector:

- the first 15 % of each series is warm-up and not scored (NAB's own rule caps it at 750 rows);
- **NAB**: the NAB scorer of :mod:`benchmarks.nab` with NAB's windows (10 % of the series,
  centred on the anomaly's start), its three profiles, one threshold per profile;
- **event F1**: one global threshold per detector (the best of its pooled score quantiles,
  and separately the detector's own verdicts where it has any); a detection is a run of rows
  at or above the threshold; it is true when it starts inside the labelled range widened by
  ``MARGIN`` rows either side; recall = detected anomalies / anomalies, precision = detected
  anomalies / (detected anomalies + false detections);
- **AUC-PR**: average precision of the scored rows against the row labels.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.nab import PROFILES, NabFile, score_corpus

HERE = Path(__file__).resolve().parent / "tsad_corpus"
DEFAULT_CORPUS = HERE / "gutentag_corpus.parquet"
MARGIN = 100  # rows either side of a labelled anomaly where a detection still counts
WARMUP = 0.15


@dataclass(frozen=True)
class Series:
    """One corpus series: values, row labels and the labelled ranges (inclusive)."""

    name: str
    values: np.ndarray
    labels: np.ndarray
    ranges: tuple[tuple[int, int], ...]

    def nab(self) -> NabFile:
        """The series as NAB sees it: one window of 10 % of its rows centred on each anomaly's start."""
        n = self.values.size
        width = int(0.1 * n / max(1, len(self.ranges)))
        wins = tuple((max(0, a - width // 2), min(n - 1, a + width // 2)) for a, _ in self.ranges)
        ts = np.datetime64("2026-01-01T00:00:00", "s") + np.arange(n).astype("timedelta64[m]")
        return NabFile(self.name, ts, self.values, wins)


def load(path: Path = DEFAULT_CORPUS, limit: int | None = None) -> list[Series]:
    """Read the corpus parquet (series, row, value, is_anomaly)."""
    import polars as pl

    df = pl.read_parquet(path).sort("series", "row")
    out = []
    for (name,), part in df.group_by("series", maintain_order=True):
        lab = part["is_anomaly"].to_numpy()
        edges = np.flatnonzero(np.diff(np.r_[0, lab.astype(np.int8), 0]))
        ranges = tuple((int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True))
        out.append(Series(str(name), part["value"].to_numpy().astype(np.float64), lab, ranges))
        if limit and len(out) >= limit:
            break
    return out


def _runs(hit: np.ndarray) -> np.ndarray:
    """Start rows of the runs of True."""
    return np.flatnonzero(hit & ~np.r_[False, hit[:-1]])


def events(s: Series, hit: np.ndarray) -> tuple[int, int]:
    """(detected anomalies, false detections) of one series' boolean detections, warm-up excluded."""
    first = int(WARMUP * s.values.size)
    hit = np.asarray(hit, dtype=bool).copy()
    hit[:first] = False  # a run already on at the end of the warm-up starts there
    starts = _runs(hit)
    true = np.zeros(starts.size, dtype=bool)
    found = 0
    for a, b in s.ranges:
        inside = (starts >= a - MARGIN) & (starts <= b + MARGIN)
        true |= inside
        found += bool(inside.any())
    return found, int((~true).sum())


def f1(found: int, false: int, total: int) -> tuple[float, float, float]:
    """(precision, recall, F1) from detected anomalies, false detections and anomalies."""
    p = found / (found + false) if found + false else 0.0
    r = found / total if total else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def best_event_f1(corpus: list[Series], scores: list[np.ndarray], grid: int = 200) -> tuple[float, float, float, float]:
    """(F1, precision, recall, threshold) at the best global threshold among ``3 grid`` candidates."""
    first = [int(WARMUP * s.values.size) for s in corpus]
    pooled = np.concatenate([np.nan_to_num(sc[f:], nan=-np.inf) for sc, f in zip(scores, first, strict=True)])
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size == 0:
        return (0.0, 0.0, 0.0, math.inf)
    # quantiles, the top scores, and a log grid near 1 (scores that are 1 - probability crowd there)
    lo, hi = float(pooled.min()), float(pooled.max())
    near_one = 1.0 - np.logspace(-1, -16, grid)
    cand = np.unique(np.r_[np.quantile(pooled, np.linspace(0.5, 1.0, grid)), np.sort(pooled)[-grid:],
                           near_one[(near_one > lo) & (near_one <= hi)]])
    total = sum(len(s.ranges) for s in corpus)
    best = (0.0, 0.0, 0.0, math.inf)
    for t in cand.tolist():
        found = false = 0
        for s, sc in zip(corpus, scores, strict=True):
            a, b = events(s, np.nan_to_num(sc, nan=-np.inf) >= t)
            found, false = found + a, false + b
        p, r, f = f1(found, false, total)
        if f > best[0]:
            best = (f, p, r, t)
    return best


def auc_pr(corpus: list[Series], scores: list[np.ndarray]) -> float:
    """Average precision of the scored rows' scores against their labels."""
    from sklearn.metrics import average_precision_score

    ys, ss = [], []
    for s, sc in zip(corpus, scores, strict=True):
        f = int(WARMUP * s.values.size)
        ys.append(s.labels[f:])
        ss.append(np.nan_to_num(sc[f:], nan=np.nanmin(sc) if np.isfinite(sc).any() else 0.0))
    return float(average_precision_score(np.concatenate(ys), np.concatenate(ss)))


# ------------------------------------------------------------------ detectors

Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]  # values -> (score, verdicts or None)


def _obskit(method: str) -> Detector:
    def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        from obskit.analyze import detect

        d = detect.score(x, method=method)  # type: ignore[arg-type]
        return d.score, d.anomaly

    return run


def detectors() -> dict[str, Detector]:
    """obskit's methods and the peers whose libraries are installed (``pip install -e .[peers]``)."""
    from benchmarks import peers

    out: dict[str, Detector] = {f"obskit {m}": _obskit(m) for m in ("ensemble", "knn", "level", "discord")}
    out.update(peers.available())
    return out


@dataclass
class Row:
    detector: str
    seconds: float
    nab: dict[str, float]
    best: tuple[float, float, float, float]
    verdicts: tuple[float, float, float] | None
    auc_pr: float


def run(corpus: list[Series], name: str, fn: Detector) -> Row:
    t0 = time.perf_counter()
    out = [fn(s.values) for s in corpus]
    secs = time.perf_counter() - t0
    scores = [np.asarray(sc, dtype=np.float64) for sc, _ in out]
    files = [s.nab() for s in corpus]
    nab = {p: score_corpus(files, scores, p).normalized for p in PROFILES}
    verdicts = None
    if all(v is not None for _, v in out):
        found = false = 0
        for s, (_, v) in zip(corpus, out, strict=True):
            a, b = events(s, np.asarray(v, dtype=bool))
            found, false = found + a, false + b
        verdicts = f1(found, false, sum(len(s.ranges) for s in corpus))
    return Row(name, secs, nab, best_event_f1(corpus, scores), verdicts, auc_pr(corpus, scores))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tsad", description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--detector", action="append", default=[], help="score only this detector (repeatable)")
    p.add_argument("--limit", type=int, default=None, help="only the first N series (a quick check)")
    args = p.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    corpus = load(args.corpus, args.limit)
    table = detectors()
    names = args.detector or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        print(f"unknown or unavailable detector(s): {', '.join(unknown)}; have: {', '.join(table)}", file=sys.stderr)
        return 2
    print(f"{len(corpus)} series, {sum(s.values.size for s in corpus):,} rows, "
          f"{sum(len(s.ranges) for s in corpus)} anomalies; all detectors causal")
    head = (f"{'detector':<34} {'NAB std':>7} {'lowFP':>6} {'lowFN':>6} {'F1 best':>8} {'P':>5} {'R':>5} "
            f"{'F1 verdicts':>11} {'P':>5} {'R':>5} {'AUC-PR':>7} {'secs':>7}")
    print(head)
    print("-" * len(head))
    for name in names:
        r = run(corpus, name, table[name])
        v = r.verdicts
        vtxt = f"{v[2]:>11.3f} {v[0]:>5.2f} {v[1]:>5.2f}" if v else f"{'-':>11} {'':>5} {'':>5}"
        print(f"{name:<34} {r.nab['standard']:>7.1f} {r.nab['reward_low_FP_rate']:>6.1f} "
              f"{r.nab['reward_low_FN_rate']:>6.1f} {r.best[0]:>8.3f} {r.best[1]:>5.2f} {r.best[2]:>5.2f} "
              f"{vtxt} {r.auc_pr:>7.3f} {r.seconds:>7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
