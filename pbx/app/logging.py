"""Logging set-up in Asterisk's shape: levels, line format, logger.conf files.

Levels: DEBUG, VERBOSE (Python's INFO, Asterisk's ``-- ...`` lines), NOTICE (25), WARNING,
ERROR. Lines look like Asterisk's ``full`` log: ``[2026-11-26 16:34:33] NOTICE[1234]
pbx.sip.registrar: Registration from 'alice' failed for '127.0.0.1:5062' - Wrong password``.
Twisted's own log events are forwarded to stdlib logging. ``logger.conf``'s ``[logfiles]``
decides which levels go where: ``console`` is standard error (foreground daemons) and every
other name is a file in ``logdir``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable

from twisted.logger import STDLibLogObserver, globalLogBeginner

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")
logging.addLevelName(logging.INFO, "VERBOSE")

LEVELS = {
    "debug": logging.DEBUG,
    "verbose": logging.INFO,
    "notice": NOTICE,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    # Asterisk's dtmf and security channels are ordinary records here.
    "dtmf": logging.INFO,
    "security": NOTICE,
}


class AsteriskFormatter(logging.Formatter):
    """``[date] LEVEL[pid] logger: message`` with an optional ``[channel]`` tag."""

    def __init__(self, dateformat: str = "%Y-%m-%d %H:%M:%S") -> None:
        super().__init__()
        self.dateformat = dateformat
        self.pid = os.getpid()

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime(self.dateformat, time.localtime(record.created))
        channel = getattr(record, "channel", None)
        tag = f"[{channel}]" if channel else ""
        text = f"[{stamp}] {record.levelname}[{self.pid}]{tag} {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class LevelSetFilter(logging.Filter):
    """Pass exactly the levels a logger.conf line lists (``notice,warning,error``)."""

    def __init__(self, levels: Iterable[int]) -> None:
        super().__init__()
        self.levels = frozenset(levels)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno in self.levels or (
            record.levelno > logging.ERROR and logging.ERROR in self.levels
        )


def parse_levels(spec: str) -> set[int]:
    """``notice,warning,error`` or ``*`` -> set of level numbers; unknown names are skipped."""
    names = [p.strip().lower() for p in spec.split(",") if p.strip()]
    if "*" in names:
        return set(LEVELS.values())
    return {LEVELS[n] for n in names if n in LEVELS}


_installed: list[logging.Handler] = []
_twisted_started = False
_base_level = logging.INFO
_streaming = False


def set_streaming(on: bool) -> None:
    """A remote console (``pbx -r``) started or stopped streaming log lines: it shows VERBOSE
    lines too, so the root logger must let them through while one listens."""
    global _streaming
    _streaming = on
    level = min(_base_level, logging.INFO) if on else _base_level
    logging.getLogger().setLevel(level)


def configure(
    logfiles: dict[str, str],
    logdir: str | None,
    foreground: bool,
    verbose: int = 0,
    extra: Iterable[logging.Handler] = (),
    dateformat: str = "%Y-%m-%d %H:%M:%S",
) -> None:
    """(Re)install handlers; ``logger reload`` calls this again with the new settings.

    :param logfiles: logger.conf ``[logfiles]``: name -> level list.
    :param verbose: ``-v`` count; any value adds VERBOSE to the console, as Asterisk's ``-v``.
    """
    global _twisted_started
    root = logging.getLogger()
    for old in _installed:
        root.removeHandler(old)
        old.close()
    _installed.clear()
    formatter = AsteriskFormatter(dateformat)
    for name, spec in logfiles.items():
        levels = parse_levels(spec)
        handler: logging.Handler
        if name == "console":
            if not foreground:
                continue
            if verbose:
                levels.add(logging.INFO)
            handler = logging.StreamHandler(sys.stderr)
        else:
            if logdir is None:
                continue
            os.makedirs(logdir, exist_ok=True)
            handler = logging.FileHandler(os.path.join(logdir, name), encoding="utf-8")
        handler.addFilter(LevelSetFilter(levels))
        handler.setFormatter(formatter)
        _installed.append(handler)
    for extra_handler in extra:
        extra_handler.setFormatter(formatter)
        _installed.append(extra_handler)
    for installed in _installed:
        root.addHandler(installed)
    # Records nobody writes are not even built: the root level is the lowest level any
    # handler takes (remote consoles that stream logs lower it while they listen).
    global _base_level
    wanted = [
        min(parse_levels(spec) or {logging.ERROR})
        for name, spec in logfiles.items()
        if name != "console" or foreground
    ]
    if foreground and verbose:
        wanted.append(logging.INFO)
    _base_level = min(wanted, default=logging.WARNING)
    set_streaming(_streaming)
    # Twisted's own chatter ("Starting factory ...") is not what an Asterisk admin reads.
    logging.getLogger("twisted").setLevel(logging.WARNING)
    if not _twisted_started:
        globalLogBeginner.beginLoggingTo([STDLibLogObserver()], redirectStandardIO=False)
        _twisted_started = True
