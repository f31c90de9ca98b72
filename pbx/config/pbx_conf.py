"""pbx.conf -> :class:`PbxSettings`: pbx's asterisk.conf (directories and process options).

``[directories]``: ``rundir`` (control socket, pid file), ``dbdir`` (astdb, registrations) and
``logdir`` (log files, CDRs) and ``sounds`` (prompts);
Asterisk's names ``astrundir``, ``astdbdir`` and ``astlogdir`` are
accepted too. Relative paths resolve against the configuration directory. Without pbx.conf, or
for a directory it does not set, the defaults are ``/var/run/pbx``, ``/var/lib/pbx`` and
``/var/log/pbx``.

``[options]``: ``verbose`` and ``debug`` (levels, as ``-v``/``-d``), ``maxcalls`` (0 = no limit)
and ``systemname`` (the sip.conf realm when ``realm`` is not set, as in Asterisk).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pbx.config import parsers as p
from pbx.config.lexer import Reader, read_file
from pbx.config.model import ConfigFile
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

DEFAULT_RUNDIR = "/var/run/pbx"
DEFAULT_DBDIR = "/var/lib/pbx"
DEFAULT_LOGDIR = "/var/log/pbx"
DEFAULT_SOUNDS = "/var/lib/pbx/sounds"


@dataclass(frozen=True)
class PbxSettings:
    """Absolute directories and process options (the defaults are those without pbx.conf)."""

    rundir: str = DEFAULT_RUNDIR
    dbdir: str = DEFAULT_DBDIR
    logdir: str = DEFAULT_LOGDIR
    sounds: str = DEFAULT_SOUNDS
    verbose: int = 0
    debug: int = 0
    maxcalls: int = 0
    systemname: str = ""


RUNDIR = Option(
    "rundir", p.PATH, DEFAULT_RUNDIR, "Control socket and pid file.", aliases=("astrundir",)
)
DBDIR = Option(
    "dbdir", p.PATH, DEFAULT_DBDIR, "astdb (registrations survive restarts).", aliases=("astdbdir",)
)
LOGDIR = Option("logdir", p.PATH, DEFAULT_LOGDIR, "Log files and CDRs.", aliases=("astlogdir",))
SOUNDS = Option(
    "sounds",
    p.PATH,
    DEFAULT_SOUNDS,
    "Prompts for Playback/Background/Read (name.wav, .ulaw, .alaw, .sln); pbx's bundled prompts "
    "are searched after it.",
)

DIRECTORY_OPTIONS = OptionTable(
    "pbx.conf: [directories]",
    (
        RUNDIR,
        DBDIR,
        LOGDIR,
        SOUNDS,
        *(
            unsupported(name, "Asterisk directory pbx does not use.")
            for name in (
                "astetcdir",
                "astmoddir",
                "astvarlibdir",
                "astdatadir",
                "astagidir",
                "astspooldir",
                "astkeydir",
                "astsbindir",
            )
        ),
    ),
)

VERBOSE = Option("verbose", p.integer(0), 0, "Verbosity, as -v.")
DEBUG = Option("debug", p.integer(0), 0, "Debug level, as -d.")
MAXCALLS = Option("maxcalls", p.integer(0), 0, "Most simultaneous calls; 0 = no limit.")
SYSTEMNAME = Option(
    "systemname", p.TEXT, "", "Name of this system; the SIP realm when sip.conf sets none."
)

OPTIONS_OPTIONS = OptionTable("pbx.conf: [options]", (VERBOSE, DEBUG, MAXCALLS, SYSTEMNAME))


def load_pbx_conf(
    config_dir: str, name: str = "pbx.conf", reader: Reader = read_file
) -> Loaded[PbxSettings]:
    """Read pbx.conf; a missing file means the defaults.

    :raises ConfigErrors: with every error found.
    """
    config_dir = os.path.abspath(config_dir)
    diag = Diagnostics()
    cfg = read_optional_config(config_dir, name, diag, reader)
    return finish(diag, cfg.files, parse_pbx_conf(cfg, config_dir, diag))


def parse_pbx_conf(cfg: ConfigFile, config_dir: str, diag: Diagnostics) -> PbxSettings:
    """Build :class:`PbxSettings`; every problem goes to ``diag``."""
    directories = parse_sections(
        sections_named(cfg, "directories"), DIRECTORY_OPTIONS, diag, config_dir
    )
    options = parse_sections(sections_named(cfg, "options"), OPTIONS_OPTIONS, diag, config_dir)
    for section in cfg.sections():
        if section.name.lower() not in ("directories", "options"):
            diag.warn(
                section.path, section.line, "section is not used by pbx; ignored", section.name
            )
    return PbxSettings(
        rundir=directories.get(RUNDIR),
        dbdir=directories.get(DBDIR),
        logdir=directories.get(LOGDIR),
        sounds=directories.get(SOUNDS),
        verbose=options.get(VERBOSE),
        debug=options.get(DEBUG),
        maxcalls=options.get(MAXCALLS),
        systemname=options.get(SYSTEMNAME).strip(),
    )
