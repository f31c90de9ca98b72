"""Error values shared by every layer.

Protocol errors carry a *response hint* (the SIP status a server should answer with), following
h11's ``LocalProtocolError``/``RemoteProtocolError`` split: a ``RemoteProtocolError`` means the peer
sent something illegal; a ``LocalProtocolError`` means we misused an API (a bug on our side).
"""

from __future__ import annotations


class PbxError(Exception):
    """Base class of every error pbx raises on purpose."""


class ProtocolError(PbxError):
    """A protocol rule was broken.

    :param message: a human-readable reason; for a remote error it becomes the reason phrase
        of the rejecting response, so it is short, exact and tested.
    :param response_hint: the SIP status code a server should answer with (400, 413, 416, 420,
        505, 513 ...).
    """

    def __init__(self, message: str, response_hint: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.response_hint = response_hint


class LocalProtocolError(ProtocolError):
    """We tried to do something the protocol forbids (a programming error)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol forbids."""


class ConfigError(PbxError):
    """One problem in one configuration file, located to the line.

    ``str()`` gives the form admins grep for:
    ``etc/sip.conf:42: [alice] unknown option 'secert' (did you mean 'secret'?)``.
    """

    def __init__(
        self,
        path: str,
        line: int | None,
        message: str,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.section = section
        self.key = key
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        sect = f" [{self.section}]" if self.section else ""
        return f"{where}:{sect} {self.message}"


class ConfigErrors(PbxError):
    """Every error found while loading a configuration (the loader never stops at the first)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class MediaError(PbxError):
    """A media-plane failure (port exhaustion, unusable crypto parameters ...)."""
