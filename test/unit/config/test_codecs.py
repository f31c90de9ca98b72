"""Tests for pbx.config.codecs: allow/disallow lines to an ordered preference list."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config import codecs
from pbx.config.codecs import ALLOW, DISALLOW, FORMATS, CodecOp, resolve
from pbx.config.parsers import OptionValueError, ParseContext


def lines(*spec: str) -> list[CodecOp]:
    """``"allow=ulaw,alaw"``, ``"disallow=all"`` ... -> the ops, in order."""
    ops: list[CodecOp] = []
    for line in spec:
        key, _, value = line.partition("=")
        vt = ALLOW if key == "allow" else DISALLOW
        ops.extend(vt.parse(value, ParseContext("/cfg")))
    return ops


# (lines, expected list starting from chan_sip's default ulaw, alaw, gsm, h263)
TABLE: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    ((), ("ulaw", "alaw", "gsm", "h263")),
    (("disallow=all",), ()),
    (("disallow=all", "allow=ulaw"), ("ulaw",)),
    (("disallow=all", "allow=alaw,ulaw"), ("alaw", "ulaw")),
    (("disallow=all", "allow=alaw", "allow=ulaw"), ("alaw", "ulaw")),
    (("disallow=all", "allow=alaw,ulaw,alaw"), ("alaw", "ulaw")),
    (("allow=opus",), ("ulaw", "alaw", "gsm", "h263", "opus")),
    (("allow=ulaw",), ("ulaw", "alaw", "gsm", "h263")),
    (("disallow=gsm,h263",), ("ulaw", "alaw")),
    (("allow=!gsm",), ("ulaw", "alaw", "h263")),
    (("disallow=all", "disallow=!g722"), ("g722",)),
    (("disallow=all", "allow=opus, ULAW ,"), ("opus", "ulaw")),
    (("disallow=all", "allow=all", "disallow=all", "allow=g729"), ("g729",)),
    (("disallow=all", "allow=ulaw", "allow=all"), ("ulaw", *[n for n in FORMATS if n != "ulaw"])),
    (("disallow=all", "allow=ulaw", "disallow=ulaw", "allow=alaw"), ("alaw",)),
]


class ResolveTests(SynchronousTestCase):
    def test_table(self) -> None:
        for spec, expected in TABLE:
            self.assertEqual(resolve(codecs.DEFAULT_CODECS, lines(*spec)), expected, spec)

    def test_start_list_is_not_modified(self) -> None:
        start = ["ulaw"]
        resolve(start, lines("allow=alaw"))
        self.assertEqual(start, ["ulaw"])


class ParseTests(SynchronousTestCase):
    def test_unknown_codec_with_suggestion(self) -> None:
        with self.assertRaises(OptionValueError) as cm:
            lines("allow=ulaw,g7222")
        self.assertEqual(str(cm.exception), "unknown codec 'g7222' (did you mean 'g722'?)")
        with self.assertRaises(OptionValueError) as cm:
            lines("disallow=speex99x")
        self.assertEqual(str(cm.exception), "unknown codec 'speex99x' (did you mean 'speex'?)")
        with self.assertRaises(OptionValueError) as cm:
            lines("allow=foo")
        self.assertEqual(str(cm.exception), "unknown codec 'foo'")

    def test_empty_list_is_an_error(self) -> None:
        with self.assertRaises(ValueError) as cm:
            lines("allow= , ")
        self.assertEqual(str(cm.exception), "expected a comma list of codec names")

    def test_packetization_is_accepted_with_a_note(self) -> None:
        ctx = ParseContext("/cfg")
        self.assertEqual(ALLOW.parse("ulaw:20", ctx), (CodecOp(True, "ulaw"),))
        self.assertEqual(ctx.notes, ["packetization 'ulaw:20' is not supported; 'ulaw' is used"])

    def test_every_format_has_a_kind(self) -> None:
        self.assertEqual(set(FORMATS.values()), {"audio", "video", "image", "text"})
        self.assertEqual(FORMATS["h263"], "video")
        for name in codecs.DEFAULT_CODECS:
            self.assertIn(name, FORMATS)
