"""Dialplan functions through the engine (read with ${...}, write with Set())."""

import logging
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.functions import default_functions, parse_callerid

from .fakes import Harness


class ReadTests(SynchronousTestCase):
    def values(self, *expressions: str, setup: str = "", **channel: Any) -> list[str]:
        lines = [setup] if setup else []
        lines += [f"NoOp({e})" for e in expressions]
        text = "[c]\n" + "".join(f"exten => 1,{i},{line}\n" for i, line in enumerate(lines, 1))
        h = Harness(self, text, **channel)
        h.channel.variables.update({"LIST": "a-b-c-d", "EMPTY": "", "N": "3"})
        h.start("c", "1")
        self.harness = h
        executed = h.executed[1:] if setup else h.executed
        return [e.split(" NoOp(", 1)[1][:-1] for e in executed]

    def test_string_functions(self) -> None:
        self.assertEqual(
            self.values(
                "${LEN(hello)}",
                "${LEN()}",
                "${ISNULL(${EMPTY})}",
                "${ISNULL(x)}",
                "${EXISTS(x)}",
                "${TOUPPER(abc)}",
                "${TOLOWER(ABC)}",
            ),
            ["5", "0", "1", "0", "1", "ABC", "abc"],
        )

    def test_if(self) -> None:
        self.assertEqual(
            self.values(
                "${IF($[${N} > 2]?big:small)}",
                "${IF(0?big:small)}",
                "${IF(1?only)}",
                "${IF(0?only)}",
                "${IF( 1 ? spaced : no )}",
                "${IF(text?yes:no)}",
            ),
            ["big", "small", "only", "", "spaced", "yes"],
        )

    def test_cut(self) -> None:
        self.assertEqual(
            self.values(
                "${CUT(LIST,-,2)}",
                "${CUT(LIST,-,2-3)}",
                "${CUT(LIST,-,3-)}",
                "${CUT(LIST,-,-2)}",
                "${CUT(LIST,-,1&4)}",
                "${CUT(LIST,,1)}",
                "${CUT(LIST,-,9)}",
            ),
            ["b", "b-c", "c-d", "a-b", "a-d", "a", ""],
        )

    def test_callerid(self) -> None:
        self.assertEqual(
            self.values(
                "${CALLERID(num)}", "${CALLERID(name)}", "${CALLERID(all)}", "${CALLERID(number)}"
            ),
            ["1001", "Alice", '"Alice" <1001>', "1001"],
        )
        self.assertEqual(self.values("${CALLERID(all)}", caller_id_name=""), ["1001"])

    def test_channel_and_builtins(self) -> None:
        self.assertEqual(
            self.values(
                "${CHANNEL(name)}",
                "${CHANNEL(channeltype)}",
                "${CHANNEL(state)}",
                "${CHANNEL}",
                "${UNIQUEID}",
                "${CONTEXT}/${EXTEN}/${PRIORITY}",
                "${EPOCH}",
            ),
            [
                "SIP/alice-00000001",
                "SIP",
                "Ring",
                "SIP/alice-00000001",
                "1700000000.1",
                "c/1/6",
                "0",
            ],
        )

    def test_global(self) -> None:
        self.assertEqual(self.values("${GLOBAL(G)}", setup="Set(GLOBAL(G)=v)"), ["v"])

    def test_timeout(self) -> None:
        self.assertEqual(
            self.values("${TIMEOUT(digit)}", "${TIMEOUT(response)}", "${TIMEOUT(absolute)}"),
            ["5", "10", "0"],
        )
        self.assertEqual(
            self.values("${TIMEOUT(digit)}", setup="Set(TIMEOUT(digit)=2.5)"), ["2.500"]
        )

    def test_sippeer(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,NoOp(${SIPPEER(bob)} ${SIPPEER(bob,status)} ${SIPPEER(x,ip)}.)\n",
        )
        h.peers = {("bob", "ip"): "127.0.0.1", ("bob", "status"): "OK (5 ms)"}
        h.start("c", "1")
        self.assertEqual(h.executed[0], "1@c:1 NoOp(127.0.0.1 OK (5 ms) .)")

    def test_misuse_logs_and_expands_to_nothing(self) -> None:
        values = self.values("[${IF()}]", "[${CUT(LIST)}]", "[${CHANNEL(x)}]", "[${NOPE(x)}]")
        self.assertEqual(values, ["[]", "[]", "[]", "[]"])
        warnings = self.harness.messages(logging.WARNING)
        self.assertIn(
            "Syntax: CUT(<varname>,<char-delim>,<range-spec>) - missing argument!", warnings
        )
        self.assertIn("Unknown or unavailable item requested: 'x'", warnings)
        self.assertIn("Function NOPE not registered", warnings)


class DbTests(SynchronousTestCase):
    def test_read_write_exists_delete(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Set(DB(cf/1001)=2002)\n"
            " same => n,NoOp(${DB(cf/1001)} ${DB_EXISTS(cf/1001)} ${DB_RESULT})\n"
            " same => n,NoOp(${DB_DELETE(cf/1001)} ${DB_EXISTS(cf/1001)} [${DB(cf/1001)}])\n"
            " same => n,NoOp(${DB(nokey)})\n",
        )
        h.start("c", "1")
        self.assertEqual(
            h.executed[1:],
            [
                "1@c:2 NoOp(2002 1 2002)",
                "1@c:3 NoOp(2002 0 [])",
                "1@c:4 NoOp()",
            ],
        )
        self.assertEqual(h.db.data, {})
        self.assertIn("DB requires an argument, DB(<family>/<key>)", h.messages(logging.WARNING))


class RegistryTests(SynchronousTestCase):
    def test_registry(self) -> None:
        registry = default_functions()
        self.assertEqual(len(registry), 16)
        self.assertIs(registry.get("len"), registry.get("LEN"))
        names = [f.name for f in registry]
        self.assertEqual(names, sorted(names))
        writable = sorted(f.name for f in registry if f.write is not None)
        self.assertEqual(writable, ["CALLERID", "DB", "GLOBAL", "TIMEOUT"])


class CallerIdParsingTests(SynchronousTestCase):
    def test_split(self) -> None:
        self.assertEqual(parse_callerid('"Alice Smith" <1001>'), ("Alice Smith", "1001"))
        self.assertEqual(parse_callerid("Bob <1002>"), ("Bob", "1002"))
        self.assertEqual(parse_callerid("<1003>"), ("", "1003"))
        self.assertEqual(parse_callerid("1004"), ("", "1004"))
        self.assertEqual(parse_callerid('"Carol"'), ("Carol", ""))

    def test_write_all(self) -> None:
        h = Harness(
            self,
            '[c]\nexten => 1,1,Set(CALLERID(all)="Desk One" <2001>)\n'
            " same => n,Set(CALLERID(name)=X)\n",
        )
        h.start("c", "1")
        self.assertEqual((h.channel.caller_id_name, h.channel.caller_id_num), ("X", "2001"))
