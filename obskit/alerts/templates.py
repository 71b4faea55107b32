"""Alert summary templates: ``str.format`` syntax, restricted to plain named fields.

A summary such as ``"error rate {value:.2%} on {model_version} for {duration}"`` is
rendered with :class:`SafeFormatter`, a :class:`string.Formatter` that only looks fields up
by name in a flat mapping of plain values (strings, floats, datetimes). Attribute access
(``{value.__class__}``), indexing (``{labels[0]}``), positional fields (``{}``, ``{0}``),
conversions other than ``!s``/``!r`` and absurd widths are rejected, so a rule file can
never reach into Python objects. Nothing is evaluated.

Fields available to a summary:

``value``
    The signal value (float): the peak of the episode in a report.
``threshold``
    The rule's threshold (float).
``start``, ``end``
    When the alert started firing (or became pending) and ended (datetime; ``end`` is
    ``None`` while active, rendered as ``"now"``).
``duration``
    How long it has been firing (or pending), as text such as ``"12m"``.
``rule``, ``signal``, ``severity``, ``window``, ``for``
    The rule's own fields, as text.
label names
    Every series label (the signal's own labels and the rule's ``by`` columns) and every
    key of the rule's ``labels`` table.

Examples
--------
>>> render("error rate {value:.1%} on {model_version}", {"value": 0.0712, "model_version": "v1.5.0"})
'error rate 7.1% on v1.5.0'
>>> render("{value.__class__}", {"value": 1.0})
Traceback (most recent call last):
...
obskit.errors.InvalidArgument: field 'value.__class__': attribute access and indexing are not allowed
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from obskit.errors import InvalidArgument

__all__ = ["BUILTIN_FIELDS", "SafeFormatter", "check_template", "render", "template_fields", "to_go_template"]

#: Fields every summary may use, besides label names.
BUILTIN_FIELDS: tuple[str, ...] = (
    "value", "threshold", "start", "end", "duration", "rule", "signal", "severity", "window", "for",
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BIG_NUMBER = re.compile(r"\d{4,}")
_MAX_OUTPUT = 4096


class _Now:
    """``end`` of an alert that is still active: renders as ``now`` whatever the spec."""

    def __format__(self, spec: str) -> str:
        return "now"


class SafeFormatter(string.Formatter):
    """A :class:`string.Formatter` that only resolves plain named fields from a mapping."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        if "." in field_name or "[" in field_name:
            raise InvalidArgument(f"field {field_name!r}: attribute access and indexing are not allowed")
        if not _NAME.match(field_name):
            raise InvalidArgument(f"field {field_name!r}: only named fields are allowed, e.g. {{value}}")
        if field_name not in kwargs:
            raise KeyError(field_name)
        return kwargs[field_name], field_name

    def get_value(self, key: int | str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        if not isinstance(key, str):
            raise InvalidArgument("positional fields are not allowed, use a name such as {value}")
        return kwargs[key]

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is None:
            return value
        if conversion == "s":
            return str(value)
        if conversion == "r":
            return repr(value)
        raise InvalidArgument(f"conversion !{conversion} is not allowed (use !s or !r)")

    def format_field(self, value: Any, format_spec: str) -> str:
        if _BIG_NUMBER.search(format_spec):
            raise InvalidArgument(f"format spec {format_spec!r}: width or precision too large")
        if value is None:
            value = _Now()
        return format(value, format_spec)


_FORMATTER = SafeFormatter()


def render(template: str, fields: Mapping[str, Any]) -> str:
    """Format ``template`` with ``fields`` (raises ValueError/KeyError on a bad template)."""
    out = _FORMATTER.vformat(template, (), fields)
    return out if len(out) <= _MAX_OUTPUT else out[: _MAX_OUTPUT - 1] + "…"


def template_fields(template: str) -> list[tuple[str, str, str | None]]:
    """``(field, format_spec, conversion)`` of every replacement field, nested ones included.

    >>> template_fields("{value:.2%} on {model_version!r}")
    [('value', '.2%', None), ('model_version', '', 'r')]
    """
    out: list[tuple[str, str, str | None]] = []
    for _literal, name, spec, conv in _FORMATTER.parse(template):
        if name is None:
            continue
        out.append((name, spec or "", conv))
        if spec and "{" in spec:
            out.extend(template_fields(spec))
    return out


def dummy_fields(labels: Sequence[str]) -> dict[str, Any]:
    """Representative values of every allowed field, to test-format a template."""
    fields: dict[str, Any] = {name: "x" for name in labels}
    fields.update(
        value=0.5, threshold=0.5, start=datetime(2000, 1, 1, tzinfo=UTC), end=datetime(2000, 1, 1, 0, 5, tzinfo=UTC),
        duration="5m", rule="rule", signal="signal", severity="page", window="5m",
    )
    fields["for"] = "5m"
    return fields


def check_template(template: str, labels: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``template`` formats with the allowed fields.

    ``labels`` are the label names the alert will carry. Every field must be a builtin
    field or one of them, and every format spec must suit the field's type (``value``
    and ``threshold`` are floats, ``start``/``end`` datetimes, the rest strings). An
    active alert's ``end`` is ``None`` and renders as ``now``.
    """
    if not isinstance(template, str):
        raise InvalidArgument(f"expected a string, got {type(template).__name__}")
    allowed = dummy_fields(labels)
    try:
        for name, _spec, _conv in template_fields(template):
            if "." in name or "[" in name:
                raise InvalidArgument(f"field {name!r}: attribute access and indexing are not allowed")
            if name == "" or name.isdigit():
                raise InvalidArgument("positional fields are not allowed, use a name such as {value}")
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise InvalidArgument(f"unknown field {{{name}}} (available: {known})")
        render(template, allowed)
        render(template, {**allowed, "end": None})
    except KeyError as exc:
        raise InvalidArgument(f"unknown field {{{exc.args[0]}}}") from None
    except (IndexError, TypeError) as exc:
        raise InvalidArgument(str(exc)) from None


# --------------------------------------------------------------------------- Prometheus


def _go_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _printf_spec(spec: str) -> str | None:
    """A Python float spec as a Go ``printf`` verb (``.2f`` -> ``%.2f``), if it maps."""
    m = re.fullmatch(r"([<>^=]?)([+\- ]?)(\d*)(?:\.(\d+))?([eEfFgG]?)", spec)
    if m is None:
        return None
    align, sign, width, prec, kind = m.groups()
    if align not in ("", ">"):
        return None
    verb = (kind or "g").lower() if kind not in ("F", "E", "G") else kind
    verb = "f" if verb == "F" else verb
    return "%" + (sign.strip() or "") + width + (f".{prec}" if prec else "") + verb


def to_go_template(template: str, *, label_map: Mapping[str, str], constants: Mapping[str, Any]) -> str:
    """Translate a summary template into a Prometheus (Go ``text/template``) annotation.

    ``{value}`` becomes ``{{ $value }}`` (``:.N%`` -> ``humanizePercentage``, float specs
    -> ``printf``), a label ``{x}`` becomes ``{{ $labels.<prometheus name of x> }}``
    (``label_map``), and fields Prometheus cannot know (``start``, ``duration``,
    ``threshold``, the rule's fields) are replaced by the values in ``constants``, formatted
    with the field's spec (dropped when absent). Literal ``{{`` in the text is escaped.

    >>> to_go_template("rate {value:.1%} on {model_version}", label_map={"model_version": "version"},
    ...                constants={})
    'rate {{ $value | humanizePercentage }} on {{ $labels.version }}'
    """
    parts: list[str] = []
    for literal, name, spec, _conv in _FORMATTER.parse(template):
        if literal:
            parts.append(literal.replace("{{", '{{ "{{" }}').replace("}}", '{{ "}}" }}'))
        if name is None:
            continue
        spec = spec or ""
        if name == "value":
            if spec.endswith("%"):
                parts.append("{{ $value | humanizePercentage }}")
            elif spec and (verb := _printf_spec(spec)) is not None:
                parts.append(f"{{{{ printf {_go_string(verb)} $value }}}}")
            else:
                parts.append("{{ $value }}")
        elif name in label_map:
            parts.append(f"{{{{ $labels.{label_map[name]} }}}}")
        elif name in constants:
            const = constants[name]
            try:
                text = _FORMATTER.format_field(const, spec) if spec else str(const)
            except (ValueError, TypeError):
                text = str(const)
            parts.append(text.replace("{{", '{{ "{{" }}'))
    return "".join(parts)
