"""Reading log files record by record: JSON lines and CSV into raw frames with line numbers.

Every record either becomes a row (with its 1-based line in the ``__obskit_line`` column)
or is rejected with file, line and reason: invalid JSON or UTF-8, a CSV row with the wrong
number of fields, the record a truncated gzip/zstd stream ends in. Field mapping and value
checks come later (:mod:`obskit.load.logs`). The fast paths read with polars and only fall
back to Python record by record when something is wrong.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from obskit.errors import SourceError
from obskit.limits import DEEPEST_JSON, loads_json, too_deep
from obskit.load._quarantine import Quarantine, reject
from obskit.load._sources import GZIP_MAGIC, ZSTD_MAGIC, Input, cut_reason, raw_bytes, salvage

__all__ = ["EMPTY_FILE", "LINE", "LineRemap", "format_of", "line_numbers", "read_one"]

_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark some editors and exporters write first: not data
_BLANK = re.compile(rb"(?:^|\n)[ \t]*(?:\n|$)")  # a blank or whitespace-only line shifts line numbers

#: The reason a file without a record is refused alone (one of many adds nothing and loses nothing).
EMPTY_FILE = "file is empty"
#: Column holding each row's 1-based line number in its file.
LINE = "__obskit_line"
_LINE = LINE


def format_of(inp: Input, fmt: str | None) -> str:
    """The format of ``inp``: ``fmt`` when given, else from the file name (compression suffixes ignored)."""
    if fmt:
        return "jsonl" if fmt == "ndjson" else fmt
    name = inp.name.lower()
    for ext in (".gz", ".zst", ".zstd"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    return "jsonl"


def _shifts_lines(data: bytes) -> bool:
    """Whether a blank or whitespace-only line comes before a record (record i is then not line i).

    Blank lines at the end shift nothing. Plain substring searches decide almost every file
    (a regex over hundreds of megabytes takes seconds); only a line starting with a space
    or a tab is checked with :data:`_BLANK`.

    >>> _shifts_lines(b'{"a": 1}\\n{"a": 2}\\n\\n'), _shifts_lines(b'{"a": 1}\\n\\n{"a": 2}')
    (False, True)
    >>> _shifts_lines(b'{"a": 1}\\n \\t\\n{"a": 2}'), _shifts_lines(b'{"a": 1}\\n  {"a": 2}')
    (True, False)
    """
    end = len(data)
    while end and data[end - 1] in b" \t\r\n":
        end -= 1
    if data.find(b"\n\n", 0, end) >= 0 or (end and data[:1] == b"\n"):
        return True
    if data[:1] in (b" ", b"\t") or data.find(b"\n ", 0, end) >= 0 or data.find(b"\n\t", 0, end) >= 0:
        return _BLANK.search(data, 0, end) is not None
    return False


def _line_scan(source: Path | bytes) -> pl.LazyFrame:
    """The lines of a JSONL document as one lazy String column ``l`` (blank lines are null or blank)."""
    return pl.scan_csv(source, has_header=False, separator="\x00", quote_char=None, schema={"l": pl.String})


def _lines(source: Path | bytes) -> pl.Series | None:
    """The lines of a JSONL document as one String column, read by polars (None: a NUL byte or bad UTF-8)."""
    try:
        return _line_scan(source).collect()["l"]
    except (pl.exceptions.PolarsError, OSError):
        return None


def _deep(lines: pl.Series) -> bool:
    """Whether a line is nested deeper than DEEPEST_JSON: polars counts brackets, suspects are checked exactly.

    polars' reader must not see such a line: it accepts up to 1024 levels, but typing the
    nested structs grows ~cubically with depth (200 levels: 5 s), and the slow path rejects it.
    """
    suspects = lines.filter(lines.str.count_matches(r"[\[{]") > DEEPEST_JSON).to_list()
    return any(too_deep(t) for t in suspects)


def _needs_slow_path(source: Path | bytes) -> bool:
    """Whether polars' reader would read this JSONL document wrong: a line too deep, or a repeated key.

    polars keeps the first value of a repeated key and ``json.loads`` the last; the slow path
    rejects such a record instead. The lines are read once, by polars, for both checks.
    """
    lines = _lines(source)
    return lines is None or _deep(lines) or _repeats_a_key(lines)


_NONBLANK = pl.col("l").is_not_null() & (pl.col("l").str.strip_chars().str.len_bytes() > 0)


def _nonblank_lines(source: Path | bytes) -> pl.Series | None:
    """The non-blank lines of a JSONL document (None: a NUL byte or bad UTF-8)."""
    try:
        return _line_scan(source).filter(_NONBLANK).collect()["l"]
    except (pl.exceptions.PolarsError, OSError):
        return None


def _token_counts(source: Path | bytes, rows: int) -> tuple[pl.DataFrame, bool] | bool | None:
    """Per non-blank line, the key tokens (``":``) and ``null`` words it holds, read lazily.

    The lines are never held as a column: polars reads and counts them in one streaming
    query (0.53 s for 1M lines against 0.95 s for reading them, then counting). Returns the
    counts and whether every line was a row (no blank line: row i is line i + 1). None: a
    NUL byte or bad UTF-8 (the slow path reports it); True: the lines do not pair with ``rows``.
    """
    tokens = [pl.col("l").str.count_matches('":').alias("keys"), pl.col("l").str.count_matches("null").alias("nulls")]
    try:
        counts = _line_scan(source).select(tokens).collect()
        every_line = counts.height == rows
        if not every_line:  # blank lines: polars' JSON reader skips them
            counts = _line_scan(source).filter(_NONBLANK).select(tokens).collect()
    except (pl.exceptions.PolarsError, OSError):
        return None
    return (counts, every_line) if counts.height == rows else True


_KEY = r'"(?:[^"\\]|\\.)*"\s*:'  # a key token; a string value holding '":' only makes a false suspect
_KEY_RE = re.compile(_KEY)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return obj


def _duplicate_key(text: str) -> str | None:
    """The first key a JSON record repeats (at any level), or None; only lines listing a key token twice are parsed."""
    keys = _KEY_RE.findall(text)
    if len(keys) == len(set(keys)):
        return None
    try:
        json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        return str(exc.args[0])
    except (ValueError, RecursionError):
        pass
    return None


def _repeats_a_key(lines: pl.Series) -> bool:
    """Whether a line repeats a key: polars lists each line's key tokens; only a line listing
    one twice (a real duplicate, or the same name in two nested objects) is parsed exactly.
    """
    keys = lines.str.extract_all(_KEY)
    return any(_duplicate_key(t) for t in lines.filter(keys.list.len() != keys.list.n_unique()).to_list())


def line_numbers(data: bytes) -> list[int]:
    """1-based numbers of the non-blank lines of ``data``."""
    return [i for i, line in enumerate(data.split(b"\n"), 1) if line.strip()]


# dtypes of canonical fields, used as read-time overrides so type inference cannot fail on
# columns that start with nulls (error messages, predictions of failed requests)
_FIELD_TYPES: dict[str, pl.DataType] = {
    "request_id": pl.String(), "model": pl.String(), "model_version": pl.String(),
    "latency_ms": pl.Float64(), "error": pl.String(), "prediction": pl.String(),
    "confidence": pl.Float64(), "label": pl.String(), "corrected_label": pl.String(),
}
_HEAD_BYTES = 1 << 16


def _head_keys(head: bytes) -> list[str] | None:
    """Field names of the first complete lines of a JSONL document (None if they don't parse)."""
    cut = head.rfind(b"\n")
    chunk = head if cut < 0 else head[: cut + 1]
    try:
        return list(pl.read_ndjson(io.BytesIO(chunk), infer_schema_length=None).columns)
    except pl.exceptions.PolarsError:
        return None


def _fast_jsonl(source: Path | bytes, head: bytes, columns: Mapping[str, str],
                timestamp_format: str) -> pl.DataFrame | None:
    """polars' reader with dtype overrides for the mapped canonical fields; None on any failure."""
    keys = _head_keys(head)
    if keys is None:
        return None
    hints = {columns.get(canon, canon): dt for canon, dt in _FIELD_TYPES.items()}
    ts_field = columns.get("timestamp", "timestamp")
    hints[ts_field] = pl.String() if timestamp_format == "iso8601" else pl.Float64()
    overrides = {k: hints[k] for k in keys if k in hints}
    src: Path | io.BytesIO = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        # every row informs the schema: a field first seen after row N must not be dropped
        return pl.read_ndjson(src, schema_overrides=overrides, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError):
        try:
            src = source if isinstance(source, Path) else io.BytesIO(source)
            return pl.read_ndjson(src, infer_schema_length=None)
        except (pl.exceptions.PolarsError, OSError):
            return None


_NESTED = (pl.Struct, pl.List, pl.Array)


def _flat_jsonl(source: Path | bytes, head: bytes, columns: Mapping[str, str],
                timestamp_format: str) -> tuple[pl.DataFrame, bool] | bool | None:
    """One polars read of a flat JSONL document, every line checked by counting its tokens.

    The schema comes from the first lines (canonical fields typed by the mapping), so polars
    reads the file once, without inferring. Each line's key tokens (``":``) must then equal
    the fields polars kept for it plus its explicit nulls; a line where they differ (a key
    polars ignored because the head never had it, a repeated key, ``":`` inside a string,
    unusual spacing) is parsed exactly. Returns the frame and whether row i is line i + 1
    (no blank line before the last record); ``False`` when a line repeats a
    key or is too deep (the slow path rejects it); None when this path cannot decide (nested
    fields, a field the head lacks, a type the head guessed wrong): then the general path
    reads the file.
    """
    cut = head.rfind(b"\n")
    try:
        sample = pl.read_ndjson(io.BytesIO(head if cut < 0 else head[: cut + 1]), infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return None
    if any(isinstance(dt, _NESTED) for dt in sample.schema.values()):
        return None
    hints = {columns.get(canon, canon): dt for canon, dt in _FIELD_TYPES.items()}
    hints[columns.get("timestamp", "timestamp")] = pl.String() if timestamp_format == "iso8601" else pl.Float64()
    schema = {k: hints.get(k, dt) for k, dt in sample.schema.items()}
    if any(dt == pl.Null for dt in schema.values()):
        return None  # a field only null in the head: its type needs every line
    try:
        frame = pl.read_ndjson(source if isinstance(source, Path) else io.BytesIO(source), schema=schema)
    except (pl.exceptions.PolarsError, OSError):
        return None
    counted = _token_counts(source, frame.height)
    if counted is None:
        return False
    if isinstance(counted, bool):
        return None
    counts, every_line = counted
    # no depth check: with the schema given polars types nothing nested, and a nested value
    # lists more key tokens than fields, so its line is parsed exactly below
    kept = frame.select(pl.sum_horizontal(pl.all().is_not_null().cast(pl.UInt32))).to_series()
    # (more keys than the schema has fields: a field the head never had, even a null one)
    suspect = (counts["keys"] != kept + counts["nulls"]) | (counts["keys"] > len(schema))
    if not suspect.any():
        return frame, every_line
    texts = _nonblank_lines(source)
    if texts is None or texts.len() != frame.height:
        return None
    known = set(schema)
    for text in texts.filter(suspect).to_list():
        try:
            record = json.loads(text, object_pairs_hook=_no_duplicates)
        except _DuplicateKey:
            return False
        except (ValueError, RecursionError):
            return None
        if not isinstance(record, dict) or set(record) - known:
            return None
    return frame, every_line


def _read_jsonl(data: bytes, name: str, strict: bool, q: Quarantine | None,
                fast: pl.DataFrame | None = None) -> pl.DataFrame:
    if fast is not None:
        if not (_shifts_lines(data) or b"\r" in data):
            return fast.with_columns(pl.int_range(1, fast.height + 1, dtype=pl.Int64).alias(_LINE))
        lines = line_numbers(data)
        if len(lines) == fast.height:
            return fast.with_columns(pl.Series(_LINE, lines, dtype=pl.Int64))
    # slow path: find the bad lines one by one
    rows: list[dict[str, object]] = []
    kept: list[int] = []
    for i, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            reject(q, strict, name, i, f"invalid UTF-8 at byte {exc.start}", raw.decode("utf-8", "replace"))
            continue
        try:
            obj = loads_json(text)
        except json.JSONDecodeError as exc:
            reject(q, strict, name, i, f"invalid JSON: {exc.msg} at column {exc.colno}", text)
            continue
        if not isinstance(obj, dict):
            reject(q, strict, name, i, f"expected a JSON object, got {type(obj).__name__}", text)
            continue
        dup = _duplicate_key(text)
        if dup is not None:
            reject(q, strict, name, i, f"duplicate key {dup!r} in the record", text)
            continue
        rows.append(obj)
        kept.append(i)
    if not rows:
        return pl.DataFrame({_LINE: []}, schema={_LINE: pl.Int64})
    return _frame(rows).with_columns(pl.Series(_LINE, kept, dtype=pl.Int64))


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """The parsed records as a frame; a field whose JSON type varies between records becomes text.

    polars would fail on an object here and a list there (or coerce ``true`` to 1.0 next to
    numbers): such a field keeps strings as they are and every other value as its JSON text,
    so the value checks later see ``"true"``, not 1.0.

    >>> _frame([{"a": {"x": 1}, "b": 1.5}, {"a": [1], "b": True}]).rows()
    [('{"x": 1}', '1.5'), ('[1]', 'true')]
    """
    kinds: dict[str, set[str]] = {}
    for r in rows:
        for k, v in r.items():
            if v is not None:
                kinds.setdefault(k, set()).add("bool" if isinstance(v, bool) else "number" if isinstance(
                    v, (int, float)) else type(v).__name__)
    mixed = {k for k, t in kinds.items() if len(t) > 1}
    if mixed:
        rows = [{k: v if k not in mixed or v is None or isinstance(v, str) else json.dumps(v) for k, v in r.items()}
                for r in rows]
    return pl.DataFrame(rows, infer_schema_length=None, strict=False)


def _utf8_lines(data: bytes, name: str, strict: bool, q: Quarantine | None) -> str:
    """``data`` as text; a line that is not UTF-8 is rejected and blanked (line numbers stay right)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = data.split(b"\n")
    for i, raw in enumerate(lines):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            reject(q, strict, name, i + 1, f"invalid UTF-8 at byte {exc.start} of the line",
                   raw.decode("utf-8", "replace")[:200])
            lines[i] = b""
    return b"\n".join(lines).decode("utf-8")


#: The longest CSV field read (the csv module's default, 128 KiB, is shorter than a stack trace can be).
_CSV_FIELD_BYTES = 64 << 20


#: Field separators a CSV log may use, the comma first (it wins a tie).
CSV_SEPARATORS = (",", ";", "\t", "|")


def csv_separator(header: str) -> str:
    """The separator that splits a CSV header line into the most fields (a comma on a tie).

    Spreadsheet exports in many locales use ``;``, database and shell exports tab or ``|``.

    >>> csv_separator("timestamp;latency_ms;model"), csv_separator("ts,latency,model"), csv_separator("one")
    (';', ',', ',')
    >>> csv_separator('"a;b",c')  # quoted: one field holds the semicolon
    ','
    """
    import csv

    def fields(sep: str) -> int:
        return len(next(csv.reader([header], delimiter=sep), []))

    return max(CSV_SEPARATORS, key=fields)  # (max keeps the first of equals: the comma)


def _read_csv(data: bytes, name: str, strict: bool, q: Quarantine | None) -> pl.DataFrame:
    """A CSV log; every record either loads or is rejected with its line (quoted newlines included).

    The separator is the header's (:func:`csv_separator`: comma, semicolon, tab or ``|``).
    The csv module checks every record (field count, encoding) and gives each one its first
    line; when all are well formed polars reads the file (types inferred from every row),
    otherwise the good records are typed the same way.
    """
    import csv

    csv.field_size_limit(_CSV_FIELD_BYTES)  # a long error message or stack trace is a field, not an error
    before = q.count if q is not None else 0
    text = _utf8_lines(data, name, strict, q)
    sep = csv_separator(text[: text.find("\n")] if "\n" in text else text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header = next(reader, None)
    if header is None:
        return pl.DataFrame()
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise SourceError(f"the CSV header names a column twice: {', '.join(repeated)}", path=name)
    rows: list[list[str]] = []
    kept: list[int] = []
    previous_end = reader.line_num
    for rec in reader:
        first_line, previous_end = previous_end + 1, reader.line_num
        if not rec:
            continue
        if len(rec) != len(header):
            reject(q, strict, name, first_line, f"expected {len(header)} fields, got {len(rec)}", sep.join(rec))
            continue
        rows.append(rec)
        kept.append(first_line)
    clean = (q.count if q is not None else 0) == before
    if clean:
        try:
            fast = pl.read_csv(io.BytesIO(data), infer_schema_length=None, separator=sep)
            if fast.height == len(kept):
                return fast.with_columns(pl.Series(_LINE, kept, dtype=pl.Int64))
        except pl.exceptions.PolarsError:
            pass
    df = pl.DataFrame(rows, schema=header, orient="row")
    buf = io.BytesIO()  # re-infer the types from the good rows
    df.write_csv(buf)
    buf.seek(0)
    df = pl.read_csv(buf, infer_schema_length=None)
    return df.with_columns(pl.Series(_LINE, kept, dtype=pl.Int64))


LineRemap = Callable[[], list[int]]


def _read_plain_jsonl(inp: Input, columns: Mapping[str, str], timestamp_format: str
                      ) -> tuple[pl.DataFrame, LineRemap] | None:
    """Fast path for an uncompressed JSONL file: polars reads it straight from disk.

    Row *i* is assumed to be line *i + 1*; the returned callable gives the exact line numbers
    (skipping blank lines) and is only called when a row must be reported.
    """
    assert inp.path is not None
    path = inp.path
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if head.startswith((GZIP_MAGIC, ZSTD_MAGIC, _BOM)) or not head.strip():
        return None
    flat = _flat_jsonl(path, head, columns, timestamp_format)
    if flat is False:
        return None
    fast = flat[0] if isinstance(flat, tuple) else (
        None if _needs_slow_path(path) else _fast_jsonl(path, head, columns, timestamp_format))
    if fast is None:
        return None
    return fast.with_columns(pl.int_range(1, fast.height + 1, dtype=pl.Int64).alias(_LINE)), (
        lambda: line_numbers(path.read_bytes())
    )


def read_one(inp: Input, fmt: str, strict: bool, q: Quarantine | None,
              columns: Mapping[str, str] | None = None, timestamp_format: str = "iso8601"
              ) -> tuple[pl.DataFrame, LineRemap | None]:
    if fmt == "parquet":
        try:
            df = pl.read_parquet(inp.path if inp.path is not None else io.BytesIO(inp.buffer or b""))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise SourceError(f"cannot read parquet: {exc}", path=inp.name) from None
        return df.with_columns(pl.int_range(1, df.height + 1, dtype=pl.Int64).alias(_LINE)), None
    if fmt == "jsonl" and inp.path is not None and inp.buffer is None:
        plain = _read_plain_jsonl(inp, columns or {}, timestamp_format)
        if plain is not None:
            return plain
    data, truncated = salvage(raw_bytes(inp), inp.name)
    if truncated:
        # keep the complete records; the one the stream cut in half is rejected with the reason
        cut = data.rfind(b"\n") + 1
        if data[cut:].strip():
            tail_line = data[:cut].count(b"\n") + 1  # the line the stream ends in
            reject(q, strict, inp.name, tail_line, cut_reason(truncated),
                   data[cut:cut + 200].decode("utf-8", "replace"))
            lost = f"lines 1-{tail_line - 1} were loaded, everything after is lost"
        else:  # cut between records: nothing half-read, but the file is still incomplete
            lost = "the records it holds were loaded"
        if q is not None and data[:cut].strip():  # always named on the report's problems, whichever codec and
            q.stats.skipped.append((inp.name, f"{truncated} ({lost})"))  # wherever the cut fell (nothing
        data = data[:cut]  # left: the error below names it, once)
    if data.startswith(_BOM):
        data = data[len(_BOM):]  # no newline in it: line numbers are unchanged
    if not data or data.isspace():  # (no stripped copy of a large buffer)
        raise SourceError(truncated or EMPTY_FILE, path=inp.name)
    if fmt == "csv":
        return _read_csv(data, inp.name, strict, q), None
    flat = _flat_jsonl(data, data[:_HEAD_BYTES], columns or {}, timestamp_format)
    if isinstance(flat, tuple) and flat[1]:
        # every line checked, one row per line and no blank line between: row i is line i + 1
        return flat[0].with_columns(pl.int_range(1, flat[0].height + 1, dtype=pl.Int64).alias(_LINE)), None
    fast: pl.DataFrame | None
    if isinstance(flat, tuple):
        fast = flat[0]
    elif flat is False or _needs_slow_path(data):
        fast = None
    else:
        fast = _fast_jsonl(data, data[:_HEAD_BYTES], columns or {}, timestamp_format)
    return _read_jsonl(data, inp.name, strict, q, fast), None
