"""Host names from sip.conf and the addresses they resolve to.

chan_sip resolves a peer's ``host=`` and a ``register =>`` line's host when it loads sip.conf,
and its dnsmgr re-resolves them while it runs; a name that does not resolve makes that peer
unreachable, not the configuration invalid. pbx does the same: the adapters fill a
:class:`HostTable` at start-up and reload and refresh it periodically; the protocol code asks it
for an address whenever a name meets the network (a flow to a target, matching a request's
source to a static peer). A refresh that fails keeps the last good address, as dnsmgr does.
"""

from __future__ import annotations

from collections.abc import Mapping

from pbx.core.addr import is_ip_literal, unbracket


class HostTable:
    """Name -> address (IP literal text), lower-case names."""

    def __init__(self) -> None:
        self._addresses: dict[str, str] = {}

    def address_of(self, host: str) -> str | None:
        """``host`` itself when it is an IP literal (brackets removed), else the address its
        name resolved to, or ``None`` when it has not resolved."""
        plain = unbracket(host)
        if is_ip_literal(plain):
            return plain
        return self._addresses.get(plain.lower())

    def update(self, answers: Mapping[str, str | None]) -> None:
        """Record resolution results; ``None`` (a failed lookup) keeps a previous address."""
        for name, address in answers.items():
            if address is not None:
                self._addresses[name.lower()] = address

    def retain(self, names: set[str]) -> None:
        """Forget names the configuration no longer uses."""
        wanted = {name.lower() for name in names}
        for name in list(self._addresses):
            if name not in wanted:
                del self._addresses[name]
