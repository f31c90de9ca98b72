"""pbx: a small Asterisk-style PBX built on Twisted.

SIP over UDP/TCP/TLS/WebSocket, a chan_sip-compatible peer model read from ``sip.conf``,
an ``extensions.conf`` dialplan and anchored media between browsers and desk phones.
"""

__all__ = ["__version__"]

__version__ = "0.1.0.dev0"
