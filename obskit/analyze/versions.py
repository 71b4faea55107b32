"""Model versions: which served when, rollouts and rollbacks.

:func:`version_traffic`, :func:`version_spans` and :func:`rollout_episodes` describe the
traffic split over time; :mod:`obskit.analyze.canary` compares two versions.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> r = pl.DataFrame({"timestamp": [t] * 4, "model_version": ["v1", "v1", "v1", "v2"]})
>>> version_traffic(r).select("model_version", "share").rows()
[('v1', 0.75), ('v2', 0.25)]
"""

from __future__ import annotations

import polars as pl

from obskit.analyze._frames import every_us, require, runs, window_expr

__all__ = [
    "busiest_counted",
    "busiest_versions",
    "rollout_episodes",
    "version_latency_ratio",
    "version_shares",
    "version_spans",
    "version_traffic",
]

_V = "model_version"


def busiest_versions(requests: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Model versions by the number of requests they served, busiest first (ties by name).

    Examples
    --------
    >>> import polars as pl
    >>> busiest_versions(pl.DataFrame({"model_version": ["a", "b", "b"]})).rows()
    [('b', 2), ('a', 1)]
    """
    return busiest_counted(requests.lazy().group_by(_V).agg(pl.len().cast(pl.Int64).alias("requests"))
                           .collect(engine="streaming"))


def busiest_counted(counts: pl.DataFrame) -> pl.DataFrame:
    """:func:`busiest_versions` from requests already counted (``model_version``, ``requests``; any other keys).

    Examples
    --------
    >>> import polars as pl
    >>> busiest_counted(pl.DataFrame({"model_version": ["a", "b", "a"], "requests": [1, 3, 1]})).rows()
    [('b', 3), ('a', 2)]
    """
    return (counts.group_by(_V).agg(pl.col("requests").sum().cast(pl.Int64))
            .sort(["requests", _V], descending=[True, False]))


def version_traffic(requests: pl.DataFrame | pl.LazyFrame, every: str = "5m") -> pl.DataFrame:
    """Requests and traffic share of each version per window.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``model_version``, ``requests``, ``share`` (of the window's
        requests). A version without requests in a window has no row there.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, tzinfo=UTC)] * 2, "model_version": ["a", "b"]})
    >>> version_traffic(r)["requests"].to_list()
    [1, 1]
    """
    lf = requests.lazy()
    require(lf, ["timestamp", _V], "version_traffic")
    counts = (lf.select(window_expr(every), _V).group_by("window_start", _V)
              .agg(pl.len().cast(pl.Int64).alias("requests")).collect(engine="streaming"))
    return version_shares(counts)


def version_shares(counts: pl.DataFrame) -> pl.DataFrame:
    """:func:`version_traffic` from requests already counted per ``window_start`` and ``model_version``.

    Examples
    --------
    >>> import polars as pl
    >>> c = pl.DataFrame({"window_start": [1, 1], "model_version": ["a", "b"], "requests": [3, 1]})
    >>> version_shares(c)["share"].to_list()
    [0.75, 0.25]
    """
    return (counts.select("window_start", _V, pl.col("requests").cast(pl.Int64))
            .with_columns((pl.col("requests") / pl.col("requests").sum().over("window_start")).alias("share"))
            .sort("window_start", _V))


def version_latency_ratio(
    requests: pl.DataFrame | pl.LazyFrame, every: str = "5m", quantile: float = 0.5
) -> pl.DataFrame:
    """Per window, each version's latency quantile relative to the other versions' in that window.

    Successful requests only. A ratio of 1.3 means the version is 30% slower than the rest
    of the traffic of the same window (same load, same inputs), which is what a canary
    alert wants; windows where a version runs alone have no ratio.

    Returns
    -------
    polars.DataFrame
        ``window_start``, ``model_version``, ``requests``, ``latency_ms`` (the version's
        quantile), ``others_ms`` (the other versions' quantile), ``ratio``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> r = pl.DataFrame({"timestamp": [t] * 4, "model_version": ["a", "a", "b", "b"],
    ...                   "latency_ms": [10.0, 10.0, 13.0, 13.0], "status": ["ok"] * 4})
    >>> version_latency_ratio(r).filter(pl.col("model_version") == "b")["ratio"].to_list()
    [1.3]
    """
    lf = requests.lazy()
    require(lf, ["timestamp", _V, "latency_ms", "status"], "version_latency_ratio")
    ok = lf.filter(pl.col("status").cast(pl.String) == "ok").select(window_expr(every), _V, "latency_ms")
    per = ok.group_by("window_start", _V).agg(
        pl.len().cast(pl.Int64).alias("requests"), pl.col("latency_ms").quantile(quantile, "linear"))
    others = (
        ok.join(per.select("window_start", pl.col(_V).alias("_v")), on="window_start")
        .filter(pl.col(_V) != pl.col("_v"))
        .group_by("window_start", "_v")
        .agg(pl.col("latency_ms").quantile(quantile, "linear").alias("others_ms"))
        .rename({"_v": _V})
    )
    return (
        per.join(others, on=["window_start", _V], how="inner")
        .with_columns((pl.col("latency_ms") / pl.col("others_ms")).alias("ratio"))
        .sort("window_start", _V)
        .collect()
    )


def version_spans(requests: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """First and last request of each version and its share of all requests.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> r = pl.DataFrame({"timestamp": [datetime(2026, 1, 1, h, tzinfo=UTC) for h in (0, 1, 2)],
    ...                   "model_version": ["a", "b", "a"]})
    >>> version_spans(r).select("model_version", pl.col("first_seen").dt.hour(), pl.col("last_seen").dt.hour()).rows()
    [('a', 0, 2), ('b', 1, 1)]
    """
    lf = requests.lazy()
    require(lf, ["timestamp", _V], "version_spans")
    return (
        lf.group_by(_V)
        .agg(
            pl.col("timestamp").min().alias("first_seen"),
            pl.col("timestamp").max().alias("last_seen"),
            pl.len().cast(pl.Int64).alias("requests"),
        )
        .with_columns((pl.col("requests") / pl.col("requests").sum()).alias("share"))
        .sort("first_seen", _V)
        .collect()
    )


def rollout_episodes(
    requests: pl.DataFrame | pl.LazyFrame, every: str = "5m", *, max_gap: str = "15m"
) -> pl.DataFrame:
    """Continuous serving periods of each version, and how each one ended.

    A version's windows with traffic form one episode while gaps between them stay within
    ``max_gap`` (a canary at 10 % of night traffic can miss a window or two).

    Returns
    -------
    polars.DataFrame
        ``model_version``, ``start``, ``end`` (end of its last window), ``windows``,
        ``mean_share``, ``peak_share``, ``began`` (``"before data"`` when it served from
        the first window, else ``"rollout"``) and ``outcome``: ``"serving"`` (still
        serving in the last window), ``"rolled back"`` (stopped while a version that was
        serving before it carried on), ``"replaced"`` (stopped while a newer version
        carried on) or ``"stopped"``.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, UTC
    >>> ts = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(6)]
    >>> r = pl.DataFrame({"timestamp": ts + ts[2:4], "model_version": ["v1"] * 6 + ["v2"] * 2})
    >>> rollout_episodes(r, every="1h", max_gap="1h").select("model_version", "began", "outcome").rows()
    [('v1', 'before data', 'serving'), ('v2', 'rollout', 'rolled back')]
    """
    traffic = version_traffic(requests, every)
    if traffic.is_empty():
        return pl.DataFrame(
            schema={_V: pl.String, "start": pl.Datetime("us", "UTC"), "end": pl.Datetime("us", "UTC"),
                    "windows": pl.Int64, "mean_share": pl.Float64, "peak_share": pl.Float64,
                    "began": pl.String, "outcome": pl.String}
        )
    step = every_us(every)
    gap = every_us(max_gap) + step
    first = traffic.get_column("window_start").min()
    last = traffic.get_column("window_start").max()
    ep = (
        runs(traffic, pl.lit(True), time="window_start", by=[_V], max_gap_us=gap)
        .group_by(_V, "_run")
        .agg(
            pl.col("window_start").min().alias("start"),
            pl.col("window_start").max().alias("_last"),
            pl.len().cast(pl.Int64).alias("windows"),
            pl.col("share").mean().alias("mean_share"),
            pl.col("share").max().alias("peak_share"),
        )
        .sort("start", _V)
    )
    rows = ep.to_dicts()
    out = []
    for e in rows:
        began = "before data" if e["start"] == first else "rollout"
        if e["_last"] == last:
            outcome = "serving"
        else:
            after = [o for o in rows if o is not e and o["start"] <= e["_last"] < o["_last"]]
            if any(o["start"] < e["start"] for o in after):
                outcome = "rolled back"
            elif after:
                outcome = "replaced"
            else:
                outcome = "stopped"
        out.append({**e, "began": began, "outcome": outcome})
    return (
        pl.DataFrame(out, schema_overrides={"start": traffic.schema["window_start"]})
        .with_columns((pl.col("_last") + pl.duration(microseconds=step)).alias("end"))
        .select(_V, "start", "end", "windows", "mean_share", "peak_share", "began", "outcome")
    )
