"""SDP for pbx: the RFC 8866 model and parser, and RFC 3264 offer/answer with chan_sip's rules.

``model``/``parse`` read and write SDP text; ``codecs`` maps Asterisk codec names to SDP;
``sdes`` and ``dtls`` hold the SRTP keying rules (RFC 4568, RFC 5763/8842); ``policy`` is the
negotiation vocabulary; ``answer``/``offer`` apply it; ``build`` is the layout pbx writes;
``negotiator`` is the per-leg offer/answer state machine and the public entry point.
This package imports only :mod:`pbx.core`.
"""
