"""Tokenizer for the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0.

The hot path is vectorised with polars: the document becomes one ``String`` series of lines,
sample lines are split into name / label block / value / timestamp / exemplar by a single
anchored regex (``str.extract_groups``), label blocks are split into ``name="value"`` pairs
with ``str.extract_all`` and exploded, and values are parsed with a float cast. Everything
the fast regex does not accept (odd spacing, UTF-8 metric names in braces, bad syntax) goes
to :func:`parse_sample_line`, a careful character-level parser that either parses the line
or says precisely why it cannot. Comment lines (``# HELP``/``# TYPE``/``# UNIT``) are few and
handled in Python.

The output of :func:`tokenize` is long-format: one row per sample (``line``, ``metric``,
``value``, ``ts`` as written) and one row per label (``line``, ``name``, ``value``), plus
family metadata, exemplars and the list of rejected lines.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import polars as pl

__all__ = [
    "LineError",
    "Rejected",
    "Tokens",
    "decode",
    "parse_sample_line",
    "tokenize",
]

TEXT = "text"
OPENMETRICS = "openmetrics"

TYPES_TEXT = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
TYPES_OM = frozenset(
    {"counter", "gauge", "histogram", "summary", "unknown", "info", "stateset", "gaugehistogram"}
)
ALL_TYPES = TYPES_TEXT | TYPES_OM

_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
# a label block as the fast path accepts it: no spaces, optional trailing comma
_BLOCK_RE = rf"^(?:{_LABEL}(?:,{_LABEL})*,?)?$"
LABEL_PREFIX = "l:"
_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_ESCAPES = {"\\": "\\", "n": "\n", '"': '"'}
_UNESCAPE_RE = re.compile(r'\\([\\n"])')


class LineError(ValueError):
    """A sample line cannot be parsed; ``reason`` says why, ``column`` is 1-based."""

    def __init__(self, reason: str, column: int | None = None) -> None:
        self.reason = reason if column is None else f"{reason} (column {column})"
        super().__init__(self.reason)


@dataclass(frozen=True)
class Rejected:
    """One rejected line: 1-based line number (``None``: the document as a whole)."""

    line: int | None
    reason: str
    raw: str | None


@dataclass
class Tokens:
    """Long-format result of :func:`tokenize`."""

    format: str
    samples: pl.DataFrame  # line, metric, value, ts (as written), then l:<label> String columns
    types: dict[str, str] = field(default_factory=dict)
    helps: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    exemplars: list[tuple[int, dict[str, str], float, float | None]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


# --------------------------------------------------------------------------- decoding


def decode(data: bytes | str, rejected: list[Rejected]) -> str:
    """UTF-8 text of ``data``; lines with invalid UTF-8 are rejected and blanked."""
    if isinstance(data, str):
        return data
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out: list[str] = []
    for i, raw in enumerate(data.split(b"\n"), start=1):
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            shown = raw.decode("utf-8", errors="replace")
            rejected.append(
                Rejected(i, f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at column {exc.start + 1}", shown)
            )
            out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- slow path


def _unescape(text: str) -> str:
    return _UNESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)], text) if "\\" in text else text


def _skip_ws(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t":
        i += 1
    return i


def _quoted(text: str, i: int, what: str) -> tuple[str, int]:
    """Read a double-quoted string starting at ``text[i] == '"'``; return (unescaped, end)."""
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return _unescape(text[i + 1 : j]), j + 1
        j += 1
    raise LineError(f"unterminated {what} (truncated line?)", i + 1)


def _label_block(text: str, i: int) -> tuple[list[tuple[str, str]], str | None, int]:
    """Parse ``{...}`` starting at ``text[i] == '{'``; return (labels, bare quoted name, end)."""
    labels: list[tuple[str, str]] = []
    seen: set[str] = set()
    bare_name: str | None = None
    n = len(text)
    i += 1
    while True:
        i = _skip_ws(text, i)
        if i >= n:
            raise LineError("label set not closed with '}' (truncated line?)", i + 1)
        if text[i] == "}":
            return labels, bare_name, i + 1
        start = i
        if text[i] == '"':
            lname, i = _quoted(text, i, "quoted name")
            quoted = True
        else:
            m = _LABEL_NAME_RE.match(text, i)
            if m is None:
                raise LineError(f"expected a label name, got {text[i]!r}", i + 1)
            lname, i = m.group(), m.end()
            quoted = False
        i = _skip_ws(text, i)
        if i < n and text[i] in ",}" and quoted:
            # OpenMetrics 2 / Prometheus 3: {"metric.name", label="v"}
            if bare_name is not None:
                raise LineError("metric name given twice in the label set", start + 1)
            bare_name = lname
        else:
            if i >= n:
                raise LineError("label set not closed with '}' (truncated line?)", i + 1)
            if text[i] != "=":
                raise LineError(f"expected '=' after label name {lname!r}", i + 1)
            i = _skip_ws(text, i + 1)
            if i >= n:
                raise LineError(f"missing value for label {lname!r} (truncated line?)", i + 1)
            if text[i] != '"':
                raise LineError(f"label value of {lname!r} must be double-quoted", i + 1)
            lvalue, i = _quoted(text, i, f"value of label {lname!r}")
            if lname in seen:
                raise LineError(f"duplicate label name {lname!r}", start + 1)
            seen.add(lname)
            labels.append((lname, lvalue))
        i = _skip_ws(text, i)
        if i >= n:
            raise LineError("label set not closed with '}' (truncated line?)", i + 1)
        if text[i] == ",":
            i += 1
        elif text[i] != "}":
            raise LineError(f"expected ',' or '}}' after label, got {text[i]!r}", i + 1)


def parse_float(token: str, what: str = "value") -> float:
    """Parse a Prometheus float (``NaN``, ``+Inf``, ``-Inf``, Go/Python float syntax)."""
    if "_" in token or token != token.strip():
        raise LineError(f"invalid {what} {token!r}")
    try:
        return float(token)
    except ValueError:
        raise LineError(f"invalid {what} {token!r}: not a number") from None


def parse_sample_line(
    text: str,
) -> tuple[str, list[tuple[str, str]], float, float | None, tuple[dict[str, str], float, float | None] | None]:
    """Parse one sample line: (name, labels, value, timestamp as written, exemplar).

    Raises :class:`LineError` with a precise reason when the line is malformed.

    >>> parse_sample_line('up{job="a", env="p\\\\"q"} 1 1700000000000')
    ('up', [('job', 'a'), ('env', 'p"q')], 1.0, 1700000000000.0, None)
    >>> parse_sample_line('{"my.metric", le="+Inf"} 3')
    ('my.metric', [('le', '+Inf')], 3.0, None, None)
    """
    n = len(text)
    i = _skip_ws(text, 0)
    name: str | None = None
    if i < n and text[i] != "{":
        m = _NAME_RE.match(text, i)
        if m is None:
            raise LineError(f"expected a metric name, got {text[i]!r}", i + 1)
        name, i = m.group(), m.end()
        j = _skip_ws(text, i)
        if j < n and text[j] == "{":
            i = j
    labels: list[tuple[str, str]] = []
    if i < n and text[i] == "{":
        labels, bare, i = _label_block(text, i)
        in_labels = [v for k, v in labels if k == "__name__"]
        if bare is not None or in_labels:
            if name is not None:
                raise LineError("metric name given both before and inside the label set")
            name = bare if bare is not None else in_labels[0]
            if bare is not None and in_labels:
                raise LineError("metric name given twice in the label set")
            labels = [(k, v) for k, v in labels if k != "__name__"]
        if name is None:
            raise LineError("label set without a metric name")
    if name is None:
        raise LineError("expected a metric name", i + 1)
    rest = text[i:]
    ex_text: str | None = None
    hash_at = rest.find("#")
    if hash_at >= 0:
        rest, ex_text = rest[:hash_at], rest[hash_at + 1 :]
    if rest and rest[0] not in " \t":
        raise LineError(f"expected a space after the metric name or labels, got {rest[0]!r}", i + 1)
    tokens = rest.split()
    if not tokens:
        raise LineError("sample has no value (truncated line?)", n + 1)
    if len(tokens) > 2:
        raise LineError(f"unexpected text after the timestamp: {' '.join(tokens[2:])!r}")
    value = parse_float(tokens[0])
    ts: float | None = None
    if len(tokens) == 2:
        ts = parse_float(tokens[1], "timestamp")
        if math.isnan(ts) or math.isinf(ts):
            raise LineError(f"invalid timestamp {tokens[1]!r}")
    exemplar = None
    if ex_text is not None:
        exemplar = parse_exemplar(ex_text)
    return name, labels, value, ts, exemplar


def parse_exemplar(text: str) -> tuple[dict[str, str], float, float | None]:
    """Parse what follows ``#`` on a sample line: ``{labels} value [timestamp]``."""
    i = _skip_ws(text, 0)
    if i >= len(text) or text[i] != "{":
        raise LineError("exemplar must start with a label set after ' # '")
    labels, bare, i = _label_block(text, i)
    if bare is not None:
        raise LineError("exemplar label set holds a bare name")
    tokens = text[i:].split()
    if not tokens:
        raise LineError("exemplar has no value")
    if len(tokens) > 2:
        raise LineError("unexpected text after the exemplar timestamp")
    value = parse_float(tokens[0], "exemplar value")
    ts = parse_float(tokens[1], "exemplar timestamp") if len(tokens) == 2 else None
    return dict(labels), value, ts


# --------------------------------------------------------------------------- comments


def _comment(line: int, text: str, tok: Tokens, where: dict[tuple[str, str], int]) -> None:
    parts = text.split(None, 3)
    if len(parts) < 2 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE", "UNIT"):
        return  # an ordinary comment
    kw = parts[1]
    if len(parts) < 3:
        tok.rejected.append(Rejected(line, f"# {kw} line without a metric name", text))
        return
    fam = parts[2]
    rest = parts[3] if len(parts) == 4 else ""
    if fam.startswith('"'):
        # quoted UTF-8 family name: re-split after the closing quote
        body = text.split(kw, 1)[1].lstrip()
        try:
            fam, end = _quoted(body, 0, "quoted family name")
        except LineError as exc:
            tok.rejected.append(Rejected(line, exc.reason, text))
            return
        rest = body[end:].strip()
    elif not _NAME_RE.fullmatch(fam):
        tok.rejected.append(Rejected(line, f"invalid metric name {fam!r} in # {kw}", text))
        return
    key = (kw, fam)
    if key in where:
        tok.rejected.append(
            Rejected(line, f"duplicate # {kw} for family {fam!r} (first on line {where[key]})", text)
        )
        return
    if kw == "TYPE":
        typ = rest.strip()
        if not typ:
            tok.rejected.append(Rejected(line, f"# TYPE for {fam!r} names no type (truncated line?)", text))
            return
        if typ not in ALL_TYPES:
            tok.rejected.append(Rejected(line, f"unknown metric type {typ!r} for family {fam!r}", text))
            return
        tok.types[fam] = typ
    elif kw == "HELP":
        tok.helps[fam] = _unescape(rest)
    else:
        tok.units[fam] = rest.strip()
    where[key] = line


# --------------------------------------------------------------------------- tokenizer


def detect_format(lines: pl.Series) -> str:
    """``openmetrics`` when the document has a ``# EOF`` or a ``# UNIT`` line, else ``text``."""
    marks = lines.str.starts_with("# EOF") | lines.str.starts_with("# UNIT ")
    return OPENMETRICS if bool(marks.any()) else TEXT


_SAMPLES_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "metric": pl.String(),
    "value": pl.Float64(),
    "ts": pl.Float64(),
}


def _strings(values: list[str]) -> pl.Expr:
    return pl.lit(pl.Series(values, dtype=pl.String).implode())


def _split_blocks(blocks: pl.Series) -> tuple[pl.DataFrame, dict[str, str]]:
    """Label blocks (validated, distinct) -> wide frame ``block, l:<name>...`` + duplicates.

    Blocks without a backslash are split on ``",`` (a value cannot hold an unescaped quote);
    blocks with escapes go through the careful Python parser. Pairs are keyed by the block's
    position (an integer) until the wide frame is built.
    """
    frame = pl.DataFrame({"block": blocks}).with_row_index("bid")
    has_escape = pl.col("block").str.contains("\\", literal=True)
    pairs = (
        frame.filter(~has_escape)
        .select("bid", pl.col("block").str.split('",').alias("kv"))
        .explode("kv")
        .filter(pl.col("kv").str.len_bytes() > 0)
        .with_columns(pl.col("kv").str.find('="', literal=True).alias("at"))  # a label name holds no '='
        .select("bid", pl.col("kv").str.slice(0, pl.col("at")).alias("k"),
                pl.col("kv").str.slice(pl.col("at") + 2).str.strip_suffix('"').alias("v"))
    )
    escaped = frame.filter(has_escape)
    if escaped.height:
        rows: list[tuple[int, str, str]] = []
        for bid, b in escaped.iter_rows():
            labels, _, _ = _label_block("{" + b + "}", 0)
            rows.extend((bid, k, v) for k, v in labels)
        pairs = pl.concat([pairs, pl.DataFrame(rows, schema=pairs.schema, orient="row")])

    def wide(pairs: pl.DataFrame) -> pl.DataFrame:
        """One column per label, named l:<label>, and the block (a label may itself be called "block")."""
        out = pairs.pivot(on="k", index="bid", values="v")
        named = out.rename({c: LABEL_PREFIX + c for c in out.columns if c != "bid"})
        return named.select(blocks.gather(named.get_column("bid")).alias("block"), pl.exclude("bid"))

    if not bool((pairs.get_column("k") == "__name__").any()):
        try:  # the common case: no block repeats a label, and pivot says so by not failing
            return wide(pairs), {}
        except pl.exceptions.ComputeError:
            pass
    dups: dict[str, str] = {}
    is_dup = pl.struct("bid", "k").is_duplicated()
    flagged = pairs.filter(is_dup | (pl.col("k") == "__name__")).select("bid", "k")
    for bid, name in flagged.iter_rows():
        dups.setdefault(
            blocks[bid],
            "metric name given both before and inside the label set"
            if name == "__name__"
            else f"duplicate label name {name!r}",
        )
    if dups:
        pairs = pairs.filter(~pl.col("bid").is_in(flagged.get_column("bid").implode()))
    if pairs.height == 0:
        return pl.DataFrame({"block": pl.Series([], dtype=pl.String)}), dups
    return wide(pairs), dups


def tokenize(text: str, *, fmt: str = "auto", rejected: list[Rejected] | None = None) -> Tokens:
    """Split an exposition document into samples (one column per label) and metadata.

    ``fmt`` is ``"text"``, ``"openmetrics"`` or ``"auto"`` (see :func:`detect_format`).
    Label columns are named ``l:<label>``. Rejected lines are listed in
    ``Tokens.rejected`` (sorted by line); nothing raises.
    """
    lines = pl.Series("text", [text]).str.split("\n").list.explode()
    if "\r" in text:
        lines = lines.str.strip_suffix("\r")
    df = pl.DataFrame(lines).with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))
    if fmt == "auto":
        fmt = detect_format(lines)
    tok = Tokens(fmt, pl.DataFrame(schema=_SAMPLES_SCHEMA))
    if rejected:
        tok.rejected.extend(rejected)
    text_ = pl.col("text")
    is_comment = text_.str.starts_with("#")
    is_blank = text_.str.len_bytes() == 0

    # ---- # EOF: OpenMetrics requires it last; anything after it is an error
    if fmt == OPENMETRICS:
        eof_rows = df.filter(text_.str.strip_chars_end() == "# EOF").get_column("line")
        if eof_rows.len() == 0:
            last = df.filter(~is_blank).height
            tok.rejected.append(
                Rejected(
                    last or None,
                    "OpenMetrics document does not end with '# EOF' (truncated scrape?)",
                    None,
                )
            )
        else:
            eof = int(eof_rows[0])
            after = df.filter((pl.col("line") > eof) & (text_.str.strip_chars().str.len_bytes() > 0))
            for line, raw in after.iter_rows():
                tok.rejected.append(Rejected(line, "content after '# EOF'", raw))
            df = df.filter(pl.col("line") < eof)

    # ---- comments (few) in Python
    where: dict[tuple[str, str], int] = {}
    for line, raw in df.filter(is_comment).iter_rows():
        _comment(line, raw.strip(), tok, where)

    # ---- samples, fast path: a line qualifies when it holds no '#' and no tab and splits as
    # NAME[{BLOCK}] VALUE[ TS] with single spaces. Names and label blocks are validated on
    # their distinct values only (a scrape repeats the same label sets across families).
    body = df.filter(~is_comment & ~is_blank)
    brace = text_.str.find("{", literal=True)
    split = body.with_columns(
        simple=~text_.str.contains("[#\t]"),
        brace=brace,
        # the first "} ": one inside a quoted value cuts the block short, and a block cut
        # inside quotes never validates (the line then takes the careful parser)
        close=text_.str.find("} ", literal=True),
        space=text_.str.find(" ", literal=True),
    )
    labelled = pl.col("brace").is_not_null()
    split = split.with_columns(
        labelled=labelled,
        name=text_.str.slice(0, pl.coalesce("brace", "space")),
        block=text_.str.slice(pl.col("brace") + 1, pl.col("close") - pl.col("brace") - 1),
        rest=text_.str.slice(pl.when(labelled).then(pl.col("close") + 2).otherwise(pl.col("space") + 1)),
    )
    labelled = pl.col("labelled")
    if bool(split.select(pl.col("rest").str.contains(" ", literal=True).any()).item()):
        vt = pl.col("rest").str.splitn(" ", 2)
        split = split.with_columns(value_s=vt.struct.field("field_0"), ts_s=vt.struct.field("field_1"))
    else:
        split = split.with_columns(value_s=pl.col("rest"), ts_s=pl.lit(None, pl.String))
    split = split.with_columns(
        v=pl.col("value_s").cast(pl.Float64, strict=False),
        t=pl.col("ts_s").cast(pl.Float64, strict=False),
    )
    names = split.get_column("name").drop_nulls().unique()
    bad_names = [n for n in names.to_list() if not _NAME_RE.fullmatch(n)]
    blocks = split.filter("simple").get_column("block").drop_nulls().unique(maintain_order=True)
    valid = blocks.str.contains(_BLOCK_RE)
    wide, dups = _split_blocks(blocks.filter(valid))
    bad_blocks = blocks.filter(~valid).to_list() + list(dups)
    ok = (
        pl.col("simple")
        & pl.col("name").is_not_null()
        & ~pl.col("name").is_in(_strings(bad_names))
        & pl.col("v").is_not_null()
        & (pl.col("ts_s").is_null() | (pl.col("t").is_not_null() & pl.col("t").is_finite()))
        & (~labelled | (pl.col("block").is_not_null() & ~pl.col("block").is_in(_strings(bad_blocks))))
    )
    split = split.with_columns(ok=ok)
    samples = split.filter("ok").select(
        "line", pl.col("name").alias("metric"), pl.col("v").alias("value"), pl.col("t").alias("ts"), "block"
    )
    if wide.width > 1:
        samples = samples.join(wide, on="block", how="left", maintain_order="left")
    samples = samples.drop("block")

    # ---- samples, slow path: odd but valid lines, exemplars, and errors
    slow = split.filter(~pl.col("ok")).select("line", "text")
    if slow.height:
        s_rows: list[dict[str, object]] = []
        for line, raw in slow.iter_rows():
            stripped = raw.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                _comment(line, stripped, tok, where)
                continue
            try:
                name, lab, value, ts, exemplar = parse_sample_line(raw)
            except LineError as exc:
                tok.rejected.append(Rejected(line, exc.reason, raw))
                continue
            row: dict[str, object] = {"line": line, "metric": name, "value": value, "ts": ts}
            row.update((LABEL_PREFIX + k, v) for k, v in lab)
            s_rows.append(row)
            if exemplar is not None:
                ex_labels, ex_value, ex_ts = exemplar
                tok.exemplars.append((line, ex_labels, ex_value, ex_ts))
        if s_rows:
            keys = list(dict.fromkeys(k for r in s_rows for k in r))
            extra = pl.DataFrame(
                s_rows, schema={k: _SAMPLES_SCHEMA.get(k, pl.String()) for k in keys}, orient="row"
            )
            samples = pl.concat([samples, extra], how="diagonal").sort("line")
    tok.samples = samples
    tok.rejected.sort(key=lambda r: (r.line is None, r.line or 0))
    return tok
