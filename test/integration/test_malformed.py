"""Bad input against the running daemon, byte-exact, over UDP, TCP and TLS (issue 2).

RFC 3261 §8.2 / STYLE §2.7: a request whose Via, From, To, Call-ID and CSeq parse gets the
parser's response hint (400 with a reason phrase naming the problem, 505, 513); anything else is
dropped. Whatever came in, the listener keeps answering: every case is followed by a good
OPTIONS that must get its 200. On TCP and TLS, a client that loses framing is disconnected and
no other connection notices. sipp cannot put such bytes on the wire exactly, so these tests use
the raw client of :mod:`test.integration.sipua`; ``test_register_sipp`` runs sipp's
malformed.xml. Also here: a well-formed INVITE that requires an extension pbx lacks gets 420
(RFC 3261 §8.2.2.3).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from test.integration.conftest import DaemonFactory
from test.integration.daemon import Daemon
from test.integration.sipua import SipClient, SipMessage

MAX_SIZE = 4096


@pytest.fixture(scope="module")
def daemon(daemons: DaemonFactory) -> Daemon:
    peers = {
        "desk1": {"secret": "desk1-pw"},
        "desk-tls": {"secret": "desk-tls-pw", "transport": "tls"},
    }
    return daemons("malformed", peers, {"maxmessagesize": MAX_SIZE}, tls=True)


def options(client: SipClient, call_id: str) -> bytes:
    return client.request("OPTIONS", "probe", call_id=call_id)


def assert_still_answers(client: SipClient) -> None:
    call_id = secrets.token_hex(8)
    client.send(options(client, call_id))
    ok = client.final()
    assert ok is not None, "no answer to a good OPTIONS after the bad input"
    assert (ok.status, ok.header("Call-ID")) == (200, call_id), ok


@dataclass(frozen=True)
class Case:
    make: Callable[[bytes], bytes]  # a good OPTIONS -> the bad bytes
    status: int | None  # None: must be dropped
    reason: str = ""  # a word the reason phrase must contain


def _sub(pattern: bytes, repl: bytes) -> Callable[[bytes], bytes]:
    def make(good: bytes) -> bytes:
        bad, n = re.subn(pattern, repl, good, count=1, flags=re.M)
        assert n == 1, pattern
        return bad

    return make


CASES = {
    # Recoverable: the five headers of §8.2 parse, so the client is told what is wrong.
    "cseq-method-mismatch": Case(  # RFC 4475 mismatch01
        _sub(rb"^CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"), 400, "CSeq"
    ),
    "max-forwards-not-a-number": Case(
        _sub(rb"^Max-Forwards: 70", b"Max-Forwards: many"), 400, "Max-Forwards"
    ),
    "content-length-beyond-datagram": Case(  # RFC 3261 §18.3: SHOULD answer 400
        _sub(rb"^Content-Length: 0", b"Content-Length: 300"), 400, "Content-Length"
    ),
    "two-call-ids": Case(  # as RFC 4475 multi01: 400
        _sub(rb"^(Call-ID: [^\r\n]*)", rb"\1\r\nCall-ID: other"), 400, "Call-ID"
    ),
    "sip-version-3": Case(_sub(rb" SIP/2\.0\r$", b" SIP/3.0\r"), 505, "SIP/3.0"),  # badvers
    "larger-than-maxmessagesize": Case(
        _sub(rb"^Max-Forwards: 70", b"Max-Forwards: 70\r\nX-Pad: " + b"x" * MAX_SIZE), 513
    ),
    # Not recoverable: nobody to answer, so dropped.
    "cseq-without-number": Case(_sub(rb"^CSeq: 1 OPTIONS", b"CSeq: one OPTIONS"), None),
    "no-call-id": Case(_sub(rb"^Call-ID: .*\r\n", b""), None),
    "no-via": Case(_sub(rb"^Via: .*\r\n", b""), None),
    "not-sip": Case(lambda good: b"\xff\xfe\x00 not SIP at all \x80\r\n\r\n", None),
    "crlf-keepalive": Case(lambda good: b"\r\n\r\n", None),  # RFC 5626 §4.4.1 ping, not SIP
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_udp_request_is_answered_or_dropped_and_the_listener_survives(
    daemon: Daemon, name: str
) -> None:
    case = CASES[name]
    call_id = secrets.token_hex(8)
    with SipClient("udp", daemon.udp) as client:
        client.send(case.make(options(client, call_id)))
        response = client.recv(2.0 if case.status is not None else 0.3)
        if case.status is None:
            assert response is None, f"expected no answer, got:\n{response}"
        else:
            assert response is not None, "no answer to a recoverable bad request"
            assert response.status == case.status, response
            assert case.reason in response.reason, response
            assert response.header("CSeq") is not None
            if name != "two-call-ids":
                assert response.header("Call-ID") == call_id, response
        assert_still_answers(client)


def _ack(invite: bytes, final: SipMessage) -> bytes:
    """The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): the INVITE's Request-URI, Via,
    From and Call-ID, the response's To (with its tag), CSeq method ACK, nothing else."""
    head = invite.decode().split("\r\n\r\n", 1)[0].split("\r\n")
    start = head[0].replace("INVITE ", "ACK ", 1)
    keep = [line for line in head[1:] if line.split(":", 1)[0] in ("Via", "From", "Call-ID")]
    cseq = (final.header("CSeq") or "").replace("INVITE", "ACK")
    lines = [start, *keep, f"To: {final.header('To')}", f"CSeq: {cseq}", "Max-Forwards: 70"]
    return "\r\n".join([*lines, "Content-Length: 0", "", ""]).encode()


def test_udp_invite_requiring_100rel_gets_420_and_the_listener_survives(daemon: Daemon) -> None:
    """RFC 3261 §8.2.2.3: a required extension pbx lacks (PRACK, RFC 3262) is refused with 420
    and an ``Unsupported`` naming exactly it; ``Supported`` tags ask nothing of pbx."""
    call_id = secrets.token_hex(8)
    with SipClient("udp", daemon.udp) as client:
        invite = client.request(
            "INVITE",
            "desk1",
            call_id=call_id,
            headers=[
                ("Contact", client.contact("desk1")),
                ("Supported", "timer, replaces"),
                ("Require", "100rel"),
            ],
        )
        client.send(invite)
        response = client.final()
        assert response is not None, "no answer to an INVITE requiring 100rel"
        assert (response.status, response.reason) == (420, "Bad Extension"), response
        assert response.all("Unsupported") == ["100rel"], response
        assert response.header("Call-ID") == call_id, response
        client.send(_ack(invite, response))
        assert client.recv(0.7) is None, "the 420 came again (Timer G, 0.5 s): ACK not matched"
        assert_still_answers(client)


def _rejected(daemon: Daemon) -> tuple[SipMessage, int]:
    with SipClient("udp", daemon.udp) as client:
        good = options(client, secrets.token_hex(8))
        client.send(CASES["max-forwards-not-a-number"].make(good))
        response = client.recv()
    assert response is not None and response.status == 400, response
    return response, client.local[1]


def test_the_400_via_carries_received_and_rport(daemon: Daemon) -> None:
    """RFC 3581 §4: the server fills in the rport value (and received) of the request's Via
    before answering, errors included, so a NATed client gets its 400."""
    response, port = _rejected(daemon)
    via = response.header("Via") or ""
    assert f";rport={port}" in via and ";received=127.0.0.1" in via, response


def test_the_400_to_header_has_a_tag(daemon: Daemon) -> None:
    """RFC 3261 §8.2.6.2: every response but 100 gets a To tag."""
    response, _ = _rejected(daemon)
    assert ";tag=" in (response.header("To") or ""), response


def _tcp_answer(client: SipClient) -> SipMessage | None:
    return client.final(2.0)


def test_tcp_garbage_closes_that_connection_only(daemon: Daemon) -> None:
    with (
        SipClient("tcp", daemon.tcp_address) as bystander,
        SipClient("tcp", daemon.tcp_address) as vandal,
    ):
        assert_still_answers(bystander)
        vandal.send(b"\xff\xfe this is not SIP \x80\r\n\r\n")
        assert vandal.closed_by_peer(3.0), "pbx kept a connection whose framing is lost"
        assert_still_answers(bystander)
    with SipClient("tcp", daemon.tcp_address) as newcomer:
        assert_still_answers(newcomer)


def test_tcp_recoverable_error_gets_400_and_keeps_the_connection(daemon: Daemon) -> None:
    with SipClient("tcp", daemon.tcp_address) as client:
        good = options(client, secrets.token_hex(8))
        client.send(CASES["max-forwards-not-a-number"].make(good))
        response = _tcp_answer(client)
        assert response is not None and response.status == 400, response
        assert "Max-Forwards" in response.reason
        assert_still_answers(client)


def test_tcp_oversized_message_gets_513_and_the_connection_is_closed(daemon: Daemon) -> None:
    with (
        SipClient("tcp", daemon.tcp_address) as bystander,
        SipClient("tcp", daemon.tcp_address) as client,
    ):
        good = options(client, secrets.token_hex(8))
        client.send(CASES["larger-than-maxmessagesize"].make(good))
        response = _tcp_answer(client)
        assert response is not None and response.status == 513, response
        assert client.closed_by_peer(3.0)
        assert_still_answers(bystander)


def test_tcp_crlf_keepalive_gets_a_single_crlf_pong(daemon: Daemon) -> None:
    """RFC 5626 §4.4.1: a double-CRLF ping is answered with one CRLF, and the connection stays."""
    with SipClient("tcp", daemon.tcp_address) as client:
        client.send(b"\r\n\r\n")
        assert client.recv_bytes(2.0) == b"\r\n"
        assert_still_answers(client)


def test_tls_garbage_closes_that_connection_only(daemon: Daemon) -> None:
    """The TCP case inside TLS: the bytes arrive decrypted, so framing is lost the same way."""
    ca = daemon.dbdir / "tls" / "ca.crt"
    with (
        SipClient("tls", daemon.tls_address, cafile=ca) as bystander,
        SipClient("tls", daemon.tls_address, cafile=ca) as vandal,
    ):
        assert_still_answers(bystander)
        vandal.send(b"\xff\xfe this is not SIP \x80\r\n\r\n")
        assert vandal.closed_by_peer(3.0), "pbx kept a TLS connection whose framing is lost"
        assert_still_answers(bystander)
    with SipClient("tls", daemon.tls_address, cafile=ca) as newcomer:
        responses = newcomer.register("desk-tls", "desk-tls-pw")
        assert [r.status for r in responses] == [401, 200], "\n".join(map(str, responses))
        assert_still_answers(newcomer)
