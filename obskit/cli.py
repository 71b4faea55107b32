"""The ``obskit`` command line.

Exit codes: 0 success, 1 a report failed to execute, 2 bad input (config, arguments,
data), 3 an alert fired or an SLO was breached (with ``--fail-on-alert``), 4 a report ran
degraded (a source failed) or found no data to check.
Errors are printed as one line on stderr; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from obskit import __version__
from obskit.errors import ObskitError, ReportError

__all__ = ["main"]

EXIT_OK, EXIT_REPORT_FAILED, EXIT_BAD_INPUT, EXIT_ALERT, EXIT_DEGRADED = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"obskit: error: {message}\n")


def _param(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value


def _positive_int(text: str) -> int:
    try:
        n = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return n


_CONFIG_HELP = "obskit.toml (default: ./obskit.toml, else $OBSKIT_CONFIG)"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="obskit", description="Observability reports for deep-learning models in production.")
    p.add_argument("--version", action="version", version=f"obskit {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("sample", help="write the sample day (logs, metrics, GPU trace, reference, config)")
    s.add_argument("--out", type=Path, default=None, help="destination folder (required unless --list)")
    s.add_argument("--scenario", default=None, metavar="NAME",
                   help="a day of the scenario library instead of the sample day (see --list)")
    s.add_argument("--list", action="store_true", help="print the scenario library and exit")
    s.add_argument("--requests", type=_positive_int, default=None, help="number of requests (default 150000)")
    s.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bytes)")
    s.add_argument("--clean", action="store_true", help="a day without incidents")
    s.add_argument("--day", default=None, metavar="YYYY-MM-DD", help="date of the day (default 2026-11-22)")

    r = sub.add_parser("report", help="run a report notebook into an offline HTML page")
    r.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    r.add_argument("--notebook", default="health_report", metavar="NAME|PATH.ipynb",
                   help="a shipped report (health_report, drift_report, gpu_report, canary_report) "
                        "or your own notebook's path (see `obskit notebook copy`)")
    r.add_argument("--out", type=Path, default=Path("reports"), help="reports root (default ./reports)")
    r.add_argument("--start", default="", help="period start, ISO 8601")
    r.add_argument("--end", default="", help="period end (exclusive), ISO 8601")
    r.add_argument("--last", default="", metavar="DURATION",
                   help="period = the last DURATION up to now (e.g. 24h); instead of --start/--end")
    r.add_argument("--fail-on-alert", action="store_true", help="exit 3 when an alert fired (for cron/CI)")
    r.add_argument("--notify", action="store_true",
                   help="post fired alerts to the webhook in $OBSKIT_ALERT_WEBHOOK "
                        "(bearer token from $OBSKIT_ALERT_WEBHOOK_TOKEN; both kept out of config and outputs)")
    r.add_argument("--slack", action="store_true", help="with --notify: Slack-compatible {\"text\": ...} body")
    r.add_argument("-p", "--param", action="append", type=_param, default=[], metavar="KEY=VALUE",
                   help="notebook parameter (repeatable)")

    sh = sub.add_parser("schedule", help="print (or install, with --yes) a nightly crontab line or systemd timer")
    sh.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    sh.add_argument("--out", type=Path, default=Path("reports"), help="reports root")
    sh.add_argument("--at", default="06:00", help="time of day, HH:MM (default 06:00)")
    sh.add_argument("--last", default="24h", help="period of each run (default 24h)")
    sh.add_argument("--systemd", action="store_true", help="print systemd user units instead of a crontab line")
    sh.add_argument("--install", action="store_true", help="install the crontab line (needs --yes)")
    sh.add_argument("--yes", action="store_true", help="consent to changing your crontab")

    al = sub.add_parser("alerts", help="check the config's alert rules or export them as Prometheus rules")
    al_sub = al.add_subparsers(dest="alerts_command", metavar="ACTION", parser_class=_Parser, required=True)
    ac = al_sub.add_parser("check", help="validate the [[alerts]] rules of a config")
    ac.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    ae = al_sub.add_parser("export", help="print Prometheus alerting/recording rules YAML (promtool-valid)")
    ae.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    ae.add_argument("--group", default="obskit", help="rule group name")
    ae.add_argument("--interval", default="1m", help="rule group evaluation interval")
    ae.add_argument("-o", "--output", type=Path, default=None, help="write to a file instead of stdout")

    db = sub.add_parser("dashboards", help="export a Grafana dashboard of the [[panels]] and serving signals")
    db_sub = db.add_subparsers(dest="dashboards_command", metavar="ACTION", parser_class=_Parser, required=True)
    de = db_sub.add_parser("export", help="write the dashboard JSON (import it in Grafana)")
    de.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    de.add_argument("--title", default="", help="dashboard title (default: the project name)")
    de.add_argument("-o", "--output", type=Path, default=None, help="write to a file instead of stdout")
    de.add_argument("--watch", action="store_true",
                    help="add a row of the obskit_* signals `obskit watch --metrics-port` serves")

    sub.add_parser("sources", help="list the source kinds a config can name, with their options")

    w = sub.add_parser("watch", help="evaluate the alert rules as the logs grow; notify; serve the signals")
    w.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    w.add_argument("--interval", default="15s", help="time between evaluations (default 15s)")
    w.add_argument("--metrics-port", type=int, default=None, metavar="N",
                   help="serve the signals and alert states as Prometheus metrics on 127.0.0.1:N/metrics")
    w.add_argument("--once", action="store_true", help="read, evaluate and notify once, then exit")
    w.add_argument("--state-dir", type=Path, default=None,
                   help="checkpoint and status.json (default .obskit/watch beside the config)")
    w.add_argument("--horizon", default="26h", help="how much of the past the state keeps (default 26h)")
    w.add_argument("--grace", default="60s",
                   help="how long after its end an empty minute counts as complete (default 60s)")
    w.add_argument("--slack", action="store_true", help="Slack-compatible {\"text\": ...} notifications")
    w.add_argument("--alertmanager", action="store_true",
                   help="notifications in Alertmanager's webhook body (version 4)")
    w.add_argument("--no-notify", action="store_true", help="do not notify even if $OBSKIT_ALERT_WEBHOOK is set")

    ck = sub.add_parser("check", help="load every configured source and report rows, span, rejections, mapping")
    ck.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    ck.add_argument("--no-preview", action="store_true", help="leave out the preview rows")

    nb = sub.add_parser("notebook", help="list the shipped report notebooks, or copy one to start your own")
    nb_sub = nb.add_subparsers(dest="notebook_command", metavar="ACTION", parser_class=_Parser, required=True)
    nb_sub.add_parser("list", help="the shipped report notebooks and their parameters")
    nc = nb_sub.add_parser("copy", help="copy a shipped notebook; run it with `obskit report --notebook PATH`")
    nc.add_argument("name", help="a shipped notebook (obskit notebook list)")
    nc.add_argument("dest", type=Path, help="the copy's path (.ipynb) or a folder")
    nc.add_argument("--force", action="store_true", help="overwrite an existing file")

    sc = sub.add_parser("schema", help="print the canonical frames' columns")
    sc.add_argument("frame", nargs="?", default=None, help="requests, metrics, gpu, gpu_processes, kernels, reference")
    return p


def _sample(args: argparse.Namespace) -> int:
    from obskit.errors import ConfigError
    from obskit.sample import DEFAULT_REQUESTS, generate

    if args.list:
        from obskit.sample.library import catalogue

        print(catalogue())
        return EXIT_OK
    if args.out is None:
        raise ConfigError("obskit sample: --out is required")
    n = args.requests or DEFAULT_REQUESTS
    t0 = time.monotonic()

    from obskit.progress import reporter

    res = generate(args.out, requests=n, seed=args.seed, clean=args.clean, day=args.day,
                   on_progress=reporter("obskit sample", unit="requests"), scenario=args.scenario)
    print(f"wrote {len(res.files)} files ({res.bytes / 1e6:.1f} MB) to {res.out} "
          f"in {time.monotonic() - t0:.1f} s; config: {res.out / 'obskit.toml'}")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from obskit.errors import ConfigError
    from obskit.report import run_report
    from obskit.report.notebooks import find_config
    from obskit.timeutil import parse_duration

    if args.notify:  # before the run: a bad webhook must not turn a finished report's exit 3 into 2
        import os

        from obskit.alerts.notify import check_webhook_url

        url = os.environ.get("OBSKIT_ALERT_WEBHOOK", "")
        if not url:
            raise ConfigError("--notify needs the webhook URL in $OBSKIT_ALERT_WEBHOOK")
        check_webhook_url(url)
    start, end = args.start, args.end
    if args.last:
        if start or end:
            raise ConfigError("--last cannot be combined with --start/--end")
        try:
            span = parse_duration(args.last)
        except ValueError as exc:
            raise ConfigError(f"--last: {exc}") from None
        now = datetime.now(UTC).replace(microsecond=0)
        start, end = (now - span).isoformat(), now.isoformat()
    res = run_report(find_config(args.config), notebook=args.notebook, out=args.out, start=start, end=end,
                     parameters=dict(args.param))
    fired = f", {res.alerts_fired} alert(s) fired" if res.alerts_fired else ""
    others = [f.replace("_", " ") for f in res.flags if f not in (res.status, "alerting")]
    shown = ", ".join([res.status.replace("_", " "), *others])
    print(f"report: {res.html} ({shown}{fired}); summary: {res.summary}")
    if args.notify:
        if res.alerts is None:  # only this run's alerts are ever sent
            print(f"obskit: notify: {res.notebook.stem} evaluates no alert rules: nothing sent", file=sys.stderr)
        else:
            _notify(res.alerts, slack=args.slack)
    if args.fail_on_alert and ("alerting" in res.flags or "slo_breached" in res.flags):
        what = f"{res.alerts_fired} alert(s) fired" if res.alerts_fired else "an SLO was breached"
        print(f"obskit: {what}", file=sys.stderr)
        return EXIT_ALERT
    return EXIT_DEGRADED if {"degraded", "no_data"} & set(res.flags) else EXIT_OK


def _notify(alerts_path: Path, *, slack: bool) -> None:
    """Deliver the run's fired alerts; the result is recorded in alerts.json, nothing is lost."""
    import json
    import os

    from obskit.alerts import WebhookNotifier
    from obskit.errors import ConfigError
    from obskit.session import atomic_write_text

    url = os.environ.get("OBSKIT_ALERT_WEBHOOK", "")
    if not url:
        raise ConfigError("--notify needs the webhook URL in $OBSKIT_ALERT_WEBHOOK")
    if not alerts_path.is_file():
        print("obskit: no alerts.json for this report: nothing to notify", file=sys.stderr)
        return
    data = json.loads(alerts_path.read_text(encoding="utf-8"))
    records = data.get("alerts", [])
    if not records:
        print("notify: no alert fired; nothing sent")
        return
    token = os.environ.get("OBSKIT_ALERT_WEBHOOK_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    report = WebhookNotifier(url, headers=headers, slack=slack).deliver(records)
    by_id = report.by_alert()
    for rec in records:
        d = by_id.get(rec.get("id", ""))
        if d is not None:
            rec["delivery"] = {"status": "delivered" if d.ok else "failed", "attempts": d.attempts,
                               "reason": d.reason, "http_status": d.status}
    atomic_write_text(alerts_path, json.dumps(data, indent=2) + "\n")
    failed = len(report.failed)
    if failed:
        print(f"obskit: notify: {failed} of {len(records)} alert(s) not delivered; kept in {alerts_path}",
              file=sys.stderr)
    else:
        print(f"notify: {len(records)} alert(s) delivered")


def _alerts(args: argparse.Namespace) -> int:
    from obskit.alerts import prometheus_export
    from obskit.alerts.signals import unbacktested
    from obskit.config import load_config
    from obskit.report.notebooks import find_config
    from obskit.session import atomic_write_text

    cfg = load_config(find_config(args.config))
    if args.alerts_command == "check":
        print(f"{len(cfg.alerts)} alert rule(s) OK in {cfg.path}: {', '.join(r.name for r in cfg.alerts)}")
        for line in unbacktested(cfg.alerts):
            print(f"obskit: {line}", file=sys.stderr)
        return EXIT_OK
    export = prometheus_export(list(cfg.alerts), group=args.group, interval=args.interval, mapping=cfg.promql)
    for skipped in export.skipped:
        print(f"obskit: not exported: {skipped['rule']}: {skipped['reason']}", file=sys.stderr)
    if args.output:
        atomic_write_text(args.output, export.yaml)
        print(f"wrote {len(export.exported)} rule(s) to {args.output}")
    else:
        print(export.yaml, end="")
    return EXIT_OK


def _schedule(args: argparse.Namespace) -> int:
    from obskit.errors import ConfigError
    from obskit.report.notebooks import find_config
    from obskit.schedule import crontab_line, install_crontab, systemd_units
    from obskit.timeutil import parse_duration

    try:
        parse_duration(args.last)
    except ValueError as exc:
        raise ConfigError(f"--last: {exc}") from None
    args.config = find_config(args.config)

    if args.systemd:
        for name, text in systemd_units(args.config, args.out, at=args.at, last=args.last).items():
            print(f"# ~/.config/systemd/user/{name}\n{text}")
        print("# then: systemctl --user daemon-reload && systemctl --user enable --now obskit-report.timer")
        return EXIT_OK
    line = crontab_line(args.config, args.out, at=args.at, last=args.last)
    if args.install:
        if not args.yes:
            raise ConfigError("--install changes your crontab: add --yes to consent")
        install_crontab(line)
        print(f"installed: {line}")
        return EXIT_OK
    print(line)
    return EXIT_OK


def _dashboards(args: argparse.Namespace) -> int:
    import json

    from obskit.config import load_config
    from obskit.dashboards import dashboard_json, skipped_panels, write_dashboard
    from obskit.report.notebooks import find_config

    cfg = load_config(find_config(args.config))
    for skipped in skipped_panels(cfg):
        print(f"obskit: no panel: {skipped['panel']}: {skipped['reason']}", file=sys.stderr)
    if args.output:
        data = write_dashboard(cfg, str(args.output), title=args.title, watch=args.watch)
        panels = [p for p in data.get("panels", []) if p.get("type") != "row"]
        print(f"wrote {args.output}: {len(panels)} panel(s) ({len(cfg.panels)} from [[panels]])")
    else:
        print(json.dumps(dashboard_json(cfg, title=args.title, watch=args.watch), indent=2, ensure_ascii=False))
    return EXIT_OK


def _sources(args: argparse.Namespace) -> int:
    from obskit.load.registry import KINDS

    for name in sorted(KINDS):
        print(KINDS[name].describe() + "\n")
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    import logging
    import os
    import signal
    import threading

    from obskit.errors import ConfigError
    from obskit.report.notebooks import find_config
    from obskit.timeutil import parse_duration
    from obskit.watch import Watcher, WatchOptions

    try:
        interval, horizon, grace = (parse_duration(v) for v in (args.interval, args.horizon, args.grace))
    except ValueError as exc:
        raise ConfigError(f"obskit watch: {exc}") from None
    if interval.total_seconds() <= 0:
        raise ConfigError("obskit watch: --interval must be > 0")
    url = "" if args.no_notify else os.environ.get("OBSKIT_ALERT_WEBHOOK", "")
    token = os.environ.get("OBSKIT_ALERT_WEBHOOK_TOKEN")
    options = WatchOptions(interval=interval.total_seconds(), horizon=horizon, grace=grace, state_dir=args.state_dir,
                           webhook=url or None, slack=args.slack, alertmanager=args.alertmanager,
                           headers={"Authorization": f"Bearer {token}"} if token and url else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s obskit watch: %(message)s", stream=sys.stderr)
    watcher = Watcher.open(find_config(args.config), options)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"obskit watch: following {', '.join(t.pattern for _, t, _ in watcher.tails)} every "
          f"{options.interval:g}s; status in {watcher.checkpoint.status_path}"
          + (f"; metrics on http://127.0.0.1:{args.metrics_port}/metrics" if args.metrics_port else ""),
          file=sys.stderr, flush=True)
    return watcher.run(stop=stop, metrics_port=args.metrics_port, once=args.once)


def _check(args: argparse.Namespace) -> int:
    from obskit.check import check_sources, format_checks
    from obskit.report.notebooks import find_config

    checks = check_sources(find_config(args.config))
    print(format_checks(checks, preview=not args.no_preview))
    failed = [c for c in checks if not c.ok]
    if failed or not checks:
        print(f"obskit: {len(failed)} of {len(checks)} source(s) failed: {', '.join(c.name for c in failed)}"
              if checks else "obskit: no source configured", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _notebook(args: argparse.Namespace) -> int:
    from obskit.report.notebooks import available_notebooks, copy_notebook, notebook_parameters, resolve_notebook

    if args.notebook_command == "list":
        for name in available_notebooks():
            params = notebook_parameters(resolve_notebook(name))
            print(f"{name}: {', '.join(f'{k}={v!r}' for k, v in params.items())}")
        return EXIT_OK
    dest = copy_notebook(args.name, args.dest, force=args.force)
    print(f"wrote {dest}; run it with: obskit report --notebook {dest}")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from obskit.errors import ConfigError
    from obskit.schemas import FRAMES

    names = [args.frame] if args.frame else list(FRAMES)
    for name in names:
        if name not in FRAMES:
            raise ConfigError(f"unknown frame {name!r} (known: {', '.join(FRAMES)})")
        f = FRAMES[name]
        print(f"## {f.name}\n\n{f.description}\n\n{f.describe()}\n")
    return EXIT_OK


def _one_line(text: str) -> str:
    """A message on one line, without credentials."""
    from obskit.redact import scrub

    return " ".join(scrub(text).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``obskit`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    handlers = {"sample": _sample, "report": _report, "schema": _schema, "schedule": _schedule, "alerts": _alerts,
                "notebook": _notebook, "check": _check, "dashboards": _dashboards,
                "sources": _sources, "watch": _watch}
    try:
        return handlers[args.command](args)
    except ObskitError as exc:
        if args.debug:
            raise
        print(f"obskit: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_REPORT_FAILED if isinstance(exc, ReportError) else EXIT_BAD_INPUT
    except (OSError, ValueError) as exc:  # a backstop: never a traceback for bad input
        if args.debug:
            raise
        print(f"obskit: error: {_one_line(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("obskit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
