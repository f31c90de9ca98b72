"""Console commands of the daemon (Asterisk's CLI names and output shapes, ASTERISK-REFERENCE §4.2).

Each handler reads state from the :class:`~pbx.app.service.Pbx` and formats it through the pure
views in :mod:`pbx.call.sip_show`; commands that change state (reloads, debug, stop) live here
too because they orchestrate several parts.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
from typing import TYPE_CHECKING

from twisted.internet import defer

from pbx import __version__
from pbx.adapters.http import http_status
from pbx.app.console import CommandError
from pbx.app.service import format_duration
from pbx.call import channel_show, sip_show
from pbx.config.logger_conf import parse_logger_conf
from pbx.config.schema import Diagnostics, read_optional_config
from pbx.config.sip_conf import load_sip_conf
from pbx.core import causes
from pbx.core.addr import parse_hostport, unbracket
from pbx.core.errors import ConfigErrors
from pbx.dialplan.show import show_applications, show_dialplan, show_functions

if TYPE_CHECKING:
    from pbx.app.service import Pbx

log = logging.getLogger(__name__)


def register_commands(pbx: Pbx) -> None:
    c = pbx.commands
    c.add("core show version", lambda a: _version(), "Display version info")
    c.add(
        "core show uptime",
        lambda a: _uptime(pbx, a),
        "Show uptime information",
        "Usage: core show uptime [seconds]",
    )
    c.add("core waitfullybooted", lambda a: _wait_booted(pbx), "Wait for pbx to be fully booted")
    c.add("core stop now", lambda a: _stop(pbx, graceful=False), "Shut down pbx immediately")
    c.add(
        "core stop gracefully",
        lambda a: _stop(pbx, graceful=True),
        "Gracefully shut down pbx (no new calls, wait for active ones)",
    )
    c.add(
        "sip show peers",
        lambda a: _peers(pbx, a),
        "List defined SIP peers",
        "Usage: sip show peers [like <pattern>]",
    )
    c.add(
        "sip show peer",
        lambda a: _peer(pbx, a),
        "Show details on specific SIP peer",
        "Usage: sip show peer <name>",
    )
    c.add(
        "sip show registry",
        lambda a: sip_show.show_registry(pbx.peers, pbx.reactor.seconds(), pbx.registrations),
        "List SIP registrations (outbound, then bindings per peer)",
    )
    c.add("sip show settings", lambda a: _settings(pbx), "Show SIP global settings")
    c.add(
        "sip set debug",
        lambda a: _debug(pbx, a),
        "Enable/Disable SIP debugging",
        "Usage: sip set debug {on|off|ip <host[:port]>|peer <peername>}",
    )
    c.add("http show status", lambda a: _http_status(pbx), "Display HTTP server status")
    c.add("sip reload", lambda a: _sip_reload(pbx), "Reload SIP configuration")
    c.add("logger reload", lambda a: _logger_reload(pbx), "Reopen log files, re-read logger.conf")
    c.add(
        "core show channels",
        lambda a: _channels(pbx, a),
        "Display information on channels",
        "Usage: core show channels [concise|verbose|count]",
    )
    c.add(
        "core show calls",
        lambda a: channel_show.show_calls(pbx.calls.channels, pbx.calls.calls_processed),
        "Display information on calls",
    )
    c.add(
        "channel request hangup",
        lambda a: _hangup(pbx, a),
        "Request a hangup on a given channel",
        "Usage: channel request hangup <channel>|<all>",
    )
    c.add(
        "sip show channels",
        lambda a: channel_show.show_sip_channels(pbx.calls.channels),
        "List active SIP channels",
    )
    c.add(
        "sip show channelstats",
        lambda a: channel_show.show_channelstats(pbx.calls.channels, pbx.reactor.seconds()),
        "List statistics for active SIP channels",
    )
    c.add(
        "dialplan show",
        lambda a: show_dialplan(pbx.calls.dialplan, a[0] if a else None),
        "Show dialplan",
        "Usage: dialplan show [[exten@]context]",
    )
    c.add(
        "dialplan reload",
        lambda a: _dialplan_reload(pbx),
        "Reload extensions and *only* extensions",
    )
    c.add(
        "core show applications",
        lambda a: show_applications(pbx.calls.engine.services.applications, _like(a)),
        "Shows registered dialplan applications",
        "Usage: core show applications [like <text>]",
    )
    c.add(
        "core show functions",
        lambda a: show_functions(pbx.calls.engine.services.functions, _like(a)),
        "Shows registered dialplan functions",
        "Usage: core show functions [like <text>]",
    )
    c.add(
        "database show",
        lambda a: _db_show(pbx, a),
        "Show database entries",
        "Usage: database show [family]",
    )
    c.add(
        "database get",
        lambda a: _db_get(pbx, a),
        "Get database value",
        "Usage: database get <family> <key>",
    )
    c.add(
        "database put",
        lambda a: _db_put(pbx, a),
        "Add/update a value in the database",
        "Usage: database put <family> <key> <value>",
    )
    c.add(
        "database del",
        lambda a: _db_del(pbx, a),
        "Remove a database value",
        "Usage: database del <family> <key>",
    )


def _version() -> str:
    return (
        f"pbx {__version__} built by {os.environ.get('USER', 'root')} @ {socket.gethostname()} "
        f"on a {platform.machine()} running {platform.system()} "
        f"on python {platform.python_version()}"
    )


def _uptime(pbx: Pbx, args: list[str]) -> str:
    up = pbx.uptime()
    since = pbx.reactor.seconds() - pbx.stats.last_reload if pbx.stats.last_reload else up
    if args[:1] == ["seconds"]:
        return f"System uptime: {int(up)}\nLast reload: {int(since)}"
    return f"System uptime: {format_duration(up)}\nLast reload: {format_duration(since)}"


def _wait_booted(pbx: Pbx) -> defer.Deferred[str]:
    if pbx.booted:
        return defer.succeed("pbx has fully booted.")
    d: defer.Deferred[str] = defer.Deferred()
    pbx.fully_booted.addCallback(lambda _: d.callback("pbx has fully booted."))
    return d


def _stop(pbx: Pbx, graceful: bool) -> str:
    how = "gracefully" if graceful else "now"
    log.log(25, "Shutdown requested %s from the console", how)
    pbx.reactor.callLater(0.05, pbx.request_shutdown, graceful)
    return f"Shutting down pbx {how}."


def _peers(pbx: Pbx, args: list[str]) -> str:
    text = sip_show.show_peers(pbx.peers, pbx.qualifier, pbx.reactor.seconds())
    if len(args) == 2 and args[0] == "like":
        import re

        try:
            pattern = re.compile(args[1])
        except re.error as e:
            raise CommandError(f"Invalid pattern: {e}") from e
        lines = text.splitlines()
        body = [ln for ln in lines[1:-1] if pattern.search(ln.split(" ", 1)[0])]
        text = "\n".join([lines[0], *body, lines[-1]]) + "\n"
    elif args:
        raise CommandError("Usage: sip show peers [like <pattern>]")
    return text


def _peer(pbx: Pbx, args: list[str]) -> str:
    if len(args) != 1:
        raise CommandError("Usage: sip show peer <name>")
    return sip_show.show_peer(pbx.peers, pbx.qualifier, args[0], pbx.reactor.seconds())


def _settings(pbx: Pbx) -> str:
    hub = pbx.hub
    extra = [
        ("Listeners", "; ".join(pbx.stats.listeners)),
        ("Open SIP connections", str(hub.connection_count)),
        ("Live transactions", str(len(pbx.layer))),
        ("Rejected malformed", str(hub.rejected)),
        ("Dropped malformed", str(hub.dropped)),
    ]
    return sip_show.show_settings(pbx.peers, extra)


def _debug(pbx: Pbx, args: list[str]) -> str:
    debug = pbx.hub.debug
    if args == ["on"]:
        debug.all = True
        return "SIP Debugging enabled"
    if args == ["off"]:
        debug.all = False
        debug.hosts.clear()
        return "SIP Debugging Disabled"
    if len(args) == 2 and args[0] == "ip":
        try:
            target = parse_hostport(args[1], 0)
        except ValueError as exc:
            raise CommandError(f"Invalid address '{args[1]}'") from exc
        # chan_sip keeps one debug address: the new one replaces what was set before.
        debug.hosts = {unbracket(target.host): target.port or None}
        return f"SIP Debugging Enabled for IP: {args[1]}"
    if len(args) == 2 and args[0] == "peer":
        peer = pbx.peers.get(args[1])
        if peer is None:
            raise CommandError(f"No such peer '{args[1]}'")
        hosts = {b.source.host for b in pbx.location.lookup(peer.name)}
        if peer.host and not peer.dynamic:
            hosts.add(peer.host)
        if not hosts:
            raise CommandError(f"Unable to get IP address of peer '{args[1]}'")
        debug.hosts = dict.fromkeys(hosts)
        return f"SIP Debugging Enabled for IP: {', '.join(sorted(hosts))}"
    raise CommandError("Usage: sip set debug {on|off|ip <host[:port]>|peer <peername>}")


def _http_status(pbx: Pbx) -> str:
    if pbx.http is None:
        return "HTTP Server Status:\nServer Disabled\n"
    return http_status(pbx.http)


def _sip_reload(pbx: Pbx) -> str:
    try:
        loaded = load_sip_conf(pbx.settings.config_dir, systemname=pbx.settings.pbx.systemname)
    except ConfigErrors as e:
        lines = [str(err) for err in e.errors]
        log.error("sip reload failed; keeping the running configuration:\n%s", "\n".join(lines))
        return "\n".join(lines) + "\nsip.conf has errors: no changes were applied."
    for warning in loaded.warnings:
        log.warning("%s", warning)
    pbx.reload_sip(loaded.value)
    warnings = "".join(f"{w}\n" for w in loaded.warnings)
    return f"{warnings}Reloaded sip.conf: {len(loaded.value.peers)} peers."


def _logger_reload(pbx: Pbx) -> str:
    diag = Diagnostics()
    cfg = read_optional_config(pbx.settings.config_dir, "logger.conf", diag)
    settings = parse_logger_conf(cfg, pbx.settings.config_dir, pbx.settings.pbx.logdir, diag)
    if diag.errors:
        return "\n".join(str(e) for e in diag.errors) + "\nlogger.conf has errors: no changes."
    pbx.reload_logger(settings)
    return "Logger reloaded: " + ", ".join(c.name for c in settings.channels)


def _like(args: list[str]) -> str | None:
    return args[1] if len(args) == 2 and args[0] == "like" else None


def _channels(pbx: Pbx, args: list[str]) -> str:
    mode = args[0].lower() if args else ""
    if mode not in ("", "concise", "verbose", "count"):
        raise CommandError("Usage: core show channels [concise|verbose|count]")
    return channel_show.show_channels(
        pbx.calls.channels, pbx.calls.calls_processed, pbx.reactor.seconds(), mode
    )


def _hangup(pbx: Pbx, args: list[str]) -> str:
    if len(args) != 1:
        raise CommandError("Usage: channel request hangup <channel>|<all>")
    if args[0] == "all":
        # Asterisk's cli.c prints one line per channel.
        return "\n".join(f"Requested Hangup on channel '{name}'" for name in pbx.calls.hangup_all())
    channel = pbx.calls.find(args[0])
    if channel is None:
        return f"{args[0]} is not a known channel"
    log.log(25, "Hangup of %s requested from the console", channel.name)
    channel.hangup(causes.NORMAL_CLEARING)
    return f"Requested Hangup on channel '{channel.name}'"


def _dialplan_reload(pbx: Pbx) -> str:
    errors = pbx.calls.reload()
    if errors:
        return "\n".join(errors) + "\nextensions.conf has errors: the running dialplan is kept."
    extensions, priorities = pbx.calls.dialplan.counts()
    return (
        f"Dialplan reloaded: {extensions} extensions ({priorities} priorities) in "
        f"{len(pbx.calls.dialplan.contexts)} contexts."
    )


def _db_show(pbx: Pbx, args: list[str]) -> str:
    entries = pbx.store.db_entries(args[0] if args else None)
    lines = [f"{key:<50}: {value}" for key, value in entries]
    lines.append(f"{len(entries)} results found.")
    return "\n".join(lines)


def _db_get(pbx: Pbx, args: list[str]) -> str:
    if len(args) != 2:
        raise CommandError("Usage: database get <family> <key>")
    value = pbx.store.db_get(args[0], args[1])
    return "Database entry not found." if value is None else f"Value: {value}"


def _db_put(pbx: Pbx, args: list[str]) -> str:
    if len(args) != 3:
        raise CommandError("Usage: database put <family> <key> <value>")
    pbx.store.db_put(args[0], args[1], args[2])
    return "Updated database successfully"


def _db_del(pbx: Pbx, args: list[str]) -> str:
    if len(args) != 2:
        raise CommandError("Usage: database del <family> <key>")
    return (
        "Database entry removed."
        if pbx.store.db_delete(args[0], args[1])
        else "Database entry does not exist."
    )
