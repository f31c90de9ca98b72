"""REFER for call transfer: the ``Refer-To`` of a request and the NOTIFYs that report on it.

RFC 3515 §2.1: a REFER carries exactly one ``Refer-To`` (compact form ``r``); §2.4.1: one
that has none or several is answered 400. RFC 5589 §6 (blind transfer): the Refer-To is the
target's URI; §7 (attended transfer): it carries a ``Replaces`` URI header (RFC 3891 §6.1:
``call-id;to-tag=...;from-tag=...``, escaped in the URI), parsed into :class:`Replaces`. Its
tags name the replaced dialog as the transferor's *peer* on it sees it: the to-tag is that
peer's own (local) tag, the from-tag the transferor's.

RFC 3515 §2.4.4-§2.4.5 and RFC 6665: the referee reports progress with NOTIFY ``Event: refer``
whose body is a ``message/sipfrag`` (RFC 3420) status line; :func:`notify_headers` and
:func:`sipfrag` build them. chan_sip puts the REFER's CSeq number in the event ``id``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbx.core.errors import RemoteProtocolError
from pbx.sip.grammar import unescape
from pbx.sip.message import REASONS, Request, SipParseError
from pbx.sip.uri import NameAddr, SipUri

SIPFRAG = "message/sipfrag;version=2.0"

#: How long the implicit subscription of a REFER lasts while its NOTIFYs are pending (s).
SUBSCRIPTION_EXPIRES = 60


@dataclass(frozen=True, slots=True)
class Replaces:
    """The dialog an attended transfer replaces (RFC 3891 §6.1).

    :ivar call_id: its Call-ID.
    :ivar to_tag: the tag of the party the Refer-To is sent to (pbx's tag, for pbx).
    :ivar from_tag: the transferor's tag on that dialog.
    """

    call_id: str
    to_tag: str
    from_tag: str


@dataclass(frozen=True, slots=True)
class ReferTarget:
    """Where a REFER asks the call to go.

    :ivar uri: the Refer-To URI.
    :ivar replaces: the dialog named by the URI's ``Replaces`` header (attended transfer),
        None for a blind transfer.
    """

    uri: SipUri
    replaces: Replaces | None

    @property
    def exten(self) -> str:
        """The user part, unescaped: the extension a blind transfer goes to (``s`` if none)."""
        return unescape(self.uri.user) if self.uri.user else "s"


def refer_target(request: Request) -> ReferTarget:
    """The single ``Refer-To`` of ``request`` (RFC 3515 §2.4.1).

    :raises RemoteProtocolError: (400) when it is missing, repeated, unparseable, not a
        ``sip:``/``sips:`` URI, or has a ``Replaces`` without a Call-ID and both tags; the
        message is the reason phrase to answer with.
    """
    values = request.headers.get_all("Refer-To")
    if not values:
        raise RemoteProtocolError("Missing Refer-To", 400)
    if len(values) > 1:
        raise RemoteProtocolError("Multiple Refer-To", 400)
    try:
        address = NameAddr.parse(values[0])
    except SipParseError:
        raise RemoteProtocolError("Bad Refer-To", 400) from None
    uri = address.uri
    if not isinstance(uri, SipUri):
        raise RemoteProtocolError("Refer-To Not A SIP URI", 400)
    values = [v for name, v in uri.headers.items() if name.lower() == "replaces"]
    return ReferTarget(uri, parse_replaces(unescape(values[0])) if values else None)


def parse_replaces(value: str) -> Replaces:
    """``callid *(SEMI replaces-param)`` (RFC 3891 §6.1); ``early-only`` and unknown
    parameters are ignored.

    :raises RemoteProtocolError: (400) without a Call-ID, a to-tag or a from-tag.
    """
    call_id, *params = (part.strip() for part in value.split(";"))
    tags: dict[str, str] = {}
    for param in params:
        name, _, tag = param.partition("=")
        tags[name.strip().lower()] = tag.strip()
    to_tag, from_tag = tags.get("to-tag", ""), tags.get("from-tag", "")
    if not call_id or not to_tag or not from_tag:
        raise RemoteProtocolError("Bad Replaces", 400)
    return Replaces(call_id, to_tag, from_tag)


def sipfrag(status: int, reason: str | None = None) -> bytes:
    """A ``message/sipfrag`` body holding only a status line (RFC 3515 §2.4.5)."""
    return f"SIP/2.0 {status} {reason or REASONS.get(status, '')}\r\n".encode()


def notify_headers(refer_cseq: int, final: bool) -> list[tuple[str, str]]:
    """The headers of a NOTIFY about the REFER with CSeq ``refer_cseq``.

    :param final: the last NOTIFY (a final status): the implicit subscription is terminated
        (RFC 6665 §4.1.3); before that it is active.
    """
    state = "terminated;reason=noresource" if final else f"active;expires={SUBSCRIPTION_EXPIRES}"
    return [
        ("Event", f"refer;id={refer_cseq}"),
        ("Subscription-State", state),
        ("Content-Type", SIPFRAG),
    ]
