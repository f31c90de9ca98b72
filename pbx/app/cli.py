"""The ``pbx`` command: run the daemon, or talk to a running one (Asterisk's flags).

* ``pbx -C etc -f``          run in the foreground with the configuration directory ``etc``
* ``pbx -C etc``             run in the background (logs go to logger.conf's files)
* ``pbx -C etc -rx "cmd"``   run one console command in the running daemon and print the output
* ``pbx -C etc -r``          interactive remote console
* ``pbx --config-help``      every recognised configuration option

The configuration directory defaults to ``./etc`` when it exists, else ``/etc/pbx``. This module
holds the process's only import of the global reactor.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

from pbx import __version__


def default_config_dir() -> str:
    return "etc" if os.path.isdir("etc") else "/etc/pbx"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pbx", description="A small Asterisk-style PBX.")
    p.add_argument(
        "-C",
        dest="config_dir",
        default=None,
        help="configuration directory (default ./etc if present, else /etc/pbx)",
    )
    p.add_argument("-f", dest="foreground", action="store_true", help="stay in the foreground")
    p.add_argument(
        "-c",
        dest="console",
        action="store_true",
        help="foreground with console output (same as -f here)",
    )
    p.add_argument("-v", dest="verbose", action="count", default=0, help="more verbose")
    p.add_argument("-r", dest="remote", action="store_true", help="connect to a running pbx")
    p.add_argument(
        "-x", dest="execute", metavar="CMD", help="run CMD on a running pbx (implies -r)"
    )
    p.add_argument(
        "-T",
        dest="timeout",
        type=float,
        default=None,
        help="seconds to wait for a -x command's output (default: no limit)",
    )
    p.add_argument("--config-help", action="store_true", help="list every configuration option")
    p.add_argument("-V", "--version", action="version", version=f"pbx {__version__}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.config_help:
        from pbx.config.settings import format_help

        sys.stdout.write(format_help())
        return 0
    config_dir = args.config_dir or default_config_dir()
    from pbx.config.settings import load_settings
    from pbx.core.errors import ConfigErrors

    if args.remote or args.execute:
        # Like asterisk -rx, which reads only asterisk.conf: a console must work even when
        # sip.conf has an error (that is when "sip reload" is needed).
        return remote(config_dir, args)
    try:
        settings = load_settings(config_dir)
    except ConfigErrors as e:
        for error in e.errors:
            print(str(error), file=sys.stderr)
        print(f"pbx: {len(e.errors)} configuration error(s); not starting.", file=sys.stderr)
        return 1
    from pbx.app.calls import load_dialplan

    loaded = load_dialplan(settings.config_dir)
    if loaded.errors:
        for error in loaded.errors:
            print(str(error), file=sys.stderr)
        print(f"pbx: {len(loaded.errors)} dialplan error(s); not starting.", file=sys.stderr)
        return 1
    return run_daemon(
        settings,
        loaded.dialplan,
        loaded.warnings,
        foreground=args.foreground or args.console,
        verbose=args.verbose,
    )


def remote(config_dir: str, args: argparse.Namespace) -> int:
    """``-r``/``-rx``: find the control socket through pbx.conf alone."""
    from pbx.app.remote import control_socket_path, execute, interactive
    from pbx.config.pbx_conf import load_pbx_conf
    from pbx.core.errors import ConfigErrors

    try:
        directories = load_pbx_conf(config_dir).value
    except ConfigErrors as e:
        for error in e.errors:
            print(str(error), file=sys.stderr)
        return 1
    path = control_socket_path(directories.rundir)
    if args.execute:
        return execute(path, args.execute, args.timeout)
    return interactive(path)


def run_daemon(
    settings: Any, dialplan: Any, warnings: list[Any], foreground: bool, verbose: int
) -> int:
    if not foreground:
        _daemonize()
    from twisted.internet import reactor

    from pbx.app.commands import register_commands
    from pbx.app.listeners import StartupError
    from pbx.app.service import Pbx

    pbx = Pbx(settings, reactor, dialplan, foreground=foreground, verbose=verbose)
    register_commands(pbx)
    pbx.configure_logging()
    for warning in warnings:
        logging.getLogger("pbx.dialplan").warning("%s", warning)
    status = {"code": 0}

    def start() -> None:
        try:
            pbx.start()
        except StartupError as e:
            print(f"pbx: {e}", file=sys.stderr)
            status["code"] = 1
            d = pbx.stop()
            d.addBoth(lambda _: reactor.stop())

    def on_signal(signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            reactor.callFromThread(pbx.commands.dispatch, "sip reload")  # type: ignore[attr-defined]
            reactor.callFromThread(pbx.commands.dispatch, "logger reload")  # type: ignore[attr-defined]
        else:
            reactor.callFromThread(pbx.request_shutdown, signum == signal.SIGTERM)  # type: ignore[attr-defined]

    reactor.callWhenRunning(start)
    reactor.callWhenRunning(lambda: _install_signals(on_signal))
    reactor.run(installSignalHandlers=False)  # type: ignore[call-arg]
    return status["code"]


def _install_signals(handler: Any) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def _daemonize() -> None:
    """Classic double fork: the parent returns to the shell, the child has no terminal."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
