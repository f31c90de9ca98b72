"""pbx as the offerer: writing an offer and accepting the answer (RFC 3264 §5, §7).

Offers follow chan_sip's choices for the peer (ASTERISK-REFERENCE §1.3, §1.7): our codecs in
``allow`` order with their PTs, telephone-event 101 (``0-16``), ``a=ptime:20`` when G.711 is
offered, the profile of ``ast_sdp_get_rtp_profile``, SDES keys for both suites (the one of
``encryption_taglen`` as tag 1, :func:`pbx.sdp.sdes.offer_suites`), or for DTLS a
fingerprint and ``a=setup`` (the configured one first; re-offers keep the established role,
RFC 8842 §5.5), ICE-lite credentials and candidates, rtcp-mux, ``a=mid`` and BUNDLE.

A re-offer keeps the ``m=`` layout of pbx's SDP in the last completed exchange (RFC 3264 §8:
same number and order of streams; streams removed earlier stay with port 0), and its ``a=mid``
and BUNDLE group.

An answer is accepted when it keeps the stream, picks codecs we offered, and its keys fit ours
(an SDES tag and suite we offered; for DTLS a fingerprint and a role consistent with our
``a=setup``).  Anything else is a :class:`NotAcceptable`; the call layer then ACKs and BYEs
with cause 58, as chan_sip does.
"""

from __future__ import annotations

from pbx.core.errors import LocalProtocolError
from pbx.sdp import build, dtls, sdes
from pbx.sdp.build import AudioSection
from pbx.sdp.codecs import (
    AUDIO_CODECS,
    G711,
    TELEPHONE_EVENT,
    TELEPHONE_EVENT_48K,
    Codec,
    offered_codec_labels,
    offered_formats,
    telephone_event,
)
from pbx.sdp.model import Crypto, MediaDescription, SessionDescription
from pbx.sdp.policy import (
    DTLS_PROFILES,
    PLAIN_PROFILES,
    LocalMedia,
    MediaPolicy,
    NegotiatedMedia,
    NotAcceptable,
    direction_flags,
    direction_name,
    offer_profile,
)


def make_offer(
    policy: MediaPolicy,
    local: LocalMedia,
    hold: bool = False,
    session: tuple[int, int] | None = None,
    dtls_role: str | None = None,
    new_dtls_association: bool = False,
    previous: SessionDescription | None = None,
) -> SessionDescription:
    """An offer for a peer with ``policy``, receiving on ``local``.

    :param hold: put the peer on hold: ``a=sendonly`` (RFC 3264 §8.4).
    :param session: (sess-id, sess-version) for ``o=``; ``None`` writes (0, 0).
    :param dtls_role: our established DTLS role; a re-offer keeps it unless
        ``new_dtls_association``.
    :param previous: our SDP of the last completed exchange, whose ``m=`` layout, audio
        ``a=mid`` and BUNDLE group a re-offer keeps.
    :raises LocalProtocolError: if no allowed codec has an SDP mapping, or ``local`` lacks
        what the policy needs (fingerprint, SDES keys, ICE credentials).
    """
    codecs = [AUDIO_CODECS[name] for name in dict.fromkeys(policy.codecs) if name in AUDIO_CODECS]
    if not codecs:
        raise LocalProtocolError(
            f"peer {policy.peer_name} allows no codec pbx can offer ({','.join(policy.codecs)})"
        )
    formats: list[tuple[Codec, int]] = [(c, c.offer_pt) for c in codecs]
    if policy.dtmf_rfc4733:
        # RFC 4733 §2.1: events run on the audio codec's clock, so opus gets its own
        # telephone-event/48000 (on 110, the PT browsers use) beside the /8000 of G.711.
        if any(c.clock_rate == TELEPHONE_EVENT_48K.clock_rate for c in codecs):
            formats.append((TELEPHONE_EVENT_48K, TELEPHONE_EVENT_48K.offer_pt))
        if any(c.clock_rate == TELEPHONE_EVENT.clock_rate for c in codecs):
            formats.append((TELEPHONE_EVENT, TELEPHONE_EVENT.offer_pt))

    if previous is None:
        audio_index, mid, bundle = 0, "0" if policy.dtls else None, policy.dtls
    else:
        # A re-offer identifies the stream as the last exchange did (RFC 8843 §7.2).
        audio_index = _audio_index(previous)
        layout_has_audio = audio_index < len(previous.media)
        mid = previous.media[audio_index].mid if layout_has_audio else None
        bundle = previous.group("BUNDLE") is not None

    dtls_attrs = None
    if policy.dtls:
        if local.fingerprint is None:
            raise LocalProtocolError("LocalMedia.fingerprint is needed for DTLS-SRTP")
        setup = dtls.offer_setup(policy, dtls_role, new_dtls_association)
        dtls_attrs = (setup, policy.fingerprint_hash, local.fingerprint)
    section = AudioSection(
        proto=offer_profile(policy),
        formats=formats,
        direction="sendonly" if hold else "sendrecv",
        rtcp_mux=policy.rtcp_mux,
        mid=mid,
        ptime=20 if any(c.name in G711 for c in codecs) else None,
        cryptos=_our_cryptos(local, policy) if policy.encryption and not policy.dtls else (),
        dtls=dtls_attrs,
        candidates=build.host_candidates(local, policy.rtcp_mux) if policy.ice else None,
    )
    offer = build.session(
        local,
        session or (0, 0),
        bundle_mid=mid if bundle else None,
        ice_lite=policy.ice,
    )
    layout = [] if previous is None else previous.media
    for index, md in enumerate(layout):
        if index != audio_index:
            offer.add_media(build.declined_section(md))
        else:
            offer.add_media(build.audio_section(section, local))
    if audio_index >= len(layout):
        offer.add_media(build.audio_section(section, local))
    return offer


def _audio_index(previous: SessionDescription) -> int:
    """Where the audio stream was: the first active audio line, else the first audio line,
    else a new line at the end."""
    audio = [i for i, md in enumerate(previous.media) if md.media == "audio"]
    active = [i for i in audio if previous.media[i].port != 0]
    return (active or audio or [len(previous.media)])[0]


def _our_cryptos(local: LocalMedia, policy: MediaPolicy) -> list[Crypto]:
    suites = [s for s in sdes.offer_suites(policy.sdes_taglen) if s in local.sdes_keys]
    if not suites:
        raise LocalProtocolError("LocalMedia.sdes_keys is needed for SDES-SRTP")
    return [sdes.local_crypto(tag, s, local.sdes_keys[s]) for tag, s in enumerate(suites, start=1)]


def accept_answer(
    offer: SessionDescription, answer: SessionDescription, policy: MediaPolicy
) -> NegotiatedMedia | NotAcceptable:
    """Check the peer's ``answer`` to our ``offer`` and describe the agreed stream.

    :raises LocalProtocolError: if ``offer`` has no active audio stream (not one of ours).
    """
    index = next(
        (i for i, md in enumerate(offer.media) if md.media == "audio" and md.port != 0), None
    )
    if index is None:
        raise LocalProtocolError("the offer has no active audio stream")
    if len(answer.media) != len(offer.media):
        return NotAcceptable(
            f"answer has {len(answer.media)} m= lines; the offer had {len(offer.media)}"
        )
    ours, theirs = offer.media[index], answer.media[index]
    if theirs.port == 0:
        return NotAcceptable("answer declined the audio stream")
    keys = _answer_keys(ours, theirs)
    if isinstance(keys, NotAcceptable):
        return keys

    our_formats = offered_formats(ours)
    our_codecs = [
        f.codec for f in our_formats if f.codec is not None and f.codec is not TELEPHONE_EVENT
    ]
    their_formats = offered_formats(theirs)
    joint: list[tuple[Codec, int]] = []
    for fmt in their_formats:
        codec = fmt.codec
        if codec is not None and codec in our_codecs and all(c is not codec for c, _ in joint):
            joint.append((codec, fmt.payload_type))
    if not joint:
        labels = offered_codec_labels(their_formats)
        has = f"only {','.join(labels)}" if labels else "no codec"
        return NotAcceptable(f"answer has {has}; we offered {','.join(c.name for c in our_codecs)}")
    event = None
    if any(f.codec is TELEPHONE_EVENT for f in our_formats):
        event = telephone_event(their_formats, joint[0][0].clock_rate)
    conn = theirs.connection
    if conn is None:
        return NotAcceptable("answer has no c= line for the audio stream")

    our_send, our_recv = direction_flags(ours.direction)
    their_send, their_recv = direction_flags(theirs.direction)
    send = our_send and their_recv and not conn.is_hold_address
    recv = our_recv and their_send
    mux = ours.rtcp_mux and theirs.rtcp_mux
    ice = (
        policy.ice
        and ours.ice_ufrag is not None
        and theirs.ice_ufrag is not None
        and theirs.ice_pwd is not None
    )
    crypto, role, fingerprint = keys
    return NegotiatedMedia(
        remote_address=conn.host,
        remote_rtp_port=theirs.port,
        remote_rtcp_port=theirs.rtcp_port(mux),
        rtcp_mux=mux,
        codec=joint[0][0].name,
        payload_type=joint[0][1],
        clock_rate=joint[0][0].clock_rate,
        codecs=tuple((codec.name, pt) for codec, pt in joint),
        dtmf_pt=None if event is None else event.payload_type,
        dtmf_clock_rate=None if event is None else event.clock_rate,
        ptime=theirs.ptime,
        direction=direction_name(send, recv),
        send=send,
        recv=recv,
        security="dtls" if role is not None else "sdes" if crypto is not None else "none",
        remote_crypto=crypto,
        local_crypto_suite=None if crypto is None else crypto.suite,
        remote_fingerprint=fingerprint,
        dtls_role=role,
        remote_ice_ufrag=theirs.ice_ufrag if ice else None,
        remote_ice_pwd=theirs.ice_pwd if ice else None,
        ice=ice,
        mid=theirs.mid or ours.mid,
        avpf=theirs.proto.endswith("F"),
        profile=theirs.proto,
    )


_AnswerKeys = tuple[Crypto | None, str | None, tuple[str, str] | None]


def _answer_keys(ours: MediaDescription, theirs: MediaDescription) -> _AnswerKeys | NotAcceptable:
    """(remote crypto, our DTLS role, remote fingerprint) if the answer's keys fit our offer."""
    secure_offer = ours.proto not in PLAIN_PROFILES
    # A secure offer needs a secure answer and a plain offer a plain one.
    if secure_offer == (theirs.proto in PLAIN_PROFILES):
        return NotAcceptable(f"answer has {theirs.proto}; we offered {ours.proto}")
    if not secure_offer:
        return None, None, None
    if ours.proto in DTLS_PROFILES or ours.fingerprints:
        if not theirs.fingerprints:
            return NotAcceptable("answer has no a=fingerprint for DTLS-SRTP")
        fingerprint = dtls.remote_fingerprint(theirs.fingerprints)
        if isinstance(fingerprint, NotAcceptable):
            return fingerprint
        role = dtls.role_after_answer(ours.setup or "active", theirs.setup)
        if isinstance(role, NotAcceptable):
            return role
        return None, role, fingerprint
    offered = {c.tag: c.suite for c in ours.cryptos}
    for crypto in theirs.cryptos:
        if offered.get(crypto.tag) == crypto.suite:
            problem = sdes.key_problem(crypto)
            return (crypto, None, None) if problem is None else NotAcceptable(problem)
    return NotAcceptable("answer has no a=crypto matching our offer")
