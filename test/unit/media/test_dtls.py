"""Tests for pbx.media.dtls: an in-memory client/server pair, keys, loss recovery, failures."""

from __future__ import annotations

import datetime
import logging
import struct
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError, MediaError
from pbx.core.tokens import CountingTokens
from pbx.media.certificate import CertifiedKey, generate_certificate
from pbx.media.dtls import (
    FAST_RESEND_DELAYS,
    MTU,
    DtlsEndpoint,
    DtlsState,
    packetize,
    split_records,
)
from pbx.media.srtp import SRTP_PROFILES, SrtpContext

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)
CM_80 = "SRTP_AES128_CM_SHA1_80"
GCM = "SRTP_AEAD_AES_128_GCM"


def make_pair(
    client_cert: CertifiedKey,
    server_cert: CertifiedKey,
    *,
    client_profiles: tuple[str, ...] = (GCM, CM_80),
    server_profiles: tuple[str, ...] = (GCM, CM_80),
    client_expects: str | None = None,
    server_expects: str | None = None,
) -> tuple[DtlsEndpoint, DtlsEndpoint]:
    client = DtlsEndpoint(
        client_cert.certificate,
        client_cert.private_key,
        "client",
        ("sha-256", client_expects or server_cert.fingerprint()),
        client_profiles,
    )
    server = DtlsEndpoint(
        server_cert.certificate,
        server_cert.private_key,
        "server",
        ("sha-256", server_expects or client_cert.fingerprint()),
        server_profiles,
    )
    return client, server


def ferry(
    client: DtlsEndpoint, server: DtlsEndpoint, now: float, *, drop: int | None = None
) -> list[list[bytes]]:
    """Carry outputs both ways until both are quiet; skip the ``drop``-th flight (1-based).

    Returns every flight carried or dropped, in order.
    """
    flights: list[list[bytes]] = []
    moved = True
    while moved:
        moved = False
        for source, target in ((client, server), (server, client)):
            datagrams = source.outputs()
            if not datagrams:
                continue
            moved = True
            flights.append(datagrams)
            if len(flights) == drop:
                continue
            for datagram in datagrams:
                target.receive(datagram, now)
    return flights


def short(fingerprint: str) -> str:
    """An ``a=fingerprint`` value as alert log lines show it: first and last four bytes."""
    return f"{fingerprint[:11]}...{fingerprint[-11:]}"


def output(logs: Any) -> list[str]:
    """``logs.output`` with INFO spelled ``INFO`` even after pbx.app.logging has renamed the
    level to Asterisk's ``VERBOSE`` (another test module imported it)."""
    return [
        f"{'INFO' if r.levelno == logging.INFO else r.levelname}:{r.name}:{r.getMessage()}"
        for r in logs.records
    ]


def alert_lines(logs: Any) -> list[str]:
    return [
        line
        for line in output(logs)
        if line.startswith("INFO:pbx.media.dtls:DTLS ") and " alert " in line
    ]


def rtp_packet(seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, 0xCAFEBABE) + b"\xd5" * 160


def rtcp_rr() -> bytes:
    return struct.pack("!BBHI", 0x81, 201, 7, 0xCAFEBABE) + bytes(24)


class CertificatesMixin:
    @classmethod
    def setUpClass(cls) -> None:
        tokens = CountingTokens()
        cls.alice = generate_certificate(NOW, tokens, "alice")
        cls.bob = generate_certificate(NOW, tokens, "bob")

    alice: CertifiedKey
    bob: CertifiedKey


class HandshakeTests(CertificatesMixin, SynchronousTestCase):
    def handshake(
        self,
        client_profiles: tuple[str, ...] = (GCM, CM_80),
        server_profiles: tuple[str, ...] = (GCM, CM_80),
    ) -> tuple[DtlsEndpoint, DtlsEndpoint]:
        client, server = make_pair(
            self.alice,
            self.bob,
            client_profiles=client_profiles,
            server_profiles=server_profiles,
        )
        self.assertIs(client.state, DtlsState.NEW)
        client.start(0.0)
        self.assertIs(client.state, DtlsState.CONNECTING)
        ferry(client, server, 0.0)
        self.assertIs(client.state, DtlsState.CONNECTED)
        self.assertIs(server.state, DtlsState.CONNECTED)
        self.assertIsNone(client.timer_at())
        self.assertIsNone(server.timer_at())
        return client, server

    def assert_srtp_works(self, client: DtlsEndpoint, server: DtlsEndpoint, profile: str) -> None:
        ck, sk = client.srtp_keys, server.srtp_keys
        self.assertEqual(ck.profile, profile)
        self.assertEqual(sk.profile, profile)
        # RFC 5764 §4.2: what one side sends with is what the other receives with.
        self.assertEqual(ck.local_key_salt, sk.remote_key_salt)
        self.assertEqual(ck.remote_key_salt, sk.local_key_salt)
        self.assertNotEqual(ck.local_key_salt, ck.remote_key_salt)
        self.assertEqual(len(ck.local_key_salt), SRTP_PROFILES[profile].key_salt_length)
        browser, pbx = SrtpContext(*ck), SrtpContext(*sk)
        for seq in (1, 2):
            srtp = browser.protect(rtp_packet(seq))
            assert srtp is not None
            self.assertEqual(pbx.unprotect(srtp), rtp_packet(seq))
            back = pbx.protect(rtp_packet(seq + 100))
            assert back is not None
            self.assertEqual(browser.unprotect(back), rtp_packet(seq + 100))
        srtcp = pbx.protect_rtcp(rtcp_rr())
        assert srtcp is not None
        self.assertEqual(browser.unprotect_rtcp(srtcp), rtcp_rr())
        srtcp = browser.protect_rtcp(rtcp_rr())
        assert srtcp is not None
        self.assertEqual(pbx.unprotect_rtcp(srtcp), rtcp_rr())

    def test_cm_80(self) -> None:
        client, server = self.handshake(client_profiles=(CM_80,), server_profiles=(CM_80,))
        self.assert_srtp_works(client, server, CM_80)

    def test_gcm(self) -> None:
        """GCM's salt is 12 bytes: the export is 56 bytes, not 60 (RFC 7714 §12)."""
        client, server = self.handshake()
        self.assert_srtp_works(client, server, GCM)
        self.assertEqual(len(client.srtp_keys.local_key_salt), 28)

    def test_server_order_decides(self) -> None:
        client, server = self.handshake(client_profiles=(GCM, CM_80), server_profiles=(CM_80, GCM))
        self.assert_srtp_works(client, server, CM_80)

    def test_flight_shapes(self) -> None:
        """DTLS 1.2 records; one datagram per flight with ECDSA P-256; CertificateRequest sent."""
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        flights = ferry(client, server, 0.0)
        self.assertEqual([len(f) for f in flights], [1, 1, 1, 1])
        # DTLS 1.2 everywhere; only the ClientHello record may say 1.0 (RFC 6347 §4.2.1).
        self.assertEqual(flights[0][0][13 + 12 : 13 + 14], b"\xfe\xfd")  # client_version
        for flight in flights[1:]:
            for record in split_records(flight[0]):
                self.assertEqual(record[1:3], b"\xfe\xfd")
        # Flight 2 (server): ServerHello(2) Certificate(11) ServerKeyExchange(12)
        # CertificateRequest(13) ServerHelloDone(14); epoch-0 records show the handshake type.
        types = [r[13] for r in split_records(flights[1][0])]
        self.assertEqual(types, [2, 11, 12, 13, 14])

    def test_server_starts_on_first_datagram(self) -> None:
        client, server = make_pair(self.alice, self.bob)
        server.start(0.0)
        self.assertEqual(server.outputs(), [])
        self.assertIsNone(server.timer_at())
        client.start(0.0)
        ferry(client, server, 0.0)
        self.assertIs(server.state, DtlsState.CONNECTED)
        fresh_client, fresh_server = make_pair(self.alice, self.bob)
        fresh_client.start(0.0)
        self.assertIs(fresh_server.state, DtlsState.NEW)
        ferry(fresh_client, fresh_server, 0.0)
        self.assertIs(fresh_server.state, DtlsState.CONNECTED)

    def test_no_common_profile(self) -> None:
        client, server = make_pair(
            self.alice, self.bob, client_profiles=(GCM,), server_profiles=(CM_80,)
        )
        client.start(0.0)
        ferry(client, server, 0.0)
        for endpoint in (client, server):
            self.assertIs(endpoint.state, DtlsState.FAILED)
            self.assertEqual(
                endpoint.failure_reason, "no SRTP profile in common (use_srtp, RFC 5764 §4.1.2)"
            )

    def test_keys_before_connect(self) -> None:
        client, _ = make_pair(self.alice, self.bob)
        with self.assertRaises(LocalProtocolError) as cm:
            _ = client.srtp_keys
        self.assertEqual(cm.exception.message, "no SRTP keys in DTLS state new")

    def test_garbage_is_ignored(self) -> None:
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        junk_record = b"\x16\xfe\xfd" + bytes(10) + b"\x00\x05hello"
        server.receive(junk_record, 0.0)
        server.receive(b"\x17\xfe\xfd" + bytes(10) + b"\x00\x01x", 0.0)
        self.assertIs(server.state, DtlsState.CONNECTING)
        self.assertEqual(server.outputs(), [])
        ferry(client, server, 0.0)
        self.assertIs(server.state, DtlsState.CONNECTED)
        server.receive(junk_record, 0.0)
        self.assertIs(server.state, DtlsState.CONNECTED)

    def test_both_active(self) -> None:
        """a=setup:active on both sides: each gets a ClientHello and fails with an alert."""
        alice = DtlsEndpoint(*self.alice, "client", ("sha-256", self.bob.fingerprint()))
        bob = DtlsEndpoint(*self.bob, "client", ("sha-256", self.alice.fingerprint()))
        alice.start(0.0)
        bob.start(0.0)
        ferry(alice, bob, 0.0)
        for endpoint in (alice, bob):
            self.assertIs(endpoint.state, DtlsState.FAILED)
            self.assertEqual(endpoint.failure_reason, "DTLS handshake failed: unexpected message")
            self.assertIsNone(endpoint.timer_at())

    def test_truncated_datagram(self) -> None:
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        server.receive(b"\x16\xfe\xfd\x00", 0.0)
        self.assertIs(server.state, DtlsState.CONNECTING)
        self.assertEqual(server.outputs(), [])

    def test_illegal_state_change_is_a_bug(self) -> None:
        client, _ = make_pair(self.alice, self.bob)
        with self.assertRaises(LocalProtocolError) as cm:
            client._set_state(DtlsState.CONNECTED)
        self.assertEqual(cm.exception.message, "DTLS state new -> connected is not allowed")

    def test_bad_arguments(self) -> None:
        cert, key = self.alice
        with self.assertRaises(LocalProtocolError):
            DtlsEndpoint(cert, key, "both", ("sha-256", "00"))  # type: ignore[arg-type]
        with self.assertRaises(LocalProtocolError):
            DtlsEndpoint(cert, key, "client", ("sha-256", "00"), ("SRTP_NULL",))
        with self.assertRaises(MediaError):
            DtlsEndpoint(cert, key, "client", ("md5", "00"))
        with self.assertRaises(MediaError):
            DtlsEndpoint(cert, key, "client", ("sha-256", "zz"))


class FingerprintMismatchTests(CertificatesMixin, SynchronousTestCase):
    def assert_both_failed(self, client: DtlsEndpoint, server: DtlsEndpoint) -> None:
        for endpoint in (client, server):
            self.assertIs(endpoint.state, DtlsState.FAILED)
            self.assertIsNone(endpoint.timer_at())
            endpoint.handle_timer(1000.0)
            self.assertEqual(endpoint.outputs(), [])
            endpoint.receive(b"\x16\xfe\xfd" + bytes(10) + b"\x00\x00", 1000.0)
            self.assertIs(endpoint.state, DtlsState.FAILED)

    def test_client_rejects_server_certificate(self) -> None:
        wrong = ":".join(["00"] * 32)
        client, server = make_pair(self.alice, self.bob, client_expects=wrong)
        client.start(0.0)
        with self.assertLogs("pbx.media.dtls", "INFO") as logs:
            flights = ferry(client, server, 0.0)
        self.assertEqual(len(flights[-1][0]), 15)  # one plaintext alert record
        self.assertEqual(
            client.failure_reason,
            f"DTLS fingerprint mismatch: peer certificate is sha-256 {self.bob.fingerprint()}, "
            f"a=fingerprint says sha-256 {wrong}",
        )
        self.assertEqual(server.failure_reason, "peer sent fatal alert unknown_ca")
        # One line per alert, each with both sides' fingerprints; the client saw the server's
        # certificate, the server never got to see the client's.
        alice, bob = short(self.alice.fingerprint()), short(self.bob.fingerprint())
        self.assertEqual(
            alert_lines(logs),
            [
                "INFO:pbx.media.dtls:DTLS sent fatal alert unknown_ca (sha-256 ours "
                f"{alice}, peer a=fingerprint 00:00:00:00...00:00:00:00, peer certificate {bob})",
                "INFO:pbx.media.dtls:DTLS received fatal alert unknown_ca (sha-256 ours "
                f"{bob}, peer a=fingerprint {alice}, no peer certificate yet)",
            ],
        )
        self.assert_both_failed(client, server)

    def test_server_rejects_client_certificate(self) -> None:
        client, server = make_pair(
            self.alice, self.bob, server_expects=self.bob.fingerprint().lower()
        )
        client.start(0.0)
        with self.assertLogs("pbx.media.dtls", "INFO") as logs:
            ferry(client, server, 0.0)
        alice, bob = short(self.alice.fingerprint()), short(self.bob.fingerprint())
        self.assertEqual(
            alert_lines(logs),
            [
                "INFO:pbx.media.dtls:DTLS sent fatal alert unknown_ca (sha-256 ours "
                f"{bob}, peer a=fingerprint {bob}, peer certificate {alice})",
                "INFO:pbx.media.dtls:DTLS received fatal alert unknown_ca (sha-256 ours "
                f"{alice}, peer a=fingerprint {bob} matches its certificate)",
            ],
        )
        self.assertEqual(
            server.failure_reason,
            f"DTLS fingerprint mismatch: peer certificate is sha-256 {self.alice.fingerprint()}, "
            f"a=fingerprint says sha-256 {self.bob.fingerprint()}",
        )
        self.assertEqual(client.failure_reason, "peer sent fatal alert unknown_ca")
        self.assert_both_failed(client, server)

    def test_a_truncated_a_fingerprint_is_shown_whole(self) -> None:
        client, server = make_pair(self.alice, self.bob, client_expects="AB:CD")
        client.start(0.0)
        with self.assertLogs("pbx.media.dtls", "INFO") as logs:
            ferry(client, server, 0.0)
        self.assertIn(
            "INFO:pbx.media.dtls:DTLS sent fatal alert unknown_ca (sha-256 ours "
            f"{short(self.alice.fingerprint())}, peer a=fingerprint AB:CD, "
            f"peer certificate {short(self.bob.fingerprint())})",
            output(logs),
        )

    def test_sha1_fingerprint(self) -> None:
        client = DtlsEndpoint(
            self.alice.certificate,
            self.alice.private_key,
            "client",
            ("SHA-1", self.bob.fingerprint("sha-1")),
        )
        server = DtlsEndpoint(
            self.bob.certificate,
            self.bob.private_key,
            "server",
            ("sha-1", self.alice.fingerprint("sha-1")),
        )
        client.start(0.0)
        ferry(client, server, 0.0)
        self.assertIs(client.state, DtlsState.CONNECTED)
        self.assertIs(server.state, DtlsState.CONNECTED)


class LossRecoveryTests(CertificatesMixin, SynchronousTestCase):
    """The byte-for-byte fast resend, driven with synthetic time (OpenSSL's own timer is 1 s)."""

    def test_dropped_client_hello(self) -> None:
        client, server = make_pair(self.alice, self.bob)
        client.start(5.0)
        hello = client.outputs()  # lost
        self.assertEqual(client.timer_at(), 5.0 + FAST_RESEND_DELAYS[0])
        client.handle_timer(5.05)  # not due yet
        self.assertEqual(client.outputs(), [])
        client.handle_timer(5.1)
        resent = client.outputs()
        self.assertEqual(resent, hello)
        for datagram in resent:
            server.receive(datagram, 5.1)
        ferry(client, server, 5.1)
        self.assertIs(client.state, DtlsState.CONNECTED)
        self.assertIs(server.state, DtlsState.CONNECTED)

    def test_dropped_server_flight(self) -> None:
        """The client's resent ClientHello is a retransmission: the server echoes its flight."""
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        flights = ferry(client, server, 0.0, drop=2)
        self.assertEqual(len(flights), 2)
        client.handle_timer(0.1)
        recovered = ferry(client, server, 0.1)
        self.assertEqual(recovered[1], flights[1])  # byte for byte
        self.assertIs(client.state, DtlsState.CONNECTED)
        self.assertIs(server.state, DtlsState.CONNECTED)

    def test_dropped_client_flight(self) -> None:
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        flights = ferry(client, server, 0.0, drop=3)
        self.assertEqual(len(flights), 3)
        client.handle_timer(0.1)
        recovered = ferry(client, server, 0.1)
        self.assertEqual(recovered[0], flights[2])
        self.assertIs(client.state, DtlsState.CONNECTED)
        self.assertIs(server.state, DtlsState.CONNECTED)

    def test_dropped_final_flight(self) -> None:
        """The server is connected; OpenSSL drops the client's identical copy as a replay, so the
        server itself must echo its ChangeCipherSpec + Finished."""
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        flights = ferry(client, server, 0.0, drop=4)
        self.assertIs(server.state, DtlsState.CONNECTED)
        self.assertIs(client.state, DtlsState.CONNECTING)
        self.assertEqual(client.timer_at(), 0.1)
        client.handle_timer(0.1)
        recovered = ferry(client, server, 0.1)
        self.assertEqual(recovered, [flights[2], flights[3]])
        self.assertIs(client.state, DtlsState.CONNECTED)

    def test_echo_once_per_burst(self) -> None:
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        hello = client.outputs()
        server.receive(hello[0], 0.0)
        first = server.outputs()
        server.receive(hello[0], 0.001)  # within ECHO_MIN_INTERVAL: no second copy
        self.assertEqual(server.outputs(), [])
        server.receive(hello[0], 0.05)
        self.assertEqual(server.outputs(), first)

    def test_resend_schedule(self) -> None:
        """Copies 100, 200, 400 and 800 ms apart, then only OpenSSL's timer."""
        client, _ = make_pair(self.alice, self.bob)
        client.start(0.0)
        (hello,) = client.outputs()
        copies: list[float] = []
        while len(copies) < len(FAST_RESEND_DELAYS):
            timer = client.timer_at()
            assert timer is not None
            client.handle_timer(timer)
            # OpenSSL's timer fires too (near 1 s) but is wall-clock: nothing to send yet.
            out = client.outputs()
            if out:
                self.assertEqual(out, [hello])
                copies.append(timer)
        for got, want in zip(copies, (0.1, 0.3, 0.7, 1.5), strict=True):
            self.assertAlmostEqual(got, want)
        timer = client.timer_at()
        assert timer is not None  # OpenSSL's own, about a second after it was last armed
        self.assertGreater(timer, 1.5)
        self.assertLessEqual(timer, 3.0)

    def test_peer_activity_cancels_fast_resend(self) -> None:
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        for datagram in client.outputs():
            server.receive(datagram, 0.0)
        self.assertEqual(server.timer_at(), 0.1)  # its flight is unanswered
        server.outputs()  # lost
        # The client's own copy reaches the server, which echoes and stops its fast timer.
        client.handle_timer(0.1)
        for datagram in client.outputs():
            server.receive(datagram, 0.1)
        timer = server.timer_at()
        assert timer is not None
        self.assertGreater(timer, 0.5)  # OpenSSL's second, not another 100 ms copy


class FragmentationTests(CertificatesMixin, SynchronousTestCase):
    def test_split_and_packetize(self) -> None:
        def record(size: int, tag: int) -> bytes:
            header = bytes([22]) + b"\xfe\xfd" + bytes(8) + struct.pack("!H", size)
            return header + bytes([tag]) * size

        records = [record(687, 1), record(687, 2), record(287, 3), record(1500, 4)]
        data = b"".join(records)
        self.assertEqual(split_records(data), records)
        self.assertEqual(split_records(data + b"\x16\xfe"), [*records, b"\x16\xfe"])
        self.assertEqual(split_records(records[0][:100]), [records[0][:100]])
        datagrams = packetize(data)
        self.assertEqual(datagrams, [records[0], records[1] + records[2], records[3]])
        self.assertEqual(packetize(b""), [])

    def big_certificate(self) -> CertifiedKey:
        """A certificate too big for one 1200-byte datagram, as with RSA keys or long names."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "big")])
        names = [x509.DNSName(f"host-{i:03d}.media.example.org") for i in range(60)]
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(7)
            .not_valid_before(NOW)
            .not_valid_after(NOW + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA256())
        )
        return CertifiedKey(cert, key)

    def test_fragmented_flights(self) -> None:
        big = self.big_certificate()
        client, server = make_pair(self.alice, big)
        client.start(0.0)
        (hello,) = client.outputs()
        server.receive(hello, 0.0)
        flight = server.outputs()
        self.assertGreater(len(flight), 1)
        for datagram in flight:
            self.assertLessEqual(len(datagram), MTU)
            self.assertEqual(b"".join(split_records(datagram)), datagram)
            for rec in split_records(datagram):
                self.assertEqual(len(rec), 13 + struct.unpack("!H", rec[11:13])[0])
        # Certificate (type 11) is cut into handshake fragments (RFC 6347 §4.2.3).
        certificate_fragments = [
            rec for datagram in flight for rec in split_records(datagram) if rec[13] == 11
        ]
        self.assertGreater(len(certificate_fragments), 1)
        # Deliver out of order: OpenSSL reassembles; the first part alone is no retransmission.
        for datagram in reversed(flight):
            client.receive(datagram, 0.0)
        ferry(client, server, 0.0)
        self.assertIs(client.state, DtlsState.CONNECTED)
        self.assertIs(server.state, DtlsState.CONNECTED)
        self.assertEqual(client.srtp_keys.local_key_salt, server.srtp_keys.remote_key_salt)

    def test_partial_flight_is_not_a_retransmission(self) -> None:
        big = self.big_certificate()
        client, server = make_pair(big, self.bob)
        client.start(0.0)
        ferry(client, server, 0.0, drop=3)  # the client's big flight 3 is lost
        client.handle_timer(0.1)
        flight3 = client.outputs()
        self.assertGreater(len(flight3), 1)
        server.receive(flight3[0], 0.2)
        self.assertEqual(server.outputs(), [])  # first part only: wait for the rest
        for datagram in flight3[1:]:
            server.receive(datagram, 0.2)
        ferry(client, server, 0.2)
        self.assertIs(server.state, DtlsState.CONNECTED)
        self.assertIs(client.state, DtlsState.CONNECTED)


class CloseTests(CertificatesMixin, SynchronousTestCase):
    def connected(self) -> tuple[DtlsEndpoint, DtlsEndpoint]:
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        ferry(client, server, 0.0)
        return client, server

    def test_close_notify(self) -> None:
        client, server = self.connected()
        with self.assertLogs("pbx.media.dtls", "INFO") as logs:
            client.close()
            self.assertIs(client.state, DtlsState.CLOSED)
            (alert,) = client.outputs()
            self.assertEqual(alert[0], 21)  # an alert record, encrypted in epoch 1
            self.assertEqual(alert[3:5], b"\x00\x01")
            server.receive(alert, 1.0)
        self.assertIs(server.state, DtlsState.CLOSED)
        alice, bob = short(self.alice.fingerprint()), short(self.bob.fingerprint())
        self.assertEqual(
            alert_lines(logs),
            [
                "INFO:pbx.media.dtls:DTLS sent warning alert close_notify (sha-256 ours "
                f"{alice}, peer a=fingerprint {bob} matches its certificate)",
                "INFO:pbx.media.dtls:DTLS received warning alert close_notify (sha-256 ours "
                f"{bob}, peer a=fingerprint {alice} matches its certificate)",
                "INFO:pbx.media.dtls:DTLS sent warning alert close_notify (sha-256 ours "
                f"{bob}, peer a=fingerprint {alice} matches its certificate)",
            ],
        )
        (reply,) = server.outputs()  # RFC 5246 §7.2.1: close_notify in return
        client.receive(reply, 1.0)
        self.assertIs(client.state, DtlsState.CLOSED)
        self.assertIsNone(client.timer_at())
        client.close()
        self.assertEqual(client.outputs(), [])

    def test_alert_lines_name_the_leg_and_use_the_peers_hash(self) -> None:
        client = DtlsEndpoint(
            *self.alice, "client", ("SHA-1", self.bob.fingerprint("sha-1")), name="SIP/desk1-0001"
        )
        server = DtlsEndpoint(*self.bob, "server", ("sha-1", self.alice.fingerprint("sha-1")))
        client.start(0.0)
        ferry(client, server, 0.0)
        with self.assertLogs("pbx.media.dtls", "INFO") as logs:
            client.close()
        alice, bob = short(self.alice.fingerprint("sha-1")), short(self.bob.fingerprint("sha-1"))
        self.assertEqual(
            output(logs),
            [
                "INFO:pbx.media.dtls:SIP/desk1-0001: DTLS sent warning alert close_notify "
                f"(sha-1 ours {alice}, peer a=fingerprint {bob} matches its certificate)"
            ],
        )

    def test_close_before_connected(self) -> None:
        client, server = make_pair(self.alice, self.bob)
        client.close()
        self.assertIs(client.state, DtlsState.CLOSED)
        client.start(0.0)
        self.assertEqual(client.outputs(), [])
        client, server = make_pair(self.alice, self.bob)
        client.start(0.0)
        client.close()
        self.assertIs(client.state, DtlsState.CLOSED)
        self.assertEqual(len(client.outputs()), 1)  # only the ClientHello from start()
        self.assertIsNone(client.timer_at())

    def test_application_data_is_ignored(self) -> None:
        client, server = self.connected()
        client._conn.send(b"hello")  # SCTP would go here; we have no data channels
        (record,) = client._drain()
        client.outputs()
        server.receive(record, 1.0)
        self.assertIs(server.state, DtlsState.CONNECTED)
        self.assertEqual(server.outputs(), [])

    def test_forged_record_after_connect_is_dropped(self) -> None:
        client, server = self.connected()
        client.close()
        (alert,) = client.outputs()
        forged = alert[:-1] + bytes([alert[-1] ^ 1])  # fails its MAC (RFC 6347 §4.1.2.7)
        server.receive(forged, 1.0)
        self.assertIs(server.state, DtlsState.CONNECTED)
        self.assertEqual(server.outputs(), [])
        server.receive(alert, 1.0)
        self.assertIs(server.state, DtlsState.CLOSED)
