"""logger.conf -> :class:`LoggerSettings` (Asterisk ``main/logger.c``).

``[general]`` ``dateformat`` (strftime) and ``[logfiles]`` lines ``name => levels``:

* ``levels`` is a comma list of ``debug``, ``notice``, ``warning``, ``error``, ``verbose``,
  ``dtmf``, ``security`` or ``*`` (everything); ``fax`` and ``trace`` exist in Asterisk but not in
  pbx and are ignored with a warning; anything else is an error with a suggestion;
* ``console`` is the terminal of a foreground pbx; any other name is a file in the log directory
  (or an absolute path); ``syslog.<facility>`` channels are not supported.

Without logger.conf, pbx logs what Asterisk does without one: errors, warnings, notices and
verbose messages to the console.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from pbx.config import parsers as p
from pbx.config.lexer import Reader, read_file
from pbx.config.model import ConfigFile, Item
from pbx.config.schema import (
    Diagnostics,
    Loaded,
    Option,
    OptionTable,
    finish,
    parse_sections,
    read_optional_config,
    sections_named,
    unsupported,
)

LEVELS = ("debug", "notice", "warning", "error", "verbose", "dtmf", "security")
IGNORED_LEVELS = ("fax", "trace")
DEFAULT_DATEFORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class LogChannel:
    """One ``[logfiles]`` line: ``path`` is ``None`` for the console."""

    name: str
    levels: tuple[str, ...]
    path: str | None


DEFAULT_CHANNELS = (LogChannel("console", ("error", "warning", "notice", "verbose"), None),)


@dataclass(frozen=True)
class LoggerSettings:
    """``dateformat`` for timestamps and the ``[logfiles]`` channels in file order."""

    dateformat: str
    channels: tuple[LogChannel, ...]

    @property
    def logfiles(self) -> dict[str, str]:
        """``name -> "level,level"``, the shape :func:`pbx.app.logging.configure` takes."""
        return {c.name: ",".join(c.levels) for c in self.channels}


DATEFORMAT = Option(
    "dateformat",
    p.TEXT,
    DEFAULT_DATEFORMAT,
    "strftime format of log timestamps (Asterisk's compiled default is %b %e %T).",
)

GENERAL_OPTIONS = OptionTable(
    "logger.conf: [general] ([logfiles] holds 'name => levels' lines)",
    (
        DATEFORMAT,
        unsupported("appendhostname", "Add the host name to log file names."),
        unsupported("queue_log", "Write the queue log."),
        unsupported("queue_log_to_file", "Queue log to a file as well."),
        unsupported("queue_log_name", "Queue log file name."),
        unsupported("queue_adaptive_realtime", "Queue log realtime columns."),
        unsupported("rotatestrategy", "How log files are rotated."),
        unsupported("exec_after_rotate", "Command run after rotation."),
        unsupported("use_callids", "Call ids in log lines."),
        unsupported("logger_queue_limit", "Log message queue size."),
    ),
)


def load_logger_conf(
    config_dir: str, logdir: str, name: str = "logger.conf", reader: Reader = read_file
) -> Loaded[LoggerSettings]:
    """Read logger.conf; a missing file means the defaults.

    :param logdir: pbx.conf's log directory, where relative file names live.
    :raises ConfigErrors: with every error found.
    """
    config_dir = os.path.abspath(config_dir)
    diag = Diagnostics()
    cfg = read_optional_config(config_dir, name, diag, reader)
    return finish(diag, cfg.files, parse_logger_conf(cfg, config_dir, logdir, diag))


def parse_logger_conf(
    cfg: ConfigFile, config_dir: str, logdir: str, diag: Diagnostics
) -> LoggerSettings:
    """Build :class:`LoggerSettings`; every problem goes to ``diag``."""
    general = parse_sections(sections_named(cfg, "general"), GENERAL_OPTIONS, diag, config_dir)
    logfiles = sections_named(cfg, "logfiles")
    for section in cfg.sections():
        if section.name.lower() not in ("general", "logfiles"):
            diag.warn(
                section.path, section.line, "section is not used by pbx; ignored", section.name
            )
    if not cfg.files:
        return LoggerSettings(general.get(DATEFORMAT), DEFAULT_CHANNELS)
    if not logfiles:
        diag.warn(cfg.path, None, "no [logfiles] section: nothing is logged")
    channels: dict[str, LogChannel] = {}
    for section in logfiles:
        for item in section.items:
            channel = _channel(item, logdir, diag)
            if channel is None:
                continue
            if channel.name in channels:
                diag.warn_at(item, f"log channel '{channel.name}' defined again; this line wins")
            channels[channel.name] = channel
    return LoggerSettings(general.get(DATEFORMAT), tuple(channels.values()))


def _channel(item: Item, logdir: str, diag: Diagnostics) -> LogChannel | None:
    name = item.key.strip()
    if name.lower().startswith("syslog"):
        diag.warn_at(item, f"log channel '{name}': syslog is not supported by pbx; ignored")
        return None
    levels: list[str] = []
    ok = True
    for word in item.value.split(","):
        level = word.strip().lower()
        if not level:
            continue
        if level == "*" or level in LEVELS:
            if level not in levels:
                levels.append(level)
        elif level in IGNORED_LEVELS:
            diag.warn_at(item, f"log channel '{name}': level '{level}' is not used by pbx")
        else:
            matches = difflib.get_close_matches(level, LEVELS, n=1, cutoff=0.6)
            hint = f" (did you mean '{matches[0]}'?)" if matches else ""
            diag.error_at(item, f"log channel '{name}': unknown level '{level}'{hint}")
            ok = False
    if not ok:
        return None
    if name == "console":
        return LogChannel(name, tuple(levels), None)
    return LogChannel(name, tuple(levels), p.resolve_path(logdir, name))
