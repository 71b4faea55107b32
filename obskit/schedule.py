"""Nightly runs: a crontab line or a systemd user timer for ``obskit report``.

:func:`crontab_line` and :func:`systemd_units` only build text; :func:`install_crontab`
changes the user's crontab and is called by the CLI only with explicit consent (``--yes``).
Paths are quoted with :func:`shlex.quote`, so a config path with spaces or shell
characters cannot become a command. Quoting does not stop a newline (a new crontab line, a
new systemd directive) nor cron's ``%`` (the rest of the line becomes stdin) nor systemd's
``%`` specifiers and ``$`` expansion: such values are refused.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from obskit.errors import ConfigError

__all__ = ["crontab_line", "install_crontab", "report_command", "systemd_units"]

_MARK = "# obskit nightly report"


def _at(at: str) -> tuple[int, int]:
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at.strip())
    if not m:
        raise ConfigError(f"--at expects HH:MM (24h), got {at!r}")
    return int(m.group(1)), int(m.group(2))


_UNSAFE = re.compile(r"[\x00-\x1f\x7f%$]")


def _safe(what: str, value: str) -> str:
    """``value`` without control characters (newlines), ``%`` (cron, systemd) or ``$`` (systemd)."""
    if _UNSAFE.search(value):
        raise ConfigError(f"{what}: {value!r} holds a control character, '%' or '$', which a crontab line "
                          "or a systemd unit cannot carry safely")
    return value


def report_command(config: Path, out: Path, *, last: str = "24h", fail_on_alert: bool = False) -> str:
    """The shell command a scheduler runs (absolute paths, quoted).

    >>> report_command(Path("/srv/my cfg.toml"), Path("/srv/reports")).split()[-4:]
    ["'/srv/my", "cfg.toml'", '--out', '/srv/reports']
    """
    _safe("--config", str(config))
    _safe("--out", str(out))
    _safe("--last", last)
    exe = _safe("the obskit executable", shutil.which("obskit") or f"{sys.executable} -m obskit.cli")
    parts = [exe, "report", "--last", shlex.quote(last), "--config", shlex.quote(str(config)),
             "--out", shlex.quote(str(out))]
    if fail_on_alert:
        parts.append("--fail-on-alert")
    return " ".join(parts)


def crontab_line(config: Path, out: Path, *, at: str = "06:00", last: str = "24h", log: Path | None = None) -> str:
    """A crontab entry running the report daily at ``at`` (server local time).

    >>> crontab_line(Path("/c.toml"), Path("/r"), at="6:30").split()[:5]
    ['30', '6', '*', '*', '*']
    """
    hour, minute = _at(at)
    logfile = (log or (out / "obskit-cron.log")).resolve()
    cmd = report_command(config.resolve(), out.resolve(), last=last)
    return f"{minute} {hour} * * * {cmd} >> {shlex.quote(_safe('log', str(logfile)))} 2>&1 {_MARK}"


def systemd_units(config: Path, out: Path, *, at: str = "06:00", last: str = "24h") -> dict[str, str]:
    """``obskit-report.service`` and ``obskit-report.timer`` (user units) as text."""
    hour, minute = _at(at)
    cmd = report_command(config.resolve(), out.resolve(), last=last)
    service = (
        "[Unit]\nDescription=obskit nightly model health report\n\n"
        f"[Service]\nType=oneshot\nExecStart={cmd}\n"
    )
    timer = (
        "[Unit]\nDescription=Run the obskit report daily\n\n"
        f"[Timer]\nOnCalendar=*-*-* {hour:02d}:{minute:02d}:00\nPersistent=true\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )
    return {"obskit-report.service": service, "obskit-report.timer": timer}


def install_crontab(line: str) -> None:
    """Add ``line`` to the user's crontab, replacing an earlier obskit entry."""
    if shutil.which("crontab") is None:
        raise ConfigError("crontab is not installed on this machine; use --systemd or add the line by hand")
    current = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    lines = [ln for ln in current.stdout.splitlines() if _MARK not in ln] if current.returncode == 0 else []
    lines.append(line)
    subprocess.run(["crontab", "-"], input="\n".join(lines) + "\n", text=True, check=True)
