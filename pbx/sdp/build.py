"""How pbx writes its own SDP, shared by offers and answers.

One layout for every SDP pbx sends, so offers, answers and re-offers differ only where the
negotiation differs::

    v=0 / o=<owner> <id> <version> IN IP4|IP6 <addr> / s=<name> / c=IN IP4|IP6 <addr> / t=0 0
    a=group:BUNDLE <mid>      (RFC 8843 §7.1, when the stream is bundled)
    a=ice-lite                (RFC 8839 §5.3, session level, when ICE runs)
    m=audio <port> <proto> <pt> ...
    a=mid  a=rtpmap/a=fmtp per format  a=ptime  <direction>  a=rtcp-mux | a=rtcp
    a=crypto ...  |  a=setup a=fingerprint
    a=ice-ufrag a=ice-pwd a=candidate ... a=end-of-candidates

This is the answer Chromium was verified to accept (WEBRTC-MEDIA.md §1), with ``c=`` at
session level as Asterisk writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pbx.core.errors import LocalProtocolError
from pbx.sdp.codecs import Codec
from pbx.sdp.model import (
    Attribute,
    Candidate,
    Connection,
    Crypto,
    MediaDescription,
    Origin,
    SessionDescription,
)
from pbx.sdp.policy import LocalMedia

# RFC 8445 §5.1.2.1: (2^24)*type preference + (2^8)*local preference + (256 - component),
# with type preference 126 (host) and local preference 65535.
_HOST_PRIORITY_BASE = (126 << 24) + (65535 << 8) + 256


@dataclass(frozen=True)
class AudioSection:
    """Everything that varies in pbx's audio ``m=`` section.

    :param formats: (codec, payload type) in ``m=`` line order; telephone-event included.
    :param dtls: (``a=setup`` value, hash name, fingerprint hex) or ``None``.
    :param candidates: ICE candidates, or ``None`` when ICE does not run.
    """

    proto: str
    formats: Sequence[tuple[Codec, int]]
    direction: str
    rtcp_mux: bool
    mid: str | None = None
    ptime: int | None = None
    cryptos: Sequence[Crypto] = ()
    dtls: tuple[str, str, str] | None = None
    candidates: Sequence[Candidate] | None = None


def host_candidates(local: LocalMedia, rtcp_mux: bool) -> list[Candidate]:
    """Our ICE candidates: ``local.candidates``, or one host candidate per component.

    With RTCP multiplexed only component 1 is advertised (RFC 5761 §5.1.3 with ICE).
    """
    if local.candidates:
        return [c for c in local.candidates if c.component == 1 or not rtcp_mux]
    ports = [local.rtp_port] if rtcp_mux else [local.rtp_port, local.rtcp_port]
    return [
        Candidate("1", comp, "udp", _HOST_PRIORITY_BASE - comp, local.address, port, "host")
        for comp, port in enumerate(ports, start=1)
    ]


def session(
    local: LocalMedia,
    version: tuple[int, int],
    bundle_mid: str | None,
    ice_lite: bool,
) -> SessionDescription:
    """The session-level part of an SDP pbx sends (no media yet)."""
    conn = Connection.for_address(local.address)
    attributes = []
    if bundle_mid is not None:
        attributes.append(Attribute("group", f"BUNDLE {bundle_mid}"))
    if ice_lite:
        attributes.append(Attribute("ice-lite"))
    return SessionDescription(
        origin=Origin(local.sess_owner, version[0], version[1], "IN", conn.addrtype, local.address),
        session_name=local.session_name,
        connection=conn,
        attributes=attributes,
    )


def audio_section(section: AudioSection, local: LocalMedia) -> MediaDescription:
    """pbx's audio ``m=`` section on ``local.rtp_port``."""
    attrs: list[Attribute] = []
    if section.mid is not None:
        attrs.append(Attribute("mid", section.mid))
    for codec, pt in section.formats:
        attrs.append(Attribute("rtpmap", str(codec.rtpmap_for(pt))))
        if codec.fmtp is not None:
            attrs.append(Attribute("fmtp", f"{pt} {codec.fmtp}"))
    if section.ptime is not None:
        attrs.append(Attribute("ptime", str(section.ptime)))
    attrs.append(Attribute(section.direction))
    if section.rtcp_mux:
        attrs.append(Attribute("rtcp-mux"))
    else:
        attrs.append(Attribute("rtcp", str(local.rtcp_port)))
    attrs += [Attribute("crypto", str(c)) for c in section.cryptos]
    if section.dtls is not None:
        setup, hash_name, fingerprint = section.dtls
        attrs.append(Attribute("setup", setup))
        attrs.append(Attribute("fingerprint", f"{hash_name} {fingerprint}"))
    if section.candidates is not None:
        attrs.append(Attribute("ice-ufrag", _required(local.ice_ufrag, "ice_ufrag")))
        attrs.append(Attribute("ice-pwd", _required(local.ice_pwd, "ice_pwd")))
        attrs += [Attribute("candidate", str(c)) for c in section.candidates]
        attrs.append(Attribute("end-of-candidates"))
    return MediaDescription(
        "audio",
        local.rtp_port,
        section.proto,
        [str(pt) for _, pt in section.formats],
        attributes=attrs,
    )


def declined_section(md: MediaDescription) -> MediaDescription:
    """A rejected stream (RFC 3264 §6: port 0, same media and proto, a format kept),
    keeping ``a=mid`` so a BUNDLE peer can still match it (RFC 8843 §7.3.3)."""
    attrs = [] if md.mid is None else [Attribute("mid", md.mid)]
    return MediaDescription(md.media, 0, md.proto, md.fmts[:1], attributes=attrs)


def _required(value: str | None, name: str) -> str:
    if value is None:
        raise LocalProtocolError(f"LocalMedia.{name} is needed for ICE")
    return value
