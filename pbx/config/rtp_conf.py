"""rtp.conf -> :class:`RtpSettings` (Asterisk ``res/res_rtp_asterisk.c`` ``rtp_reload``).

pbx reads the RTP port range from ``rtp.conf``, as Asterisk does, not from ``sip.conf``.
Defaults: Asterisk's compiled range is 5000-31000, but its sample file and pbx use
10000-20000. As in Asterisk, ports outside 1024-65535 are clamped (with a warning here), and
RTP takes even ports (RTCP the odd one above), so an odd ``rtpstart`` is rounded up. Unlike
Asterisk, which falls back to 5000-31000 with a warning, a range that holds no port pair is an
error: silently using other ports than the firewall expects is worse than not starting.

``strictrtp`` latches the media source as Asterisk does; ``icesupport`` here is the global
switch that the device's ``icesupport`` needs as well. STUN/TURN options are recognised and
reported as unsupported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pbx.config import parsers as p
from pbx.config.lexer import Reader, read_file
from pbx.config.model import ConfigFile
from pbx.config.parsers import ParseContext, ValueType, is_false, is_true
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

MIN_PORT, MAX_PORT = 1024, 65535
RTCP_MIN_INTERVAL, RTCP_MAX_INTERVAL = 500, 60000


@dataclass(frozen=True)
class RtpSettings:
    """The media port range and RTP engine switches.

    :param rtpstart: first RTP port, always even; ``rtpend`` is the last usable port.
    :param dtmftimeout: samples (1/8000 s) after which a DTMF digit without end is ended.
    :param rtcpinterval: ms between RTCP reports; 0 disables them.
    :param strictrtp: ``yes`` (learn the source, then drop others), ``seqno`` (learn by
        sequence numbers only) or ``no``.
    :param probation: packets in sequence needed to accept a new media source.
    """

    rtpstart: int
    rtpend: int
    dtmftimeout: int
    rtcpinterval: int
    strictrtp: str
    probation: int
    icesupport: bool
    dtls_mtu: int


def _parse_strictrtp(text: str, ctx: ParseContext) -> str:
    value = text.strip().lower()
    if value == "seqno":
        return "seqno"
    if is_true(value):
        return "yes"
    if is_false(value):
        return "no"
    raise ValueError("expected yes, no or seqno")


STRICTRTP_VALUE: ValueType[str] = ValueType("enum", "yes|no|seqno", _parse_strictrtp)

RTPSTART = Option(
    "rtpstart", p.integer(1, 65535), 10000, "First RTP port (rounded up to even; >= 1024)."
)
RTPEND = Option("rtpend", p.integer(1, 65535), 20000, "Last RTP port (<= 65535).")
DTMFTIMEOUT = Option(
    "dtmftimeout",
    p.integer(0, 64000, unit="samples"),
    1200,
    "End a DTMF digit that has no end packet after this many samples (1200 = 150 ms).",
)
RTCPINTERVAL = Option(
    "rtcpinterval",
    p.integer(0, unit="ms"),
    5000,
    "Milliseconds between RTCP reports (500-60000; 0 = none).",
)
STRICTRTP = Option(
    "strictrtp", STRICTRTP_VALUE, "yes", "Drop RTP that does not come from the learnt source."
)
PROBATION = Option(
    "probation",
    p.integer(1, unit="packets"),
    4,
    "Packets in sequence needed before a new source is learnt (strictrtp).",
)
ICESUPPORT = Option(
    "icesupport", p.BOOL, True, "Global ICE switch; a device also needs icesupport=yes."
)
DTLS_MTU = Option(
    "dtls_mtu", p.integer(256, 65535, unit="bytes"), 1200, "Largest DTLS datagram sent."
)

RTP_OPTIONS = OptionTable(
    "rtp.conf: [general]",
    (
        RTPSTART,
        RTPEND,
        DTMFTIMEOUT,
        RTCPINTERVAL,
        STRICTRTP,
        PROBATION,
        ICESUPPORT,
        DTLS_MTU,
        unsupported("rtpchecksums", "Disable UDP checksums on RTP."),
        unsupported("stunaddr", "STUN server for discovering the public address."),
        unsupported("turnaddr", "TURN relay."),
        unsupported("turnusername", "TURN user name."),
        unsupported("turnpassword", "TURN password."),
        unsupported("ice_host_candidate", "Rewritten ICE host candidates."),
        unsupported("ice_blacklist", "Addresses never offered as ICE candidates."),
        unsupported("stun_blacklist", "Addresses never used for STUN."),
        unsupported("srtpreplayprotection", "SRTP replay protection switch (always on)."),
    ),
)


def load_rtp_conf(
    config_dir: str, name: str = "rtp.conf", reader: Reader = read_file
) -> Loaded[RtpSettings]:
    """Read rtp.conf; a missing file means the defaults.

    :raises ConfigErrors: with every error found.
    """
    config_dir = os.path.abspath(config_dir)
    diag = Diagnostics()
    cfg = read_optional_config(config_dir, name, diag, reader)
    return finish(diag, cfg.files, parse_rtp_conf(cfg, config_dir, diag))


def parse_rtp_conf(cfg: ConfigFile, config_dir: str, diag: Diagnostics) -> RtpSettings:
    """Build :class:`RtpSettings`; every problem goes to ``diag``."""
    values = parse_sections(sections_named(cfg, "general"), RTP_OPTIONS, diag, config_dir)
    for section in cfg.sections():
        if section.name.lower() != "general":
            diag.warn(
                section.path, section.line, "section is not supported by pbx; ignored", section.name
            )
    start, end = values.get(RTPSTART), values.get(RTPEND)
    start_item, end_item = values.item(RTPSTART), values.item(RTPEND)
    for name, value, item in (("rtpstart", start, start_item), ("rtpend", end, end_item)):
        if item is not None and not MIN_PORT <= value <= MAX_PORT:
            clamped = min(max(value, MIN_PORT), MAX_PORT)
            diag.warn_at(item, f"{name}={value} is outside {MIN_PORT}-{MAX_PORT}; using {clamped}")
    start = min(max(start, MIN_PORT), MAX_PORT)
    end = min(max(end, MIN_PORT), MAX_PORT)
    if start % 2:
        start += 1
        if start_item is not None:
            diag.warn_at(start_item, f"RTP uses even ports: the range starts at {start}")
    if start + 1 > end:
        item = end_item or start_item
        assert item is not None  # the defaults are a valid range
        diag.error_at(
            item,
            f"rtpstart ({start}) must be below rtpend ({end}), leaving room for an RTP/RTCP "
            "port pair",
        )
    interval = values.get(RTCPINTERVAL)
    interval_item = values.item(RTCPINTERVAL)
    if interval and not RTCP_MIN_INTERVAL <= interval <= RTCP_MAX_INTERVAL:
        clamped = min(max(interval, RTCP_MIN_INTERVAL), RTCP_MAX_INTERVAL)
        assert interval_item is not None
        diag.warn_at(
            interval_item,
            f"rtcpinterval={interval} is outside {RTCP_MIN_INTERVAL}-{RTCP_MAX_INTERVAL}; "
            f"using {clamped}",
        )
        interval = clamped
    return RtpSettings(
        rtpstart=start,
        rtpend=end,
        dtmftimeout=values.get(DTMFTIMEOUT),
        rtcpinterval=interval,
        strictrtp=values.get(STRICTRTP),
        probation=values.get(PROBATION),
        icesupport=values.get(ICESUPPORT),
        dtls_mtu=values.get(DTLS_MTU),
    )
