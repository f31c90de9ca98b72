"""One outbound registration (RFC 3261 §10.2) as chan_sip runs a ``register =>`` line.

Sans-I/O: :class:`OutboundRegistration` decides *when* a REGISTER goes out and builds it; the
caller finds a flow, sends the request through the transaction layer and feeds the final
response (or the silence) back with ``now``. States and their names are chan_sip's
(``regstate2str``), as ``sip show registry`` prints them::

    state                      input                            next state
    Unregistered, Registered   REGISTER due (first, refresh)    Request Sent
    Request Sent, Auth. Sent   200                              Registered (refresh armed)
                               401/407 with a new nonce         Auth. Sent
                               401/407 with the answered nonce  No Authentication (stop)
                               403                              No Authentication (stop, or
                                                                retry: register_retry_403)
                               404                              Rejected (stop)
                               other final                      Rejected (retry later)
                               silence for registertimeout      Timeout (resend at once)
    any retrying state         attempt past registerattempts    Failed (stop)

* Call-ID and From tag are fixed for the life of the registration; CSeq grows by one per
  request (§10.2: same Call-ID for every refresh to one registrar).
* A challenge (401/407) is answered once per nonce with
  :func:`pbx.sip.auth.authorization_for` (§22.2). A new challenge carrying the nonce just
  answered, unless it says ``stale=true``, means the password is wrong: ``No
  Authentication``, and no more attempts (chan_sip).
* ``200``: ``Registered`` for the expiry the registrar granted: our Contact's ``expires``
  parameter, else the ``Expires`` header, else what was asked (§10.2.4). The refresh goes out
  before it ends, as chan_sip's ``EXPIRY_GUARD``: 15 s early when the expiry is over 30 s,
  else at 80 % of it.
* ``423 Interval Too Brief``: asked again at once with the registrar's ``Min-Expires``
  (§10.2.8).
* No final answer within ``registertimeout`` seconds: ``Timeout`` and a new attempt at once
  (chan_sip's ``sip_reg_timeout``); any other failure: ``Rejected`` and a new attempt
  ``registertimeout`` seconds later; ``403``: ``No Authentication``, retried only with
  ``register_retry_403``; ``404``: ``Rejected`` for good (chan_sip gives up on it too). With
  ``registerattempts`` > 0, the attempt that would exceed it leaves the registration ``Failed``.
* :meth:`OutboundRegistration.stop` asks for one last REGISTER with ``Expires: 0`` when the
  registration is live (chan_sip does so when it unloads).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from pbx.core.addr import Address, TransportKind
from pbx.core.tokens import TokenSource
from pbx.sip.auth import DigestLogin, authorization_for
from pbx.sip.flow import Flow
from pbx.sip.headers import Auth
from pbx.sip.message import Request, Response, SipParseError
from pbx.sip.ua import build_request, contact_uri, new_branch

log = logging.getLogger(__name__)

#: chan_sip's ``EXPIRY_GUARD_SECS`` / ``EXPIRY_GUARD_LIMIT`` / ``EXPIRY_GUARD_PCT``.
EXPIRY_GUARD_SECS = 15
EXPIRY_GUARD_LIMIT = 30
EXPIRY_GUARD_PCT = 0.20
#: chan_sip's ``MAX_AUTHTRIES``: challenges answered within one attempt.
MAX_AUTHTRIES = 3


class RegState(enum.StrEnum):
    """chan_sip's ``sipregistrystate`` names (``regstate2str``)."""

    UNREGISTERED = "Unregistered"
    REQUEST_SENT = "Request Sent"
    AUTH_SENT = "Auth. Sent"
    REGISTERED = "Registered"
    REJECTED = "Rejected"
    TIMEOUT = "Timeout"
    NO_AUTH = "No Authentication"
    FAILED = "Failed"


@dataclass(frozen=True)
class RegistrationSpec:
    """Everything one registration needs, resolved from its line, its peer and ``[general]``.

    :param target: where REGISTERs go. :param domain: Request-URI, To and From host part.
    :param user: the AOR user (To, From). :param contact_user: our Contact's user part.
    :param login: the digest identity; ``None`` when no secret is known.
    :param realms: ``[authentication]`` credentials by realm, preferred for their realm.
    :param retry_interval: ``registertimeout``. :param max_attempts: ``registerattempts``.
    """

    transport: TransportKind
    target: Address
    domain: str
    user: str
    contact_user: str
    login: DigestLogin | None
    expiry: int
    retry_interval: float
    max_attempts: int
    retry_403: bool
    useragent: str = ""
    realms: tuple[tuple[str, DigestLogin], ...] = ()

    @property
    def request_uri(self) -> str:
        return f"sip:{self.domain}"

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"


def refresh_delay(expiry: int) -> float:
    """Seconds from a 200 to its refresh (chan_sip's ``EXPIRY_GUARD``)."""
    if expiry > EXPIRY_GUARD_LIMIT:
        return float(expiry - EXPIRY_GUARD_SECS)
    return max(0.5, expiry * (1 - EXPIRY_GUARD_PCT))


class OutboundRegistration:
    """One ``register =>`` line's client state (see the module docstring).

    :param now: the first REGISTER is due at once.
    """

    def __init__(self, spec: RegistrationSpec, tokens: TokenSource, now: float) -> None:
        self.spec = spec
        self.state = RegState.UNREGISTERED
        self.call_id = tokens.hex(16)
        self.from_tag = tokens.hex(4)
        self.cseq = 0
        #: the expiry in force (granted by the last 200, else the one requested).
        self.expiry = spec.expiry
        self.registered_at: float | None = None
        self.attempts = 0
        #: the flow the last request left by (a TCP/TLS registration keeps its connection).
        self.flow: Flow | None = None
        self._tokens = tokens
        self._send_at: float | None = now
        self._deadline: float | None = None
        self._auth: tuple[str, Auth] | None = None  # header name and answer for the next send
        self._answered_nonce: str | None = None
        self._authtries = 0
        self._stopping = False
        self._new_attempt = True

    # -- timing ----------------------------------------------------------------------------
    def timer_at(self) -> float | None:
        times = [t for t in (self._send_at, self._deadline) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        """No answer by the deadline: ``Timeout`` and a new attempt now (chan_sip)."""
        if self._deadline is not None and now >= self._deadline:
            self._deadline = None
            if self._stopping:
                return
            log.warning(
                "Timeout on REGISTER for '%s' to '%s' (attempt %d)",
                self.spec.user,
                self.spec.target,
                self.attempts,
            )
            self.state = RegState.TIMEOUT
            self._retry(now)

    def due(self, now: float) -> bool:
        """Whether a REGISTER should be built and sent now."""
        return self._send_at is not None and now >= self._send_at

    @property
    def finished(self) -> bool:
        """Stopped, with nothing more to send or wait for."""
        return self._stopping and self._send_at is None and self._deadline is None

    # -- sending ---------------------------------------------------------------------------
    def build(self, flow: Flow, local: Address, now: float) -> Request | None:
        """The REGISTER that is due, leaving by ``flow`` from ``local``; ``None`` if a limit of
        ``registerattempts`` was reached (the registration is then ``Failed``)."""
        if not self.due(now):
            return None
        self._send_at = None
        if self._new_attempt and not self._stopping:
            if self.spec.max_attempts and self.attempts >= self.spec.max_attempts:
                log.warning(
                    "Last Registration Attempt #%d failed, Giving up forever trying to "
                    "register '%s@%s'",
                    self.attempts,
                    self.spec.user,
                    self.spec.target,
                )
                self.state = RegState.FAILED
                return None
            self.attempts += 1
            self._authtries = 0
            self._answered_nonce = None
        self._new_attempt = False
        self.cseq += 1
        self.flow = flow
        expires = 0 if self._stopping else self.expiry
        extra = [("Expires", str(expires))]
        if self._auth is not None:
            name, answer = self._auth
            extra.append((name, str(answer)))
            self._auth = None
            if not self._stopping:
                self.state = RegState.AUTH_SENT
        elif not self._stopping:
            self.state = RegState.REQUEST_SENT
        self._deadline = now + self.spec.retry_interval
        return build_request(
            "REGISTER",
            self.spec.request_uri,
            flow,
            local=local,
            from_=f"<{self.spec.aor}>",
            from_tag=self.from_tag,
            to=f"<{self.spec.aor}>",
            call_id=self.call_id,
            cseq=self.cseq,
            branch=new_branch(self._tokens),
            contact=f"<{contact_uri(flow, local, self.spec.contact_user)}>",
            user_agent=self.spec.useragent,
            extra=extra,
        )

    def no_route(self, now: float) -> None:
        """No flow reaches the registrar (no listener for the transport, too many
        connections): this attempt failed; the next one comes ``registertimeout`` later."""
        if self._stopping:
            self._send_at = None
            return
        if self._new_attempt:
            if self.spec.max_attempts and self.attempts >= self.spec.max_attempts:
                self._send_at = None
                self.state = RegState.FAILED
                return
            self.attempts += 1
        self._retry(now + self.spec.retry_interval)

    def unreachable(self, cseq: int, now: float) -> None:
        """The request ``cseq`` could not be delivered (connection refused, TLS failure):
        try again ``registertimeout`` seconds later (chan_sip keeps the schedule going)."""
        if cseq != self.cseq or self._deadline is None:
            return
        self._deadline = None
        if self._stopping:
            return
        self._retry(now + self.spec.retry_interval)

    def timed_out(self, cseq: int, now: float) -> None:
        """The transaction of ``cseq`` ended without a final answer (Timer F)."""
        if cseq == self.cseq and self._deadline is not None:
            self._deadline = now
            self.handle_timer(now)

    # -- answers ---------------------------------------------------------------------------
    def response_received(self, response: Response, now: float) -> None:
        """A final response to one of our REGISTERs (stale CSeqs are ignored)."""
        status = response.status
        if status < 200 or response.cseq.seq != self.cseq or self._deadline is None:
            return
        self._deadline = None
        if self._stopping:
            if status in (401, 407) and self._challenge(response):
                self._send_at = now
            return
        if 200 <= status < 300:
            self._registered(response, now)
        elif status in (401, 407):
            if self._authtries >= MAX_AUTHTRIES or not self._challenge(response):
                log.warning(
                    "Failed to authenticate on REGISTER to '%s@%s' (Tries %d)",
                    self.spec.user,
                    self.spec.target,
                    self._authtries,
                )
                self.state = RegState.NO_AUTH
                return
            self._send_at = now
        elif status == 423 and (minimum := self._min_expires(response)) is not None:
            self.expiry = max(self.expiry, minimum)
            self._retry(now, new_attempt=False)
        elif status == 403:
            log.warning(
                "Forbidden - wrong password on authentication for REGISTER for '%s' to '%s'",
                self.spec.user,
                self.spec.target,
            )
            self.state = RegState.NO_AUTH
            if self.spec.retry_403:
                self._retry(now + self.spec.retry_interval)
        elif status == 404:
            log.warning(
                "Got 404 Not found on SIP register to service %s@%s, giving up",
                self.spec.user,
                self.spec.target,
            )
            self.state = RegState.REJECTED
        else:
            log.warning(
                "Got %d %s on REGISTER for '%s' to '%s'",
                status,
                response.reason,
                self.spec.user,
                self.spec.target,
            )
            self.state = RegState.REJECTED
            self._retry(now + self.spec.retry_interval)

    def stop(self, now: float, unregister: bool = True) -> bool:
        """Stop; a registered line asks to send ``Expires: 0`` unless told not to (True when
        it does)."""
        if self._stopping:
            return False
        self._stopping = True
        registered = unregister and self.state is RegState.REGISTERED
        self._deadline = None
        self._auth = None
        self._send_at = now if registered else None
        self.state = RegState.UNREGISTERED
        return registered

    # -- helpers ---------------------------------------------------------------------------
    def _retry(self, at: float, new_attempt: bool = True) -> None:
        self._new_attempt = new_attempt
        self._send_at = at

    def _registered(self, response: Response, now: float) -> None:
        granted = self._granted_expiry(response)
        if granted > 0:
            self.expiry = granted
        self.state = RegState.REGISTERED
        self.registered_at = now
        self.attempts = 0
        log.info(
            "Registration for '%s@%s' accepted for %d s",
            self.spec.user,
            self.spec.domain,
            self.expiry,
        )
        self._retry(now + refresh_delay(self.expiry))

    def _granted_expiry(self, response: Response) -> int:
        """§10.2.4: our Contact's ``expires`` parameter, else ``Expires``, else requested."""
        try:
            contacts = response.contacts
            header = response.expires
        except SipParseError:
            return self.spec.expiry
        if contacts != "*":
            for contact in contacts:
                uri = contact.uri
                value = contact.params.get("expires")
                if value is None or not value.isdigit():
                    continue
                # Only the user is compared: a registrar behind NAT rewrites the host.
                if getattr(uri, "user", None) == self.spec.contact_user:
                    return int(value)
        if header is not None:
            return header
        return self.spec.expiry

    def _min_expires(self, response: Response) -> int | None:
        value = response.headers.get("Min-Expires")
        return int(value) if value is not None and value.strip().isdigit() else None

    def _challenge(self, response: Response) -> bool:
        """Prepare the answer to a 401/407; False when it cannot (or must not) be answered."""
        login, realms = self.spec.login, dict(self.spec.realms)
        if login is None and not realms:
            return False
        found = authorization_for(
            response, "REGISTER", self.spec.request_uri, login, self._tokens.hex(8), realms
        )
        if found is None:
            return False
        nonce = found[1].params.get("nonce")
        if nonce == self._answered_nonce and not _stale(response):
            return False  # the same nonce again: our answer was wrong (chan_sip)
        self._answered_nonce = nonce
        self._authtries += 1
        self._auth = found
        return True


def _stale(response: Response) -> bool:
    """Whether the challenge says ``stale=true`` (RFC 2617 §3.2.1: the password was right)."""
    name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
    for value in response.headers.get_all(name):
        try:
            if Auth.parse(value, name).params.get("stale", "").lower() == "true":
                return True
        except SipParseError:
            continue
    return False
