"""http.conf -> :class:`HttpSettings` (Asterisk ``main/http.c``, ASTERISK-REFERENCE §2.1).

The HTTP server carries SIP over WebSocket at ``<prefix>/ws`` (and optional static files).
As in Asterisk, ``enabled=yes`` without ``bindaddr`` is an error (Asterisk does not start the
server then); ``tlsbindaddr`` defaults to ``bindaddr`` with port 8089, and a ``tlsbindaddr``
without a port gets 8089. ``[/path]`` sections with ``type=restriction`` (per-path ACLs) are
recognised and reported as unsupported. Unknown options are errors with a suggestion.

pbx extension: ``staticdir`` (the folder served at ``/static/``, default ``static`` in the
config dir). The old ``ssl*`` names of the TLS options are accepted with a deprecation warning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pbx import __version__
from pbx.config import parsers as p
from pbx.config.lexer import Reader, read_file
from pbx.config.model import ConfigFile
from pbx.config.parsers import ParseContext, ValueType
from pbx.config.schema import (
    AnyOption,
    Diagnostics,
    Loaded,
    Option,
    OptionTable,
    Values,
    finish,
    parse_sections,
    read_optional_config,
    sections_named,
    unsupported,
)
from pbx.core.addr import Address

DEFAULT_TLS_PORT = 8089


@dataclass(frozen=True)
class HttpSettings:
    """The HTTP/WebSocket server.

    :param bindaddr: the plain listener, port included (``None`` when not configured; required
        if enabled). ``bindport`` is the port used when ``bindaddr`` has none.
    :param prefix: ``""`` or ``/name``: every URI lives under it (``/asterisk/ws``).
    :param servername: the ``Server:`` header; empty means none is sent.
    :param redirects: ``(from, to)`` paths answered with ``302``.
    """

    enabled: bool
    bindaddr: Address | None
    bindport: int
    prefix: str
    tlsenable: bool
    tlsbindaddr: Address | None
    tlscertfile: str
    tlsprivatekey: str
    tlscipher: str
    enablestatic: bool
    staticdir: str
    redirects: tuple[tuple[str, str], ...]
    servername: str
    sessionlimit: int
    session_inactivity: int
    session_keep_alive: int
    enable_status: bool


def _parse_redirect(text: str, ctx: ParseContext) -> tuple[str, str]:
    parts = text.split()
    if len(parts) != 2 or not parts[0].startswith("/"):
        raise ValueError("expected '/from /to'")
    return parts[0], parts[1]


REDIRECT_VALUE: ValueType[tuple[str, str]] = ValueType("text", "/from /to", _parse_redirect)

ENABLED = Option("enabled", p.BOOL, False, "Start the HTTP server (needed for SIP over WebSocket).")
BINDADDR = Option(
    "bindaddr",
    p.address(0, ip_only=True),
    None,
    "Listen address; required when enabled (Asterisk has no default either).",
)
BINDPORT = Option("bindport", p.integer(1, 65535), 8088, "HTTP port (unless bindaddr has one).")
PREFIX = Option(
    "prefix", p.TEXT, "", "Path prefix of every URI: prefix=asterisk serves /asterisk/ws."
)
TLSENABLE = Option(
    "tlsenable", p.BOOL, False, "HTTPS/WSS listener.", deprecated_aliases=("sslenable",)
)
TLSBINDADDR = Option(
    "tlsbindaddr",
    p.address(DEFAULT_TLS_PORT, ip_only=True),
    None,
    "HTTPS listen address[:port] (default: bindaddr, port 8089).",
    deprecated_aliases=("sslbindaddr",),
)
TLSCERTFILE = Option(
    "tlscertfile",
    p.PATH,
    "asterisk.pem",
    "PEM certificate, may also hold the key (relative to the config dir). When not set and "
    "the default file is absent, pbx uses a certificate from its local CA.",
    deprecated_aliases=("sslcert",),
)
TLSPRIVATEKEY = Option(
    "tlsprivatekey", p.PATH, None, "PEM private key (default: inside tlscertfile)."
)
TLSCIPHER = Option(
    "tlscipher", p.TEXT, "", "OpenSSL cipher list.", deprecated_aliases=("sslcipher",)
)
ENABLESTATIC = Option(
    "enablestatic",
    p.BOOL,
    False,
    "Serve files from staticdir at /static/.",
    aliases=("enable_static",),
)
STATICDIR = Option(
    "staticdir",
    p.PATH,
    "static",
    "pbx extension: folder served at /static/ (relative to the config dir).",
)
REDIRECT = Option(
    "redirect", REDIRECT_VALUE, None, "'/from /to': answer 302 with Location /to.", multi=True
)
SERVERNAME = Option("servername", p.TEXT, f"pbx/{__version__}", "Server: header; empty sends none.")
SESSIONLIMIT = Option(
    "sessionlimit",
    p.integer(1),
    100,
    "Concurrent HTTP sessions; an upgraded WebSocket keeps its slot for its whole life.",
)
SESSION_INACTIVITY = Option(
    "session_inactivity", p.integer(1, unit="ms"), 30000, "Milliseconds to wait for request data."
)
SESSION_KEEP_ALIVE = Option(
    "session_keep_alive",
    p.integer(0, unit="ms"),
    15000,
    "Milliseconds to wait for the next request on a connection; 0 disables keep-alive.",
)
ENABLE_STATUS = Option("enable_status", p.BOOL, False, "Serve the /httpstatus page.")

HTTP_OPTIONS = OptionTable(
    "http.conf: [general]",
    (
        ENABLED,
        BINDADDR,
        BINDPORT,
        PREFIX,
        TLSENABLE,
        TLSBINDADDR,
        TLSCERTFILE,
        TLSPRIVATEKEY,
        TLSCIPHER,
        ENABLESTATIC,
        STATICDIR,
        REDIRECT,
        SERVERNAME,
        SESSIONLIMIT,
        SESSION_INACTIVITY,
        SESSION_KEEP_ALIVE,
        ENABLE_STATUS,
        unsupported("tlsdisablev1", "Refuse TLSv1.0."),
        unsupported("tlsdisablev11", "Refuse TLSv1.1."),
        unsupported("tlsdisablev12", "Refuse TLSv1.2."),
        unsupported("tlsservercipherorder", "Prefer the server's cipher order."),
    ),
)


def load_http_conf(
    config_dir: str, name: str = "http.conf", reader: Reader = read_file
) -> Loaded[HttpSettings]:
    """Read http.conf; a missing file means the defaults (server disabled).

    :raises ConfigErrors: with every error found.
    """
    config_dir = os.path.abspath(config_dir)
    diag = Diagnostics()
    cfg = read_optional_config(config_dir, name, diag, reader)
    return finish(diag, cfg.files, parse_http_conf(cfg, config_dir, diag))


def parse_http_conf(cfg: ConfigFile, config_dir: str, diag: Diagnostics) -> HttpSettings:
    """Build :class:`HttpSettings`; every problem goes to ``diag``."""
    values = parse_sections(sections_named(cfg, "general"), HTTP_OPTIONS, diag, config_dir)
    for section in cfg.sections():
        if section.name.lower() == "general":
            continue
        if section.name.startswith("/"):
            message = "per-path restrictions (type=restriction) are not supported by pbx; ignored"
        else:
            message = "section is not used by pbx; ignored"
        diag.warn(section.path, section.line, message, section.name)
    return _settings(values, config_dir, diag)


def _settings(values: Values, config_dir: str, diag: Diagnostics) -> HttpSettings:
    enabled = values.get(ENABLED)
    bindaddr = values.get(BINDADDR)
    if bindaddr is not None and bindaddr.port == 0:
        bindaddr = Address(bindaddr.host, values.get(BINDPORT))
    enabled_item = values.item(ENABLED)
    if enabled and bindaddr is None:
        assert enabled_item is not None
        diag.error_at(
            enabled_item,
            "enabled=yes needs bindaddr (Asterisk does not start the HTTP server without it)",
        )
    tlsenable = values.get(TLSENABLE)
    tlsbindaddr = values.get(TLSBINDADDR)
    if tlsbindaddr is None and bindaddr is not None:
        tlsbindaddr = Address(bindaddr.host, DEFAULT_TLS_PORT)
    tlscertfile = _path(values, TLSCERTFILE, config_dir)
    tlsprivatekey = values.get(TLSPRIVATEKEY) or tlscertfile
    if enabled and tlsenable:
        tls_item = values.item(TLSENABLE)
        assert tls_item is not None
        if tlsbindaddr is None:
            diag.error_at(tls_item, "tlsenable=yes needs tlsbindaddr or bindaddr")
        # TLS with zero effort: when tlscertfile is not set and the default file is absent,
        # pbx serves a certificate from its own local CA (pbx.adapters.local_ca). A file the
        # admin names must exist.
        checks: list[tuple[AnyOption, str]] = []
        if values.explicit(TLSCERTFILE):
            checks.append((TLSCERTFILE, tlscertfile))
        if values.explicit(TLSPRIVATEKEY) and tlsprivatekey != tlscertfile:
            checks.append((TLSPRIVATEKEY, tlsprivatekey))
        for option, path in checks:
            problem = p.file_problem(path)
            if problem is not None:
                item = values.item(option) or tls_item
                diag.error_at(item, f"cannot read {option.name} '{path}': {problem}")
    prefix = values.get(PREFIX).strip().strip("/")
    redirect_lines: list[tuple[str, str]] = [e.value for e in values.entries(REDIRECT)]
    return HttpSettings(
        enabled=enabled,
        bindaddr=bindaddr,
        bindport=values.get(BINDPORT),
        prefix=f"/{prefix}" if prefix else "",
        tlsenable=tlsenable,
        tlsbindaddr=tlsbindaddr,
        tlscertfile=tlscertfile,
        tlsprivatekey=tlsprivatekey,
        tlscipher=values.get(TLSCIPHER),
        enablestatic=values.get(ENABLESTATIC),
        staticdir=_path(values, STATICDIR, config_dir),
        redirects=tuple(redirect_lines),
        servername=values.get(SERVERNAME).strip(),
        sessionlimit=values.get(SESSIONLIMIT),
        session_inactivity=values.get(SESSION_INACTIVITY),
        session_keep_alive=values.get(SESSION_KEEP_ALIVE),
        enable_status=values.get(ENABLE_STATUS),
    )


def _path(values: Values, option: Option[str], config_dir: str) -> str:
    """A path option; its default is relative to the config dir (set ones are resolved)."""
    return (
        values.get(option) if values.explicit(option) else os.path.join(config_dir, option.default)
    )
