"""The application registry and results."""

from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.apps import default_applications
from pbx.dialplan.apps.base import CONTINUE, HANGUP, Action, AppResult


class RegistryTests(SynchronousTestCase):
    def test_lookup_is_case_insensitive(self) -> None:
        apps = default_applications()
        app = apps.get("background")
        assert app is not None
        self.assertEqual(app.name, "BackGround")
        self.assertIs(apps.get("BACKGROUND"), app)
        self.assertIsNone(apps.get("Queue"))

    def test_listing_is_sorted_and_complete(self) -> None:
        names = default_applications().names()
        self.assertEqual(names, sorted(names, key=str.lower))
        for required in (
            "Answer", "Hangup", "Progress", "Ringing", "Busy", "Congestion", "Wait", "WaitExten",
            "Goto", "GotoIf", "Gosub", "Return", "Set", "NoOp", "Verbose", "Log", "Echo",
            "Playback", "BackGround", "Read", "Dial", "UserEvent",
        ):  # fmt: skip
            self.assertIn(required, names)

    def test_only_dial_survives_a_hangup(self) -> None:
        survivors = [a.name for a in default_applications() if not a.cancel_on_hangup]
        self.assertEqual(survivors, ["Dial"])


class ResultTests(SynchronousTestCase):
    def test_results(self) -> None:
        self.assertEqual(AppResult.pressed("5"), AppResult(Action.DIGIT, "5"))
        self.assertIs(CONTINUE.action, Action.CONTINUE)
        self.assertIs(HANGUP.action, Action.HANGUP)
