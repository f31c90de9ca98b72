"""The DialplanChannel contract: the test double must keep up with it."""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.call.dialplan_api import DialOptions, DialplanChannel, DialResult, MissingSound
from test.unit.dialplan.fakes import FakeChannel


class ContractTests(SynchronousTestCase):
    def test_fake_implements_every_member(self) -> None:
        # mypy checks the assignment; the loop catches members added to the Protocol later.
        channel: DialplanChannel = FakeChannel(Clock())
        members = set(DialplanChannel.__annotations__) | {
            name for name in vars(DialplanChannel) if not name.startswith("_")
        }
        for name in members:
            self.assertTrue(hasattr(channel, name), name)

    def test_values(self) -> None:
        self.assertEqual(MissingSound("beep").name, "beep")
        self.assertEqual(DialResult("BUSY").cause, 16)
        self.assertFalse(DialOptions().continue_on_callee_hangup)
