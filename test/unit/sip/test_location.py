"""The location service: bindings by AOR, max_contacts eviction, expiry by ``now`` through one
lazily cleaned heap, and the per-connection index (RFC 3261 §10, RFC 5626)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow
from pbx.sip.location import Binding, Location

LOCAL = Address("127.0.0.1", 8089)
BROWSER = Address("127.0.0.1", 55104)
PHONE = Address("192.0.2.10", 5060)
WS1 = Flow(TransportKind.WSS, LOCAL, BROWSER, conn_id=1)
WS2 = Flow(TransportKind.WSS, LOCAL, BROWSER, conn_id=2)  # same addresses, another connection
TCP = Flow(TransportKind.TCP, Address("127.0.0.1", 5060), PHONE, conn_id=3)
UDP = Flow(TransportKind.UDP, Address("127.0.0.1", 5060), PHONE)
INSTANCE = "<urn:uuid:0f036dc8-2d34-4e41-8476-784b95133f7f>"


def binding(
    contact: str = "sip:alice@192.0.2.10:5060",
    *,
    aor: str = "alice",
    at: float = 0.0,
    expires: float = 300.0,
    flow: Flow | None = UDP,
    instance: str | None = None,
    reg_id: int | None = None,
) -> Binding:
    source = flow.remote if flow is not None else PHONE
    return Binding(
        aor=aor,
        contact=contact,
        expires_at=at + expires,
        registered_at=at,
        source=source,
        transport=flow.kind if flow is not None else TransportKind.UDP,
        target=source,
        flow=flow,
        instance=instance,
        reg_id=reg_id,
    )


def drain(location: Location, limit: int = 100) -> list[tuple[float, list[str]]]:
    """Run the timer to the end: (time, contacts expired then) per firing."""
    fired = []
    for _ in range(limit):
        at = location.timer_at()
        if at is None:
            break
        location.handle_timer(at)
        fired.append((at, [b.contact for b in location.expired()]))
    return fired


class BindingTests(SynchronousTestCase):
    def test_key_is_the_contact_without_instance_and_reg_id(self) -> None:
        self.assertEqual(binding().key, ("contact", "sip:alice@192.0.2.10:5060"))
        self.assertEqual(binding(instance=INSTANCE).key, ("contact", "sip:alice@192.0.2.10:5060"))
        self.assertEqual(binding(reg_id=1).key, ("contact", "sip:alice@192.0.2.10:5060"))

    def test_key_is_instance_and_reg_id_when_both_are_there(self) -> None:
        self.assertEqual(binding(instance=INSTANCE, reg_id=1).key, ("instance", f"{INSTANCE}|1"))
        self.assertEqual(
            binding("sip:x@a.invalid", instance=INSTANCE, reg_id=1).key,
            binding("sip:y@b.invalid", instance=INSTANCE, reg_id=1).key,
        )
        self.assertNotEqual(
            binding(instance=INSTANCE, reg_id=1).key, binding(instance=INSTANCE, reg_id=2).key
        )

    def test_expires_in_rounds_and_stops_at_zero(self) -> None:
        b = binding(at=0.0, expires=300.0)
        self.assertEqual(b.expires_in(0.0), 300)
        self.assertEqual(b.expires_in(100.4), 200)  # 199.6 rounds to 200
        self.assertEqual(b.expires_in(100.6), 199)
        self.assertEqual(b.expires_in(300.0), 0)
        self.assertEqual(b.expires_in(500.0), 0)


class SaveTests(SynchronousTestCase):
    def test_save_and_lookup(self) -> None:
        location = Location()
        b = binding()
        self.assertEqual(location.save(b, 1), [])
        self.assertEqual(location.lookup("alice"), [b])
        self.assertEqual(location.lookup("alice", 299.0), [b])
        self.assertEqual(location.lookup("alice", 300.0), [])  # expired, timer not run yet
        self.assertIs(location.get("alice", b.key), b)
        self.assertEqual(location.lookup("bob"), [])
        self.assertIsNone(location.get("bob", b.key))
        self.assertEqual((len(location), list(location)), (1, [b]))

    def test_refresh_replaces_without_evicting(self) -> None:
        location = Location()
        first = binding(at=0.0)
        again = binding(at=100.0)
        location.save(first, 1)
        self.assertEqual(location.save(again, 1), [])
        self.assertEqual(location.lookup("alice"), [again])
        self.assertEqual(len(location), 1)

    def test_instance_refresh_from_a_new_contact(self) -> None:
        # RFC 5626: a browser reconnecting with a new .invalid host keeps its instance/reg-id.
        location = Location()
        first = binding("sip:a@x.invalid;transport=ws", flow=WS1, instance=INSTANCE, reg_id=1)
        again = binding(
            "sip:b@y.invalid;transport=ws", at=5.0, flow=WS2, instance=INSTANCE, reg_id=1
        )
        location.save(first, 5)
        self.assertEqual(location.save(again, 5), [])
        self.assertEqual(location.lookup("alice"), [again])

    def test_oldest_evicted_beyond_max_contacts(self) -> None:
        location = Location()
        a = binding("sip:a@192.0.2.1", at=1.0)
        b = binding("sip:b@192.0.2.2", at=3.0)
        c = binding("sip:c@192.0.2.3", at=2.0)
        for x in (a, b, c):
            self.assertEqual(location.save(x, 3), [])
        d = binding("sip:d@192.0.2.4", at=4.0)
        self.assertEqual(location.save(d, 3), [a])
        e = binding("sip:e@192.0.2.5", at=5.0)
        self.assertEqual(location.save(e, 3), [c])  # registered_at order, not insertion
        self.assertEqual(location.lookup("alice"), [e, d, b])

    def test_one_contact_per_peer_by_default(self) -> None:
        location = Location()
        a = binding("sip:a@192.0.2.1", at=1.0)
        b = binding("sip:b@192.0.2.2", at=2.0)
        location.save(a, 1)
        self.assertEqual(location.save(b, 1), [a])
        self.assertEqual(location.lookup("alice"), [b])
        self.assertIsNone(location.get("alice", a.key))
        # 0 (or less) still keeps one: a REGISTER that succeeds binds something.
        c = binding("sip:c@192.0.2.3", at=3.0)
        self.assertEqual(location.save(c, 0), [b])
        self.assertEqual(location.lookup("alice"), [c])

    def test_lowered_max_contacts_is_enforced_on_refresh(self) -> None:
        location = Location()
        a, b, c = (binding(f"sip:{n}@192.0.2.{i}", at=float(i)) for i, n in enumerate("abc"))
        for x in (a, b, c):
            location.save(x, 3)
        # A reload set max_contacts=2; c refreshes: the oldest other binding makes room.
        c2 = binding("sip:c@192.0.2.2", at=10.0)
        self.assertEqual(location.save(c2, 2), [a])
        self.assertEqual(location.lookup("alice"), [c2, b])

    def test_aors_are_independent(self) -> None:
        location = Location()
        a = binding(aor="alice")
        b = binding(aor="bob")
        location.save(a, 1)
        self.assertEqual(location.save(b, 1), [])
        self.assertEqual(location.lookup("alice"), [a])
        self.assertEqual(location.lookup("bob"), [b])

    def test_lookup_is_newest_first(self) -> None:
        location = Location()
        old = binding("sip:a@192.0.2.1", at=1.0, expires=1000.0)
        new = binding("sip:b@192.0.2.2", at=2.0, expires=10.0)
        location.save(new, 5)
        location.save(old, 5)
        self.assertEqual(location.lookup("alice"), [new, old])
        self.assertEqual(location.lookup("alice", 20.0), [old])


class RemoveTests(SynchronousTestCase):
    def test_remove(self) -> None:
        location = Location()
        a = binding("sip:a@192.0.2.1", at=1.0)
        b = binding("sip:b@192.0.2.2", at=2.0)
        location.save(a, 5)
        location.save(b, 5)
        self.assertIs(location.remove("alice", a.key), a)
        self.assertIsNone(location.remove("alice", a.key))
        self.assertIsNone(location.remove("bob", a.key))
        self.assertEqual(location.lookup("alice"), [b])
        self.assertIs(location.remove("alice", b.key), b)
        self.assertEqual((len(location), location.lookup("alice")), (0, []))

    def test_remove_all(self) -> None:
        location = Location()
        a = binding("sip:a@192.0.2.1", at=1.0)
        b = binding("sip:b@192.0.2.2", at=2.0)
        other = binding(aor="bob")
        for x in (a, b, other):
            location.save(x, 5)
        self.assertEqual(location.remove_all("alice"), [a, b])
        self.assertEqual(location.remove_all("alice"), [])
        self.assertEqual(list(location), [other])


class ExpiryTests(SynchronousTestCase):
    def test_expires_in_order(self) -> None:
        location = Location()
        self.assertIsNone(location.timer_at())
        location.save(binding("sip:a@192.0.2.1", expires=100.0), 5)
        location.save(binding("sip:b@192.0.2.2", expires=50.0), 5)
        self.assertEqual(location.timer_at(), 50.0)
        location.handle_timer(49.9)
        self.assertEqual(location.expired(), [])
        location.handle_timer(50.0)
        self.assertEqual([b.contact for b in location.expired()], ["sip:b@192.0.2.2"])
        self.assertEqual(location.expired(), [])  # drained
        self.assertEqual(location.timer_at(), 100.0)
        self.assertEqual([b.contact for b in location.lookup("alice")], ["sip:a@192.0.2.1"])

    def test_late_timer_expires_everything_due(self) -> None:
        location = Location()
        for i in range(3):
            location.save(binding(f"sip:{i}@192.0.2.1", expires=10.0 + i), 5)
        location.save(binding("sip:later@192.0.2.1", expires=100.0), 5)
        location.handle_timer(50.0)
        self.assertEqual(
            sorted(b.contact for b in location.expired()),
            ["sip:0@192.0.2.1", "sip:1@192.0.2.1", "sip:2@192.0.2.1"],
        )
        self.assertEqual(location.timer_at(), 100.0)

    def test_refresh_moves_the_expiry(self) -> None:
        location = Location()
        location.save(binding(at=0.0, expires=100.0), 1)
        location.save(binding(at=60.0, expires=100.0), 1)  # now expires at 160
        self.assertEqual(location.timer_at(), 160.0)  # the entry for 100 is stale
        location.handle_timer(100.0)
        self.assertEqual(location.expired(), [])
        self.assertEqual(len(location), 1)
        self.assertEqual(drain(location), [(160.0, ["sip:alice@192.0.2.10:5060"])])

    def test_refresh_to_an_earlier_expiry(self) -> None:
        location = Location()
        location.save(binding(at=0.0, expires=3600.0), 1)
        location.save(binding(at=10.0, expires=60.0), 1)
        self.assertEqual(drain(location), [(70.0, ["sip:alice@192.0.2.10:5060"])])

    def test_many_refreshes_expire_once(self) -> None:
        location = Location()
        for t in range(0, 1000, 50):
            location.save(binding(at=float(t), expires=120.0), 1)
        self.assertEqual(drain(location), [(1070.0, ["sip:alice@192.0.2.10:5060"])])

    def test_the_heap_stays_proportional_to_the_bindings(self) -> None:
        # Each refresh leaves its predecessor's entry behind until that one's time (up to
        # maxexpiry later); phones refreshing every minute must not grow the heap for an hour.
        location = Location()
        for t in range(20_000):
            location.save(binding(f"sip:u{t % 10}@192.0.2.10", aor=f"u{t % 10}", at=t / 10), 1)
        self.assertEqual(len(location), 10)
        self.assertLessEqual(len(location._heap), 2 * 10 + 1024 + 1)
        self.assertEqual(location.timer_at(), 2299.0)  # the oldest of the last refreshes
        fired = drain(location)
        self.assertEqual(sum(len(contacts) for _at, contacts in fired), 10)

    def test_len_follows_every_change(self) -> None:
        location = Location()
        a, b = binding("sip:a@192.0.2.10"), binding("sip:b@192.0.2.10")
        location.save(a, 5)
        location.save(b, 5)
        location.save(binding("sip:a@192.0.2.10", at=1.0), 5)  # a refresh
        location.save(binding("sip:c@192.0.2.10", aor="bob"), 1)
        self.assertEqual((len(location), len(list(location))), (3, 3))
        location.save(binding("sip:d@192.0.2.10", at=2.0), 2)  # evicts the oldest of alice
        self.assertEqual((len(location), len(list(location))), (3, 3))
        location.remove("alice", ("contact", "sip:d@192.0.2.10"))
        location.remove("alice", ("contact", "sip:nobody@192.0.2.10"))
        self.assertEqual(len(location), 2)
        location.remove_all("alice")
        self.assertEqual(len(location), 1)
        location.handle_timer(1000.0)
        self.assertEqual((len(location), location.expired()[0].aor), (0, "bob"))

    def test_removed_bindings_never_expire(self) -> None:
        location = Location()
        b = binding(expires=100.0)
        location.save(b, 1)
        location.remove("alice", b.key)
        self.assertIsNone(location.timer_at())
        location.handle_timer(1000.0)
        self.assertEqual(location.expired(), [])

    def test_removed_then_saved_again_expires_once(self) -> None:
        location = Location()
        b = binding(expires=100.0)
        location.save(b, 1)
        location.remove_all("alice")
        location.save(binding(expires=100.0), 1)
        self.assertEqual(drain(location), [(100.0, ["sip:alice@192.0.2.10:5060"])])

    def test_evicted_bindings_never_expire(self) -> None:
        location = Location()
        location.save(binding("sip:a@192.0.2.1", at=0.0, expires=10.0), 1)
        location.save(binding("sip:b@192.0.2.2", at=1.0, expires=100.0), 1)
        self.assertEqual(drain(location), [(101.0, ["sip:b@192.0.2.2"])])


class FlowIndexTests(SynchronousTestCase):
    def test_flow_closed_drops_only_that_connections_bindings(self) -> None:
        location = Location()
        on_ws1 = binding("sip:a@x.invalid;transport=ws", flow=WS1)
        on_ws2 = binding("sip:b@y.invalid;transport=ws", aor="bob", flow=WS2)
        on_tcp = binding("sip:c@192.0.2.10;transport=tcp", aor="carol", flow=TCP)
        on_udp = binding(aor="dave")
        for x in (on_ws1, on_ws2, on_tcp, on_udp):
            location.save(x, 5)
        self.assertEqual(location.flow_closed(WS1), [on_ws1])
        self.assertEqual(location.flow_closed(WS1), [])
        self.assertEqual(location.flow_closed(UDP), [])  # datagrams have no connection
        self.assertEqual(sorted(b.aor for b in location), ["bob", "carol", "dave"])
        self.assertEqual(location.flow_closed(WS2), [on_ws2])
        self.assertEqual(sorted(b.aor for b in location), ["carol", "dave"])

    def test_a_plain_tcp_binding_outlives_its_connection(self) -> None:
        # chan_sip keeps a TCP registration; pbx reconnects to its target when needed.
        location = Location()
        on_tcp = binding("sip:c@192.0.2.10;transport=tcp", aor="carol", flow=TCP)
        location.save(on_tcp, 1)
        self.assertEqual(location.flow_closed(TCP), [])
        self.assertEqual(location.lookup("carol"), [on_tcp])
        self.assertIsNone(on_tcp.flow)  # requests now go to its target, not the closed flow
        self.assertEqual(location.flow_closed(TCP), [])

    def test_an_outbound_tcp_binding_ends_with_its_flow(self) -> None:
        # RFC 5626 §4.4: the UA that registered with reg-id reconnects and registers again.
        location = Location()
        outbound = binding("sip:c@192.0.2.10;transport=tcp", flow=TCP, instance=INSTANCE, reg_id=1)
        location.save(outbound, 1)
        self.assertEqual(location.flow_closed(TCP), [outbound])
        self.assertEqual(len(location), 0)

    def test_several_bindings_on_one_connection(self) -> None:
        location = Location()
        a = binding("sip:a@x.invalid", flow=WS1, instance=INSTANCE, reg_id=1)
        b = binding("sip:a@x.invalid", flow=WS1, instance=INSTANCE, reg_id=2)
        c = binding("sip:c@x.invalid", aor="bob", flow=WS1)
        for x in (a, b, c):
            location.save(x, 5)
        self.assertCountEqual(location.flow_closed(WS1), [a, b, c])
        self.assertEqual(len(location), 0)

    def test_refresh_on_a_new_connection_moves_the_binding(self) -> None:
        location = Location()
        location.save(binding("sip:a@x.invalid", flow=WS1, instance=INSTANCE, reg_id=1), 1)
        moved = binding("sip:a@y.invalid", at=1.0, flow=WS2, instance=INSTANCE, reg_id=1)
        location.save(moved, 1)
        self.assertEqual(location.flow_closed(WS1), [])  # the old connection owns nothing now
        self.assertEqual(location.lookup("alice"), [moved])
        self.assertEqual(location.flow_closed(WS2), [moved])

    def test_refresh_from_udp_leaves_the_connection(self) -> None:
        location = Location()
        location.save(binding(flow=TCP), 1)
        over_udp = binding(at=1.0, flow=UDP)
        location.save(over_udp, 1)
        self.assertEqual(location.flow_closed(TCP), [])
        self.assertEqual(location.lookup("alice"), [over_udp])

    def test_remove_remove_all_eviction_and_expiry_unindex(self) -> None:
        location = Location()
        a = binding("sip:a@x.invalid", flow=WS1)
        location.save(a, 5)
        location.remove("alice", a.key)
        location.save(binding("sip:b@x.invalid", aor="bob", flow=WS1), 5)
        location.remove_all("bob")
        c = binding("sip:c@x.invalid", aor="carol", flow=WS1, at=0.0)
        location.save(c, 1)
        location.save(binding("sip:d@192.0.2.1", aor="carol", at=1.0), 1)  # evicts c
        location.save(binding("sip:e@x.invalid", aor="erin", flow=WS1, expires=5.0), 5)
        location.handle_timer(5.0)
        self.assertEqual(len(location.expired()), 1)
        # Nothing left on WS1: each path above took its binding out of the index.
        self.assertEqual(location.flow_closed(WS1), [])
        self.assertEqual([b.contact for b in location], ["sip:d@192.0.2.1"])

    def test_flow_closed_then_timer_is_quiet(self) -> None:
        location = Location()
        location.save(binding("sip:a@x.invalid", flow=WS1, expires=30.0), 1)
        location.flow_closed(WS1)
        self.assertIsNone(location.timer_at())
        location.handle_timer(100.0)
        self.assertEqual(location.expired(), [])

    def test_restored_binding_without_flow(self) -> None:
        location = Location()
        restored = binding(flow=None)
        location.save(restored, 1)
        self.assertEqual(location.lookup("alice"), [restored])
        self.assertIs(location.remove("alice", restored.key), restored)
