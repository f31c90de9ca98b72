"""Random tokens as an injected dependency (branches, tags, Call-IDs, nonces, SSRCs, ICE creds).

Production uses :class:`SecretTokens`; tests inject :class:`CountingTokens` for exact output.
"""

from __future__ import annotations

import secrets
from typing import Protocol


class TokenSource(Protocol):
    def hex(self, nbytes: int) -> str:
        """``2 * nbytes`` lower-case hex characters."""
        ...

    def u32(self) -> int:
        """A 32-bit unsigned integer (SSRCs, RTP initial sequence/timestamp)."""
        ...


class SecretTokens:
    """Cryptographically random tokens from :mod:`secrets`."""

    def hex(self, nbytes: int) -> str:
        return secrets.token_hex(nbytes)

    def u32(self) -> int:
        return secrets.randbits(32)


class CountingTokens:
    """Deterministic tokens for tests: ``hex`` yields 000..01, 000..02, ..."""

    def __init__(self, start: int = 1) -> None:
        self._n = start

    def hex(self, nbytes: int) -> str:
        value = self._n
        self._n += 1
        return format(value, f"0{2 * nbytes}x")[-2 * nbytes :]

    def u32(self) -> int:
        value = self._n
        self._n += 1
        return (value * 2654435761) & 0xFFFFFFFF
