"""A pbx daemon with its HTTP/WebSocket front end on: :class:`WsDaemon`.

A thin layer over :class:`test.integration.daemon.Daemon` (which writes ``http.conf`` with the
server off and ``websocket_enabled=no``): it takes two more free loopback ports, writes
``http.conf`` with ``bindaddr`` (ws://) and ``tlsenable=yes`` + ``tlsbindaddr`` (wss://) and no
``tlscertfile``, so pbx makes its local CA in ``dbdir/tls``, and turns ``websocket_enabled`` on.
Used by the browser tests beside it and by ``contrib/bench/ws_register.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from test.integration.daemon import Daemon, Options, OptionValue, bracket, free_port, render_conf

#: A browser peer: registers over ws/wss only, WebRTC media defaults (webrtc=yes).
BROWSER_PEER: dict[str, OptionValue] = {"transport": "ws,wss", "webrtc": "yes"}


class WsDaemon(Daemon):
    """:class:`Daemon` plus ``http.conf`` serving SIP over WebSocket on ``ws_port``/``wss_port``.

    :param http: extra ``[general]`` options of http.conf (they override the ones written here).
    :param tls_http: also listen on HTTPS/WSS (``tlsenable=yes``, local CA).
    The other parameters are :class:`Daemon`'s.
    """

    def __init__(
        self,
        root: Path,
        peers: Mapping[str, Options],
        general: Options | None = None,
        *,
        http: Options | None = None,
        tls_http: bool = True,
        tcp: bool = True,
        tls: bool = False,
        host: str = "127.0.0.1",
        debug_log: bool = True,
    ) -> None:
        general = {"websocket_enabled": "yes", **(general or {})}
        super().__init__(root, peers, general, tcp=tcp, tls=tls, host=host, debug_log=debug_log)
        self.http = dict(http or {})
        self.tls_http = tls_http
        self.ws_port = 0
        self.wss_port = 0

    @property
    def ws_url(self) -> str:
        return f"ws://{bracket(self.connect_host)}:{self.ws_port}/ws"

    @property
    def wss_url(self) -> str:
        return f"wss://{bracket(self.connect_host)}:{self.wss_port}/ws"

    @property
    def ca_path(self) -> Path:
        """The local CA pbx makes when no ``tlscertfile`` is given."""
        return self.dbdir / "tls" / "ca.crt"

    def _allocate_ports(self) -> None:
        super()._allocate_ports()
        self.ws_port = free_port(self.connect_host)
        self.wss_port = free_port(self.connect_host) if self.tls_http else 0

    def write_config(self) -> None:
        super().write_config()
        bind = bracket(self.host)
        options: dict[str, OptionValue] = {
            "enabled": "yes",
            "bindaddr": self.host,
            "bindport": self.ws_port,
            "tlsenable": "yes" if self.tls_http else "no",
        }
        if self.tls_http:
            options["tlsbindaddr"] = f"{bind}:{self.wss_port}"
        options.update(self.http)
        (self.confdir / "http.conf").write_text(render_conf([("general", options)]))
