"""Secrets out of every message: URLs without credentials, text with its URLs scrubbed.

One home for redaction: config paths and URLs, Prometheus servers and webhooks all pass
through here before they reach a message, a log line, a page or a JSON file.

Examples
--------
>>> without_credentials("https://alice:S3cret@host:8443/logs/a.jsonl?token=abc&day=1")
'https://host:8443/logs/a.jsonl?token=<redacted>&day=1'
>>> scrub("cannot fetch http://u:pw@h/x: refused")
'cannot fetch http://h/x: refused'
>>> redact_url("https://user:pw@hooks.slack.com/services/T/B/XYZ?x=1")
'https://hooks.slack.com/…'
"""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["redact_url", "scrub", "without_credentials"]

_SECRET_KEYS = re.compile(r"(token|key|secret|password|passwd|pwd|auth|signature|sig|credential)", re.I)
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def _netloc(parts: urllib.parse.SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return host + port


def without_credentials(url: str) -> str:
    """``url`` without user/password, and with secret-looking query values replaced."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<invalid url>"
    if not parts.scheme or not parts.netloc:
        return url
    query = "&".join(
        f"{k}=<redacted>" if _SECRET_KEYS.search(k) else (f"{k}={v}" if v or "=" in pair else k)
        for pair in parts.query.split("&") if pair
        for k, _, v in [pair.partition("=")]
    )
    return urllib.parse.urlunsplit((parts.scheme, _netloc(parts), parts.path, query, ""))


def redact_url(url: str) -> str:
    """Only ``scheme://host[:port]`` of a URL (for webhooks, whose paths are secrets themselves)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = _netloc(parts)
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}/…" if host else "<invalid url>"


def scrub(text: str) -> str:
    """``text`` with every URL in it passed through :func:`without_credentials`."""
    return _URL.sub(lambda m: without_credentials(m.group(0)), text)
