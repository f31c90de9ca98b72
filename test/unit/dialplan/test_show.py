"""dialplan show / core show applications / core show functions, against golden text."""

import os

from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.apps import default_applications
from pbx.dialplan.functions import default_functions
from pbx.dialplan.parser import load, loads
from pbx.dialplan.show import show_applications, show_dialplan, show_functions

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data", "dialplan")


def golden(name: str) -> str:
    with open(os.path.join(DATA, name), encoding="utf-8") as f:
        return f.read()


SMALL = """\
[common]
exten => 600,1,Answer()
 same => n,Echo()
[phones]
exten => 100,1,Answer()
 same => n(loop),Playback(hello-world)
 same => n,Goto(loop)
include => common
"""

SMALL_SHOWN = """\
[ Context 'phones' created by 'pbx_config' ]
  '100' =>          1. Answer()                                   [extensions.conf:5]
     [loop]         2. Playback(hello-world)                      [extensions.conf:6]
                    3. Goto(loop)                                 [extensions.conf:7]
  Include =>        'common'                                      [pbx_config]

[ Context 'common' created by 'pbx_config' ]
  '600' =>          1. Answer()                                   [extensions.conf:2]
                    2. Echo()                                     [extensions.conf:3]

-= 2 extensions (5 priorities) in 2 contexts. =-
"""


INCLUDED_600 = """\
[ Included context 'common' created by 'pbx_config' ]
  '600' =>          1. Answer()                                   [extensions.conf:2]
                    2. Echo()                                     [extensions.conf:3]

-= 1 extension (2 priorities) in 1 context. =-
"""


class DialplanShowTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.small = loads(SMALL).dialplan
        self.features = load(DATA, "features.conf").dialplan

    def test_whole_dialplan(self) -> None:
        self.assertEqual(show_dialplan(self.small), SMALL_SHOWN)
        self.assertEqual(show_dialplan(self.features), golden("show-features.txt"))

    def test_one_context(self) -> None:
        shown = show_dialplan(self.small, "common")
        self.assertEqual(shown.splitlines()[0], "[ Context 'common' created by 'pbx_config' ]")
        self.assertTrue(shown.endswith("-= 1 extension (2 priorities) in 1 context. =-\n"))

    def test_extension_at_context_follows_includes(self) -> None:
        self.assertEqual(
            show_dialplan(self.small, "600@phones"),
            INCLUDED_600,
        )
        self.assertEqual(
            show_dialplan(self.features, "100@phones"), golden("show-100-at-phones.txt")
        )

    def test_patterns_match_the_requested_extension(self) -> None:
        shown = show_dialplan(self.features, "2001@")
        self.assertIn("  '_2XXX' =>        1. Dial(SIP/${EXTEN},30,tT)", shown)

    def test_missing(self) -> None:
        self.assertEqual(
            show_dialplan(self.small, "nope"), "There is no existence of 'nope' context\n"
        )
        self.assertEqual(
            show_dialplan(self.small, "999@phones"),
            "There is no existence of 999@phones extension\n",
        )
        self.assertEqual(
            show_dialplan(self.small, "999@"),
            "There is no existence of '999' extension in all contexts\n",
        )

    def test_empty(self) -> None:
        self.assertEqual(
            show_dialplan(loads("").dialplan), "-= 0 extensions (0 priorities) in 0 contexts. =-\n"
        )


class ApplicationsTests(SynchronousTestCase):
    def test_listing(self) -> None:
        lines = show_applications(default_applications()).splitlines()
        self.assertEqual(lines[0], "    -= Registered Asterisk Applications =-")
        self.assertEqual(lines[1], "                Answer: Answer a channel if ringing.")
        self.assertEqual(lines[-1], "    -= 23 Applications Registered =-")
        self.assertEqual(len(lines), 25)

    def test_like(self) -> None:
        self.assertEqual(
            show_applications(default_applications(), like="goto"),
            "    -= Matching Asterisk Applications =-\n"
            "                  Goto: Jump to a particular priority, extension, or context.\n"
            "                GotoIf: Conditional goto.\n"
            "    -= 2 Applications Matching =-\n",
        )


class FunctionsTests(SynchronousTestCase):
    def test_listing(self) -> None:
        lines = show_functions(default_functions()).splitlines()
        self.assertEqual(lines[:2], ["Installed Custom Functions:", "-" * 80])
        self.assertEqual(
            lines[2],
            "CALLERID              CALLERID(datatype)                   "
            "Gets or sets Caller*ID data on the channel.",
        )
        self.assertEqual(lines[-1], "16 custom functions installed.")

    def test_like(self) -> None:
        self.assertEqual(
            show_functions(default_functions(), like="DB"),
            "Matching Custom Functions:\n" + "-" * 80 + "\n"
            "DB                    DB(family/key)                       Read from or write to the "
            "Asterisk database.\n"
            "DB_DELETE             DB_DELETE(family/key)                Return a value from the "
            "database and delete it.\n"
            "DB_EXISTS             DB_EXISTS(family/key)                Check to see if a key "
            "exists in the Asterisk database.\n"
            "3 matching custom functions installed.\n",
        )
