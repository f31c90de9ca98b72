"""Joining the media of two call legs (Asterisk's two-party bridge and its technologies).

:func:`bridge` sets each leg's ``sink`` to a forwarder that sends the packet on the other leg
(whose :class:`~pbx.media.rtp.StreamRewriter` makes it one continuous stream there). Per
direction, a 128-entry table decided once says what happens to each incoming payload type:

* a codec the receiving leg also negotiated is **relayed**: only the payload type changes
  (dynamic PTs differ between legs), the payload is untouched;
* μ-law <-> A-law is **transcoded** in place through a 256-byte table (G.711 A.2/A.3 via
  :mod:`pbx.media.codecs.g711`; Asterisk ``codec_a_mu``) when the receiving leg has not
  negotiated the sender's law;
* telephone-event (RFC 4733) is relayed with its PT mapped, or dropped when the other leg has
  none (the sending leg still reports the digits through ``on_dtmf``);
* anything else is dropped and counted.

The bridge refuses (:class:`MediaError`, naming both codecs) when a leg's codec can neither be
relayed nor transcoded to the other (opus <-> ulaw needs a codec library; STYLE §2.10.5).
``technology`` names what it does, as ``core show channel`` does: ``relay`` or
``transcode (ulaw/alaw)``.
"""

from __future__ import annotations

from collections.abc import Callable

from pbx.call.media import MediaLeg
from pbx.core.errors import MediaError
from pbx.media.codecs.g711 import ALAW_TO_ULAW, ULAW_TO_ALAW
from pbx.media.rtp import header_length

RELAY = "relay"
TRANSCODE = "transcode (ulaw/alaw)"

#: (from codec, to codec) -> the payload translation table.
TRANSCODERS: dict[tuple[str, str], bytes] = {
    ("ulaw", "alaw"): ULAW_TO_ALAW,
    ("alaw", "ulaw"): ALAW_TO_ULAW,
}

Route = tuple[int, bytes | None]
"""What to do with one incoming payload type: (outgoing PT, translation table or None)."""


class _Direction:
    """Forwards one leg's packets to the other leg (the per-packet path)."""

    __slots__ = ("routes", "send", "relayed", "transcoded", "dropped")

    def __init__(self, routes: list[Route | None], send: Callable[[bytearray], None]) -> None:
        self.routes = routes
        self.send = send
        self.relayed = 0
        self.transcoded = 0
        self.dropped = 0

    def forward(self, packet: bytearray) -> None:
        b1 = packet[1]
        route = self.routes[b1 & 0x7F]
        if route is None:
            self.dropped += 1
            return
        pt, table = route
        packet[1] = (b1 & 0x80) | pt
        if table is None:
            self.relayed += 1
        else:
            start = header_length(packet)
            end = len(packet) - packet[-1] if packet[0] & 0x20 else len(packet)
            packet[start:end] = packet[start:end].translate(table)
            self.transcoded += 1
        self.send(packet)


def routes(source: MediaLeg, target: MediaLeg) -> list[Route | None]:
    """The payload-type table for packets from ``source`` sent on ``target``.

    :raises MediaError: ``source``'s codec reaches ``target`` neither by relay nor by
        transcoding.
    """
    table: list[Route | None] = [None] * 128
    target_pts = dict(target.codecs)
    for name, pt in source.codecs:
        if name in target_pts:
            table[pt] = (target_pts[name], None)
        elif (name, target.codec) in TRANSCODERS:
            table[pt] = (target.payload_type, TRANSCODERS[name, target.codec])
    source_dtmf, target_dtmf = source.dtmf_payload_type, target.dtmf_payload_type
    if source_dtmf is not None and target_dtmf is not None:
        table[source_dtmf] = (target_dtmf, None)
    if table[source.payload_type] is None:
        raise MediaError(
            f"cannot bridge {source.codec} ({source.name}) with {target.codec} "
            f"({target.name}): no common codec and no transcoding between them"
        )
    return table


class Bridge:
    """Two legs whose media is relayed to each other (see the module docstring).

    :raises MediaError: a leg is not negotiated yet, or the codecs cannot be bridged.
    """

    def __init__(self, a: MediaLeg, b: MediaLeg) -> None:
        self.a = a
        self.b = b
        self._ab = _Direction([], b.send_rtp)
        self._ba = _Direction([], a.send_rtp)
        self.update()
        a.sink = self._ab.forward
        b.sink = self._ba.forward

    def update(self) -> None:
        """Rebuild the tables after either leg was re-negotiated (a re-INVITE may change
        codecs or payload types).

        :raises MediaError: as the constructor; the previous tables then stay in force.
        """
        for leg in (self.a, self.b):
            if not leg.codec:
                raise MediaError(f"cannot bridge {leg.name}: its media is not negotiated")
        ab, ba = routes(self.a, self.b), routes(self.b, self.a)
        self._ab.routes, self._ba.routes = ab, ba

    @property
    def technology(self) -> str:
        """``relay`` when each leg's codec reaches the other untouched, else
        ``transcode (ulaw/alaw)``."""
        for direction, leg in ((self._ab, self.a), (self._ba, self.b)):
            route = direction.routes[leg.payload_type]
            if route is not None and route[1] is not None:
                return TRANSCODE
        return RELAY

    @property
    def counters(self) -> dict[str, int]:
        """Packets relayed, transcoded and dropped per direction (``a->b_relayed`` ...)."""
        out = {}
        for label, d in (("a->b", self._ab), ("b->a", self._ba)):
            out[f"{label}_relayed"] = d.relayed
            out[f"{label}_transcoded"] = d.transcoded
            out[f"{label}_dropped"] = d.dropped
        return out

    def stop(self) -> None:
        """Detach the forwarders (legs keep their ports and may be bridged again)."""
        if self.a.sink == self._ab.forward:
            self.a.sink = None
        if self.b.sink == self._ba.forward:
            self.b.sink = None


def bridge(a: MediaLeg, b: MediaLeg) -> Bridge:
    """Relay ``a`` <-> ``b`` (see :class:`Bridge`).

    :raises MediaError: naming both codecs when they can neither be relayed nor transcoded.
    """
    return Bridge(a, b)
