"""Delivering alerts: a webhook notifier, and the machine-readable ``alerts.json``.

:class:`WebhookNotifier` POSTs the fired alerts of an :class:`~obskit.alerts.engine.AlertRun`
as JSON (``{"alerts": [...]}``) or, with ``slack=True``, as a Slack-compatible
``{"text": ...}`` message. It retries connection errors, timeouts, HTTP 429 and 5xx with
exponential backoff, never other 4xx. It never raises on a failed delivery: ``deliver``
returns a :class:`DeliveryReport` recording, per alert, whether it was delivered, after
how many attempts, and why not; :func:`alerts_json` keeps every alert in the output with
its delivery status, so a dead webhook never loses an alert.

Secrets stay secret: the URL's path and query (a Slack webhook's path *is* its token)
and every header value are kept out of logs, reprs, exceptions and reports; only
``scheme://host[:port]`` is ever shown (:func:`redact_url`).

Examples
--------
>>> n = WebhookNotifier("https://hooks.example.com/services/T0/B0/s3cr3t?token=abc",
...                     headers={"Authorization": "Bearer xyz"})
>>> n
WebhookNotifier('https://hooks.example.com/…', headers=['Authorization'], slack=False, retries=3)
>>> "s3cr3t" in repr(n) or "xyz" in repr(n)
False
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import time as _time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import polars as pl

from obskit.alerts.engine import AlertRun
from obskit.errors import InvalidArgument
from obskit.limits import URL_DEADLINE_S, WEBHOOK_REPLY_BYTES, read_body
from obskit.redact import redact_url

__all__ = ["Delivery", "DeliveryReport", "WebhookNotifier", "alert_records", "alertmanager_body", "alerts_json",
           "check_webhook_url", "redact_url"]

logger = logging.getLogger("obskit.alerts")

_MAX_BATCH = 100


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> None:
        return None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) or math.isinf(f) else f


def _alert_id(rule: str, labels: str, pending_at: Any) -> str:
    key = f"{rule}\x00{labels}\x00{_iso(pending_at)}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def alert_records(run: AlertRun, *, include_pending: bool = False) -> list[dict[str, Any]]:
    """The run's alerts as JSON-ready dicts (fired episodes; pending-only ones on request).

    Each has ``id`` (stable for the same rule, labels and start), ``rule``, ``severity``,
    ``signal``, ``labels`` (dict), ``state`` (``firing``: still firing at the end of the
    period, ``resolved``, ``pending``), ``start`` (firing time, else pending time),
    ``pending_at``, ``firing_at``, ``resolved_at`` (ISO 8601 UTC or null), ``complete_at``
    (when the data that made it fire was complete: what a live system would have known;
    ``firing_at`` is the start of that data's window), ``duration_s``,
    ``value`` (the peak), ``threshold``, ``summary``, ``subject`` (what it is about: version,
    class, feature, error, GPU...), ``hints`` (the segments that explain it, best first) and
    ``explained`` (why there is no hint); see :mod:`obskit.alerts.explain`.
    """
    ep = run.episodes
    if not include_pending:
        ep = ep.filter(pl.col("firing_at").is_not_null())
    end = run.timeline["t"].max() if run.timeline.height else None
    out = []
    for row in ep.iter_rows(named=True):
        start = row["firing_at"] or row["pending_at"]
        stop = row["resolved_at"] or end
        if row["resolved_at"] is not None:
            state = "resolved"
        else:
            state = "firing" if row["firing_at"] is not None else "pending"
        duration = (stop - start).total_seconds() if isinstance(stop, datetime) and start is not None else None
        out.append({
            "id": _alert_id(row["rule"], row["labels"], row["pending_at"]),
            "rule": row["rule"],
            "severity": row["severity"],
            "signal": row["signal"],
            "labels": json.loads(row["labels"]),
            "state": state,
            "start": _iso(start),
            "pending_at": _iso(row["pending_at"]),
            "firing_at": _iso(row["firing_at"]),
            "resolved_at": _iso(row["resolved_at"]),
            "complete_at": _iso(row.get("complete_at")),
            "duration_s": duration,
            "value": _num(row["peak_value"]),
            "threshold": _num(row["threshold"]),
            "summary": row["summary"],
            "subject": json.loads(row.get("subject") or "{}"),
            "hints": json.loads(row.get("hints") or "[]"),
            "explained": row.get("explained") or "",
        })
    return out


@dataclass(frozen=True)
class Delivery:
    """What happened to one alert: ``ok``, ``attempts``, last HTTP ``status``, ``reason``."""

    alert_id: str
    rule: str
    ok: bool
    attempts: int
    status: int | None = None
    reason: str = ""


@dataclass
class DeliveryReport:
    """Per-alert outcome of :meth:`WebhookNotifier.deliver`; ``target`` is redacted."""

    target: str
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every alert was delivered (also when there was nothing to send)."""
        return all(d.ok for d in self.deliveries)

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.ok]

    def by_alert(self) -> dict[str, Delivery]:
        return {d.alert_id: d for d in self.deliveries}

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ok": self.ok,
            "delivered": sum(d.ok for d in self.deliveries),
            "failed": len(self.failed),
        }


def check_webhook_url(url: str) -> urllib.parse.SplitResult:
    """``url`` split, if it is an http(s) URL with a host; the CLI calls it before a report runs.

    Raises :class:`~obskit.errors.InvalidArgument` (a ValueError, as before; never showing the URL's secrets).
    """

    try:
        parts = urllib.parse.urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a bad port raises ValueError
    except ValueError:
        ok = False
    if not ok or any(c in url for c in "\r\n\x00 "):
        raise InvalidArgument(f"webhook url must be an http(s) URL with a host, got {redact_url(url)}")
    return parts


class WebhookNotifier:
    """POST alerts to a webhook (generic JSON, or Slack's ``{"text": ...}``).

    Parameters
    ----------
    url
        The webhook, ``http(s)://``. Treated as a secret except for scheme and host.
    headers
        Extra request headers (``Authorization``...); values are secrets.
    timeout
        Seconds for connecting and for each read.
    retries
        Retries after the first attempt (connection errors, timeouts, 429, 5xx);
        ``retries=3`` makes at most 4 attempts.
    backoff
        Delay before the first retry in seconds, doubled for each further one.
    slack
        Send ``{"text": "..."}`` (one line per alert) instead of the JSON alert list.
    alertmanager
        Send the body Alertmanager posts to its webhook receivers (``version`` 4,
        ``status``, ``alerts`` with ``labels``, ``annotations``, ``startsAt``, ``endsAt``,
        ``fingerprint``), so any receiver written for Alertmanager reads obskit's alerts.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5,
        retries: int = 3,
        backoff: float = 0.5,
        slack: bool = False,
        alertmanager: bool = False,
    ) -> None:
        parts = check_webhook_url(url)
        if retries < 0 or timeout <= 0 or backoff < 0:
            raise InvalidArgument("retries and backoff must be >= 0 and timeout > 0")
        self._url = url
        self._headers = {str(k): str(v) for k, v in (headers or {}).items()}
        self.target = redact_url(url)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.slack = bool(slack)
        self.alertmanager = bool(alertmanager)
        secrets = [url, parts.path, parts.query, parts.password or "", *self._headers.values()]
        secrets += [v for _k, v in urllib.parse.parse_qsl(parts.query)]
        secrets += [seg for seg in parts.path.split("/") if len(seg) >= 4]
        for v in self._headers.values():
            secrets += [w for w in v.split() if len(w) >= 4]
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self._opener = urllib.request.build_opener(_NoRedirect())

    def __repr__(self) -> str:
        return (f"WebhookNotifier({self.target!r}, headers={sorted(self._headers)!r}, slack={self.slack}, "
                f"retries={self.retries})")

    def _scrub(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "<redacted>")
        return text

    # ------------------------------------------------------------------ payloads

    def payload(self, alerts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The JSON body for ``alerts`` (records of :func:`alert_records`)."""
        if self.slack:
            return {"text": slack_text(alerts)}
        if self.alertmanager:
            return alertmanager_body(alerts)
        keys = ("id", "rule", "severity", "labels", "state", "start", "firing_at", "complete_at", "resolved_at",
                "value", "threshold", "summary", "subject", "hints", "explained")
        return {"source": "obskit", "alerts": [{k: a.get(k) for k in keys} for a in alerts]}

    def send(self, body: Mapping[str, Any]) -> tuple[bool, int, int | None, str]:
        """POST ``body``; return ``(ok, attempts, last status, reason)``. Never raises."""
        data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
        attempts = self.retries + 1
        reason, status = "", None
        for attempt in range(attempts):
            if attempt:
                delay = self.backoff * (2 ** (attempt - 1))
                logger.info("webhook %s: retry in %.2fs (attempt %d of %d) after %s",
                            self.target, delay, attempt + 1, attempts, reason)
                _time.sleep(delay)
            # The scheme was checked to be http(s) in __init__.
            req = urllib.request.Request(self._url, data=data, method="POST")  # noqa: S310
            req.add_header("Content-Type", "application/json")
            req.add_header("User-Agent", "obskit")
            for k, v in self._headers.items():
                req.add_unredirected_header(k, v)
            retryable = True
            deadline = _time.monotonic() + URL_DEADLINE_S
            try:
                with self._opener.open(req, timeout=self.timeout) as resp:
                    status = int(resp.status)
                    # the answer is only logged: a long or slow one is not a failed delivery
                    with contextlib.suppress(ValueError, OSError):
                        read_body(resp, limit=WEBHOOK_REPLY_BYTES, deadline=deadline, what="webhook answer")
                if 200 <= status < 300:
                    logger.info("webhook %s: delivered %d bytes (HTTP %d)", self.target, len(data), status)
                    return True, attempt + 1, status, ""
                reason = f"HTTP {status}"
                retryable = False
            except urllib.error.HTTPError as exc:
                status = int(exc.code)
                reason = f"HTTP {status}" + (f" {exc.reason}" if isinstance(exc.reason, str) else "")
                retryable = status == 429 or status >= 500
                exc.close()
            except (TimeoutError, urllib.error.URLError, OSError) as exc:
                status = None
                inner = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                if isinstance(inner, TimeoutError) or "timed out" in str(inner):
                    reason = f"timeout after {self.timeout:g}s"
                else:
                    reason = f"connection failed: {type(inner).__name__}: {inner}"
            except Exception as exc:  # a delivery must never break the run
                status = None
                reason = f"{type(exc).__name__}: {exc}"
                retryable = False
            reason = self._scrub(reason)
            logger.warning("webhook %s: attempt %d of %d failed: %s", self.target, attempt + 1, attempts, reason)
            if not retryable:
                return False, attempt + 1, status, reason
        return False, attempts, status, reason

    def deliver(self, run: AlertRun | Sequence[Mapping[str, Any]]) -> DeliveryReport:
        """Send the run's fired alerts (in batches of 100); record the outcome per alert."""
        alerts = alert_records(run) if isinstance(run, AlertRun) else list(run)
        report = DeliveryReport(self.target)
        for i in range(0, len(alerts), _MAX_BATCH):
            batch = alerts[i : i + _MAX_BATCH]
            ok, attempts, status, reason = self.send(self.payload(batch))
            report.deliveries.extend(
                Delivery(str(a.get("id", "")), str(a.get("rule", "")), ok, attempts, status, reason) for a in batch
            )
        return report


def slack_text(alerts: Sequence[Mapping[str, Any]]) -> str:
    """One line per alert, Slack mrkdwn: ``*[PAGE]* rule (firing since …): summary``."""
    if not alerts:
        return "obskit: no alerts"
    lines = [f"obskit: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}"]
    for a in alerts:
        when = f"{a.get('state', '')} since {a.get('start', '')}"
        if a.get("resolved_at"):
            when = f"resolved at {a['resolved_at']}, started {a.get('start', '')}"
        sev = str(a.get("severity", "")).upper()
        lines.append(f"*[{sev}]* {a.get('rule', '')} ({when}): {a.get('summary', '')}")
        hints = a.get("hints") or []
        if hints:
            lines.append(f"    where: {hints[0].get('text', '')}")
        elif a.get("explained"):
            lines.append(f"    {a['explained']}")
    return "\n".join(lines)


def alertmanager_body(alerts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for ``alerts`` (records of :func:`alert_records`).

    Labels are the series' labels plus ``alertname`` and ``severity``; annotations carry
    ``summary``, ``subject`` and ``hints`` as text. ``endsAt`` is the resolution time, or
    Alertmanager's zero time while firing.

    Examples
    --------
    >>> body = alertmanager_body([{"id": "x1", "rule": "errors", "severity": "page", "labels": {"model": "m"},
    ...                            "state": "firing", "start": "2026-01-01T00:05:00Z", "summary": "5% errors"}])
    >>> body["status"], body["alerts"][0]["labels"], body["alerts"][0]["endsAt"]
    ('firing', {'model': 'm', 'alertname': 'errors', 'severity': 'page'}, '0001-01-01T00:00:00Z')
    """
    out: list[dict[str, Any]] = []
    for a in alerts:
        labels = {str(k): str(v) for k, v in dict(a.get("labels") or {}).items()}
        labels.update(alertname=str(a.get("rule", "")), severity=str(a.get("severity") or ""))
        resolved = a.get("state") == "resolved"
        out.append({
            "status": "resolved" if resolved else "firing",
            "labels": labels,
            "annotations": {"summary": str(a.get("summary") or ""),
                            "subject": json.dumps(a.get("subject") or {}, ensure_ascii=False, sort_keys=True),
                            "hints": json.dumps(a.get("hints") or [], ensure_ascii=False, default=str),
                            "value": "" if a.get("value") is None else f"{a['value']:g}"},
            "startsAt": a.get("firing_at") or a.get("start"),
            "endsAt": (a.get("resolved_at") if resolved else None) or "0001-01-01T00:00:00Z",
            "generatorURL": "",
            "fingerprint": str(a.get("id", "")),
        })
    status = "firing" if any(x["status"] == "firing" for x in out) else "resolved"
    common = {k: v for k, v in (out[0]["labels"].items() if out else ())
              if all(x["labels"].get(k) == v for x in out)}
    return {"version": "4", "groupKey": "obskit", "truncatedAlerts": 0, "status": status, "receiver": "obskit",
            "groupLabels": {}, "commonLabels": common, "commonAnnotations": {}, "externalURL": "", "alerts": out}


def alerts_json(run: AlertRun, delivery: DeliveryReport | None = None) -> dict[str, Any]:
    """The ``alerts.json`` content: what fired, when, how bad, and whether it was delivered.

    Every fired alert is listed whether or not delivery succeeded; ``delivery`` on each is
    ``{"status": "delivered" | "failed" | "not_sent", "attempts", "reason"}``.
    """
    alerts = alert_records(run)
    by_id = delivery.by_alert() if delivery is not None else {}
    for a in alerts:
        d = by_id.get(a["id"])
        if d is None:
            a["delivery"] = {"status": "not_sent", "attempts": 0, "reason": ""}
        else:
            a["delivery"] = {"status": "delivered" if d.ok else "failed", "attempts": d.attempts,
                             "reason": d.reason, "http_status": d.status}
    tl = run.timeline
    severities: dict[str, int] = {}
    for a in alerts:
        severities[a["severity"]] = severities.get(a["severity"], 0) + 1
    return {
        "generated_at": _iso(datetime.now(UTC)),
        "period": {"start": _iso(tl["t"].min()) if tl.height else None,
                   "end": _iso(tl["t"].max()) if tl.height else None},
        "counts": {
            "rules": len(run.rules),
            "episodes": run.episodes.height,
            "fired": len(alerts),
            "firing_now": run.firing_now.height,
            "by_severity": severities,
        },
        "alerts": alerts,
        "skipped": list(run.skipped),
        "delivery": None if delivery is None else delivery.as_dict(),
    }
