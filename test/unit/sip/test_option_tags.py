"""Tests for pbx.sip.option_tags: which ``Require`` tags pbx refuses (RFC 3261 §8.2.2.3).

The requests are JsSIP's captured ones with their ``Supported`` turned into ``Require``, which is
what a UA that insists on those extensions sends; RFC 4475's bext01 is the published case.
"""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.sip.message import Request, parse_message
from pbx.sip.option_tags import SUPPORTED, supported_header, unsupported_required

SIP_DATA = Path(__file__).resolve().parents[2] / "data" / "sip"


def load(path: str, supported_to_require: bool = True) -> Request:
    data = (SIP_DATA / path).read_bytes()
    if supported_to_require:
        assert data.count(b"\r\nSupported:") == 1
        data = data.replace(b"\r\nSupported:", b"\r\nRequire:")
    message = parse_message(data)
    message.validate()
    assert isinstance(message, Request)
    return message


class UnsupportedRequiredTests(SynchronousTestCase):
    def test_rfc4475_bext01(self) -> None:
        """§3.3.15: the UAS names both Require tags and ignores Proxy-Require."""
        bext01 = load("rfc4475/bext01.dat", supported_to_require=False)
        self.assertEqual(
            unsupported_required(bext01), ["nothingSupportsThis", "nothingSupportsThisEither"]
        )

    def test_only_what_pbx_lacks_is_listed(self) -> None:
        self.assertEqual(
            unsupported_required(load("captures/jssip-register.sip")), ["path", "gruu"]
        )
        self.assertEqual(
            unsupported_required(load("captures/jssip-invite-digest.sip")), ["ice", "replaces"]
        )

    def test_supported_alone_asks_nothing(self) -> None:
        register = load("captures/jssip-register.sip", supported_to_require=False)
        self.assertEqual(register.headers.get_all("Supported"), ["path", "gruu", "outbound"])
        self.assertEqual(unsupported_required(register), [])

    def test_tags_compare_case_insensitively_and_are_listed_once_as_written(self) -> None:
        bye = load("captures/jssip-bye.sip")  # Require: outbound
        self.assertEqual(unsupported_required(bye), [])
        bye.headers.set("Require", "OutBound, Timer")
        bye.headers.add("Require", "timer, 100rel")
        self.assertEqual(unsupported_required(bye), ["Timer", "100rel"])

    def test_ack_and_cancel_are_exempt(self) -> None:
        ack = load("captures/jssip-ack.sip")
        ack.headers.set("Require", "100rel")
        self.assertEqual(unsupported_required(ack), [])
        cancel = load("captures/jssip-bye.sip")
        cancel.headers.set("Require", "100rel")
        cancel.method = "CANCEL"
        self.assertEqual(unsupported_required(cancel), [])
        cancel.method = "BYE"
        self.assertEqual(unsupported_required(cancel), ["100rel"])

    def test_supported_header(self) -> None:
        self.assertEqual((SUPPORTED, supported_header()), (("outbound",), "outbound"))
