"""Tests for pbx.adapters.port_pool: even/odd pairs, random start, round-robin, busy ports."""

from __future__ import annotations

from twisted.internet.error import CannotListenError
from twisted.trial.unittest import SynchronousTestCase

from pbx.adapters.port_pool import PortPool
from pbx.core.errors import MediaError
from pbx.core.tokens import CountingTokens


class FixedTokens(CountingTokens):
    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value

    def u32(self) -> int:
        return self.value


def bind_ok(port: int) -> int:
    return port


class PortPoolTests(SynchronousTestCase):
    def test_pairs_start_at_a_random_even_port_and_go_round(self) -> None:
        pool = PortPool(10001, 10009, FixedTokens(3))  # pairs 10002..10008: 4 of them
        self.assertEqual((pool.start, pool.capacity), (10002, 4))
        ports = [pool.allocate(bind_ok)[0] for _ in range(4)]
        self.assertEqual(ports, [10008, 10002, 10004, 10006])
        self.assertEqual(pool.in_use, 4)
        e = self.assertRaises(MediaError, pool.allocate, bind_ok)
        self.assertEqual(str(e), "no free RTP port pair in 10002-10009 (4 of 4 in use by pbx)")

    def test_a_released_pair_is_reused_last(self) -> None:
        pool = PortPool(20000, 20007, FixedTokens(0))
        first, _ = pool.allocate(bind_ok)
        pool.release(first)
        self.assertEqual(
            [pool.allocate(bind_ok)[0] for _ in range(4)], [20002, 20004, 20006, 20000]
        )
        pool.release(12345)  # not ours: ignored

    def test_ports_other_processes_hold_are_skipped(self) -> None:
        pool = PortPool(20000, 20005, FixedTokens(0))

        def bind(port: int) -> str:
            if port == 20000:
                raise CannotListenError("127.0.0.1", port, OSError(98, "in use"))
            return f"bound {port}"

        self.assertEqual(pool.allocate(bind), (20002, "bound 20002"))
        self.assertEqual(pool.allocate(bind), (20004, "bound 20004"))
        self.assertRaises(MediaError, pool.allocate, bind)

    def test_a_range_without_a_pair(self) -> None:
        self.assertRaises(MediaError, PortPool, 20001, 20002, FixedTokens(0))
        self.assertEqual(PortPool(20000, 20001, FixedTokens(9)).capacity, 1)
