"""Codec preference lists from ``allow``/``disallow`` lines.

Asterisk does this in ``ast_format_cap_update_by_allow_disallow`` (``main/format_cap.c``).

Owns the names Asterisk gives its media formats (``main/codec_builtin.c``) and how an ordered
series of ``allow``/``disallow`` lines turns into a preference list:

* each line is a comma list; ``all`` means every known format, ``!name`` inverts the line's sense
  for that name (``allow=!g729`` disallows g729, ``disallow=!ulaw`` allows ulaw);
* allowing a format already in the list keeps its place (Asterisk's capability lists ignore
  duplicates), so ``allow=alaw,ulaw,alaw`` is ``alaw, ulaw``;
* ``allow=all`` appends every missing format in the order of :data:`FORMATS`;
  ``disallow=all`` empties the list;
* a device starts from the list ``[general]`` produced, which starts from chan_sip's compiled
  default :data:`DEFAULT_CODECS` (``ulaw, alaw, gsm, h263``; h263 is video).

Unknown names are errors with a suggestion. Which of these formats pbx can put on an SDP ``m=``
line is :mod:`pbx.sdp.codecs`'s business; a name it cannot use simply never matches an offer.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import NamedTuple

from pbx.config.parsers import OptionValueError, ParseContext, ValueType

FORMATS: dict[str, str] = {
    # audio
    "ulaw": "audio",
    "alaw": "audio",
    "gsm": "audio",
    "g722": "audio",
    "g723": "audio",
    "g726": "audio",
    "g726aal2": "audio",
    "g729": "audio",
    "adpcm": "audio",
    "ilbc": "audio",
    "lpc10": "audio",
    "speex": "audio",
    "speex16": "audio",
    "speex32": "audio",
    "opus": "audio",
    "silk8": "audio",
    "silk12": "audio",
    "silk16": "audio",
    "silk24": "audio",
    "siren7": "audio",
    "siren14": "audio",
    "g719": "audio",
    "codec2": "audio",
    "slin": "audio",
    "slin12": "audio",
    "slin16": "audio",
    "slin24": "audio",
    "slin32": "audio",
    "slin44": "audio",
    "slin48": "audio",
    "slin96": "audio",
    "slin192": "audio",
    # video
    "h261": "video",
    "h263": "video",
    "h263p": "video",
    "h264": "video",
    "h265": "video",
    "mpeg4": "video",
    "vp8": "video",
    "vp9": "video",
    # image and text
    "jpeg": "image",
    "png": "image",
    "t140": "text",
    "red": "text",
}
"""Asterisk format name -> media kind, in the order ``allow=all`` appends them."""

DEFAULT_CODECS: tuple[str, ...] = ("ulaw", "alaw", "gsm", "h263")
"""chan_sip's compiled default preference list."""


class CodecOp(NamedTuple):
    """One name of an ``allow``/``disallow`` line: ``allow`` is the line's sense after ``!``."""

    allow: bool
    name: str


def _codec_ops(allowing: bool) -> Callable[[str, ParseContext], tuple[CodecOp, ...]]:
    def parse(text: str, ctx: ParseContext) -> tuple[CodecOp, ...]:
        ops: list[CodecOp] = []
        for word in text.split(","):
            name = word.strip().lower()
            if not name:
                continue
            sense = allowing
            if name.startswith("!"):
                sense = not allowing
                name = name[1:].strip()
            name, colon, framing = name.partition(":")
            if colon:
                ctx.warn(f"packetization '{name}:{framing}' is not supported; '{name}' is used")
            if name != "all" and name not in FORMATS:
                matches = difflib.get_close_matches(name, list(FORMATS), n=1, cutoff=0.6)
                hint = f" (did you mean '{matches[0]}'?)" if matches else ""
                raise OptionValueError(f"unknown codec '{name}'{hint}")
            ops.append(CodecOp(sense, name))
        if not ops:
            raise ValueError("expected a comma list of codec names")
        return tuple(ops)

    return parse


ALLOW: ValueType[tuple[CodecOp, ...]] = ValueType(
    "list", "codec[,codec...] | all | !codec", _codec_ops(True)
)
DISALLOW: ValueType[tuple[CodecOp, ...]] = ValueType(
    "list", "codec[,codec...] | all | !codec", _codec_ops(False)
)


def resolve(start: Iterable[str], ops: Iterable[CodecOp]) -> tuple[str, ...]:
    """Apply ``ops`` in order to the preference list ``start``."""
    result = list(start)
    for op in ops:
        if op.name == "all":
            if op.allow:
                result.extend(name for name in FORMATS if name not in result)
            else:
                result.clear()
        elif op.allow:
            if op.name not in result:
                result.append(op.name)
        elif op.name in result:
            result.remove(op.name)
    return tuple(result)
