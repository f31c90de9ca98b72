"""The transaction layer: matching, creation, timers and hand-off to the TU (RFC 3261 §17).

Owns every live transaction of the process. Messages from the transport go through
:meth:`TransactionLayer.receive`, which matches them (§17.1.3 for responses, §17.2.3 for
requests, with the RFC 2543 fallback for branches without the ``z9hG4bK`` cookie), absorbs and
answers retransmissions from the matched transaction, creates server transactions for new
requests and hands new requests and the responses the TU must see to the
:class:`TransactionUser`. The TU sends through :meth:`TransactionLayer.send_request`, answers
through ``ServerTransaction.respond`` and sends what needs no transaction (the ACK for a 2xx,
stateless replies) through :meth:`TransactionLayer.send_stateless`.

What it does not own: the §18 transport rules (``pbx.sip.transport``; the only one applied here
is where responses go, §18.2.2), message syntax (``pbx.sip.message``; :meth:`receive` expects a
message that passed ``Message.validate()``), dialogs, and retransmitting a 2xx to an INVITE until
its ACK arrives (§13.3.1.4), which the dialog layer does through the Accepted IST (RFC 6026).

Decisions:

* 100 Trying (§17.2.1) is sent as soon as ``TransactionUser.request_received`` returns without
  the TU having answered the INVITE: pbx's TU answers synchronously or not within 200 ms at all
  (it waits for the dialplan), and Asterisk and Kamailio also send it at once. No timer needed.
* ACK: one matching an INVITE server transaction is that transaction's input (it ends the
  non-2xx handshake, or, in Accepted, is passed up by the transaction); every other ACK -- the
  ACK for a 2xx carries a branch of its own (§17.1.1.3) -- goes to the TU with ``tx`` None.
* CANCEL gets a non-INVITE server transaction of its own like any request (it is matched under
  its own method); the TU finds the INVITE it cancels with :meth:`TransactionLayer.find_invite`
  (§9.2) and answers both.
* Responses no client transaction claims: a 2xx goes to the TU with ``tx`` None (the dialog
  layer ACKs or ignores it, RFC 6026 §7.2); anything else is dropped and logged (RFC 6026 §8.9).
* Timers: one heap of ``(when, seq, tx)`` entries for all transactions, with lazy deletion: an
  entry is live while its transaction is and still reports that time from ``timer_at()``. When
  stale entries outnumber live transactions the heap is rebuilt, so its size stays O(live).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Protocol

from pbx.core.errors import LocalProtocolError, RemoteProtocolError
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response, make_response
from pbx.sip.transaction.base import (
    ClientTransaction,
    Send,
    ServerTransaction,
    State,
    TimerConfig,
    Transaction,
    TransactionKey,
)
from pbx.sip.transaction.ict import InviteClientTransaction
from pbx.sip.transaction.ist import InviteServerTransaction
from pbx.sip.transaction.nict import NonInviteClientTransaction
from pbx.sip.transaction.nist import NonInviteServerTransaction
from pbx.sip.transport import response_flow

log = logging.getLogger(__name__)

#: RFC 3261 §8.1.1.7: a branch starting with this was built by an RFC 3261 element and is unique
#: across space and time, so matching may rely on it (§17.2.3).
MAGIC_COOKIE = "z9hG4bK"

#: First element of an RFC 2543 server key (an RFC 3261 key starts with the branch).
RFC2543 = "rfc2543"

#: Stale heap entries tolerated on top of two per live transaction before a rebuild.
_HEAP_SLACK = 1024


class TransactionUser(Protocol):
    """The layer above (the call layer's SIP technology implements it)."""

    def request_received(
        self, request: Request, flow: Flow, tx: ServerTransaction | None, now: float
    ) -> None:
        """A new request, with the server transaction created for it; ``tx`` is None for an ACK
        that no INVITE server transaction took (the ACK for a 2xx, or a stray one) and for an
        ACK passed up by an Accepted one. CANCEL comes like any request, with a NIST."""
        ...

    def response_received(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        """A response for the TU: for ``tx`` when its ``on_response`` is unset; with ``tx`` None
        for a 2xx no transaction claims (retransmitted after the ICT ended or while it is
        Accepted, or from another branch of a fork)."""
        ...


class TransactionLayer:
    """All transactions of one process, as one sans-I/O object driven by ``now``.

    :param tu: where new requests and unclaimed 2xx responses go.
    :param config: T1, T2, T4.
    :param response_route: where a server transaction sends its responses, given the request and
        the flow it came on; the default is §18.2.2 with RFC 3581 ``rport``. The TU may still
        change ``tx.response_flow`` per transaction (chan_sip's per-peer ``nat=force_rport``).
    """

    def __init__(
        self,
        tu: TransactionUser,
        config: TimerConfig = TimerConfig(),  # noqa: B008 - frozen, so sharing it is safe
        *,
        response_route: Callable[[Request, Flow], Flow] = response_flow,
    ) -> None:
        self._tu = tu
        self._config = config
        self._response_route = response_route
        self._client: dict[TransactionKey, ClientTransaction] = {}
        self._server: dict[TransactionKey, ServerTransaction] = {}
        # Transactions by connection, so that a closed connection fails its own transactions
        # without a scan. UDP flows are not indexed: transport errors are rare there, while
        # the index would cost every lingering NIST (Timer J) about 80 bytes.
        self._by_connection: dict[Flow, set[Transaction]] = {}
        self._heap: list[tuple[float, int, Transaction]] = []
        self._seq = itertools.count()
        self._outputs: list[Send] = []
        self._host = _Host(self)

    def __len__(self) -> int:
        """Live transactions (client and server)."""
        return len(self._client) + len(self._server)

    # -- input ---------------------------------------------------------------------------------

    def receive(self, message: Request | Response, flow: Flow, now: float) -> None:
        """Take one message from the transport.

        :param message: a message that passed ``Message.validate()``; otherwise the headers used
            for matching may raise :class:`~pbx.sip.message.SipParseError` here, before any
            state changed.
        :param flow: the flow it arrived on.
        """
        if isinstance(message, Response):
            self._receive_response(message, now)
        elif message.method == "ACK":
            self._receive_ack(message, flow, now)
        else:
            self._receive_request(message, flow, now)

    def _receive_response(self, response: Response, now: float) -> None:
        # §17.1.3: the branch of the top Via and the CSeq method (CANCEL has its own transaction).
        branch = response.top_via.branch
        tx = None if branch is None else self._client.get((branch, response.cseq.method))
        if tx is not None:
            tx.receive(response, now)
        elif 200 <= response.status < 300:
            self._tu.response_received(response, None, now)
        else:
            log.debug(
                "stray %d response dropped (branch %s, Call-ID %s)",
                response.status,
                branch,
                response.call_id,
            )

    def _receive_ack(self, ack: Request, flow: Flow, now: float) -> None:
        tx = self._match_ack(ack)
        if tx is not None:
            tx.receive(ack, flow, now)
        else:
            self._tu.request_received(ack, flow, None, now)

    def _receive_request(self, request: Request, flow: Flow, now: float) -> None:
        key = server_key(request, request.method)
        tx = self._server.get(key)
        if tx is not None:
            tx.receive(request, flow, now)
            return
        route = self._response_route(request, flow)
        new: ServerTransaction
        if request.method == "INVITE":
            new = InviteServerTransaction(request, flow, key, self._host, route)
        else:
            new = NonInviteServerTransaction(request, flow, key, self._host, route)
        self._server[key] = new
        self._index(new)
        log.debug("%s: new, key %s", new, key)
        self._tu.request_received(request, flow, new, now)
        if isinstance(new, InviteServerTransaction) and not new.has_responded:
            # §17.2.1: the TU has not answered within this call, so it will not within 200 ms.
            new.respond(make_response(request, 100), now)

    def _match_ack(self, ack: Request) -> InviteServerTransaction | None:
        """The INVITE server transaction an ACK belongs to (§17.2.3), if any."""
        key = server_key(ack, "INVITE")
        if key[0] != RFC2543:
            tx = self._server.get(key)
            return tx if isinstance(tx, InviteServerTransaction) else None
        # RFC 2543: the ACK's To tag is the tag of the response the transaction sent, while the
        # INVITE carried no tag (initial INVITE) or that same tag (re-INVITE).
        ack_tag = ack.to.tag
        for candidate in (key, rfc2543_key(ack, "INVITE", None)):
            tx = self._server.get(candidate)
            if isinstance(tx, InviteServerTransaction) and tx.to_tag == ack_tag:
                return tx
        return None

    def find_invite(self, cancel: Request) -> InviteServerTransaction | None:
        """The INVITE server transaction ``cancel`` cancels (§9.2): §17.2.3 matching with the
        method taken as INVITE. ``None`` means the TU answers the CANCEL with 481."""
        tx = self._server.get(server_key(cancel, "INVITE"))
        return tx if isinstance(tx, InviteServerTransaction) else None

    def transport_error(self, flow: Flow, now: float) -> None:
        """``flow`` is dead (its connection closed, or the transport reported an error): every
        transaction on it gets a transport error (Figs. 5-8)."""
        txs: list[Transaction]
        if flow.connection_oriented:
            txs = list(self._by_connection.get(flow, ()))
        else:
            txs = [tx for tx in self._live() if tx.flow == flow]
        for tx in txs:
            tx.transport_error(now)

    # -- output --------------------------------------------------------------------------------

    def send_request(self, request: Request, flow: Flow, now: float) -> ClientTransaction:
        """Start a client transaction for ``request`` on ``flow`` and send it.

        The request goes as built: its top Via must already carry a ``z9hG4bK`` branch unique to
        this transaction (§8.1.1.7). INVITE gets an INVITE client transaction, which ACKs 300-699
        responses itself (§17.1.1.3); anything else a non-INVITE one.

        :raises LocalProtocolError: ACK (send it with :meth:`send_stateless`), a request without
            the headers §8.1.1 requires, a branch without the magic cookie, or a branch already
            in use for this method.
        """
        if request.method == "ACK":
            raise LocalProtocolError("ACK has no client transaction: use send_stateless")
        try:
            request.validate()
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"Cannot send {request.method}: {exc.message}") from exc
        branch = request.top_via.branch
        if branch is None or not branch.startswith(MAGIC_COOKIE):
            raise LocalProtocolError(
                f"Cannot send {request.method}: branch must start with z9hG4bK"
            )
        key: TransactionKey = (branch, request.method)
        if key in self._client:
            raise LocalProtocolError(f"Branch {branch} is already used by a {request.method}")
        tx: ClientTransaction
        if request.method == "INVITE":
            tx = InviteClientTransaction(request, flow, key, self._host)
        else:
            tx = NonInviteClientTransaction(request, flow, key, self._host)
        self._client[key] = tx
        self._index(tx)
        tx.start(now)
        return tx

    def send_stateless(self, message: Request | Response, flow: Flow) -> None:
        """Send ``message`` outside any transaction: the ACK for a 2xx (§13.2.2.4), a 2xx
        retransmission after the IST ended, or a stateless reply."""
        self._outputs.append(Send(bytes(message), flow))

    def outputs(self) -> list[Send]:
        """Everything to send since the last call, in order; the list is handed over."""
        out, self._outputs = self._outputs, []
        return out

    # -- timers --------------------------------------------------------------------------------

    def timer_at(self) -> float | None:
        """The earliest time any transaction has a timer due, or ``None``."""
        heap = self._heap
        while heap:
            at, _seq, tx = heap[0]
            if tx.state is not State.TERMINATED and tx.timer_at() == at:
                return at
            heapq.heappop(heap)
        return None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``, earliest first."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _seq, tx = heapq.heappop(heap)
            if tx.state is not State.TERMINATED and tx.timer_at() == at:
                tx.handle_timer(now)

    # -- bookkeeping (through _Host) -------------------------------------------------------------

    def _live(self) -> Iterator[Transaction]:
        return itertools.chain(self._client.values(), self._server.values())

    def _index(self, tx: Transaction) -> None:
        if tx.flow.connection_oriented:
            self._by_connection.setdefault(tx.flow, set()).add(tx)

    def _schedule(self, tx: Transaction, at: float) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), tx))
        if len(self._heap) > 2 * len(self) + _HEAP_SLACK:
            self._rebuild_heap()

    def _rebuild_heap(self) -> None:
        entries = []
        for tx in self._live():
            at = tx.timer_at()
            if at is not None:
                entries.append((at, next(self._seq), tx))
        # In place: handle_timer may be iterating over this very list.
        self._heap[:] = entries
        heapq.heapify(self._heap)

    def _forget(self, tx: Transaction) -> None:
        table: dict[TransactionKey, ClientTransaction] | dict[TransactionKey, ServerTransaction]
        table = self._client if isinstance(tx, ClientTransaction) else self._server
        del table[tx.key]
        txs = self._by_connection.get(tx.flow)
        if txs is not None:
            txs.discard(tx)
            if not txs:
                del self._by_connection[tx.flow]


class _Host:
    """The layer as its transactions see it (``base.TransactionHost``)."""

    __slots__ = ("_layer",)

    def __init__(self, layer: TransactionLayer) -> None:
        self._layer = layer

    @property
    def config(self) -> TimerConfig:
        return self._layer._config

    def send(self, data: bytes, flow: Flow) -> None:
        self._layer._outputs.append(Send(data, flow))

    def timer_changed(self, tx: Transaction, at: float) -> None:
        self._layer._schedule(tx, at)

    def terminated(self, tx: Transaction) -> None:
        log.debug("%s: terminated", tx)
        self._layer._forget(tx)

    def deliver_response(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        self._layer._tu.response_received(response, tx, now)

    def deliver_ack(self, ack: Request, flow: Flow, now: float) -> None:
        self._layer._tu.request_received(ack, flow, None, now)


def server_key(request: Request, method: str) -> TransactionKey:
    """The key a server transaction for ``request`` is filed under (§17.2.3).

    With a ``z9hG4bK`` branch: ``(branch, sent-by host, sent-by port, method)``, the host in
    lower case (host names are case-insensitive). Otherwise the RFC 2543 fallback,
    :func:`rfc2543_key`. ``method`` is the request's, except INVITE for an ACK (which matches the
    INVITE's transaction) and for the CANCEL whose INVITE :meth:`TransactionLayer.find_invite`
    looks for.
    """
    via = request.top_via
    branch = via.branch
    if branch is not None and branch.startswith(MAGIC_COOKIE):
        # Host and method interned: tens of thousands of keys would otherwise each hold their
        # own copy of the same few hosts and of "REGISTER".
        return (branch, sys.intern(via.host.lower()), via.port, sys.intern(method))
    return rfc2543_key(request, method, request.to.tag)


def rfc2543_key(request: Request, method: str, to_tag: str | None) -> TransactionKey:
    """§17.2.3 for branches without the cookie: Request-URI, To tag, From tag, Call-ID, CSeq
    number, ``method`` and the whole top Via must all match. ``to_tag`` is a parameter because
    an ACK carries the tag of the response, not of the INVITE."""
    return (
        RFC2543,
        request.uri,
        to_tag,
        request.from_.tag,
        request.call_id,
        request.cseq.seq,
        method,
        str(request.top_via),
    )
