"""DTLS-SRTP endpoint over pyOpenSSL memory BIOs (RFC 6347, RFC 5763, RFC 5764).

Owns one DTLS 1.2 association of a media stream: the handshake in either role, the certificate
check against the peer's ``a=fingerprint`` (RFC 5763 §5, RFC 8122), SRTP profile negotiation
through the ``use_srtp`` extension and the key export (RFC 5764 §4.1–§4.2), retransmission, and
``close_notify``. It does no I/O: datagrams go in through :meth:`DtlsEndpoint.receive`, come out
of :meth:`DtlsEndpoint.outputs`, and time is the ``now`` argument. SRTP itself is
:mod:`pbx.media.srtp`; demultiplexing (RFC 7983) belongs to the stream.

Settings verified against Chromium 156 (see WEBRTC-MEDIA.md): DTLS 1.2 (0xFEFD; the bundled
OpenSSL cannot do DTLS 1.3), ``VERIFY_PEER | VERIFY_FAIL_IF_NO_PEER_CERT`` (which also makes our
server send a CertificateRequest), ciphertext MTU 1200 with ``OP_NO_QUERY_MTU``, no cookie
exchange (ICE has already authenticated the peer's address).

Alerts (RFC 5246 §7.2) are logged once each, received or sent, fatal or warning, by name and
with both sides' fingerprints under the peer's ``a=fingerprint`` hash: ours, the peer's
``a=fingerprint``, and whether the certificate the peer presented matches it (its fingerprint when
not). Each is shortened to its first and last four bytes, enough to tell certificates apart
against an SDP; a mismatch is also logged once in full.

Output packetizing: the memory BIO loses datagram boundaries, so everything OpenSSL wrote is split
at DTLS record headers (13 bytes, length at offset 11) and whole records are packed into
datagrams of at most 1200 bytes.

Retransmission: OpenSSL's timer (RFC 6347 §4.2.4) starts at 1 s and pyOpenSSL cannot shorten
it, while Chrome's starts near 50 ms. So while a flight of ours is unanswered we also resend it
**byte for byte** 100, 200, 400 and 800 ms apart, and at once when the peer retransmits a flight
we already have (its datagram carries only handshake fragments we have seen). Identical records
are harmless: a receiver that got the first copy drops the second as a replay (RFC 6347
§4.1.2.6). OpenSSL's timer is wall-clock internally; after every ``start``/``receive``/
``handle_timer`` its remaining time is added to that call's ``now`` for
:meth:`DtlsEndpoint.timer_at`, so the fast resend is testable with synthetic time while OpenSSL's
own retransmission only happens in real time.

States::

    NEW --start/receive--> CONNECTING --handshake done--> CONNECTED --close_notify--> CLOSED
                               |                              |
                               +--- error / fatal alert ------+----> FAILED   (no timers after)
    close() from NEW, CONNECTING or CONNECTED -> CLOSED
"""

from __future__ import annotations

import enum
import logging
import struct
from collections.abc import Sequence
from typing import Literal

from cryptography import x509
from OpenSSL import SSL, crypto

from pbx.core.errors import LocalProtocolError
from pbx.media.certificate import PrivateKey, hash_algorithm, parse_fingerprint
from pbx.media.srtp import SrtpKeys, get_profile

logger = logging.getLogger(__name__)

DTLS1_2_VERSION = 0xFEFD  # pyOpenSSL has no constant for it
MTU = 1200
#: Our fast resend schedule: gaps between byte-for-byte copies of an unanswered flight.
FAST_RESEND_DELAYS = (0.1, 0.2, 0.4, 0.8)
#: A peer's retransmitted flight may span several datagrams; answer it once, not per datagram.
ECHO_MIN_INTERVAL = 0.02
DEFAULT_PROFILES = ("SRTP_AEAD_AES_128_GCM", "SRTP_AES128_CM_SHA1_80")
_EXPORTER_LABEL = b"EXTRACTOR-dtls_srtp"  # RFC 5764 §4.2
_RECORD_HEADER = struct.Struct("!BHH6sH")  # type, version, epoch, sequence number, length
_HANDSHAKE_HEADER = struct.Struct("!B3sH3s3s")  # type, length, message_seq, offset, frag length
_CONTENT_CHANGE_CIPHER_SPEC = 20
_CONTENT_HANDSHAKE = 22

#: TLS alert descriptions (RFC 5246 §7.2, RFC 8446 §6) for log lines.
ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    116: "certificate_required",
    120: "no_application_protocol",
}


class DtlsState(enum.Enum):
    NEW = "new"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


#: Allowed state changes; anything else is a bug in this module.
TRANSITIONS: dict[DtlsState, frozenset[DtlsState]] = {
    DtlsState.NEW: frozenset({DtlsState.CONNECTING, DtlsState.CLOSED}),
    DtlsState.CONNECTING: frozenset({DtlsState.CONNECTED, DtlsState.FAILED, DtlsState.CLOSED}),
    DtlsState.CONNECTED: frozenset({DtlsState.FAILED, DtlsState.CLOSED}),
    DtlsState.FAILED: frozenset(),
    DtlsState.CLOSED: frozenset(),
}


def split_records(data: bytes) -> list[bytes]:
    """Cut what OpenSSL wrote into whole DTLS records (RFC 6347 §4.1).

    A truncated tail (which OpenSSL never writes) is returned as its own piece.
    """
    records = []
    offset = 0
    while offset < len(data):
        if offset + _RECORD_HEADER.size > len(data):
            records.append(data[offset:])
            break
        length = _RECORD_HEADER.unpack_from(data, offset)[4]
        end = min(offset + _RECORD_HEADER.size + length, len(data))
        records.append(data[offset:end])
        offset = end
    return records


def packetize(data: bytes, mtu: int = MTU) -> list[bytes]:
    """Pack whole records into datagrams of at most ``mtu`` bytes (a record larger than ``mtu``
    travels alone)."""
    datagrams: list[bytes] = []
    current = b""
    for record in split_records(data):
        if current and len(current) + len(record) > mtu:
            datagrams.append(current)
            current = b""
        current += record
    if current:
        datagrams.append(current)
    return datagrams


def _handshake_fragments(datagram: bytes) -> set[tuple[int, int, int]] | None:
    """Identify the handshake fragments of a peer datagram for retransmission detection.

    Returns (epoch, message_seq, fragment_offset) for each plaintext handshake fragment, and
    (epoch, -1, -1) for an encrypted handshake record (its header is not readable, and our
    peers send one per flight: Finished). ``None`` if the datagram carries anything else
    besides ChangeCipherSpec, or no handshake record at all.
    """
    fragments: set[tuple[int, int, int]] = set()
    for record in split_records(datagram):
        if len(record) < _RECORD_HEADER.size:
            return None
        content_type, _, epoch, _, _ = _RECORD_HEADER.unpack_from(record)
        if content_type == _CONTENT_CHANGE_CIPHER_SPEC:
            continue
        if content_type != _CONTENT_HANDSHAKE:
            return None
        if epoch:
            fragments.add((epoch, -1, -1))
            continue
        offset = _RECORD_HEADER.size
        while offset + _HANDSHAKE_HEADER.size <= len(record):
            _, _, seq, frag_offset, frag_length = _HANDSHAKE_HEADER.unpack_from(record, offset)
            fragments.add((0, seq, int.from_bytes(frag_offset, "big")))
            offset += _HANDSHAKE_HEADER.size + int.from_bytes(frag_length, "big")
    return fragments or None


class DtlsEndpoint:
    """One DTLS-SRTP association.

    :param certificate: our certificate (its fingerprint is our ``a=fingerprint``).
    :param private_key: its key.
    :param role: ``"client"`` (we are ``a=setup:active``) or ``"server"`` (``passive``).
    :param remote_fingerprint: the peer's ``a=fingerprint`` as (hash function, hex), e.g.
        ``("sha-256", "AB:CD:...")``.
    :param profiles: SRTP profiles to offer, most preferred first; as the server we pick in
        this order (Chrome offers both defaults).
    :raises MediaError: for an unsupported fingerprint hash function or malformed fingerprint.
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        role: Literal["client", "server"],
        remote_fingerprint: tuple[str, str],
        profiles: Sequence[str] = DEFAULT_PROFILES,
        name: str = "",
    ) -> None:
        self._who = f"{name}: " if name else ""  # whose association the log lines are about
        if role not in ("client", "server"):
            raise LocalProtocolError(f"DTLS role must be 'client' or 'server', not {role!r}")
        for name in profiles:
            get_profile(name)
        self.role = role
        self.state = DtlsState.NEW
        #: Why the association failed (names both fingerprints on a mismatch).
        self.failure_reason: str | None = None
        self._hash_function = remote_fingerprint[0].lower()
        self._hash = hash_algorithm(self._hash_function)
        self._expected = parse_fingerprint(remote_fingerprint[1])
        self._ours = certificate.fingerprint(self._hash)
        #: The fingerprint of the certificate the peer presented, once it has.
        self._presented: bytes | None = None
        self._mismatch: str | None = None
        self._alert_received: str | None = None
        self._keys: SrtpKeys | None = None

        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_min_proto_version(DTLS1_2_VERSION)
        ctx.set_max_proto_version(DTLS1_2_VERSION)
        ctx.set_options(SSL.OP_NO_QUERY_MTU | SSL.OP_NO_TICKET)
        ctx.use_certificate(certificate)
        ctx.use_privatekey(private_key)
        ctx.check_privatekey()
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verify)
        ctx.set_tlsext_use_srtp(":".join(profiles).encode("ascii"))
        ctx.set_info_callback(self._info)
        self._conn = SSL.Connection(ctx, None)
        self._conn.set_ciphertext_mtu(MTU)
        if role == "client":
            self._conn.set_connect_state()
        else:
            self._conn.set_accept_state()

        self._outputs: list[bytes] = []
        self._started_at = 0.0
        # The last flight we sent, kept for byte-for-byte resends (see module docstring).
        self._flight: list[bytes] = []
        self._flight_sent_at = 0.0
        self._resend_at: float | None = None
        self._resends = 0
        self._openssl_at: float | None = None
        self._seen_fragments: set[tuple[int, int, int]] = set()

    # -- public API ----------------------------------------------------------------------------

    @property
    def srtp_keys(self) -> SrtpKeys:
        """The SRTP profile and keys (RFC 5764 §4.2), once :attr:`state` is CONNECTED.

        :raises LocalProtocolError: before the handshake has completed.
        """
        if self._keys is None:
            raise LocalProtocolError(f"no SRTP keys in DTLS state {self.state.value}")
        return self._keys

    def start(self, now: float) -> None:
        """Begin the handshake: the client sends its ClientHello; the server waits for one."""
        if self.state is not DtlsState.NEW:
            return
        self._set_state(DtlsState.CONNECTING)
        self._started_at = now
        self._handshake(now)

    def receive(self, datagram: bytes, now: float) -> None:
        """Feed one DTLS datagram from the peer (first byte 20–63, RFC 7983)."""
        if self.state is DtlsState.NEW:
            self.start(now)
        if self.state not in (DtlsState.CONNECTING, DtlsState.CONNECTED):
            return
        fragments = _handshake_fragments(datagram)
        retransmission = fragments is not None and fragments <= self._seen_fragments
        if fragments is not None:
            self._seen_fragments |= fragments
        # The peer is alive and answering; its own timer covers what follows.
        self._resend_at = None
        self._conn.bio_write(datagram)
        produced = self._handshake(now) if self.state is DtlsState.CONNECTING else self._read()
        if not produced and retransmission:
            self._echo(now)

    def outputs(self) -> list[bytes]:
        """Datagrams to send to the peer, oldest first; the list is handed over and cleared."""
        out, self._outputs = self._outputs, []
        return out

    def timer_at(self) -> float | None:
        """The next time :meth:`handle_timer` must run, or ``None``."""
        if self.state is not DtlsState.CONNECTING:
            return None
        times = [t for t in (self._resend_at, self._openssl_at) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        """Run the fast resend and OpenSSL's retransmission timer if they are due."""
        if self.state is not DtlsState.CONNECTING:
            return
        if self._resend_at is not None and now >= self._resend_at:
            self._resends += 1
            self._send_flight_copy(now)
            self._resend_at = (
                now + FAST_RESEND_DELAYS[self._resends]
                if self._resends < len(FAST_RESEND_DELAYS)
                else None
            )
        if self._openssl_at is not None and now >= self._openssl_at:
            try:
                self._conn.DTLSv1_handle_timeout()
            except SSL.Error as exc:
                self._fail(f"DTLS handshake timed out: {_describe(exc)}")
                return
            self._drain()
            self._arm_openssl_timer(now)

    def close(self) -> None:
        """Send ``close_notify`` (when connected) and stop; a no-op once failed or closed."""
        if self.state in (DtlsState.FAILED, DtlsState.CLOSED):
            return
        if self.state is DtlsState.CONNECTED:
            self._shutdown()
        self._set_state(DtlsState.CLOSED)

    # -- handshake and records -----------------------------------------------------------------

    def _handshake(self, now: float) -> bool:
        """Advance the handshake; returns whether it produced output."""
        try:
            self._conn.do_handshake()
        except SSL.WantReadError:
            datagrams = self._drain()
            if datagrams:
                self._new_flight(datagrams, now)
            self._arm_openssl_timer(now)
            return bool(datagrams)
        except SSL.Error as exc:
            self._drain()  # the fatal alert OpenSSL queued for the peer
            self._fail(self._failure_text("DTLS handshake failed", exc))
            return True
        datagrams = self._drain()
        self._flight = datagrams  # kept so the server can echo its final flight
        self._flight_sent_at = now
        self._connected(now)
        return bool(datagrams)

    def _connected(self, now: float) -> None:
        profile_name = self._conn.get_selected_srtp_profile().decode("ascii")
        if not profile_name:
            self._shutdown()
            self._fail("no SRTP profile in common (use_srtp, RFC 5764 §4.1.2)")
            return
        profile = get_profile(profile_name)
        key_length, salt_length = profile.key_length, profile.salt_length
        material = self._conn.export_keying_material(_EXPORTER_LABEL, 2 * profile.key_salt_length)
        # RFC 5764 §4.2: client_key | server_key | client_salt | server_salt.
        client_key = material[:key_length]
        server_key = material[key_length : 2 * key_length]
        client_salt = material[2 * key_length : 2 * key_length + salt_length]
        server_salt = material[2 * key_length + salt_length :]
        client, server = client_key + client_salt, server_key + server_salt
        local, remote = (client, server) if self.role == "client" else (server, client)
        self._keys = SrtpKeys(profile_name, local, remote)
        self._resend_at = self._openssl_at = None
        self._set_state(DtlsState.CONNECTED)
        logger.info(
            "%sDTLS %s connected in %.0f ms, %s",
            self._who,
            self.role,
            (now - self._started_at) * 1000,
            profile_name,
        )

    def _read(self) -> bool:
        """Pass post-handshake records through OpenSSL: it re-sends its final flight when the
        peer retransmits, and reports ``close_notify``."""
        while True:
            try:
                data = self._conn.recv(65536)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                self._shutdown()  # RFC 5246 §7.2.1: answer close_notify with our own
                self._set_state(DtlsState.CLOSED)
                return True
            except SSL.Error as exc:
                self._drain()
                self._fail(self._failure_text("DTLS error", exc))
                return True
            logger.debug("ignoring %d bytes of DTLS application data", len(data))
        return bool(self._drain())

    def _shutdown(self) -> None:
        try:
            self._conn.shutdown()
        except SSL.Error as exc:
            logger.debug("DTLS shutdown: %s", _describe(exc))
        self._drain()

    def _drain(self) -> list[bytes]:
        """Move everything OpenSSL wrote into :attr:`_outputs` as datagrams; return them."""
        data = b""
        while True:
            try:
                data += self._conn.bio_read(65536)
            except SSL.WantReadError:
                break
        datagrams = packetize(data)
        self._outputs.extend(datagrams)
        return datagrams

    # -- retransmission ------------------------------------------------------------------------

    def _new_flight(self, datagrams: list[bytes], now: float) -> None:
        self._flight = datagrams
        self._flight_sent_at = now
        self._resends = 0
        self._resend_at = now + FAST_RESEND_DELAYS[0]

    def _echo(self, now: float) -> None:
        """Answer a peer's retransmitted flight with our last flight, once per burst."""
        if not self._flight or now - self._flight_sent_at < ECHO_MIN_INTERVAL:
            return
        logger.debug("peer retransmitted its flight; resending ours")
        self._send_flight_copy(now)

    def _send_flight_copy(self, now: float) -> None:
        self._outputs.extend(self._flight)
        self._flight_sent_at = now

    def _arm_openssl_timer(self, now: float) -> None:
        remaining = self._conn.DTLSv1_get_timeout()
        self._openssl_at = None if remaining is None else now + remaining

    # -- callbacks and state -------------------------------------------------------------------

    def _verify(
        self, conn: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int
    ) -> bool:
        # Only the end-entity certificate is pinned by a=fingerprint (RFC 8122 §5); the
        # self-signed error (errno 18) is expected and overridden by our answer.
        if depth != 0:
            return True
        digest = cert.to_cryptography().fingerprint(self._hash)
        self._presented = digest
        if digest == self._expected:
            return True
        self._mismatch = (
            f"DTLS fingerprint mismatch: peer certificate is {self._hash_function} "
            f"{digest.hex(':').upper()}, a=fingerprint says {self._hash_function} "
            f"{self._expected.hex(':').upper()}"
        )
        logger.warning("%s%s", self._who, self._mismatch)
        return False

    def _info(self, conn: SSL.Connection, where: int, ret: int) -> None:
        if where & SSL.SSL_CB_ALERT:
            level = "fatal" if ret >> 8 == 2 else "warning"
            name = ALERT_NAMES.get(ret & 0xFF, f"alert {ret & 0xFF}")
            direction = "received" if where & SSL.SSL_CB_READ else "sent"
            logger.info(
                "%sDTLS %s %s alert %s (%s)",
                self._who,
                direction,
                level,
                name,
                self._fingerprints(),
            )
            if direction == "received" and level == "fatal":
                self._alert_received = name

    def _fingerprints(self) -> str:
        """Ours, the peer's ``a=fingerprint`` and its certificate's, shortened, for alert lines."""
        text = (
            f"{self._hash_function} ours {_short(self._ours)}, "
            f"peer a=fingerprint {_short(self._expected)}"
        )
        if self._presented is None:
            return f"{text}, no peer certificate yet"
        if self._presented == self._expected:
            return f"{text} matches its certificate"
        return f"{text}, peer certificate {_short(self._presented)}"

    def _failure_text(self, what: str, exc: SSL.Error) -> str:
        if self._mismatch is not None:
            return self._mismatch
        if self._alert_received is not None:
            return f"peer sent fatal alert {self._alert_received}"
        return f"{what}: {_describe(exc)}"

    def _fail(self, reason: str) -> None:
        # After a fatal error OpenSSL still reports a retransmission timer: drop ours and its.
        self.failure_reason = reason
        self._resend_at = self._openssl_at = None
        self._flight = []
        self._set_state(DtlsState.FAILED)
        logger.warning("%sDTLS %s failed: %s", self._who, self.role, reason)

    def _set_state(self, new_state: DtlsState) -> None:
        if new_state not in TRANSITIONS[self.state]:
            raise LocalProtocolError(
                f"DTLS state {self.state.value} -> {new_state.value} is not allowed"
            )
        self.state = new_state


def _short(digest: bytes) -> str:
    """A fingerprint as its first and last four bytes in ``a=fingerprint`` notation."""
    if len(digest) <= 8:
        return digest.hex(":").upper()
    return f"{digest[:4].hex(':').upper()}...{digest[-4:].hex(':').upper()}"


def _describe(exc: SSL.Error) -> str:
    """OpenSSL's error queue as one line (pyOpenSSL gives a list of (lib, func, reason))."""
    details = exc.args[0] if exc.args else []
    if isinstance(details, list) and details:
        return "; ".join(str(entry[-1]) for entry in details if isinstance(entry, tuple))
    return str(exc) or type(exc).__name__
