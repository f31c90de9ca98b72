"""Call transfer by SIP REFER (RFC 3515): what a leg answers to a REFER, as chan_sip does.

A REFER without ``Replaces`` is a blind transfer (RFC 5589 §6), handled as chan_sip does:
400 for a missing, repeated or non-SIP ``Refer-To``; 603 with ``allowtransfer=no`` or when the
leg is not in a bridge; 404 when the extension does not exist in the transfer context (pbx
checks before accepting, so the phone keeps its call); else 202, a NOTIFY ``SIP/2.0 100
Trying``, the transfer itself (see :attr:`SipLeg.blind_transfer`), a final NOTIFY ``SIP/2.0 200
OK`` (RFC 3515 §2.4.4-§2.4.5), and once that NOTIFY is answered pbx hangs up the transferor's
leg (BYE) unless it left first.

A REFER whose ``Refer-To`` carries ``Replaces`` is an attended transfer (RFC 5589 §7, RFC
3891): the transferor asks pbx to join the party of this call with the party of the call named
by ``Replaces`` (see :attr:`SipLeg.attended_transfer`). Every refusal is the REFER's own final
response, so the phone keeps both calls: 400 for a malformed ``Replaces``, 603 as for a blind
transfer, 481 when no live leg has that dialog (Call-ID, pbx's tag = the to-tag, the
transferor's tag = the from-tag), and what ``Dial`` answers (488 when the two parties share no
codec pbx can relay or transcode, 501 for pairs of calls it cannot join). Accepted, it goes as
a blind transfer does, and after the final NOTIFY pbx hangs up both of the transferor's legs.

:func:`decide_refer` is pure: it parses the REFER and asks the hooks ``Dial`` set on a bridged
leg; the leg (:mod:`pbx.call.sip_leg`) sends the answer, the NOTIFYs and its BYE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx.core.errors import RemoteProtocolError
from pbx.sip.message import Request
from pbx.sip.refer import ReferTarget, Replaces, refer_target

if TYPE_CHECKING:
    from pbx.call.channel import Channel


@dataclass(frozen=True, slots=True)
class Attended:
    """An attended transfer ``Dial`` agreed to (see :data:`AttendedTransfer`).

    :ivar join: joins the two remaining parties (called once the REFER is accepted).
    :ivar replaced: the transferor's other channel, hung up with the transferor's leg.
    """

    join: Callable[[], None]
    replaced: Channel


BlindTransfer = Callable[[str], Callable[[], None] | None]
"""Given the Refer-To extension, the action that moves the other party there, or None when
the extension does not exist (set on a leg by ``Dial`` while it is bridged)."""

AttendedTransfer = Callable[[Replaces], Attended | tuple[int, str]]
"""Given the dialog a REFER's ``Replaces`` names, what joins the two other parties, or the
(status, reason) the REFER is refused with."""


@dataclass(frozen=True, slots=True)
class ReferOutcome:
    """The answer to a REFER, and what to do once it is sent (``action`` None: refused)."""

    status: int
    reason: str
    action: Callable[[], None] | None = None
    replaced: Channel | None = None
    target: ReferTarget | None = None


def decide_refer(
    request: Request,
    *,
    allowed: bool,
    bridged: bool,
    blind: BlindTransfer | None,
    attended: AttendedTransfer | None,
) -> ReferOutcome:
    """The answer to ``request`` on a leg whose ``allowtransfer`` is ``allowed`` and whose
    call is up (``bridged``), with the hooks ``Dial`` set on it (see the module docstring)."""
    try:
        target = refer_target(request)
    except RemoteProtocolError as e:
        return ReferOutcome(e.response_hint, e.message)
    hook = blind if target.replaces is None else attended
    if not allowed:
        return ReferOutcome(603, "Declined", target=target)
    if hook is None or not bridged:
        return ReferOutcome(603, "Declined (No bridged channel)", target=target)
    if target.replaces is not None and attended is not None:
        outcome = attended(target.replaces)
        if isinstance(outcome, Attended):
            return ReferOutcome(202, "Accepted", outcome.join, outcome.replaced, target)
        return ReferOutcome(*outcome, target=target)
    assert blind is not None
    action = blind(target.exten)
    if action is None:
        return ReferOutcome(404, "Not Found", target=target)
    return ReferOutcome(202, "Accepted", action, target=target)
