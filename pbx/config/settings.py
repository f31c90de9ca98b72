"""All configuration files of one configuration directory -> :class:`Settings`.

:func:`load_settings` reads ``pbx.conf`` first (directories and ``systemname``), then the
required ``sip.conf`` and the optional ``http.conf``, ``rtp.conf``, ``cdr.conf`` and
``logger.conf`` (a missing optional file means its defaults). It collects the errors of every
file and raises them together; startup refuses to run on any (STYLE §2.8). A SIGHUP reload of
devices calls :func:`pbx.config.sip_conf.load_sip_conf` alone and swaps only on success.

It also checks what no single file can: WebSocket devices need http.conf's server (and TLS for
``wss``) and sip.conf's ``websocket_enabled``; ICE needs rtp.conf's ``icesupport`` as well.

``pjsip.conf`` is never read: pbx speaks chan_sip's sip.conf.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pbx.config import cdr_conf, http_conf, logger_conf, pbx_conf, rtp_conf, sip_options
from pbx.config.cdr_conf import CdrSettings, parse_cdr_conf
from pbx.config.http_conf import HttpSettings, parse_http_conf
from pbx.config.logger_conf import LoggerSettings, parse_logger_conf
from pbx.config.pbx_conf import PbxSettings, parse_pbx_conf
from pbx.config.rtp_conf import RtpSettings, parse_rtp_conf
from pbx.config.schema import (
    Diagnostics,
    OptionTable,
    format_table,
    read_config,
    read_optional_config,
)
from pbx.config.sip_conf import SipConfig, parse_sip_conf
from pbx.core.addr import TransportKind
from pbx.core.errors import ConfigError, ConfigErrors


@dataclass(frozen=True)
class Settings:
    """Everything pbx reads at startup, plus the warnings found while reading it."""

    config_dir: str
    pbx: PbxSettings
    sip: SipConfig
    http: HttpSettings
    rtp: RtpSettings
    cdr: CdrSettings
    logger: LoggerSettings
    warnings: list[ConfigError]


def load_settings(config_dir: str) -> Settings:
    """Read every configuration file of ``config_dir`` (paths in the result are absolute).

    :raises ConfigErrors: with the errors of all files (each file's in line order).
    """
    config_dir = os.path.abspath(config_dir)
    errors: list[ConfigError] = []
    warnings: list[ConfigError] = []

    def done(diag: Diagnostics, files: list[str]) -> None:
        diag.sort(files)
        errors.extend(diag.errors)
        warnings.extend(diag.warnings)

    diag = Diagnostics()
    cfg = read_optional_config(config_dir, "pbx.conf", diag)
    pbx = parse_pbx_conf(cfg, config_dir, diag)
    done(diag, cfg.files)

    diag = Diagnostics()
    cfg = read_config(config_dir, "sip.conf", diag)
    sip = parse_sip_conf(cfg, config_dir, diag, pbx.systemname)
    done(diag, cfg.files)

    diag = Diagnostics()
    cfg = read_optional_config(config_dir, "http.conf", diag)
    http = parse_http_conf(cfg, config_dir, diag)
    done(diag, cfg.files)

    diag = Diagnostics()
    cfg = read_optional_config(config_dir, "rtp.conf", diag)
    rtp = parse_rtp_conf(cfg, config_dir, diag)
    done(diag, cfg.files)

    diag = Diagnostics()
    cfg = read_optional_config(config_dir, "cdr.conf", diag)
    cdr = parse_cdr_conf(cfg, config_dir, pbx.logdir, diag)
    done(diag, cfg.files)

    diag = Diagnostics()
    cfg = read_optional_config(config_dir, "logger.conf", diag)
    logger = parse_logger_conf(cfg, config_dir, pbx.logdir, diag)
    done(diag, cfg.files)

    if errors:
        raise ConfigErrors(errors)
    warnings.extend(cross_file_warnings(sip, http, rtp))
    return Settings(config_dir, pbx, sip, http, rtp, cdr, logger, warnings)


def cross_file_warnings(sip: SipConfig, http: HttpSettings, rtp: RtpSettings) -> list[ConfigError]:
    """Devices that cannot work because of another file's settings (one warning each)."""
    found: list[ConfigError] = []
    for peer in sip.peers.values():

        def warn(message: str) -> None:
            found.append(ConfigError(peer.path, peer.line, message, peer.name))  # noqa: B023

        kinds = set(peer.transports)
        websocket = kinds & {TransportKind.WS, TransportKind.WSS}
        if websocket and not sip.general.websocket_enabled:
            warn("uses ws/wss but websocket_enabled=no in [general]: it cannot connect")
        elif websocket and not http.enabled:
            warn("uses ws/wss but http.conf does not enable the HTTP server: it cannot connect")
        elif TransportKind.WSS in kinds and not http.tlsenable and TransportKind.WS not in kinds:
            warn("uses wss but http.conf has tlsenable=no: it cannot connect")
        if peer.icesupport and not rtp.icesupport:
            warn("icesupport=yes, but rtp.conf has icesupport=no, which turns ICE off")
    return found


TABLES: tuple[OptionTable, ...] = (
    pbx_conf.DIRECTORY_OPTIONS,
    pbx_conf.OPTIONS_OPTIONS,
    sip_options.SIP_OPTIONS,
    sip_options.AUTHENTICATION_OPTIONS,
    http_conf.HTTP_OPTIONS,
    rtp_conf.RTP_OPTIONS,
    cdr_conf.GENERAL_OPTIONS,
    cdr_conf.CSV_OPTIONS,
    cdr_conf.SQLITE_OPTIONS,
    logger_conf.GENERAL_OPTIONS,
)
"""Every option table, in the order ``--config-help`` prints them."""


def format_help() -> str:
    """The text of ``python -m pbx --config-help``: every option of every file."""
    intro = (
        "pbx configuration options (Asterisk names; pjsip.conf is not read).\n"
        "Scope: general = [general] only, device = device sections only, "
        "G = both ([general] sets the device default).\n"
    )
    return "\n".join([intro, *(format_table(t) for t in TABLES)])
