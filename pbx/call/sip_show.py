"""Console views of SIP state in chan_sip's shapes (ASTERISK-REFERENCE §4.2).

Pure formatting over the peer registry, the location service and the qualifier, so the exact
columns are unit-testable: ``sip show peers``, ``sip show peer NAME``, ``sip show registry``
(chan_sip's table of outbound ``register =>`` registrations, then pbx's listing of inbound
bindings per peer) and ``sip show settings``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from pbx.call.peers import PeerRegistry, behind_nat
from pbx.call.qualify import Qualifier, Reachability
from pbx.config.sip_conf import PeerConfig
from pbx.config.sip_values import Nat, Registration
from pbx.core.addr import bracket
from pbx.sip.outbound_registration import OutboundRegistration

_PEERS_FORMAT = "{:<25.25} {:<39.39} {:<3.3} {:<10.10} {:<10.10} {:<3.3} {:<8} {:<11} {:<32.32}"


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _forcerport(nat: Nat, detected: bool) -> str:
    if nat.force_rport:
        return "Yes"
    if nat.auto_force_rport:
        return f"Auto ({_yes_no(detected)})"
    return "No"


def _comedia(nat: Nat, detected: bool) -> str:
    if nat.comedia:
        return "Yes"
    if nat.auto_comedia:
        return f"Auto ({_yes_no(detected)})"
    return "No"


def show_peers(registry: PeerRegistry, qualifier: Qualifier, now: float) -> str:
    lines = [
        _PEERS_FORMAT.format(
            "Name/username",
            "Host",
            "Dyn",
            "Forcerport",
            "Comedia",
            "ACL",
            "Port",
            "Status",
            "Description",
        ).rstrip()
    ]
    online = {"mon": 0, "unmon": 0}
    offline = {"mon": 0, "unmon": 0}
    count = 0
    for peer in registry:
        if not peer.is_peer:
            continue
        count += 1
        bindings = registry.location.lookup(peer.name, now)
        username = peer.defaultuser or (_contact_user(bindings[0].contact) if bindings else "")
        name = f"{peer.name}/{username}" if username else peer.name
        if bindings:
            host, port = bindings[0].source.host, bindings[0].source.port
            detected = behind_nat(bindings[0])
        elif not peer.dynamic and peer.host and (address := registry.hosts.address_of(peer.host)):
            # chan_sip shows a static host's address (a name as it resolved).
            host, port, detected = address, peer.port, False
        else:
            host, port, detected = "(Unspecified)", 0, False
        status = qualifier.status(peer.name)
        state = qualifier.state(peer.name)
        monitored = state is not None
        if monitored:
            up = state in (Reachability.OK, Reachability.LAGGED)
        else:
            up = host != "(Unspecified)"
        bucket = online if up else offline
        bucket["mon" if monitored else "unmon"] += 1
        lines.append(
            _PEERS_FORMAT.format(
                name,
                host,
                " D " if peer.dynamic else "",
                _forcerport(peer.nat, detected),
                _comedia(peer.nat, detected),
                " A " if peer.acl.rules else "",
                str(port),
                status,
                peer.description,
            ).rstrip()
        )
    lines.append(
        f"{count} sip peers [Monitored: {online['mon']} online, {offline['mon']} offline "
        f"Unmonitored: {online['unmon']} online, {offline['unmon']} offline]"
    )
    return "\n".join(lines) + "\n"


def _contact_user(contact: str) -> str:
    rest = contact.split(":", 1)[1] if ":" in contact else contact
    return rest.split("@", 1)[0] if "@" in rest else ""


def show_peer(registry: PeerRegistry, qualifier: Qualifier, name: str, now: float) -> str:
    peer = registry.get(name)
    if peer is None:
        return f"Peer {name} not found.\n"
    bindings = registry.location.lookup(name, now)
    addr = f"{bindings[0].source}" if bindings else "(Unspecified)"
    if not peer.dynamic and peer.host:
        address = registry.hosts.address_of(peer.host)
        addr = f"{bracket(address)}:{peer.port}" if address else "(Unspecified)"
    rows: list[tuple[str, str]] = [
        ("Description", peer.description),
        ("Secret", "<Set>" if peer.secret else "<Not set>"),
        ("MD5Secret", "<Set>" if peer.md5secret else "<Not set>"),
        ("Remote Secret", "<Set>" if peer.remotesecret else "<Not set>"),
        ("Context", peer.context),
        ("Language", peer.language),
        ("Accountcode", peer.accountcode),
        ("AMA flags", peer.amaflags),
        ("Callerid", f'"{peer.callerid_name}" <{peer.callerid_num}>'),
        ("Call limit", str(peer.call_limit)),
        ("Max contacts", str(peer.max_contacts)),
        ("Dynamic", _yes_no(peer.dynamic)),
        ("Expire", str(bindings[0].expires_in(now)) if bindings else "-1"),
        ("Insecure", _insecure(peer)),
        ("Force rport", _forcerport(peer.nat, False)),
        ("Symmetric RTP", _comedia(peer.nat, False)),
        ("ACL", _yes_no(bool(peer.acl.rules))),
        ("DirectMedia", "No"),
        ("DTMFmode", peer.dtmfmode),
        ("Addr->IP", addr),
        ("Defaddr->IP", peer.defaultip or "(null)"),
        ("Prim.Transp.", peer.primary_transport.value.upper()),
        ("Allowed.Trsp", ",".join(t.value.upper() for t in peer.transports)),
        ("Def. Username", peer.defaultuser),
        ("Codecs", "(" + "|".join(peer.codecs) + ")"),
        ("Status", qualifier.status(name)),
        ("Useragent", bindings[0].user_agent if bindings else ""),
        ("Reg. Contact", bindings[0].contact if bindings else ""),
        ("Qualify Freq", f"{peer.qualifyfreq * 1000} ms"),
        # chan_sip's stmode2str; pbx runs no RFC 4028 session timers for any peer.
        ("Sess-Timers", "Refuse"),
        ("Encryption", _yes_no(peer.encryption)),
        ("AVPF", _yes_no(peer.avpf)),
        ("ICE Support", _yes_no(peer.icesupport)),
        ("DTLS", _yes_no(peer.dtlsenable)),
        ("RTCP Mux", _yes_no(peer.rtcp_mux)),
        ("WebRTC", _yes_no(peer.webrtc)),
    ]
    out = ["", f"  * Name       : {peer.name}"]
    out += [f"  {key:<13}: {value}" for key, value in rows]
    out.append(f"  Bindings     : {len(bindings)}")
    for i, b in enumerate(bindings, 1):
        flow = str(b.flow) if b.flow is not None else "(restored, no connection)"
        out.append(f"    {i}. {b.contact}")
        out.append(
            f"       Transport {b.transport.value.upper()}  Source {b.source}  Flow {flow}  "
            f"Expires {b.expires_in(now)} s"
        )
        out.append(f"       Useragent {b.user_agent or '-'}")
        if b.instance:
            out.append(f"       Instance {b.instance}  reg-id {b.reg_id}")
    return "\n".join(out) + "\n\n"


def _insecure(peer: PeerConfig) -> str:
    flags = [n for n, on in (("port", peer.insecure.port), ("invite", peer.insecure.invite)) if on]
    return ",".join(flags) or "no"


#: chan_sip's ``sip show registry`` row: ``%-39.39s %-6.6s %-12.12s  %8d %-20.20s %-25.25s``.
_REGISTRY_FORMAT = "{:<39.39} {:<6.6} {:<12.12}  {:>8} {:<20.20} {:<25.25}"


def local_regtime(at: float) -> str:
    """chan_sip's Reg.Time: ``%a, %d %b %Y %T`` in local time."""
    return time.strftime("%a, %d %b %Y %H:%M:%S", time.localtime(at))


def show_registry(
    registry: PeerRegistry,
    now: float,
    outbound: Iterable[tuple[Registration, OutboundRegistration]] = (),
    regtime: Callable[[float], str] = local_regtime,
) -> str:
    """``sip show registry``: chan_sip's table of outbound registrations (always, with its
    footer), a blank line, then the inbound bindings, one line per binding.

    :param regtime: formats the time of the last successful REGISTER (injected in tests).
    """
    fmt = _REGISTRY_FORMAT
    lines = [fmt.format("Host", "dnsmgr", "Username", "Refresh", "State", "Reg.Time").rstrip()]
    count = 0
    for line, reg in outbound:
        count += 1
        host = f"{bracket(line.host)}:{reg.spec.target.port}"
        at = regtime(reg.registered_at) if reg.registered_at is not None else ""
        # No DNS manager: pbx resolves nothing, so the column is always N.
        lines.append(fmt.format(host, "N", line.user, reg.expiry, reg.state.value, at).rstrip())
    lines.append(f"{count} SIP registrations.")
    return "\n".join(lines) + "\n\n" + _show_bindings(registry, now)


def _show_bindings(registry: PeerRegistry, now: float) -> str:
    """Inbound registrations, one line per binding (pbx's addition to ``sip show registry``)."""
    fmt = "{:<20.20} {:<5} {:<45.45} {:<28.28} {:>7} {:<20.20}"
    lines = [fmt.format("Peer", "Trsp", "Contact", "Flow", "Expiry", "Useragent").rstrip()]
    count = 0
    for peer in registry:
        for b in registry.location.lookup(peer.name, now):
            count += 1
            # None: restored from disk, or its TCP/TLS connection closed (pbx reconnects).
            flow = str(b.flow) if b.flow is not None else "-"
            lines.append(
                fmt.format(
                    peer.name,
                    b.transport.value.upper(),
                    b.contact,
                    flow,
                    str(b.expires_in(now)),
                    b.user_agent,
                ).rstrip()
            )
    lines.append(f"{count} SIP registrations.")
    return "\n".join(lines) + "\n"


def show_settings(registry: PeerRegistry, extra: list[tuple[str, str]]) -> str:
    g = registry.general
    rows = [
        ("UDP Bindaddress", str(g.udpbindaddr)),
        ("TCP SIP Bindaddress", str(g.tcpbindaddr) if g.tcpenable else "Disabled"),
        ("TLS SIP Bindaddress", str(g.tlsbindaddr) if g.tlsenable else "Disabled"),
        ("Websocket Enabled", _yes_no(g.websocket_enabled)),
        ("Realm. auth", g.realm),
        ("Allow unknown access", _yes_no(g.allowguest)),
        ("Always auth rejects", _yes_no(g.alwaysauthreject)),
        ("Allow overlap dialing", _yes_no(g.allowoverlap)),
        ("User Agent", g.useragent),
        ("SDP Session Name", g.sdpsession),
        ("SDP Owner Name", g.sdpowner),
        ("Reg. min duration", f"{g.minexpiry} secs"),
        ("Reg. max duration", f"{g.maxexpiry} secs"),
        ("Reg. default duration", f"{g.defaultexpiry} secs"),
        ("Max message size", f"{g.maxmessagesize} bytes"),
        ("Externaddr", str(g.externaddr) if g.externaddr else "(none)"),
        ("Media address", g.media_address or "(none)"),
        ("Context", g.context),
        ("Qualify Freq", f"{g.qualifyfreq * 1000} ms"),
        *extra,
    ]
    width = max(len(k) for k, _ in rows)
    body = "\n".join(f"  {k + ':':<{width + 1}} {v}" for k, v in rows)
    return "\n\nGlobal Settings:\n----------------\n" + body + "\n"
