"""Q.850 hangup causes and their SIP mappings, shared by the call layer and the dialplan.

Owns three tables:

* the cause table of Asterisk ``main/channel.c`` (number, ``NAME`` as ``Hangup(NAME)`` accepts it,
  description as ``ast_cause2str`` prints it), with ITU-T Q.850 §2.2.5 numbering;
* cause -> SIP final response for an unanswered inbound call (chan_sip ``hangup_cause2sip``,
  ASTERISK-REFERENCE §1.6): anything unmapped, including 16 from a plain ``Hangup()``, becomes
  ``603 Declined``; reason phrases are RFC 3261 §21's rather than chan_sip's spellings;
* SIP final response -> cause for an outbound leg that failed (``hangup_sip2cause``, the RFC 3398
  §7.2.4 spirit with Asterisk's choices).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cause:
    """One Q.850 cause as Asterisk names and describes it."""

    code: int
    name: str
    description: str


UNALLOCATED = 1
NO_ROUTE_TRANSIT_NET = 2
NO_ROUTE_DESTINATION = 3
NORMAL_CLEARING = 16
USER_BUSY = 17
NO_USER_RESPONSE = 18
NO_ANSWER = 19
SUBSCRIBER_ABSENT = 20
CALL_REJECTED = 21
NUMBER_CHANGED = 22
ANSWERED_ELSEWHERE = 26
DESTINATION_OUT_OF_ORDER = 27
INVALID_NUMBER_FORMAT = 28
FACILITY_REJECTED = 29
NORMAL_UNSPECIFIED = 31
NORMAL_CIRCUIT_CONGESTION = 34
NETWORK_OUT_OF_ORDER = 38
NORMAL_TEMPORARY_FAILURE = 41
SWITCH_CONGESTION = 42
REQUESTED_CHAN_UNAVAIL = 44
BEARERCAPABILITY_NOTAVAIL = 58
CHAN_NOT_IMPLEMENTED = 66
RECOVERY_ON_TIMER_EXPIRE = 102
INTERWORKING = 127

# Asterisk's aliases (include/asterisk/causes.h).
BUSY = USER_BUSY
CONGESTION = NORMAL_CIRCUIT_CONGESTION
FAILURE = NETWORK_OUT_OF_ORDER
UNREGISTERED = SUBSCRIBER_ABSENT

CAUSES: tuple[Cause, ...] = (
    Cause(1, "UNALLOCATED", "Unallocated (unassigned) number"),
    Cause(2, "NO_ROUTE_TRANSIT_NET", "No route to specified transmit network"),
    Cause(3, "NO_ROUTE_DESTINATION", "No route to destination"),
    Cause(5, "MISDIALLED_TRUNK_PREFIX", "Misdialed trunk prefix"),
    Cause(6, "CHANNEL_UNACCEPTABLE", "Channel unacceptable"),
    Cause(
        7, "CALL_AWARDED_DELIVERED", "Call awarded and being delivered in an established channel"
    ),
    Cause(8, "PRE_EMPTED", "Pre-empted"),
    Cause(14, "NUMBER_PORTED_NOT_HERE", "Number ported elsewhere"),
    Cause(16, "NORMAL_CLEARING", "Normal Clearing"),
    Cause(17, "USER_BUSY", "User busy"),
    Cause(18, "NO_USER_RESPONSE", "No user responding"),
    Cause(19, "NO_ANSWER", "User alerting, no answer"),
    Cause(20, "SUBSCRIBER_ABSENT", "Subscriber absent"),
    Cause(21, "CALL_REJECTED", "Call Rejected"),
    Cause(22, "NUMBER_CHANGED", "Number changed"),
    Cause(23, "REDIRECTED_TO_NEW_DESTINATION", "Redirected to new destination"),
    Cause(26, "ANSWERED_ELSEWHERE", "Answered elsewhere"),
    Cause(27, "DESTINATION_OUT_OF_ORDER", "Destination out of order"),
    Cause(28, "INVALID_NUMBER_FORMAT", "Invalid number format"),
    Cause(29, "FACILITY_REJECTED", "Facility rejected"),
    Cause(30, "RESPONSE_TO_STATUS_ENQUIRY", "Response to STATus ENQuiry"),
    Cause(31, "NORMAL_UNSPECIFIED", "Normal, unspecified"),
    Cause(34, "NORMAL_CIRCUIT_CONGESTION", "Circuit/channel congestion"),
    Cause(38, "NETWORK_OUT_OF_ORDER", "Network out of order"),
    Cause(41, "NORMAL_TEMPORARY_FAILURE", "Temporary failure"),
    Cause(42, "SWITCH_CONGESTION", "Switching equipment congestion"),
    Cause(43, "ACCESS_INFO_DISCARDED", "Access information discarded"),
    Cause(44, "REQUESTED_CHAN_UNAVAIL", "Requested channel not available"),
    Cause(50, "FACILITY_NOT_SUBSCRIBED", "Facility not subscribed"),
    Cause(52, "OUTGOING_CALL_BARRED", "Outgoing call barred"),
    Cause(54, "INCOMING_CALL_BARRED", "Incoming call barred"),
    Cause(57, "BEARERCAPABILITY_NOTAUTH", "Bearer capability not authorized"),
    Cause(58, "BEARERCAPABILITY_NOTAVAIL", "Bearer capability not available"),
    Cause(65, "BEARERCAPABILITY_NOTIMPL", "Bearer capability not implemented"),
    Cause(66, "CHAN_NOT_IMPLEMENTED", "Channel not implemented"),
    Cause(69, "FACILITY_NOT_IMPLEMENTED", "Facility not implemented"),
    Cause(81, "INVALID_CALL_REFERENCE", "Invalid call reference value"),
    Cause(88, "INCOMPATIBLE_DESTINATION", "Incompatible destination"),
    Cause(95, "INVALID_MSG_UNSPECIFIED", "Invalid message unspecified"),
    Cause(96, "MANDATORY_IE_MISSING", "Mandatory information element is missing"),
    Cause(97, "MESSAGE_TYPE_NONEXIST", "Message type nonexist."),
    Cause(98, "WRONG_MESSAGE", "Wrong message"),
    Cause(99, "IE_NONEXIST", "Info. element nonexist or not implemented"),
    Cause(100, "INVALID_IE_CONTENTS", "Invalid information element contents"),
    Cause(101, "WRONG_CALL_STATE", "Message not compatible with call state"),
    Cause(102, "RECOVERY_ON_TIMER_EXPIRE", "Recover on timer expiry"),
    Cause(103, "MANDATORY_IE_LENGTH_ERROR", "Mandatory IE length error"),
    Cause(111, "PROTOCOL_ERROR", "Protocol error, unspecified"),
    Cause(127, "INTERWORKING", "Interworking, unspecified"),
)

_BY_CODE = {c.code: c for c in CAUSES}
_BY_NAME = {c.name: c for c in CAUSES}


def cause_by_code(code: int) -> Cause | None:
    """The table entry for ``code``, or None for a number Q.850 leaves unassigned."""
    return _BY_CODE.get(code)


def cause_from_name(name: str) -> int | None:
    """``Hangup(USER_BUSY)``: the code of an Asterisk cause name (case-insensitive), else None."""
    cause = _BY_NAME.get(name.strip().upper())
    return None if cause is None else cause.code


def cause_text(code: int) -> str:
    """``ast_cause2str``: the description, or ``Unknown`` as Asterisk prints it."""
    cause = _BY_CODE.get(code)
    return "Unknown" if cause is None else cause.description


# chan_sip hangup_cause2sip(); anything absent answers 603 Declined (ASTERISK-REFERENCE §1.6).
_CAUSE_TO_SIP: dict[int, tuple[int, str]] = {
    UNALLOCATED: (404, "Not Found"),
    NO_ROUTE_TRANSIT_NET: (404, "Not Found"),
    NO_ROUTE_DESTINATION: (404, "Not Found"),
    NORMAL_CIRCUIT_CONGESTION: (503, "Service Unavailable"),
    SWITCH_CONGESTION: (503, "Service Unavailable"),
    NO_USER_RESPONSE: (408, "Request Timeout"),
    NO_ANSWER: (480, "Temporarily Unavailable"),
    SUBSCRIBER_ABSENT: (480, "Temporarily Unavailable"),
    CALL_REJECTED: (403, "Forbidden"),
    NUMBER_CHANGED: (410, "Gone"),
    NORMAL_UNSPECIFIED: (480, "Temporarily Unavailable"),
    INVALID_NUMBER_FORMAT: (484, "Address Incomplete"),
    USER_BUSY: (486, "Busy Here"),
    NETWORK_OUT_OF_ORDER: (500, "Server Internal Error"),
    FACILITY_REJECTED: (501, "Not Implemented"),
    CHAN_NOT_IMPLEMENTED: (503, "Service Unavailable"),
    DESTINATION_OUT_OF_ORDER: (502, "Bad Gateway"),
    BEARERCAPABILITY_NOTAVAIL: (488, "Not Acceptable Here"),
    INTERWORKING: (500, "Server Internal Error"),
}

DECLINED = (603, "Declined")


def cause_to_sip(cause: int) -> tuple[int, str]:
    """The final response that rejects an unanswered inbound call hung up with ``cause``."""
    return _CAUSE_TO_SIP.get(cause, DECLINED)


# chan_sip/chan_pjsip hangup_sip2cause().
_SIP_TO_CAUSE: dict[int, int] = {
    401: CALL_REJECTED,
    403: CALL_REJECTED,
    404: UNALLOCATED,
    405: INTERWORKING,
    407: CALL_REJECTED,
    408: NO_USER_RESPONSE,
    409: NORMAL_TEMPORARY_FAILURE,
    410: NUMBER_CHANGED,
    411: INTERWORKING,
    413: INTERWORKING,
    414: INTERWORKING,
    415: INTERWORKING,
    420: NO_ROUTE_DESTINATION,
    480: NO_ANSWER,
    481: INTERWORKING,
    482: INTERWORKING,
    483: NO_ANSWER,
    484: INVALID_NUMBER_FORMAT,
    485: UNALLOCATED,
    486: USER_BUSY,
    487: INTERWORKING,
    488: BEARERCAPABILITY_NOTAVAIL,
    491: INTERWORKING,
    493: INTERWORKING,
    500: FAILURE,
    501: FACILITY_REJECTED,
    502: DESTINATION_OUT_OF_ORDER,
    503: CONGESTION,
    504: RECOVERY_ON_TIMER_EXPIRE,
    505: INTERWORKING,
    600: USER_BUSY,
    603: CALL_REJECTED,
    604: UNALLOCATED,
    606: BEARERCAPABILITY_NOTAVAIL,
}


def sip_to_cause(status: int) -> int:
    """The cause of an outbound leg that ended with final response ``status``."""
    cause = _SIP_TO_CAUSE.get(status)
    if cause is not None:
        return cause
    if 400 <= status < 500 or 600 <= status < 700:
        return INTERWORKING
    if 500 <= status < 600:
        return CONGESTION
    return NORMAL_CLEARING
