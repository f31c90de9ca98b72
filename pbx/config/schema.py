"""Declarative option tables and the section parser that applies them, collecting every problem.

One :class:`OptionTable` per file (or section kind) lists every option name pbx recognises, as
Asterisk's ``aco_option_register`` and sippy's ``SUPPORTED_OPTIONS`` do: name, aliases, value
type, default, help, scope (``[general]`` only, device only, or both = chan_sip's "G") and status:

* ``implemented``: parsed and used;
* ``deprecated``: parsed and used, with a warning naming the replacement;
* ``unsupported``: a real Asterisk option pbx does not implement; one warning per line, so that
  real-world files still load;
* ``obsolete``: removed from Asterisk itself; one warning per line.

:func:`parse_section` turns a :class:`~pbx.config.model.Section` into :class:`Values`. It never
stops at the first problem: unknown options (with a ``difflib`` suggestion) and bad values become
errors in a :class:`Diagnostics`, and the loaders decide at the very end whether the file is
usable. The same tables print ``python -m pbx --config-help`` (:func:`format_table`).
"""

from __future__ import annotations

import difflib
import enum
import ipaddress
import os
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from pbx.config import model
from pbx.config.lexer import Reader, read_file
from pbx.config.model import ConfigFile, Item, Section
from pbx.config.parsers import TEXT, OptionValueError, ParseContext, ValueType
from pbx.core.addr import Address
from pbx.core.errors import ConfigError, ConfigErrors

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Scope(enum.Enum):
    """Where an option may be written."""

    GENERAL = "general"
    DEVICE = "device"
    BOTH = "G"


class Status(enum.Enum):
    """What pbx does with an option (see the module docstring)."""

    IMPLEMENTED = "implemented"
    DEPRECATED = "deprecated"
    UNSUPPORTED = "unsupported"
    OBSOLETE = "obsolete"


@dataclass(frozen=True, eq=False)
class Option(Generic[T_co]):
    """One recognised option.

    :param name: the canonical (Asterisk) name, lower case.
    :param aliases: other names accepted silently (``bindaddr`` for ``udpbindaddr``).
    :param deprecated_aliases: other names accepted with a deprecation warning (``username``).
    :param inherit: for a ``BOTH`` option, whether the ``[general]`` value is the device default
        (chan_sip's ``callerid`` in ``[general]`` is a different setting, so it does not).
    :param multi: repeated lines accumulate in order (``allow``, ``permit``, ``setvar``) instead
        of the last one winning.
    :param note: the replacement of a deprecated option, or why an obsolete one is gone.
    """

    name: str
    type: ValueType[T_co]
    default: T_co
    help: str
    aliases: tuple[str, ...] = ()
    deprecated_aliases: tuple[str, ...] = ()
    scope: Scope = Scope.GENERAL
    status: Status = Status.IMPLEMENTED
    multi: bool = False
    inherit: bool = True
    note: str = ""

    @property
    def choices(self) -> tuple[str, ...]:
        return self.type.choices


AnyOption = Option[object]


def unsupported(name: str, help: str, scope: Scope = Scope.GENERAL) -> Option[str | None]:
    """An Asterisk option pbx recognises but does not implement (warned about, ignored)."""
    return Option(name, TEXT, None, help, scope=scope, status=Status.UNSUPPORTED)


def obsolete(name: str, note: str, help: str, scope: Scope = Scope.GENERAL) -> Option[str | None]:
    """An option Asterisk itself removed (warned about, ignored)."""
    return Option(name, TEXT, None, help, scope=scope, status=Status.OBSOLETE, note=note)


class OptionTable:
    """The options of one file or section kind, looked up by name or alias (case-insensitive).

    :param elsewhere: names that belong to another file (``rtpstart`` -> ``rtp.conf``), which get
        a warning pointing there instead of an unknown-option error.
    """

    def __init__(
        self,
        title: str,
        options: Iterable[AnyOption],
        elsewhere: Mapping[str, str] | None = None,
    ) -> None:
        self.title = title
        self.options: tuple[AnyOption, ...] = tuple(options)
        self.elsewhere = dict(elsewhere or {})
        self._by_name: dict[str, tuple[AnyOption, bool]] = {}
        for opt in self.options:
            for name, deprecated in (
                [(opt.name, False)]
                + [(a, False) for a in opt.aliases]
                + [(a, True) for a in opt.deprecated_aliases]
            ):
                if name in self._by_name:
                    raise ValueError(f"{title}: option name {name!r} registered twice")
                self._by_name[name] = (opt, deprecated)

    def lookup(self, name: str) -> tuple[AnyOption, bool] | None:
        """``(option, via_deprecated_alias)`` for a name or alias, or ``None``."""
        return self._by_name.get(name.lower())

    def __getitem__(self, name: str) -> AnyOption:
        return self._by_name[name][0]

    def names(self) -> list[str]:
        return list(self._by_name)

    def suggest(self, name: str) -> str | None:
        """The closest known name, if one is close enough to be a typo."""
        matches = difflib.get_close_matches(name.lower(), self.names(), n=1, cutoff=0.6)
        return matches[0] if matches else None


@dataclass(frozen=True)
class Entry(Generic[T_co]):
    """One accepted line of a ``multi`` option, in file order."""

    option: AnyOption
    value: T_co
    item: Item


class Values:
    """The parsed options of one section, layered over ``parent`` (``[general]``) for G options.

    :meth:`get` is typed by the option: ``values.get(QUALIFY)`` is an ``int | None``.
    """

    def __init__(self, name: str, parent: Values | None = None) -> None:
        self.name = name
        self.parent = parent
        self._scalars: dict[str, tuple[object, Item]] = {}
        self._entries: list[Entry[object]] = []

    def set(self, option: AnyOption, value: object, item: Item) -> None:
        if option.multi:
            self._entries.append(Entry(option, value, item))
        else:
            self._scalars[option.name] = (value, item)

    def explicit(self, option: AnyOption) -> bool:
        """Whether this section (its templates included) set the option itself."""
        if option.multi:
            return any(e.option is option for e in self._entries)
        return option.name in self._scalars

    def item(self, option: AnyOption) -> Item | None:
        """The line that set the option here, or in ``[general]`` for an inherited value."""
        found = self._scalars.get(option.name)
        if found is not None:
            return found[1]
        if self._inherits(option):
            assert self.parent is not None
            return self.parent.item(option)
        return None

    def get(self, option: Option[T]) -> T:
        found = self._scalars.get(option.name)
        if found is not None:
            return cast(T, found[0])
        if self._inherits(option):
            assert self.parent is not None
            return self.parent.get(option)
        return option.default

    def entries(self, *options: Option[T | None]) -> list[Entry[T]]:
        """Lines of the given ``multi`` options in order: inherited ``[general]`` ones first.

        (``multi`` options have no meaningful default, hence ``T | None`` in the signature.)
        """
        inherited: list[Entry[T]] = []
        if self.parent is not None:
            inherited = [e for e in self.parent.entries(*options) if self._inherits(e.option)]
        own = [cast(Entry[T], e) for e in self._entries if e.option in options]
        return inherited + own

    def _inherits(self, option: AnyOption) -> bool:
        return self.parent is not None and option.scope is Scope.BOTH and option.inherit


class Diagnostics:
    """Errors and warnings of one load, each reported once even when a template repeats it."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []
        self.warnings: list[ConfigError] = []
        self._seen: set[tuple[bool, str]] = set()

    def error(
        self,
        path: str,
        line: int | None,
        message: str,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        self._add(True, ConfigError(path, line, message, section, key))

    def warn(
        self,
        path: str,
        line: int | None,
        message: str,
        section: str | None = None,
        key: str | None = None,
    ) -> None:
        self._add(False, ConfigError(path, line, message, section, key))

    def error_at(self, item: Item, message: str, section: str | None = None) -> None:
        """An error about a line; named after the section that wrote it unless told."""
        self.error(item.path, item.line, message, section or item.section, item.name)

    def warn_at(self, item: Item, message: str, section: str | None = None) -> None:
        self.warn(item.path, item.line, message, section or item.section, item.name)

    def extend(self, errors: Iterable[ConfigError]) -> None:
        for error in errors:
            self._add(True, error)

    def _add(self, is_error: bool, error: ConfigError) -> None:
        key = (is_error, str(error))
        if key in self._seen:
            return
        self._seen.add(key)
        (self.errors if is_error else self.warnings).append(error)

    def sort(self, files: list[str]) -> None:
        """Order both lists by file (in the order they were read) and line, stably."""
        order = {path: i for i, path in enumerate(files)}

        def position(error: ConfigError) -> tuple[int, int]:
            return order.get(error.path, len(order)), error.line or 0

        self.errors.sort(key=position)
        self.warnings.sort(key=position)


@dataclass(frozen=True)
class Loaded(Generic[T_co]):
    """What a file loader returns: the settings, and the warnings found on the way."""

    value: T_co
    warnings: list[ConfigError]


def read_config(
    config_dir: str, name: str, diag: Diagnostics, reader: Reader = read_file
) -> ConfigFile:
    """Lex and assemble ``config_dir/name``; its syntax errors go to ``diag``."""
    cfg = model.load(config_dir, name, reader)
    diag.extend(cfg.errors)
    return cfg


def read_optional_config(
    config_dir: str, name: str, diag: Diagnostics, reader: Reader = read_file
) -> ConfigFile:
    """As :func:`read_config`, but a missing file is an empty one (all defaults)."""
    path = name if os.path.isabs(name) else os.path.join(config_dir, name)
    if not os.path.exists(path):
        return ConfigFile(path)
    return read_config(config_dir, name, diag, reader)


def sections_named(cfg: ConfigFile, name: str) -> list[Section]:
    """Every non-template section called ``name`` (case-insensitive), in file order."""
    return [s for s in cfg.sections() if s.name.lower() == name]


def parse_sections(
    sections: Iterable[Section],
    table: OptionTable,
    diag: Diagnostics,
    config_dir: str,
) -> Values:
    """Parse several sections of one kind (a repeated ``[general]``) into one :class:`Values`."""
    values = Values(table.title)
    for section in sections:
        for item in section.items:
            parse_item(item, table, Scope.GENERAL, values, diag, config_dir)
    return values


def finish(diag: Diagnostics, files: list[str], value: T) -> Loaded[T]:
    """Sort the diagnostics; raise :class:`ConfigErrors` with all errors, if any."""
    diag.sort(files)
    if diag.errors:
        raise ConfigErrors(diag.errors)
    return Loaded(value, diag.warnings)


def parse_section(
    section: Section,
    table: OptionTable,
    scope: Scope,
    diag: Diagnostics,
    config_dir: str,
    parent: Values | None = None,
) -> Values:
    """Parse every line of ``section`` against ``table``; problems go to ``diag``.

    :param scope: what kind of section this is: ``Scope.GENERAL`` or ``Scope.DEVICE``.
    :param parent: the ``[general]`` values a device section falls back to.
    """
    values = Values(section.name, parent)
    for item in section.items:
        parse_item(item, table, scope, values, diag, config_dir)
    return values


def parse_item(
    item: Item,
    table: OptionTable,
    scope: Scope,
    values: Values,
    diag: Diagnostics,
    config_dir: str,
) -> None:
    """Check one line and store its value in ``values`` if it is usable."""
    key = item.key
    found = table.lookup(item.name)
    if found is None:
        home = table.elsewhere.get(item.name)
        if home is not None:
            diag.warn_at(item, f"option '{key}' belongs in {home}, not here; ignored")
            return
        suggestion = table.suggest(item.name)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        diag.error_at(item, f"unknown option '{key}'{hint}")
        return
    option, via_deprecated_alias = found
    if via_deprecated_alias:
        diag.warn_at(item, f"option '{key}' is deprecated, use '{option.name}'")
    if option.scope is Scope.GENERAL and scope is Scope.DEVICE:
        diag.warn_at(item, f"option '{key}' is only valid in [general]; ignored here")
        return
    if option.scope is Scope.DEVICE and scope is Scope.GENERAL:
        diag.warn_at(item, f"option '{key}' is only valid in a device section; ignored here")
        return
    if option.status is Status.UNSUPPORTED:
        diag.warn_at(item, f"option '{key}' is not supported by pbx and is ignored")
        return
    if option.status is Status.OBSOLETE:
        diag.warn_at(item, f"option '{key}' is obsolete, {option.note}; ignored")
        return
    if option.status is Status.DEPRECATED:
        diag.warn_at(item, f"option '{key}' is deprecated, {option.note}")
    ctx = ParseContext(config_dir)
    try:
        value = option.type.parse(item.value, ctx)
    except OptionValueError as e:
        diag.error_at(item, f"option '{key}': {e}")
        return
    except ValueError as e:
        diag.error_at(item, f"option '{key}': {e}, got '{item.value}'")
        return
    for note in ctx.notes:
        diag.warn_at(item, f"option '{key}': {note}")
    values.set(option, value, item)


def display(value: object) -> str:
    """A default as an admin would write it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Address):
        return str(value)
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, tuple):
        return ",".join(display(v) for v in value) or "(empty)"
    if value == "":
        return '""'
    return str(value)


def format_table(table: OptionTable) -> str:
    """``--config-help`` text for one table: one paragraph per option."""
    lines = [table.title, "=" * len(table.title)]
    scoped = any(opt.scope is not Scope.GENERAL for opt in table.options)
    for opt in table.options:
        names = opt.name
        if opt.aliases or opt.deprecated_aliases:
            alias_names = list(opt.aliases) + [f"{a} (deprecated)" for a in opt.deprecated_aliases]
            names += f" (alias: {', '.join(alias_names)})"
        facts = [f"scope {opt.scope.value}"] if scoped else []
        if opt.status is Status.IMPLEMENTED or opt.status is Status.DEPRECATED:
            facts.append(f"values {opt.type.describe}")
            facts.append("repeatable" if opt.multi else f"default {display(opt.default)}")
        if opt.status is not Status.IMPLEMENTED:
            facts.append(opt.status.value)
        lines.append(f"{names}  [{'; '.join(facts)}]")
        help_text = opt.help + (f" ({opt.note})" if opt.note else "")
        lines.extend(textwrap.wrap(help_text, 96, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines) + "\n"
