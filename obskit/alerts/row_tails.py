"""The few request rows the sample-count signals read, kept in one streaming pass: exact at any volume.

The model and data signals (:mod:`obskit.alerts.model_signals`, the class mix per version,
the latency ratio) look, at each grid time, at the *last n* matching rows before it: the
last 1,000 answers' class mix, a feature's last 1,000 values, the last 400 successful
latencies. Those rows are always among the last ``n`` matching rows of the grid interval
they fall in, or of the intervals just before it. So keeping, per interval and per
question, only the last ``n`` matching rows loses nothing: the same functions run on the
kept rows return the same values as on every row of the period.

:func:`tail_rows` keeps them from a lazy canonical scan, a batch at a time. Its size grows
with grid intervals x questions x ``n`` (a day at 5-minute intervals: a few hundred
thousand rows), never with the period's requests, so a 100M-request day evaluates the same
rules at the same times as a 1M-request day read into memory.

What is kept, per 5-minute interval of the grid the signals use (starting at the period's
first minute):

* the last ``2n`` answers with a prediction (class mix, against the previous ``n`` too),
  and with a confidence (confidence shift);
* the last ``n`` successful requests (missing share of each feature);
* each feature's last ``n`` non-null values, whatever the status (feature shift);
* per model version, its last ``n_version`` answers with a prediction (class mix per version);

and per minute the last :data:`LATENCY_ROWS` successful requests with a finite latency
(latency ratio: the last 1,000 answers' p99).

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
>>> rows = pl.LazyFrame({"timestamp": [t0 + timedelta(milliseconds=50 * i) for i in range(24_000)],
...                      "status": ["ok"] * 24_000, "latency_ms": [10.0] * 24_000,
...                      "prediction": ["a", "b"] * 12_000})
>>> kept = tail_rows(rows, first_us=int(t0.timestamp() * 1e6), n=100)
>>> kept.rows.height, kept.latency.height  # 4 intervals x 500 answers per version; 20 minutes x 1,000
(2000, 20000)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from obskit.alerts.baselines import MIN_US

__all__ = ["LATENCY_ROWS", "ROW_SIGNAL_FRAMES", "Tails", "tail_rows"]

#: Successful requests kept per minute for the latency ratio (its p99 reads the last 1,000).
LATENCY_ROWS = 1000
#: The signal frames computed from the kept rows (see :func:`obskit.alerts.inputs.row_signal_frames`).
ROW_SIGNAL_FRAMES: frozenset[str] = frozenset({
    "latency_ratio", "class_mix_shift", "class_takeover", "confidence_shift", "feature_shift", "feature_null_share",
    "version_class_mix", "unseen_class_share", "missing_class_share",
})

_STEP_US = 5 * MIN_US
_OK = pl.col("status").cast(pl.String) == "ok"


@dataclass(frozen=True)
class _Keep:
    """One question: rows matching ``cond``, the last ``k`` per ``by`` group."""

    cond: pl.Expr
    by: tuple[str, ...]
    k: int


def _questions(names: set[str], features: Sequence[str], n: int, n_version: int) -> list[_Keep]:
    out = [_Keep(_OK, ("_g5",), n)]
    if "prediction" in names:
        answered = _OK & pl.col("prediction").is_not_null()
        out.append(_Keep(answered, ("_g5",), 2 * n))
        out.append(_Keep(answered, ("_g5", "_v"), n_version))
    if "confidence" in names:
        out.append(_Keep(_OK & pl.col("confidence").is_not_null(), ("_g5",), 2 * n))
    out += [_Keep(pl.col(f).is_not_null(), ("_g5",), n) for f in features if f in names]
    return out


_LATENCY = [_Keep(_OK & pl.col("latency_ms").cast(pl.Float64).is_finite(), ("_g1",), LATENCY_ROWS)]


def _group_key(by: Sequence[str], schema: pl.Schema) -> pl.Expr:
    """One Int64 per distinct combination of the ``by`` columns (integers as they are, text by its category)."""
    def code(name: str) -> pl.Expr:
        if schema[name].is_integer():
            return pl.col(name).cast(pl.Int64)
        return pl.col(name).cast(pl.String).cast(pl.Categorical).to_physical().cast(pl.Int64)

    key = code(by[0])
    for name in by[1:]:  # the grid's interval numbers are small: a category code fits below 2**32
        key = key * (1 << 32) + code(name)
    return key


def _keep(frame: pl.DataFrame, questions: Sequence[_Keep]) -> pl.DataFrame:
    """The rows of ``frame`` among the last ``k`` of some question's group (``frame`` sorted by ``_t``).

    Each question's matching rows keep their last ``k`` per group, in the frame's order; a
    row any question keeps is kept once, and the kept rows stay in the frame's order. The
    conditions are evaluated in one pass; the picking is index arithmetic.
    """
    if frame.height == 0:
        return frame
    bys = list(dict.fromkeys(q.by for q in questions))
    cols = [q.cond.fill_null(False).alias(f"_q{i}") for i, q in enumerate(questions)]
    cols += [_group_key(by, frame.schema).alias(f"_b{i}") for i, by in enumerate(bys)]
    keys = frame.select(cols)
    kept = np.zeros(frame.height, dtype=bool)
    for i, q in enumerate(questions):
        rows = np.flatnonzero(keys.get_column(f"_q{i}").to_numpy())
        if rows.size == 0:
            continue
        group = keys.get_column(f"_b{bys.index(q.by)}").to_numpy()[rows]
        if np.any(group[1:] < group[:-1]):  # not contiguous: group them, the frame's order kept within each
            order = np.argsort(group, kind="stable")
            rows, group = rows[order], group[order]
        last = np.flatnonzero(np.append(group[1:] != group[:-1], True))  # each group's last matching row
        first = np.concatenate(([0], last[:-1] + 1))
        start = np.maximum(first, last + 1 - q.k)
        for a, b in zip(start.tolist(), last.tolist(), strict=True):
            kept[rows[a:b + 1]] = True
    return frame.filter(pl.Series(kept))


def owned(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in buffers of its own.

    A filter that keeps one contiguous run of rows returns a slice of the input's buffers, so
    a few kept rows would hold a whole batch alive (a 100M-request day: 3 GB for 50 MB of kept
    rows). A gather copies them.
    """
    return frame.select(pl.all().gather(pl.int_range(pl.len())))


@dataclass
class _Kept:
    """Kept parts of one kind of rows, compacted when they grow past what one pass would keep."""

    questions: list[_Keep]
    parts: list[pl.DataFrame]
    base: int = 0
    held: int = 0

    def add(self, frame: pl.DataFrame, batch_rows: int) -> None:
        part = owned(_keep(frame, self.questions))
        self.parts.append(part)
        self.held += part.height
        if self.held > 2 * self.base + batch_rows:  # the kept rows of kept rows are what one pass keeps
            self.parts = [self.finish()]
            self.base = self.held = self.parts[0].height

    def finish(self) -> pl.DataFrame:
        if len(self.parts) == 1:
            return self.parts[0]
        return _keep(pl.concat(self.parts).sort("_t"), self.questions)


@dataclass(frozen=True)
class Tails:
    """The kept rows: ``rows`` for the 5-minute signals, ``latency`` (timestamp, status, latency) per minute."""

    rows: pl.DataFrame
    latency: pl.DataFrame | None


def tail_rows(lf: pl.LazyFrame, *, first_us: int, features: Sequence[str] = (), n: int = 1000,
              n_version: int = 500, batch_rows: int = 250_000) -> Tails:
    """The rows of ``lf`` the sample-count signals read (see the module doc), each kind in the scan's order.

    Parameters
    ----------
    lf
        Canonical ``requests`` rows (a lazy scan of any size; read ``batch_rows`` at a time).
    first_us
        The grid's first time (µs): the period's start, else the first request's minute.
    features
        The config's features (each keeps its own last ``n`` non-null values).
    n, n_version
        The signals' sample sizes (1,000 answers; 500 per version).
    """
    schema = lf.collect_schema()
    names = set(schema.names())
    wanted = list(dict.fromkeys(c for c in ("timestamp", "status", "model_version", "latency_ms", "prediction",
                                            "confidence", *features) if c in names))
    rows = _Kept(_questions(names, features, n, n_version), [])
    latency = _Kept(_LATENCY, []) if "latency_ms" in names else None
    version = (pl.col("model_version").cast(pl.String).fill_null("") if "model_version" in names
               else pl.lit("")).alias("_v")
    t = pl.col("timestamp").dt.epoch("us")
    offset = 0
    for batch in lf.select(wanted).collect_batches(chunk_size=batch_rows, engine="streaming"):
        frame = (batch.with_row_index("_i", offset=offset).filter(pl.col("timestamp").is_not_null())
                 .with_columns(t.alias("_t"), ((t - first_us) // MIN_US).alias("_g1"),
                               ((t - first_us) // _STEP_US).alias("_g5"), version))
        if not frame.get_column("_t").is_sorted():  # logs are mostly in time order already
            frame = frame.sort("_t")
        offset += batch.height
        rows.add(frame, batch_rows)
        if latency is not None:
            latency.add(frame.select("_i", "_t", "_g1", "timestamp", "status", "latency_ms"), batch_rows)
    helpers = ["_i", "_t", "_g1", "_g5", "_v"]
    if not rows.parts:
        return Tails(pl.DataFrame(schema={c: schema[c] for c in wanted}), None)
    lat = latency.finish().sort("_i").drop("_i", "_t", "_g1") if latency is not None else None
    return Tails(rows.finish().sort("_i").drop(helpers), lat)
