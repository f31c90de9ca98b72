"""The loaded dialplan: contexts, extensions, priorities, includes, and how lookups walk them.

Lookups follow Asterisk ``pbx_find_extension`` with ``extenpatternmatchnew=no`` (the default):
the extensions of a context are tried in :mod:`~pbx.dialplan.pattern` specificity order
(caller-ID variants before the plain one), the first whose name matches *and* that has the
wanted priority (or label) wins; otherwise the ``include =>`` contexts are searched depth-first
in listed order. A context already visited in one search is skipped, so include cycles are
harmless. A :class:`Dialplan` is immutable once built: a reload builds a new one, and calls in
progress keep the object they started with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pbx.dialplan.pattern import (
    CANMATCH,
    EARLY,
    MATCH,
    MATCHMORE,
    NO,
    ExtensionName,
    MatchMode,
)

HINT = -1
"""The priority number of ``exten => 100,hint,SIP/alice`` (``PRIORITY_HINT``)."""

REGISTRAR = "pbx_config"
"""What ``dialplan show`` names as the creator of contexts loaded from extensions.conf."""


@dataclass(frozen=True, slots=True)
class Priority:
    """One ``exten =>`` line: a numbered step running ``app(data)``.

    ``data`` is stored raw: substitution and argument splitting happen at run time.
    """

    number: int
    app: str
    data: str
    label: str | None
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class Extension:
    """The priorities of one extension name (plus optional caller-ID match) in a context."""

    name: ExtensionName
    cid: ExtensionName | None
    priorities: dict[int, Priority] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[object, ...]:
        # ext_cmp on the name; caller-ID variants sort before the plain extension.
        if self.cid is None:
            return (self.name.sort_key, 1, ())
        return (self.name.sort_key, 0, self.cid.sort_key)

    def ordered(self) -> list[Priority]:
        """Priorities in ascending order (the hint, numbered -1, first)."""
        return [self.priorities[n] for n in sorted(self.priorities)]

    def cid_matches(self, callerid: str | None) -> bool:
        """``matchcid()``: an empty caller ID only matches an empty caller-ID pattern."""
        if self.cid is None:
            return True
        if not callerid:
            return self.cid.text == ""
        return self.cid.matches(callerid)


@dataclass(frozen=True, slots=True)
class Include:
    """``include => name`` (time-based arguments are accepted but not evaluated)."""

    name: str
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Located:
    """A value with the file and line it came from (ignore patterns, switches)."""

    value: str
    path: str
    line: int


@dataclass(slots=True)
class Context:
    """A ``[name]`` section of extensions.conf; duplicate sections merge into one object."""

    name: str
    path: str
    line: int
    extensions: list[Extension] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    ignorepats: list[Located] = field(default_factory=list)
    switches: list[Located] = field(default_factory=list)
    registrar: str = REGISTRAR

    def extension(self, name: ExtensionName, cid: ExtensionName | None) -> Extension:
        """The extension with this exact name and caller-ID pattern, created if absent."""
        cid_text = None if cid is None else cid.text
        for ext in self.extensions:
            ext_cid = None if ext.cid is None else ext.cid.text
            if ext.name.text == name.text and ext_cid == cid_text:
                return ext
        ext = Extension(name, cid)
        self.extensions.append(ext)
        return ext

    def sort(self) -> None:
        """Put extensions in lookup (``ext_cmp``) order; stable for equal keys."""
        self.extensions.sort(key=lambda e: e.sort_key)


@dataclass(frozen=True, slots=True)
class GeneralSettings:
    """``[general]`` of extensions.conf (pbx_config.c names and defaults)."""

    static: bool = False
    writeprotect: bool = False
    autofallthrough: bool = True
    clearglobalvars: bool = False
    extenpatternmatchnew: bool = False
    userscontext: str = "default"


@dataclass(frozen=True, slots=True)
class Found:
    """Where a lookup landed: the context that held the extension, and the priority."""

    context: str
    extension: Extension
    priority: Priority


_T = TypeVar("_T")


@dataclass(slots=True)
class Dialplan:
    """All contexts (in definition order), the ``[general]`` settings and ``[globals]``."""

    contexts: dict[str, Context] = field(default_factory=dict)
    settings: GeneralSettings = field(default_factory=GeneralSettings)
    globals: dict[str, str] = field(default_factory=dict)

    def find(
        self, context: str, exten: str, priority: int, callerid: str | None = None
    ) -> Found | None:
        """The priority that ``exten`` at ``priority`` runs in ``context`` (or an include)."""
        hit = self._search(context, exten, callerid, MATCH, lambda e: e.priorities.get(priority))
        return None if hit is None else Found(hit[0], hit[1], hit[2])

    def find_label(
        self, context: str, exten: str, label: str, callerid: str | None = None
    ) -> int | None:
        """The priority number carrying ``label`` (``ast_findlabel_extension``), or None."""

        def by_label(ext: Extension) -> int | None:
            return ext.labels.get(label)

        hit = self._search(context, exten, callerid, MATCH, by_label)
        return None if hit is None else hit[2]

    def exists(
        self, context: str, exten: str, priority: int = 1, callerid: str | None = None
    ) -> bool:
        """``ast_exists_extension``."""
        return self.find(context, exten, priority, callerid) is not None

    def can_match(
        self, context: str, exten: str, callerid: str | None = None, priority: int = 1
    ) -> bool:
        """``ast_canmatch_extension``: ``exten`` matches now or is a prefix of a match."""
        return self._search(context, exten, callerid, CANMATCH, _has(priority)) is not None

    def match_more(
        self, context: str, exten: str, callerid: str | None = None, priority: int = 1
    ) -> bool:
        """``ast_matchmore_extension``: more digits could still reach a different match.

        Drives overlap dialing (``484 Address Incomplete`` with ``allowoverlap``) and digit
        collection after Background/WaitExten. A ``!`` pattern that matches ends the search of
        its context with "no".
        """
        return self._search(context, exten, callerid, MATCHMORE, _has(priority)) is not None

    def _search(
        self,
        context: str,
        exten: str,
        callerid: str | None,
        mode: MatchMode,
        select: Callable[[Extension], _T | None],
        visited: set[str] | None = None,
    ) -> tuple[str, Extension, _T] | None:
        if visited is None:
            visited = set()
        if context in visited:
            return None
        ctx = self.contexts.get(context)
        if ctx is None:
            return None
        visited.add(context)
        for ext in ctx.extensions:
            result = ext.name.match(exten, mode)
            if result == NO or not ext.cid_matches(callerid):
                continue
            if result == EARLY and mode is MATCHMORE:
                # A '!' pattern matched: the decision is final (and it is "no more digits").
                return None
            chosen = select(ext)
            if chosen is not None:
                return (ctx.name, ext, chosen)
        for include in ctx.includes:
            hit = self._search(include.name, exten, callerid, mode, select, visited)
            if hit is not None:
                return hit
        return None

    def counts(self) -> tuple[int, int]:
        """(extensions, priorities) over all contexts, hints included."""
        extensions = sum(len(c.extensions) for c in self.contexts.values())
        priorities = sum(len(e.priorities) for c in self.contexts.values() for e in c.extensions)
        return extensions, priorities


def _has(priority: int) -> Callable[[Extension], Priority | None]:
    def select(ext: Extension) -> Priority | None:
        return ext.priorities.get(priority)

    return select
