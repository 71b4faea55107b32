"""Helpers for tests that read Vega-Lite specs."""

from __future__ import annotations

from typing import Any


def spec_values(spec: Any) -> list[dict[str, Any]]:
    """Every inline data row of a Vega-Lite spec (layers and concatenations included)."""
    found: list[dict[str, Any]] = []
    if isinstance(spec, dict):
        if isinstance(spec.get("values"), list):
            found += [v for v in spec["values"] if isinstance(v, dict)]
        for v in spec.values():
            found += spec_values(v)
    elif isinstance(spec, list):
        for v in spec:
            found += spec_values(v)
    return found
