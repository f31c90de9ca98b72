"""Tests for pbx.app.service.format_duration: ``core show uptime`` phrased as Asterisk does.

The oracle is ``print_uptimestr`` in Asterisk's ``main/cli.c``: years (365 days), weeks, days,
hours, minutes, then seconds; each part ``N unit`` with ``s`` unless N is 1, parts joined by
``, ``; the seconds part is printed only when it is not 0 or nothing else was (``0 seconds``).
Each larger unit is taken only when the remainder is strictly greater than it, so an exact
minute is ``60 seconds``. (Asterisk also leaves one trailing space after the last part; these
tests compare without it.)
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.app.service import format_duration

MINUTE, HOUR, DAY, WEEK, YEAR = 60, 3600, 86400, 604800, 31536000


class FormatDurationTests(SynchronousTestCase):
    def check(self, cases: dict[float, str]) -> None:
        got = {seconds: format_duration(seconds) for seconds in cases}
        self.assertEqual(got, cases)

    def test_seconds_only(self) -> None:
        self.check({0: "0 seconds", 1: "1 second", 2: "2 seconds", 59: "59 seconds"})

    def test_fractions_are_cut_to_whole_seconds(self) -> None:
        self.check({0.4: "0 seconds", 1.99: "1 second", 61.5: "1 minute, 1 second"})

    def test_every_unit_singular_and_plural(self) -> None:
        self.check({
            MINUTE + 1: "1 minute, 1 second",
            HOUR + 2 * MINUTE + 3: "1 hour, 2 minutes, 3 seconds",
            2 * DAY + 3 * HOUR + 4 * MINUTE + 5: "2 days, 3 hours, 4 minutes, 5 seconds",
            WEEK + DAY + HOUR + MINUTE + 1: "1 week, 1 day, 1 hour, 1 minute, 1 second",
            YEAR + 2 * WEEK + 3 * DAY + 4 * HOUR + 5 * MINUTE + 6:
                "1 year, 2 weeks, 3 days, 4 hours, 5 minutes, 6 seconds",
            3 * YEAR + 7: "3 years, 7 seconds",
        })  # fmt: skip

    def test_units_in_between_that_are_zero_are_left_out(self) -> None:
        self.check({
            DAY + 5: "1 day, 5 seconds",
            WEEK + HOUR + 9: "1 week, 1 hour, 9 seconds",
            YEAR + MINUTE + 1: "1 year, 1 minute, 1 second",
        })  # fmt: skip

    def test_a_zero_seconds_part_is_left_out(self) -> None:
        self.check({
            2 * MINUTE: "2 minutes",
            HOUR + 2 * MINUTE: "1 hour, 2 minutes",
            DAY + HOUR + 2 * MINUTE: "1 day, 1 hour, 2 minutes",
        })  # fmt: skip

    def test_an_exact_unit_is_counted_in_the_next_smaller_one(self) -> None:
        self.check({
            MINUTE: "60 seconds",
            HOUR: "60 minutes",
            DAY: "24 hours",
            WEEK: "7 days",
            YEAR: "52 weeks, 24 hours",
            DAY + MINUTE: "1 day, 60 seconds",
        })  # fmt: skip
