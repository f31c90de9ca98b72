"""The console command tree (Asterisk's CLI): registration, dispatch, ``help``.

Commands are word sequences (``sip show peers``); the longest registered prefix of the typed
words wins and receives the remaining words as arguments. A handler returns the text to print,
or a Deferred of it for commands that wait (``core waitfullybooted``, ``core stop gracefully``).
Errors in handlers become a message, never a dead console.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet import defer
from twisted.python.failure import Failure

log = logging.getLogger(__name__)

Result = str | defer.Deferred[str]
Handler = Callable[[list[str]], Result]


class CommandError(Exception):
    """Raised by a handler for a usage problem; the message is printed as is."""


@dataclass(frozen=True, slots=True)
class Command:
    words: tuple[str, ...]
    handler: Handler
    summary: str
    usage: str

    @property
    def name(self) -> str:
        return " ".join(self.words)


class CommandRegistry:
    def __init__(self) -> None:
        self._commands: dict[tuple[str, ...], Command] = {}
        self.add(
            "help",
            self._help,
            "Display help list, or specific help on a command",
            "Usage: help [topic]",
        )
        self.add(
            "core show help",
            self._help,
            "Display help list, or specific help on a command",
            "Usage: core show help [topic]",
        )

    def add(self, words: str, handler: Handler, summary: str, usage: str = "") -> None:
        key = tuple(words.split())
        self._commands[key] = Command(key, handler, summary, usage or f"Usage: {words}")

    def find(self, words: list[str]) -> tuple[Command, list[str]] | None:
        lowered = [w.lower() for w in words]
        for n in range(len(lowered), 0, -1):
            command = self._commands.get(tuple(lowered[:n]))
            if command is not None:
                return command, words[n:]
        return None

    def dispatch(self, line: str) -> defer.Deferred[str]:
        """Run one command line; always fires with text (never errbacks)."""
        try:
            words = shlex.split(line)
        except ValueError as e:
            return defer.succeed(f"Unable to parse command: {e}\n")
        if not words:
            return defer.succeed("")
        found = self.find(words)
        if found is None:
            return defer.succeed(
                f"No such command '{line.strip()}' (type 'core show help {words[0]}' "
                "for other possible commands)\n"
            )
        command, args = found
        try:
            result = command.handler(args)
        except CommandError as e:
            return defer.succeed(_nl(str(e)))
        except Exception:
            log.exception("console command %r failed", line)
            return defer.succeed(f"Command '{command.name}' failed; see the log.\n")
        if isinstance(result, str):
            return defer.succeed(_nl(result))

        def failed(failure: Failure) -> str:
            if isinstance(failure.value, CommandError):
                return _nl(str(failure.value))
            log.error("console command %r failed: %s", line, failure)
            return f"Command '{command.name}' failed; see the log.\n"

        result.addCallbacks(_nl, failed)
        return result

    def _help(self, args: list[str]) -> str:
        prefix = tuple(a.lower() for a in args)
        matching = [c for k, c in sorted(self._commands.items()) if k[: len(prefix)] == prefix]
        if len(matching) == 1 and matching[0].words == prefix:
            return matching[0].usage
        if not matching:
            return f"No such command '{' '.join(args)}'."
        width = max(len(c.name) for c in matching)
        return "\n".join(f"{c.name:>{width}} -- {c.summary}" for c in matching)


def _nl(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"
