"""Answering an offer (RFC 3264 §6) the way chan_sip decides, with pbx's WebRTC answer layout.

pbx anchors exactly one audio stream.  Every ``m=`` line of the offer gets an answer line in
the same order (RFC 3264 §6): the first audio line whose profile, keys and codecs are
acceptable is accepted; every other line (more audio, video, text, application) is declined
with port 0.  When no audio line is acceptable the answer is a :class:`NotAcceptable` carrying
the reason of the first audio line tried (chan_sip's 488 cases, ASTERISK-REFERENCE §8.3).

Per audio line, in chan_sip's order: profile, then keys, then codecs.

* ``RTP/AVP(F)``: refused when the peer has ``encryption=yes``.
* ``UDP/TLS/RTP/SAVP(F)``, or ``RTP/SAVP(F)`` with ``a=fingerprint`` and no usable preference
  for SDES: DTLS-SRTP (RFC 5763), needs ``dtlsenable``.
* ``RTP/SAVP(F)`` with ``a=crypto``: SDES (RFC 4568), accepted even without ``encryption``.
* The answer mirrors the offered profile, AVPF or not (chan_sip since 11.7).
* Codecs: the peer's allow order intersected with the offer, offered PTs kept, plus the
  offered telephone-event matching the first codec's clock (RFC 4733 §2.1).
* Direction per RFC 3264 §6.1, ``c=0.0.0.0`` per §8.4, local hold per §8.4.

:func:`restarts_ice` tells whether a re-offer restarts ICE (RFC 8839 §4.4.1.1.2): the answer
must then carry new credentials of ours, which the caller puts in ``local``.
"""

from __future__ import annotations

import dataclasses

from pbx.core.errors import LocalProtocolError
from pbx.sdp import build, dtls, sdes
from pbx.sdp.build import AudioSection
from pbx.sdp.codecs import (
    TELEPHONE_EVENT,
    Codec,
    joint_codecs,
    offered_codec_labels,
    offered_formats,
    telephone_event,
)
from pbx.sdp.model import Crypto, MediaDescription, SessionDescription
from pbx.sdp.policy import (
    DTLS_PROFILES,
    PLAIN_PROFILES,
    RTP_PROFILES,
    LocalMedia,
    MediaPolicy,
    NegotiatedMedia,
    NotAcceptable,
    direction_flags,
    direction_name,
)


@dataclasses.dataclass(frozen=True)
class _Keys:
    """The security outcome for one offered stream."""

    kind: str
    crypto: Crypto | None = None
    fingerprint: tuple[str, str] | None = None
    setup: str | None = None


def answer_offer(
    offer: SessionDescription,
    policy: MediaPolicy,
    local: LocalMedia,
    hold: bool = False,
    session: tuple[int, int] | None = None,
    dtls_role: str | None = None,
) -> tuple[SessionDescription, NegotiatedMedia] | NotAcceptable:
    """Answer ``offer`` for a peer with ``policy``, receiving on ``local``.

    :param hold: we put the peer on hold: our answer does not receive (RFC 3264 §8.4).
    :param session: (sess-id, sess-version) for ``o=``; ``SdpSession`` tracks them.
        ``None`` writes (0, 0), fine for a one-shot answer.
    :param dtls_role: our established DTLS role, kept when the offer says ``actpass``.
    :raises LocalProtocolError: if ``local`` lacks what the answer needs (ICE credentials,
        fingerprint, SDES key).
    """
    chosen = _choose(offer, policy, local, hold, dtls_role)
    if isinstance(chosen, NotAcceptable):
        return chosen
    index, section, negotiated = chosen
    md = offer.media[index]
    bundle = offer.group("BUNDLE")
    answer = build.session(
        local,
        session or (0, 0),
        bundle_mid=md.mid if bundle is not None and md.mid in bundle else None,
        ice_lite=section.candidates is not None,
    )
    for other_index, other in enumerate(offer.media):
        if other_index == index:
            answer.add_media(build.audio_section(section, local))
        else:
            answer.add_media(build.declined_section(other))
    return answer, negotiated


def restarts_ice(offer: SessionDescription, previous: NegotiatedMedia | None) -> bool:
    """Whether ``offer`` restarts ICE on the stream ``previous`` negotiated: its ``a=ice-ufrag``
    or ``a=ice-pwd`` changed (RFC 8839 §4.4.1.1.2; RFC 8445 §9).

    The stream is the offered audio line with the previous ``a=mid``, else (no mids) the first
    audio line in use. A stream that ran without ICE, or an offer without credentials, cannot
    restart it.
    """
    if previous is None or not previous.ice:
        return False
    audio = [md for md in offer.media if md.media == "audio" and md.port != 0]
    same = [md for md in audio if previous.mid is not None and md.mid == previous.mid]
    streams = same or audio
    if not streams:
        return False
    md = streams[0]
    if md.ice_ufrag is None or md.ice_pwd is None:
        return False
    return (md.ice_ufrag, md.ice_pwd) != (previous.remote_ice_ufrag, previous.remote_ice_pwd)


def check_offer(
    offer: SessionDescription, policy: MediaPolicy, local: LocalMedia
) -> NotAcceptable | None:
    """Why :func:`answer_offer` would refuse ``offer``, or ``None``: the 488 check of an
    INVITE before a channel exists, without building an answer that nobody sends (the real
    one is made at answer time, with the codec order Dial settles on).

    :raises LocalProtocolError: as :func:`answer_offer`.
    """
    chosen = _choose(offer, policy, local, False, None)
    return chosen if isinstance(chosen, NotAcceptable) else None


def _choose(
    offer: SessionDescription,
    policy: MediaPolicy,
    local: LocalMedia,
    hold: bool,
    dtls_role: str | None,
) -> tuple[int, AudioSection, NegotiatedMedia] | NotAcceptable:
    """The first acceptable audio line: its index, our section and the negotiation."""
    failure: NotAcceptable | None = None
    for index, md in enumerate(offer.media):
        if md.media != "audio" or md.port == 0:
            continue
        result = _accept(md, policy, local, hold, dtls_role)
        if isinstance(result, NotAcceptable):
            failure = failure or result
            continue
        return (index, *result)
    return failure or NotAcceptable("offer has no audio stream")


def _accept(
    md: MediaDescription,
    policy: MediaPolicy,
    local: LocalMedia,
    hold: bool,
    dtls_role: str | None,
) -> tuple[AudioSection, NegotiatedMedia] | NotAcceptable:
    keys = _keys(md, policy, dtls_role)
    if isinstance(keys, NotAcceptable):
        return keys
    offered = offered_formats(md)
    joint = joint_codecs(offered, policy.codecs)
    if not joint:
        labels = offered_codec_labels(offered)
        has = f"only {','.join(labels)}" if labels else "no codec"
        return NotAcceptable(
            f"offer has {has}; peer {policy.peer_name} allows {','.join(policy.codecs)}"
        )
    formats: list[tuple[Codec, int]] = list(joint)
    event = telephone_event(offered, joint[0][0].clock_rate) if policy.dtmf_rfc4733 else None
    if event is not None:
        te_codec = dataclasses.replace(TELEPHONE_EVENT, clock_rate=event.clock_rate)
        formats.append((te_codec, event.payload_type))
    conn = md.connection
    if conn is None:
        return NotAcceptable("offer has no c= line for the audio stream")

    offer_send, offer_recv = direction_flags(md.direction)
    # RFC 3264 §8.4: c=0.0.0.0 means "send nothing to me", whatever the direction says.
    send = offer_recv and not conn.is_hold_address
    recv = offer_send and not hold
    ice = policy.ice and md.ice_ufrag is not None and md.ice_pwd is not None
    mux = md.rtcp_mux

    our_crypto = None
    if keys.crypto is not None:
        key = local.sdes_keys.get(keys.crypto.suite)
        if key is None:
            raise LocalProtocolError(f"LocalMedia.sdes_keys has no {keys.crypto.suite} key")
        our_crypto = sdes.local_crypto(keys.crypto.tag, keys.crypto.suite, key)
    dtls_attrs = None
    if keys.setup is not None:
        dtls_attrs = (keys.setup, *dtls.local_fingerprint(md.fingerprints, policy, local))

    section = AudioSection(
        proto=md.proto,
        formats=formats,
        direction=direction_name(send, recv),
        rtcp_mux=mux,
        mid=md.mid,
        ptime=md.ptime,
        cryptos=() if our_crypto is None else (our_crypto,),
        dtls=dtls_attrs,
        candidates=build.host_candidates(local, mux) if ice else None,
    )
    negotiated = NegotiatedMedia(
        remote_address=conn.host,
        remote_rtp_port=md.port,
        remote_rtcp_port=md.rtcp_port(mux),
        rtcp_mux=mux,
        codec=joint[0][0].name,
        payload_type=joint[0][1],
        clock_rate=joint[0][0].clock_rate,
        codecs=tuple((codec.name, pt) for codec, pt in joint),
        dtmf_pt=None if event is None else event.payload_type,
        dtmf_clock_rate=None if event is None else event.clock_rate,
        ptime=md.ptime,
        direction=section.direction,
        send=send,
        recv=recv,
        security=keys.kind,
        remote_crypto=keys.crypto,
        local_crypto_suite=None if keys.crypto is None else keys.crypto.suite,
        remote_fingerprint=keys.fingerprint,
        dtls_role=None if keys.setup is None else dtls.role(keys.setup),
        remote_ice_ufrag=md.ice_ufrag if ice else None,
        remote_ice_pwd=md.ice_pwd if ice else None,
        ice=ice,
        mid=md.mid,
        avpf=md.proto.endswith("F"),
        profile=md.proto,
        local_ice_ufrag=local.ice_ufrag if ice else None,
        local_ice_pwd=local.ice_pwd if ice else None,
    )
    return section, negotiated


def _keys(
    md: MediaDescription, policy: MediaPolicy, dtls_role: str | None
) -> _Keys | NotAcceptable:
    """Profile and key checks for one offered audio stream."""
    proto = md.proto
    if proto not in RTP_PROFILES:
        return NotAcceptable(f"unsupported audio profile {proto}")
    if proto in PLAIN_PROFILES:
        if policy.encryption:
            return NotAcceptable(
                f"plain RTP offered but peer {policy.peer_name} has encryption=yes"
            )
        return _Keys("none")
    fingerprints = md.fingerprints
    cryptos = md.cryptos
    if proto in DTLS_PROFILES or (fingerprints and (policy.dtls or not cryptos)):
        if not fingerprints:
            return NotAcceptable(f"secure profile {proto} offered without a=fingerprint")
        if not policy.dtls:
            return NotAcceptable(
                f"DTLS-SRTP offered but peer {policy.peer_name} has no dtlsenable=yes"
            )
        fingerprint = dtls.remote_fingerprint(fingerprints)
        if isinstance(fingerprint, NotAcceptable):
            return fingerprint
        setup = dtls.answer_setup(md.setup, policy, dtls_role)
        if isinstance(setup, NotAcceptable):
            return setup
        return _Keys("dtls", fingerprint=fingerprint, setup=setup)
    if not cryptos:
        return NotAcceptable(f"secure profile {proto} offered without a=crypto or a=fingerprint")
    return _choose_crypto(cryptos)


def _choose_crypto(cryptos: list[Crypto]) -> _Keys | NotAcceptable:
    """The first offered crypto line with a supported suite and usable key (RFC 4568 §7.1.1
    lets the answerer pick any; chan_sip also skips the ones it cannot use)."""
    problem = None
    for crypto in cryptos:
        if crypto.suite not in sdes.SUITES:
            continue
        reason = sdes.key_problem(crypto)
        if reason is None:
            return _Keys("sdes", crypto=crypto)
        problem = problem or reason
    if problem is not None:
        return NotAcceptable(problem)
    offered = ",".join(dict.fromkeys(c.suite for c in cryptos))
    return NotAcceptable(f"SDES suites {offered} offered; pbx supports {','.join(sdes.SUITES)}")
