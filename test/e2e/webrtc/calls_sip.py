"""What a browser phone saw on its WebSocket, read back for the call tests.

The harness records every SIP message the page sent and received (``events(phone)["frames"]``:
``{"dir": "sent"|"recv", "t": ms, "data": text}``). :func:`messages` splits those frames into
:class:`WireMessage` (start line, headers, body) and :func:`parse_sdp` splits an SDP body into
its session part and media sections (RFC 8866 §5), line by line and without interpretation.
Both are deliberately independent of ``pbx.sip`` and ``pbx.sdp``: this is the far side of the
wire, so a parser bug in the daemon cannot cancel out here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# RFC 3261 §7.3.3 compact forms of the headers these tests read.
_COMPACT = {"i": "call-id", "l": "content-length", "c": "content-type", "f": "from", "t": "to"}


@dataclass(frozen=True)
class WireMessage:
    """One SIP message from a WebSocket frame (one message per frame, RFC 7118 §5)."""

    direction: str  # "sent" by the browser or "recv"-ed by it
    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: str

    @property
    def status(self) -> int | None:
        m = re.match(r"SIP/2\.0 (\d{3})\b", self.start_line)
        return int(m.group(1)) if m else None

    @property
    def method(self) -> str | None:
        return None if self.status is not None else self.start_line.split(" ", 1)[0]

    def header(self, name: str) -> str | None:
        wanted = _COMPACT.get(name.lower(), name.lower())
        for key, value in self.headers:
            if _COMPACT.get(key.lower(), key.lower()) == wanted:
                return value
        return None

    @property
    def cseq_method(self) -> str:
        return (self.header("CSeq") or " ").split()[-1]

    @property
    def call_id(self) -> str:
        return self.header("Call-ID") or ""

    def __str__(self) -> str:
        head = "\n".join(f"{k}: {v}" for k, v in self.headers)
        return f"[{self.direction}] {self.start_line}\n{head}\n\n{self.body}"


def parse_frame(direction: str, text: str) -> WireMessage | None:
    """A frame's SIP message, or None for a frame that is not one (keep-alive CRLFs)."""
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines[0].strip() or ("SIP/2.0" not in lines[0]):
        return None
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return WireMessage(direction, lines[0], tuple(headers), body)


def messages(frames: Iterable[Mapping[str, Any]]) -> list[WireMessage]:
    """The SIP messages among a phone's recorded frames, in order."""
    found = []
    for frame in frames:
        msg = parse_frame(str(frame["dir"]), str(frame["data"]))
        if msg is not None:
            found.append(msg)
    return found


def invite_answers(msgs: Sequence[WireMessage], direction: str) -> list[WireMessage]:
    """2xx responses to INVITEs with an SDP body that went in ``direction``, in order."""
    return [
        m
        for m in msgs
        if m.direction == direction
        and m.status is not None
        and 200 <= m.status < 300
        and m.cseq_method == "INVITE"
        and m.body.strip()
    ]


def invites(msgs: Sequence[WireMessage], direction: str) -> list[WireMessage]:
    """INVITE requests that went in ``direction`` (initial and re-INVITEs), in order."""
    return [m for m in msgs if m.direction == direction and m.method == "INVITE"]


@dataclass(frozen=True)
class MediaSection:
    """An ``m=`` line and the lines under it."""

    media: str  # "audio"
    port: int
    proto: str  # "UDP/TLS/RTP/SAVPF"
    formats: tuple[str, ...]
    lines: tuple[str, ...]  # the lines after m=, as written

    def attributes(self, name: str) -> list[str]:
        """Values of ``a=name:value`` (``""`` for a flag ``a=name``)."""
        return _attributes(self.lines, name)

    def has(self, name: str) -> bool:
        return bool(self.attributes(name))


@dataclass(frozen=True)
class Sdp:
    session: tuple[str, ...]  # lines before the first m=
    media: tuple[MediaSection, ...]
    text: str

    def attributes(self, name: str) -> list[str]:
        """Session-level ``a=name`` values."""
        return _attributes(self.session, name)

    def everywhere(self, name: str) -> list[str]:
        """``a=name`` values at session level and in every media section."""
        found = self.attributes(name)
        for section in self.media:
            found += section.attributes(name)
        return found

    @property
    def audio(self) -> MediaSection:
        sections = [m for m in self.media if m.media == "audio"]
        assert len(sections) == 1, f"expected one audio m-line:\n{self.text}"
        return sections[0]


def _attributes(lines: Iterable[str], name: str) -> list[str]:
    values = []
    for line in lines:
        if not line.startswith("a="):
            continue
        key, sep, value = line[2:].partition(":")
        if key == name:
            values.append(value if sep else "")
    return values


def parse_sdp(text: str) -> Sdp:
    """Split SDP text (CRLF or LF) into session lines and media sections."""
    session: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line.startswith("m="):
            sections.append((line, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            session.append(line)
    media = []
    for m_line, lines in sections:
        kind, port, proto, *formats = m_line[2:].split()
        media.append(MediaSection(kind, int(port), proto, tuple(formats), tuple(lines)))
    return Sdp(tuple(session), tuple(media), text)
