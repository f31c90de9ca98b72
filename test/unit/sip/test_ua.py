"""Requests pbx originates (RFC 3261 §8.1.1): branch, Via, Contact and the mandatory headers.

``local`` is the address we have on the flow (a wildcard listener resolved by the transport hub);
the flows below are built with the same address as their ``local`` unless a test says otherwise.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.addr import Address, TransportKind
from pbx.core.tokens import CountingTokens
from pbx.sip.flow import Flow
from pbx.sip.message import Request, parse_message
from pbx.sip.ua import MAGIC_COOKIE, build_request, contact_uri, new_branch, via_value

PEER = Address("192.0.2.10", 5060)
UDP = Flow(TransportKind.UDP, Address("127.0.0.1", 5060), PEER)
TCP = Flow(TransportKind.TCP, Address("127.0.0.1", 5060), PEER, conn_id=2)
TLS = Flow(TransportKind.TLS, Address("127.0.0.1", 5061), PEER, conn_id=3)
WS = Flow(TransportKind.WS, Address("127.0.0.1", 8088), Address("127.0.0.1", 41440), conn_id=4)
WSS = Flow(TransportKind.WSS, Address("127.0.0.1", 8089), Address("127.0.0.1", 55104), 5)
UDP6 = Flow(TransportKind.UDP, Address("::1", 5060), Address("::1", 5062))


def options(flow: Flow = UDP, **kwargs: object) -> Request:
    args: dict[str, object] = {
        "local": flow.local,
        "from_": "<sip:pbx@127.0.0.1>",
        "from_tag": "as1",
        "to": "<sip:alice@192.0.2.10:5060>",
        "call_id": "c0ffee",
        "cseq": 102,
        "branch": "z9hG4bK0000000000000001",
    }
    args.update(kwargs)
    return build_request("OPTIONS", "sip:alice@192.0.2.10:5060", flow, **args)  # type: ignore[arg-type]


class BranchTests(SynchronousTestCase):
    def test_magic_cookie_and_token(self) -> None:
        tokens = CountingTokens()
        self.assertEqual(new_branch(tokens), "z9hG4bK0000000000000001")
        self.assertEqual(new_branch(tokens), "z9hG4bK0000000000000002")
        self.assertEqual(MAGIC_COOKIE, "z9hG4bK")


class ViaTests(SynchronousTestCase):
    def test_per_transport(self) -> None:
        for flow, text in (
            (UDP, "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx;rport"),
            (TCP, "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKx;rport"),
            (TLS, "SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKx;rport"),
            (WS, "SIP/2.0/WS 127.0.0.1:8088;branch=z9hG4bKx;rport"),
            (WSS, "SIP/2.0/WSS 127.0.0.1:8089;branch=z9hG4bKx;rport"),
            (UDP6, "SIP/2.0/UDP [::1]:5060;branch=z9hG4bKx;rport"),
        ):
            self.assertEqual(via_value(flow, flow.local, "z9hG4bKx"), text)

    def test_sent_by_is_the_given_local_address(self) -> None:
        wildcard = Flow(TransportKind.UDP, Address("0.0.0.0", 5060), PEER)
        self.assertEqual(
            via_value(wildcard, Address("192.0.2.1", 5060), "z9hG4bKx"),
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx;rport",
        )


class ContactTests(SynchronousTestCase):
    def test_per_transport(self) -> None:
        def contact(flow: Flow, user: str | None = "pbx") -> str:
            return contact_uri(flow, flow.local, user)

        self.assertEqual(contact(UDP, None), "sip:127.0.0.1:5060")
        self.assertEqual(contact(UDP), "sip:pbx@127.0.0.1:5060")
        self.assertEqual(contact(TCP), "sip:pbx@127.0.0.1:5060;transport=tcp")
        self.assertEqual(contact(TLS), "sip:pbx@127.0.0.1:5061;transport=tls")
        self.assertEqual(contact(WS), "sip:pbx@127.0.0.1:8088;transport=ws")
        self.assertEqual(contact(WSS), "sip:pbx@127.0.0.1:8089;transport=wss")
        self.assertEqual(contact(UDP6), "sip:pbx@[::1]:5060")

    def test_host_is_the_given_local_address(self) -> None:
        wildcard = Flow(TransportKind.TCP, Address("::", 5060), PEER, conn_id=9)
        self.assertEqual(
            contact_uri(wildcard, Address("2001:db8::1", 5060), "pbx"),
            "sip:pbx@[2001:db8::1]:5060;transport=tcp",
        )


class BuildRequestTests(SynchronousTestCase):
    def test_exact_bytes(self) -> None:
        request = options(
            contact="<sip:pbx@127.0.0.1:5060>",
            user_agent="pbx 0.1",
            extra=[("Accept", "application/sdp")],
        )
        self.assertEqual(
            bytes(request),
            b"OPTIONS sip:alice@192.0.2.10:5060 SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0000000000000001;rport\r\n"
            b"Max-Forwards: 70\r\n"
            b"From: <sip:pbx@127.0.0.1>;tag=as1\r\n"
            b"To: <sip:alice@192.0.2.10:5060>\r\n"
            b"Call-ID: c0ffee\r\n"
            b"CSeq: 102 OPTIONS\r\n"
            b"Contact: <sip:pbx@127.0.0.1:5060>\r\n"
            b"User-Agent: pbx 0.1\r\n"
            b"Accept: application/sdp\r\n"
            b"Content-Length: 0\r\n"
            b"\r\n",
        )

    def test_parses_back_and_validates(self) -> None:
        request = options(WSS, to_tag="b2", max_forwards=10)
        again = parse_message(bytes(request))
        assert isinstance(again, Request)
        again.validate()
        self.assertEqual(again.method, "OPTIONS")
        self.assertEqual(again.from_.tag, "as1")
        self.assertEqual(again.to.tag, "b2")
        self.assertEqual((again.cseq.seq, again.cseq.method), (102, "OPTIONS"))
        self.assertEqual(again.call_id, "c0ffee")
        self.assertEqual(again.max_forwards, 10)
        via = again.top_via
        self.assertEqual((via.transport, via.host, via.port), ("WSS", "127.0.0.1", 8089))
        self.assertEqual(via.branch, "z9hG4bK0000000000000001")
        self.assertTrue(via.rport_requested)
        self.assertIsNone(via.rport_value)

    def test_via_is_built_from_local_not_the_flow(self) -> None:
        wildcard = Flow(TransportKind.UDP, Address("0.0.0.0", 5060), PEER)
        request = options(wildcard, local=Address("192.0.2.1", 5060))
        self.assertEqual(
            request.headers.get("Via"),
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK0000000000000001;rport",
        )

    def test_optional_headers_are_left_out(self) -> None:
        request = options()
        for name in ("Contact", "User-Agent", "Content-Type"):
            self.assertNotIn(name, request.headers)
        self.assertEqual(request.to.tag, None)

    def test_body_sets_content_length(self) -> None:
        body = b"v=0\r\n"
        request = build_request(
            "MESSAGE",
            "sip:alice@192.0.2.10",
            UDP,
            local=UDP.local,
            from_="<sip:pbx@127.0.0.1>",
            from_tag="t",
            to="<sip:alice@192.0.2.10>",
            call_id="m1",
            cseq=1,
            branch="z9hG4bKm",
            extra=[("Content-Type", "text/plain")],
            body=body,
        )
        data = bytes(request)
        self.assertTrue(
            data.endswith(b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nv=0\r\n")
        )
        again = parse_message(data)
        self.assertEqual(again.body, body)
