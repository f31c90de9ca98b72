"""pbx behind a NAT: ``externaddr`` + ``localnet`` as chan_sip applies them.

The daemon gets ``externaddr=203.0.113.5:5099`` (a documentation address: only ever written
into messages, never sent to) and ``localnet=127.0.0.2/32``. A phone at 127.0.0.2 is local and
sees pbx's real address; a phone at 127.0.0.1 is "outside" and sees the external address in
Contact and in the SDP of the 200 to its INVITE (``c=`` line), while Via stays the phone's own.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from test.integration.daemon import Daemon
from test.integration.sipua import SipClient, SipMessage

EXTERNAL = "203.0.113.5"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    peers = {"desk": {"type": "friend", "host": "dynamic", "context": "phones"}}
    general = {"externaddr": f"{EXTERNAL}:5099", "localnet": "127.0.0.2/32", "allowguest": "no"}
    dialplan = "[phones]\nexten => 500,1,Answer()\n same => n,Wait(5)\n same => n,Hangup()\n"
    root: Path = tmp_path_factory.mktemp("nat")
    with Daemon(root, peers, general, dialplan=dialplan) as running:
        yield running


def call(daemon: Daemon, local_host: str) -> SipMessage:
    """INVITE extension 500 from ``local_host``; returns the 200 (the call is then ended)."""
    with SipClient("udp", daemon.udp, local_host=local_host) as client:
        call_id = secrets.token_hex(8)
        client.send(client.invite("500", "desk", call_id))
        ok = client.final(5.0)
        assert ok is not None and ok.status == 200, ok
        to = ok.header("To") or ""
        for cseq, method in ((1, "ACK"), (2, "BYE")):
            request = client.request(method, "desk", cseq=cseq, call_id=call_id)
            request = request.replace(b"To: <sip:desk@", b"To: <sip:500@").replace(
                f"To: <sip:500@{client.server[0]}>".encode(), f"To: {to}".encode()
            )
            client.send(request)
        bye = client.final(5.0)
        assert bye is not None and bye.status == 200, bye
        return ok


def sdp_connection(message: SipMessage) -> str:
    m = re.search(rb"^c=IN IP4 (\S+)\r$", message.body, re.MULTILINE)
    assert m is not None, message
    return m.group(1).decode()


def test_a_phone_outside_localnet_gets_externaddr(daemon: Daemon) -> None:
    ok = call(daemon, "127.0.0.1")
    assert f"{EXTERNAL}:5099>" in (ok.header("Contact") or ""), ok
    assert sdp_connection(ok) == EXTERNAL
    assert (ok.header("Via") or "").startswith("SIP/2.0/UDP 127.0.0.1:"), ok  # the phone's own


def test_a_phone_inside_localnet_gets_the_local_address(daemon: Daemon) -> None:
    ok = call(daemon, "127.0.0.2")
    assert f"127.0.0.1:{daemon.udp_port}>" in (ok.header("Contact") or ""), ok
    assert sdp_connection(ok) == "127.0.0.1"
