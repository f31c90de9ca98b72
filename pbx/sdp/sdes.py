"""SDES key exchange for SRTP: which ``a=crypto`` lines pbx can honour (RFC 4568).

pbx supports the two RFC 4568 §6.2 suites every SDES phone has, ``AES_CM_128_HMAC_SHA1_80`` and
``AES_CM_128_HMAC_SHA1_32``, with one inline master key||salt of 30 bytes (§6.1: 16-byte key,
14-byte salt).  Offers carry both: the suite of chan_sip's ``encryption_taglen`` (80 unless set
to 32) as tag 1, the other as tag 2.  chan_sip writes only the first line; the second costs
nothing and lets an answerer that has only the other suite still take the call (§7.1.2: the
answerer accepts one of the offered lines).

The acceptance rules match what :mod:`pbx.media.srtp` can key (it keys each direction once and
strips a peer's MKI), so whatever an answer accepts the media layer can use:

* exactly one ``inline:`` key (§6.1); several keys only make sense with re-keying;
* a lifetime (§6.1, ``2^n`` or decimal) of at least 2^24 packets (93 hours at 50 packets/s:
  pbx does not re-key) and at most 2^48 (the suites' limit, §6.2.1);
* an MKI of 1 to 4 bytes, after the lifetime as the grammar orders them (§9.1);
* no session parameters (§6.3: KDR, UNENCRYPTED_*, FEC_ORDER change the transform) except
  ``WSH``, a replay window hint.

Each refusal has an exact reason string that ends up in a SIP ``Warning`` header.
"""

from __future__ import annotations

import base64
import binascii
import re

from pbx.sdp.model import Crypto

SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
"""Supported suites, in the order pbx offers them by default (tag 1, 2)."""

KEY_SALT_LENGTH = 30
"""Bytes of master key||salt for both suites (RFC 4568 §6.2.1, §6.2.2)."""

MIN_LIFETIME_EXPONENT = 24
MAX_LIFETIME_EXPONENT = 48
MAX_MKI_LENGTH = 4

# Bounded digit counts keep int() away from huge inputs.
_LIFETIME = re.compile(r"2\^([0-9]{1,2})|([0-9]{1,15})")
_MKI = re.compile(r"([0-9]{1,10}):([0-9]{1,3})")


def key_problem(crypto: Crypto) -> str | None:
    """Why pbx cannot use ``crypto`` (a supported suite assumed), or ``None``."""
    where = f"a=crypto:{crypto.tag} {crypto.suite}"
    keys = crypto.key_params.split(";")
    if len(keys) > 1:
        return f"{where} has more than one key"
    method, _, info = keys[0].partition(":")
    if method != "inline":
        return f"{where} has no inline key"
    key_text, *params = info.split("|")
    if _decode_key(key_text) is None:
        return f"{where} has a bad inline key (not base64 of {KEY_SALT_LENGTH} bytes)"
    # key-info = key-salt ["|" lifetime] ["|" mki] (RFC 4568 §9.1)
    problem = None
    if params and ":" in params[-1]:
        problem = _mki_problem(params.pop())
    if problem is None and (len(params) > 1 or any(":" in p for p in params)):
        problem = f"has malformed key parameters '{info}'"
    if problem is None and params:
        problem = _lifetime_problem(params[0])
    if problem is not None:
        return f"{where} {problem}"
    for param in crypto.session_params:
        if not param.startswith("WSH="):
            return f"{where} has session parameter {param}, which pbx cannot honour"
    return None


def offer_suites(taglen: int) -> tuple[str, ...]:
    """:data:`SUITES` in offer order: the one whose tag is ``taglen`` bits long first.

    :raises ValueError: if no supported suite has a ``taglen``-bit tag (a caller bug).
    """
    first = f"AES_CM_128_HMAC_SHA1_{taglen}"
    if first not in SUITES:
        raise ValueError(f"no supported SDES suite has a {taglen}-bit tag")
    return (first, *(s for s in SUITES if s != first))


def local_crypto(tag: int, suite: str, key: bytes) -> Crypto:
    """Our ``a=crypto`` line: ``<tag> <suite> inline:<base64 key||salt>`` (no lifetime, no MKI).

    :raises ValueError: if ``key`` is not 30 bytes (a caller bug).
    """
    if len(key) != KEY_SALT_LENGTH:
        raise ValueError(f"SDES key||salt must be {KEY_SALT_LENGTH} bytes, got {len(key)}")
    return Crypto(tag, suite, "inline:" + base64.b64encode(key).decode("ascii"))


def _decode_key(text: str) -> bytes | None:
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        return None
    return key if len(key) == KEY_SALT_LENGTH else None


def _lifetime_problem(text: str) -> str | None:
    match = _LIFETIME.fullmatch(text)
    if match is None:
        return f"has a malformed key lifetime '{text}'"
    if match[1] is not None:
        exponent = int(match[1])
        too_short = exponent < MIN_LIFETIME_EXPONENT
        too_long = exponent > MAX_LIFETIME_EXPONENT
    else:
        too_short = int(match[2]) < 2**MIN_LIFETIME_EXPONENT
        too_long = int(match[2]) > 2**MAX_LIFETIME_EXPONENT
    if too_short:
        return f"key lifetime {text} is below 2^{MIN_LIFETIME_EXPONENT} packets (no re-keying)"
    if too_long:
        return f"key lifetime {text} exceeds 2^{MAX_LIFETIME_EXPONENT} packets"
    return None


def _mki_problem(text: str) -> str | None:
    match = _MKI.fullmatch(text)
    if match is None:
        return f"has a malformed MKI '{text}'"
    value, length = int(match[1]), int(match[2])
    if not 1 <= length <= MAX_MKI_LENGTH:
        return f"MKI length {length} is not 1 to {MAX_MKI_LENGTH} bytes"
    if value >= 1 << (8 * length):
        return f"MKI {value} does not fit in {length} bytes"
    return None
