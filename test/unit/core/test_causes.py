"""Q.850 table and the chan_sip cause <-> SIP maps (ASTERISK-REFERENCE §1.6)."""

from twisted.trial.unittest import SynchronousTestCase

from pbx.core import causes


class CauseToSipTests(SynchronousTestCase):
    def test_reference_table(self) -> None:
        # §1.6: "cause 1/2/3->404, 17->486, 18->408, 19/20/31->480, 21->403, 22->410, 27->502,
        # 28->484, 29->501, 34/42/66->503, 38->500, 58->488, 127->500; any other -> 603".
        table = {
            1: 404, 2: 404, 3: 404, 17: 486, 18: 408, 19: 480, 20: 480, 31: 480, 21: 403,
            22: 410, 27: 502, 28: 484, 29: 501, 34: 503, 42: 503, 66: 503, 38: 500, 58: 488,
            127: 500,
        }  # fmt: skip
        for cause, status in table.items():
            self.assertEqual(causes.cause_to_sip(cause)[0], status, cause)

    def test_normal_clearing_before_answer_declines(self) -> None:
        self.assertEqual(causes.cause_to_sip(16), (603, "Declined"))
        self.assertEqual(causes.cause_to_sip(0), (603, "Declined"))
        self.assertEqual(causes.cause_to_sip(44), (603, "Declined"))

    def test_reason_phrases(self) -> None:
        self.assertEqual(causes.cause_to_sip(17), (486, "Busy Here"))
        self.assertEqual(causes.cause_to_sip(34), (503, "Service Unavailable"))


class SipToCauseTests(SynchronousTestCase):
    def test_reference_table(self) -> None:
        table = {404: 1, 486: 17, 480: 19, 484: 28, 488: 58, 606: 58, 503: 34, 603: 21}
        for status, cause in table.items():
            self.assertEqual(causes.sip_to_cause(status), cause, status)

    def test_more_mappings(self) -> None:
        table = {401: 21, 403: 21, 407: 21, 408: 18, 410: 22, 500: 38, 502: 27, 600: 17}
        for status, cause in table.items():
            self.assertEqual(causes.sip_to_cause(status), cause, status)

    def test_unlisted_classes(self) -> None:
        self.assertEqual(causes.sip_to_cause(499), causes.INTERWORKING)
        self.assertEqual(causes.sip_to_cause(599), causes.CONGESTION)
        self.assertEqual(causes.sip_to_cause(699), causes.INTERWORKING)
        self.assertEqual(causes.sip_to_cause(302), causes.NORMAL_CLEARING)


class NameTests(SynchronousTestCase):
    def test_names_and_descriptions(self) -> None:
        self.assertEqual(causes.cause_from_name("USER_BUSY"), 17)
        self.assertEqual(causes.cause_from_name("normal_clearing"), 16)
        self.assertIsNone(causes.cause_from_name("NOT_A_CAUSE"))
        self.assertEqual(causes.cause_text(16), "Normal Clearing")
        self.assertEqual(causes.cause_text(4), "Unknown")
        entry = causes.cause_by_code(34)
        assert entry is not None
        self.assertEqual(entry.name, "NORMAL_CIRCUIT_CONGESTION")

    def test_codes_are_unique_and_q850_range(self) -> None:
        codes = [c.code for c in causes.CAUSES]
        self.assertEqual(len(codes), len(set(codes)))
        self.assertTrue(all(1 <= c <= 127 for c in codes))
