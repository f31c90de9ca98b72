"""Configuration files as ordered sections of located items, templates resolved.

Template semantics follow Asterisk ``main/config.c``:

* ``[name](!)`` is a template: stored, but :meth:`ConfigFile.sections` hides it from consumers;
* ``[name](a,b)`` copies the items of the earlier sections ``a`` then ``b`` (template or not) in
  front of its own lines, so the section's own lines win for scalar options while repeated
  list options (``allow``, ``permit`` ...) accumulate in order;
* ``[name](+)`` appends lines to the most recent section called ``name``.

Inherited items keep the file and line where they were written, so an error in a template is
reported where the admin can fix it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pbx.config.lexer import Assignment, Lexer, Reader, SectionHeader, Token, read_file
from pbx.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Item:
    """One ``key = value`` line; ``key`` as written (consumers compare case-insensitively).

    ``section`` is the section the line was written in: for an inherited line that is the
    template, which is where an admin fixes a problem with it.
    """

    key: str
    value: str
    path: str
    line: int
    arrow: bool = False
    section: str = ""

    @property
    def name(self) -> str:
        """The option name in lower case (chan_sip option names are case-insensitive)."""
        return self.key.lower()

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class Section:
    """A ``[name]`` category with its items in file order (inherited ones first)."""

    name: str
    path: str
    line: int
    template: bool = False
    bases: tuple[str, ...] = ()
    items: list[Item] = field(default_factory=list)

    def get(self, key: str) -> Item | None:
        """The last item called ``key`` (later lines win)."""
        key = key.lower()
        for item in reversed(self.items):
            if item.name == key:
                return item
        return None

    def get_all(self, key: str) -> list[Item]:
        key = key.lower()
        return [item for item in self.items if item.name == key]

    def value(self, key: str, default: str | None = None) -> str | None:
        item = self.get(key)
        return default if item is None else item.value


@dataclass(slots=True)
class ConfigFile:
    """A parsed file: every section (templates included) plus what went wrong reading it."""

    path: str
    all_sections: list[Section] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def sections(self) -> Iterator[Section]:
        """Non-template sections in file order."""
        return (s for s in self.all_sections if not s.template)

    def section(self, name: str) -> Section | None:
        """The first non-template section called ``name``."""
        for s in self.sections():
            if s.name == name:
                return s
        return None


def build(path: str, tokens: list[Token], errors: list[ConfigError]) -> ConfigFile:
    """Assemble sections from tokens, resolving templates; errors are appended to ``errors``."""
    result = ConfigFile(path=path, errors=errors)
    by_name: dict[str, Section] = {}
    current: Section | None = None
    for token in tokens:
        if isinstance(token, SectionHeader):
            current = _open_section(token, by_name, result, errors)
        elif isinstance(token, Assignment):
            if current is None:
                errors.append(
                    ConfigError(
                        token.path, token.line, f"option '{token.key}' outside of any [section]"
                    )
                )
                continue
            current.items.append(
                Item(token.key, token.value, token.path, token.line, token.arrow, current.name)
            )
    return result


def _open_section(
    header: SectionHeader,
    by_name: dict[str, Section],
    result: ConfigFile,
    errors: list[ConfigError],
) -> Section | None:
    if header.append:
        existing = by_name.get(header.name)
        if existing is None:
            errors.append(
                ConfigError(
                    header.path,
                    header.line,
                    f"cannot append with (+): no earlier section [{header.name}]",
                    header.name,
                )
            )
            return None
        return existing
    section = Section(header.name, header.path, header.line, header.template, header.bases)
    for base_name in header.bases:
        base = by_name.get(base_name)
        if base is None:
            errors.append(
                ConfigError(
                    header.path,
                    header.line,
                    f"inherits from '{base_name}', which is not defined earlier",
                    header.name,
                )
            )
            continue
        section.items.extend(base.items)
    by_name[header.name] = section
    result.all_sections.append(section)
    return section


def load(config_dir: str, name: str, reader: Reader = read_file) -> ConfigFile:
    """Read ``config_dir/name`` with its includes into a :class:`ConfigFile`."""
    lexer = Lexer(config_dir, reader)
    tokens = lexer.tokens(name)
    result = build(lexer.display(lexer.resolve(name)), tokens, lexer.errors)
    result.files = lexer.files
    return result


def loads(text: str, path: str, config_dir: str = ".", reader: Reader = read_file) -> ConfigFile:
    """Parse in-memory text as if it were the file ``path`` (tests, reload previews)."""
    lexer = Lexer(config_dir, reader)
    tokens = lexer.tokens_from_text(text, path)
    result = build(path, tokens, lexer.errors)
    result.files = lexer.files
    return result
