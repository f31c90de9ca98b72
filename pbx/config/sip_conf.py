"""sip.conf -> :class:`SipConfig`: ``[general]`` settings and the devices (chan_sip's peer model).

How chan_sip reads the file (ASTERISK-REFERENCE §1.1-§1.5), and so how pbx does:

* ``[general]`` is read first wherever it is; its "G" options are the defaults of every device;
* ``[authentication]`` holds ``auth=`` lines (recognised, not used yet);
* ``register =>`` lines of ``[general]`` are outbound registrations; one that names a
  ``peer?`` must name a callable device of the file;
* every other non-template section is a device; one without ``type=`` is skipped with a
  warning ("lacks type"), as is one with an unknown type; a later section with the same name
  replaces an earlier one, with a warning;
* list options accumulate: a device's codecs start from the ``[general]`` result and its own
  ``allow``/``disallow`` lines apply on top; ``contactpermit``/``contactdeny`` rules of
  ``[general]`` come before the device's own;
* ``webrtc=yes`` (a pbx extension, as chan_pjsip's) fills in what browsers need for every
  option the section does not set itself.

Cross-option checks report what chan_sip would: tcp/tls transports dropped when their listener
is off, ``dtlsautogeneratecert`` with ``dtlscertfile``, unreadable certificate files,
``rtpholdtimeout`` not above ``rtptimeout``, a device ``nat`` that differs from ``[general]``
(peer-name enumeration, §1.5), ``directmedia=yes`` written by the admin (pbx always anchors
media), and any value of the options in :data:`FIXED_BEHAVIOUR` other than the one pbx's fixed
behaviour matches.

Nothing here opens sockets; certificate files are only checked for readability.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from pbx.config import codecs
from pbx.config import sip_options as o
from pbx.config.acl import Acl
from pbx.config.lexer import Reader, read_file
from pbx.config.model import ConfigFile, Section
from pbx.config.parsers import IpNetwork, file_problem
from pbx.config.schema import (
    AnyOption,
    Diagnostics,
    Entry,
    Loaded,
    Option,
    Scope,
    Values,
    finish,
    parse_section,
    parse_sections,
    read_config,
    sections_named,
)
from pbx.config.sip_values import (
    NAT_SYMMETRIC,
    AuthCredential,
    CallerId,
    Insecure,
    Nat,
    Registration,
)
from pbx.core.addr import Address, TransportKind, is_ip_literal, parse_hostport

T = TypeVar("T")

PeerType = Literal["friend", "peer", "user"]
_TYPES: dict[str, PeerType] = {"friend": "friend", "peer": "peer", "user": "user"}

GUEST = "(guest)"
"""Name of the profile built from ``[general]`` alone (see :attr:`SipSettings.guest`)."""

WEBSOCKET_MAX_CONTACTS = 5
"""``max_contacts`` of a webrtc/ws/wss device when neither it nor ``[general]`` sets one."""

FIXED_BEHAVIOUR: tuple[tuple[AnyOption, object, str], ...] = (
    (o.FORCE_AVP, False, "pbx always offers UDP/TLS/RTP/SAVP(F) with DTLS"),
    (
        o.DTLSVERIFY,
        "fingerprint",
        "pbx verifies DTLS peers by fingerprint only (the certificate must match a=fingerprint)",
    ),
    (o.CALLCOUNTER, True, "pbx always counts every device's calls"),
    (o.RTPKEEPALIVE, 0, "pbx sends no RTP keepalive packets"),
    (
        o.SESSION_TIMERS,
        "refuse",
        "pbx implements no RFC 4028 session timers (it ignores Session-Expires and never "
        "refreshes), as with refuse",
    ),
)
"""Options that describe something pbx does one fixed way: (option, the value that matches it,
what pbx does instead). The matching value is accepted silently; any other written value draws
a warning at its line."""


@dataclass(frozen=True)
class PeerConfig:
    """One device of sip.conf (chan_sip's ``sip_peer``), every option resolved.

    Field names are the option names in snake_case. ``path``/``line`` locate the section
    header for messages. ``directmedia`` is what the file says; pbx always anchors media.
    ``dtlsprivatekey`` is ``dtlscertfile`` when not set (the key inside the certificate file).
    """

    name: str
    type: PeerType
    path: str
    line: int
    dynamic: bool
    host: str | None
    port: int
    defaultip: str | None
    defaultuser: str
    secret: str
    md5secret: str
    remotesecret: str
    context: str
    callerid: str
    callerid_name: str
    callerid_num: str
    fromuser: str
    fromdomain: str
    transports: tuple[TransportKind, ...]
    avpf: bool
    encryption: bool
    encryption_taglen: int
    icesupport: bool
    rtcp_mux: bool
    dtlsenable: bool
    dtlscertfile: str | None
    dtlsprivatekey: str | None
    dtlsautogeneratecert: bool
    dtlssetup: str
    dtlsfingerprint: str
    nat: Nat
    qualify: int | None
    qualifyfreq: int
    keepalive: int
    directmedia: bool
    codecs: tuple[str, ...]
    dtmfmode: str
    insecure: Insecure
    acl: Acl
    contactacl: Acl
    call_limit: int
    busylevel: int
    description: str
    rtptimeout: int
    rtpholdtimeout: int
    setvar: tuple[tuple[str, str], ...]
    language: str
    accountcode: str
    amaflags: str
    allowtransfer: bool
    webrtc: bool
    max_contacts: int

    @property
    def is_peer(self) -> bool:
        """Matched by source address and callable (``peer`` and ``friend``)."""
        return self.type != "user"

    @property
    def is_user(self) -> bool:
        """Matched by the From user name (``user`` and ``friend``)."""
        return self.type != "peer"

    @property
    def primary_transport(self) -> TransportKind:
        """The transport for requests pbx sends (the first one listed)."""
        return self.transports[0]


@dataclass(frozen=True)
class SipSettings:
    """``[general]``: listeners, registration bounds, NAT addresses, and the device defaults.

    :param guest: the profile built from ``[general]`` alone: what chan_sip applies to requests
        that match no device (guest calls with ``allowguest=yes``, and the never-matching
        "bogus peer" behind ``alwaysauthreject``). Its "G" values are every device's defaults.
    :param callerid: ``[general]`` ``callerid``: the caller ID of calls pbx originates
        without one (chan_sip's ``default_callerid``, ``asterisk``).
    :param registrations: the ``register =>`` lines, in file order (outbound registrations).
    """

    udpbindaddr: Address
    tcpenable: bool
    tcpbindaddr: Address
    tlsenable: bool
    tlsbindaddr: Address
    tlscertfile: str
    tlsprivatekey: str
    tlscafile: str | None
    tlsdontverifyserver: bool
    tlscipher: str
    websocket_enabled: bool
    context: str
    allowguest: bool
    alwaysauthreject: bool
    realm: str
    useragent: str
    sdpsession: str
    sdpowner: str
    callerid: CallerId
    minexpiry: int
    maxexpiry: int
    defaultexpiry: int
    allowoverlap: bool
    externaddr: Address | None
    media_address: str | None
    localnet: tuple[IpNetwork, ...]
    qualifyfreq: int
    maxmessagesize: int
    max_contacts: int
    guest: PeerConfig
    registrations: tuple[Registration, ...] = ()
    registertimeout: int = 20
    registerattempts: int = 0
    register_retry_403: bool = False


@dataclass(frozen=True)
class SipConfig:
    """All of sip.conf: ``general`` settings, ``peers`` by section name, and the realm
    credentials of ``[authentication]`` (``auth=`` lines, in file order)."""

    general: SipSettings
    peers: Mapping[str, PeerConfig]
    authentication: tuple[AuthCredential, ...] = ()


def load_sip_conf(
    config_dir: str,
    name: str = "sip.conf",
    systemname: str = "",
    reader: Reader = read_file,
) -> Loaded[SipConfig]:
    """Read and check sip.conf (a SIGHUP reload calls only this).

    :param systemname: pbx.conf ``systemname``, the realm when ``realm`` is not set.
    :raises ConfigErrors: with every error found, in file order.
    """
    config_dir = os.path.abspath(config_dir)
    diag = Diagnostics()
    cfg = read_config(config_dir, name, diag, reader)
    config = parse_sip_conf(cfg, config_dir, diag, systemname)
    return finish(diag, cfg.files, config)


def parse_sip_conf(
    cfg: ConfigFile, config_dir: str, diag: Diagnostics, systemname: str = ""
) -> SipConfig:
    """Build a :class:`SipConfig` from an assembled file; every problem goes to ``diag``."""
    general_values = parse_sections(sections_named(cfg, "general"), o.SIP_OPTIONS, diag, config_dir)
    general = _general(general_values, config_dir, diag, systemname)
    peers: dict[str, PeerConfig] = {}
    authentication: list[AuthCredential] = []
    for section in cfg.sections():
        kind = section.name.lower()
        if kind == "general":
            continue
        if kind == "authentication":
            authentication += _authentication(section, diag, config_dir)
            continue
        peer = _device(section, general_values, general, diag, config_dir)
        if peer is None:
            continue
        earlier = peers.get(peer.name)
        if earlier is not None:
            diag.warn(
                section.path,
                section.line,
                f"device defined again (first at {earlier.path}:{earlier.line}); "
                "this definition replaces it",
                section.name,
            )
        peers[peer.name] = peer
    _check_registrations(general_values, general, peers, diag)
    return SipConfig(general, peers, tuple(authentication))


def _check_registrations(
    values: Values, general: SipSettings, peers: Mapping[str, PeerConfig], diag: Diagnostics
) -> None:
    """A ``register => peer?...`` line must name a device pbx can reach (chan_sip logs the
    same mistake only when the registration first runs); ``tcp://`` and ``tls://`` need their
    listener, whose address the Contact advertises."""
    lines: list[Entry[Registration]] = values.entries(o.REGISTER)
    listening = {TransportKind.TCP: general.tcpenable, TransportKind.TLS: general.tlsenable}
    for entry in lines:
        kind = entry.value.transport
        if kind is not None and not listening.get(kind, True):
            diag.warn_at(
                entry.item,
                f"register over {kind.value} needs {kind.value}enable=yes; "
                "this registration will fail",
            )
        name = entry.value.peer
        if name is None:
            continue
        peer = peers.get(name)
        if peer is None:
            diag.error_at(entry.item, f"register names peer '{name}', which is not defined")
        elif not peer.is_peer:
            diag.error_at(entry.item, f"register names '{name}', a type=user (not callable)")


def _general(values: Values, config_dir: str, diag: Diagnostics, systemname: str) -> SipSettings:
    udp = values.get(o.UDPBINDADDR)
    bindport = values.get(o.BINDPORT)
    udp_item = values.item(o.UDPBINDADDR)
    if bindport is not None and (udp_item is None or not _has_port(udp_item.value)):
        udp = Address(udp.host, bindport)
    tlscertfile = values.get(o.TLSCERTFILE)
    if not values.explicit(o.TLSCERTFILE):
        tlscertfile = os.path.join(config_dir, tlscertfile)
    tlsprivatekey = values.get(o.TLSPRIVATEKEY) or tlscertfile
    tlsenable = values.get(o.TLSENABLE)
    if tlsenable and values.explicit(o.TLSCERTFILE):
        # Without an explicit tlscertfile pbx falls back to its local CA (see http.conf).
        _check_readable(values, o.TLSCERTFILE, tlscertfile, diag, o.TLSENABLE)
        if tlsprivatekey != tlscertfile:
            _check_readable(values, o.TLSPRIVATEKEY, tlsprivatekey, diag, o.TLSENABLE)
    minexpiry, maxexpiry = values.get(o.MINEXPIRY), values.get(o.MAXEXPIRY)
    if minexpiry > maxexpiry:
        item = values.item(o.MINEXPIRY) or values.item(o.MAXEXPIRY)
        assert item is not None  # the defaults are ordered
        diag.error_at(item, f"minexpiry ({minexpiry}) is larger than maxexpiry ({maxexpiry})")
    externaddr = values.get(o.EXTERNADDR)
    if externaddr is not None and externaddr.port == 0:
        externaddr = Address(externaddr.host, udp.port)
    localnet_lines: list[Entry[IpNetwork]] = values.entries(o.LOCALNET)
    localnet = tuple(e.value for e in localnet_lines)
    extern_item = values.item(o.EXTERNADDR)
    if extern_item is not None and not localnet:
        diag.warn_at(
            extern_item,
            "externaddr without localnet has no effect (as in chan_sip): add a localnet= line "
            "for each network that reaches pbx without NAT",
        )
    named = externaddr is not None and not is_ip_literal(externaddr.host)
    if named and localnet and values.get(o.MEDIA_ADDRESS) is None:
        assert extern_item is not None
        diag.warn_at(
            extern_item,
            "externaddr is a name: Via and Contact carry it, but SDP needs an address; "
            "set media_address to the public IP",
        )
    realm = values.get(o.REALM) if values.explicit(o.REALM) else (systemname or "asterisk")
    callerid = values.get(o.CALLERID) if values.explicit(o.CALLERID) else CallerId("", "asterisk")
    guest = _peer(GUEST, "friend", values, None, diag, ("", 0), config_dir)
    return SipSettings(
        udpbindaddr=udp,
        tcpenable=values.get(o.TCPENABLE),
        tcpbindaddr=values.get(o.TCPBINDADDR) or Address(udp.host, 5060),
        tlsenable=tlsenable,
        tlsbindaddr=values.get(o.TLSBINDADDR) or Address(udp.host, 5061),
        tlscertfile=tlscertfile,
        tlsprivatekey=tlsprivatekey,
        tlscafile=values.get(o.TLSCAFILE),
        tlsdontverifyserver=values.get(o.TLSDONTVERIFYSERVER),
        tlscipher=values.get(o.TLSCIPHER),
        websocket_enabled=values.get(o.WEBSOCKET_ENABLED),
        context=values.get(o.CONTEXT),
        allowguest=values.get(o.ALLOWGUEST),
        alwaysauthreject=values.get(o.ALWAYSAUTHREJECT),
        realm=realm,
        useragent=values.get(o.USERAGENT),
        sdpsession=values.get(o.SDPSESSION),
        sdpowner=values.get(o.SDPOWNER),
        callerid=callerid,
        minexpiry=minexpiry,
        maxexpiry=maxexpiry,
        defaultexpiry=values.get(o.DEFAULTEXPIRY),
        allowoverlap=values.get(o.ALLOWOVERLAP),
        externaddr=externaddr,
        media_address=values.get(o.MEDIA_ADDRESS),
        localnet=localnet,
        qualifyfreq=values.get(o.QUALIFYFREQ),
        maxmessagesize=values.get(o.MAXMESSAGESIZE),
        max_contacts=values.get(o.MAX_CONTACTS),
        guest=guest,
        registrations=tuple(e.value for e in values.entries(o.REGISTER)),
        registertimeout=values.get(o.REGISTERTIMEOUT),
        registerattempts=values.get(o.REGISTERATTEMPTS),
        register_retry_403=values.get(o.REGISTER_RETRY_403),
    )


def _has_port(text: str) -> bool:
    try:
        return parse_hostport(text, 0).port != 0
    except ValueError:
        return False


def _authentication(section: Section, diag: Diagnostics, config_dir: str) -> list[AuthCredential]:
    """``auth=`` lines: credentials for a realm, used before a peer's own when a far end
    challenges pbx with that realm (chan_sip's ``[authentication]``)."""
    values = parse_section(section, o.AUTHENTICATION_OPTIONS, Scope.GENERAL, diag, config_dir)
    return [entry.value for entry in values.entries(o.AUTH)]


def _device(
    section: Section,
    general_values: Values,
    general: SipSettings,
    diag: Diagnostics,
    config_dir: str,
) -> PeerConfig | None:
    type_item = section.get("type")
    if type_item is None:
        # chan_sip: "Section '%s' lacks type".
        diag.warn(section.path, section.line, "section lacks type; skipped", section.name)
        return None
    ptype = _TYPES.get(type_item.value.strip().lower())
    if ptype is None:
        diag.warn_at(
            type_item,
            f"unknown type '{type_item.value}' (expected friend, peer or user); section skipped",
            section.name,
        )
        return None
    values = parse_section(section, o.SIP_OPTIONS, Scope.DEVICE, diag, config_dir, general_values)
    peer = _peer(
        section.name,
        ptype,
        values,
        general,
        diag,
        (section.path, section.line),
        config_dir,
    )
    return peer


def _peer(
    name: str,
    ptype: PeerType,
    values: Values,
    general: SipSettings | None,
    diag: Diagnostics,
    where: tuple[str, int],
    config_dir: str,
) -> PeerConfig:
    """Resolve a device's options; ``general`` is ``None`` while building the guest profile."""
    webrtc = values.get(o.WEBRTC)
    device = general is not None
    section = name if device else "general"

    def pick(option: Option[T], webrtc_value: T) -> T:
        if webrtc and not values.explicit(option):
            return webrtc_value
        return values.get(option)

    def warn(option: AnyOption | None, message: str) -> None:
        item = values.item(option) if option is not None else None
        if item is not None:
            diag.warn_at(item, message, section)
        else:
            diag.warn(where[0], where[1], message, section)

    host = values.get(o.HOST)
    transports = _transports(values, diag)
    port = values.get(o.PORT)
    if port is None:
        port = 5061 if transports[:1] == (TransportKind.TLS,) else 5060
    callerid = values.get(o.CALLERID)
    callerid_item = values.item(o.CALLERID)
    dtlscertfile = values.get(o.DTLSCERTFILE)
    dtlsprivatekey = values.get(o.DTLSPRIVATEKEY)
    dtlsenable = pick(o.DTLSENABLE, True)
    autogen = pick(o.DTLSAUTOGENERATECERT, dtlscertfile is None)
    for option, path in (
        (o.DTLSCERTFILE, dtlscertfile),
        (o.DTLSPRIVATEKEY, dtlsprivatekey),
    ):
        if path is not None:
            _check_readable(values, option, path, diag, option)
    if dtlsprivatekey is None:
        dtlsprivatekey = dtlscertfile  # the key may be inside the certificate file
    if autogen and dtlscertfile is not None:
        item = values.item(o.DTLSAUTOGENERATECERT) or values.item(o.DTLSCERTFILE)
        assert item is not None
        diag.error_at(item, "dtlsautogeneratecert=yes conflicts with dtlscertfile", section)
    codec_ops = [op for e in values.entries(o.ALLOW, o.DISALLOW) for op in e.value]
    peer_codecs = codecs.resolve(codecs.DEFAULT_CODECS, codec_ops)
    nat = pick(o.NAT, NAT_SYMMETRIC)
    rtptimeout, rtpholdtimeout = values.get(o.RTPTIMEOUT), values.get(o.RTPHOLDTIMEOUT)
    if values.item(o.MAX_CONTACTS) is not None:
        max_contacts = values.get(o.MAX_CONTACTS)
    elif webrtc or any(t.websocket for t in transports):
        max_contacts = WEBSOCKET_MAX_CONTACTS
    else:
        max_contacts = values.get(o.MAX_CONTACTS)
    directmedia = values.get(o.DIRECTMEDIA)
    directmedia_item = values.item(o.DIRECTMEDIA)
    if (
        directmedia
        and directmedia_item is not None
        and (values.explicit(o.DIRECTMEDIA) or not device)
    ):
        diag.warn_at(
            directmedia_item,
            f"directmedia={directmedia_item.value} is treated as no: pbx always anchors media",
        )
    for fixed, honoured, instead in FIXED_BEHAVIOUR:
        item = values.item(fixed)
        # A [general] line is reported while building the guest profile, not once per device.
        if item is None or (device and not values.explicit(fixed)):
            continue
        if values.get(fixed) != honoured:
            diag.warn_at(item, f"{item.key}={item.value}: {instead}")
    if device:
        assert general is not None
        if dtlsenable and dtlscertfile is None and not autogen:
            warn(
                None,
                "dtlsenable=yes without dtlscertfile or dtlsautogeneratecert=yes: "
                "DTLS calls will fail",
            )
        if rtptimeout and rtpholdtimeout and rtpholdtimeout <= rtptimeout:
            warn(
                o.RTPHOLDTIMEOUT,
                f"rtpholdtimeout ({rtpholdtimeout}) should be larger than rtptimeout "
                f"({rtptimeout})",
            )
        if nat != general.guest.nat:
            # chan_sip's "PLEASE NOTE: Setting 'nat' for a peer/user that differs from the
            # global setting can make the name of that peer/user discoverable by an attacker".
            warn(
                o.NAT,
                f"nat={nat} differs from [general] nat={general.guest.nat}: replies to known "
                "and unknown names go to different ports, which lets an attacker discover "
                "device names; set nat in [general] only",
            )
        if not peer_codecs:
            warn(None, "no codec allowed (disallow=all without allow): every call fails with 488")
    return PeerConfig(
        name=name,
        type=ptype,
        path=where[0],
        line=where[1],
        dynamic=host == "dynamic",
        host=host if host and host != "dynamic" else None,
        port=port,
        defaultip=values.get(o.DEFAULTIP),
        defaultuser=values.get(o.DEFAULTUSER),
        secret=values.get(o.SECRET),
        md5secret=values.get(o.MD5SECRET),
        remotesecret=values.get(o.REMOTESECRET),
        context=values.get(o.CONTEXT),
        callerid=callerid_item.value.strip() if callerid_item is not None else "",
        callerid_name=callerid.name,
        callerid_num=callerid.num,
        fromuser=values.get(o.FROMUSER),
        fromdomain=values.get(o.FROMDOMAIN),
        transports=transports,
        avpf=pick(o.AVPF, True),
        encryption=pick(o.ENCRYPTION, True),
        encryption_taglen=values.get(o.ENCRYPTION_TAGLEN),
        icesupport=pick(o.ICESUPPORT, True),
        rtcp_mux=pick(o.RTCP_MUX, True),
        dtlsenable=dtlsenable,
        dtlscertfile=dtlscertfile,
        dtlsprivatekey=dtlsprivatekey,
        dtlsautogeneratecert=autogen,
        dtlssetup=pick(o.DTLSSETUP, "actpass"),
        dtlsfingerprint=values.get(o.DTLSFINGERPRINT),
        nat=nat,
        qualify=values.get(o.QUALIFY),
        qualifyfreq=values.get(o.QUALIFYFREQ),
        keepalive=values.get(o.KEEPALIVE),
        directmedia=directmedia,
        codecs=peer_codecs,
        dtmfmode=values.get(o.DTMFMODE),
        insecure=values.get(o.INSECURE),
        acl=Acl.from_rules(e.value for e in values.entries(o.PERMIT, o.DENY)),
        contactacl=Acl.from_rules(e.value for e in values.entries(o.CONTACTPERMIT, o.CONTACTDENY)),
        call_limit=values.get(o.CALL_LIMIT),
        busylevel=values.get(o.BUSYLEVEL),
        description=values.get(o.DESCRIPTION),
        rtptimeout=rtptimeout,
        rtpholdtimeout=rtpholdtimeout,
        setvar=tuple(e.value for e in values.entries(o.SETVAR)),
        language=values.get(o.LANGUAGE),
        accountcode=values.get(o.ACCOUNTCODE),
        amaflags=values.get(o.AMAFLAGS),
        allowtransfer=values.get(o.ALLOWTRANSFER),
        webrtc=webrtc,
        max_contacts=max_contacts,
    )


def _transports(values: Values, diag: Diagnostics) -> tuple[TransportKind, ...]:
    """The transport list without tcp/tls when their listener is off (chan_sip drops them)."""
    listed = values.get(o.TRANSPORT)
    item = values.item(o.TRANSPORT)
    if item is None:
        return listed
    general = values.parent or values
    tcpenable, tlsenable = general.get(o.TCPENABLE), general.get(o.TLSENABLE)
    kept: list[TransportKind] = []
    for kind in listed:
        if kind is TransportKind.TCP and not tcpenable:
            diag.warn_at(item, "transport 'tcp' dropped: tcpenable is off in [general]")
        elif kind is TransportKind.TLS and not tlsenable:
            diag.warn_at(item, "transport 'tls' dropped: tlsenable is off in [general]")
        else:
            kept.append(kind)
    if not kept:
        diag.error_at(item, f"no usable transport left of transport={item.value}")
    return tuple(kept)


def _check_readable(
    values: Values, option: AnyOption, path: str, diag: Diagnostics, located_at: AnyOption
) -> None:
    """An unreadable certificate or key is an error at the line that names (or needs) it."""
    problem = file_problem(path)
    if problem is None:
        return
    item = values.item(option) or values.item(located_at)
    assert item is not None  # only called for a value that some line set
    diag.error_at(item, f"cannot read {option.name} '{path}': {problem}")
