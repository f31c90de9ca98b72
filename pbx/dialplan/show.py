"""CLI listings in Asterisk's exact shapes: ``dialplan show``, ``core show applications``,
``core show functions`` (``main/pbx.c``, ``main/pbx_app.c``, ``main/pbx_functions.c``).

``dialplan show`` prints contexts in the order Asterisk's context list holds them, which is the
reverse of their definition (each new context is prepended), extensions in lookup order and each
priority with the ``file:line`` that defined it::

    [ Context 'phones' created by 'pbx_config' ]
      '100' =>          1. Answer()                                   [extensions.conf:12]
                        2. Echo()                                     [extensions.conf:13]
      Include =>        'common'                                      [pbx_config]

    -= 1 extension (2 priorities) in 1 context. =-
"""

from __future__ import annotations

import os

from pbx.dialplan.apps.base import AppRegistry
from pbx.dialplan.functions import FunctionRegistry
from pbx.dialplan.model import HINT, Context, Dialplan, Extension, Priority
from pbx.dialplan.pattern import compile_name

MAX_INCLUDE_DEPTH = 128
"""``AST_PBX_MAX_STACK``."""


class _Counters:
    def __init__(self) -> None:
        self.contexts = 0
        self.extensions = 0
        self.priorities = 0
        self.context_exists = False
        self.extension_exists = False


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _priority_text(priority: Priority) -> str:
    if priority.number == HINT:
        return f"hint: {priority.app}"
    return f"{priority.number}. {priority.app}({priority.data})"


def _where(priority: Priority) -> str:
    return f"{os.path.basename(priority.path)}:{priority.line}"


def _row(left: str, middle: str, right: str) -> str:
    return f"  {left:<17} {middle:<45} [{right}]"


def _extension_rows(ext: Extension) -> list[str]:
    if ext.cid is not None:
        head = f"'{ext.name.text}' (CID match '{ext.cid.text}') => "
    else:
        head = f"'{ext.name.text}' =>"
    rows = []
    for i, priority in enumerate(ext.ordered()):
        if i == 0:
            left = head
        else:
            left = f"   [{priority.label}]" if priority.label else ""
        rows.append(_row(left, _priority_text(priority), _where(priority)))
    return rows


def show_dialplan(dialplan: Dialplan, target: str | None = None) -> str:
    """The output of ``dialplan show [[exten@]context]``."""
    exten: str | None = None
    context: str | None = None
    if target:
        if "@" in target:
            exten_part, _, context_part = target.partition("@")
            exten = exten_part or None
            context = context_part or None
        else:
            context = target
    lines: list[str] = []
    counters = _Counters()
    _show(dialplan, context, exten, counters, lines, included=False, stack=[])
    if context is not None and not counters.context_exists:
        return f"There is no existence of '{context}' context\n"
    if exten is not None and not counters.extension_exists:
        if context is not None:
            return f"There is no existence of {exten}@{context} extension\n"
        return f"There is no existence of '{exten}' extension in all contexts\n"
    lines.append(
        f"-= {_plural(counters.extensions, 'extension', 'extensions')} "
        f"({_plural(counters.priorities, 'priority', 'priorities')}) in "
        f"{_plural(counters.contexts, 'context', 'contexts')}. =-"
    )
    return "\n".join(lines) + "\n"


def _show(
    dialplan: Dialplan,
    context: str | None,
    exten: str | None,
    counters: _Counters,
    lines: list[str],
    included: bool,
    stack: list[str],
) -> None:
    for ctx in reversed(list(dialplan.contexts.values())):
        if context is not None and ctx.name != context:
            continue
        counters.context_exists = True
        _show_context(dialplan, ctx, exten, counters, lines, included, stack)


def _show_context(
    dialplan: Dialplan,
    ctx: Context,
    exten: str | None,
    counters: _Counters,
    lines: list[str],
    included: bool,
    stack: list[str],
) -> None:
    printed = False
    kind = "Included context" if included else "Context"
    if exten is None:
        counters.contexts += 1
        lines.append(f"[ Context '{ctx.name}' created by '{ctx.registrar}' ]")
        printed = True
    for ext in ctx.extensions:
        if exten is not None and not ext.name.matches(exten):
            continue
        counters.extension_exists = True
        if not printed:
            counters.contexts += 1
            lines.append(f"[ {kind} '{ctx.name}' created by '{ctx.registrar}' ]")
            printed = True
        counters.extensions += 1
        counters.priorities += len(ext.priorities)
        lines.extend(_extension_rows(ext))
    for include in ctx.includes:
        if exten is None:
            lines.append(_row("Include =>", f"'{include.name}'", ctx.registrar))
        elif len(stack) < MAX_INCLUDE_DEPTH and include.name.lower() not in stack:
            _show(
                dialplan,
                include.name,
                exten,
                counters,
                lines,
                included=True,
                stack=[*stack, include.name.lower()],
            )
    for ignore in ctx.ignorepats:
        if exten is None or compile_name(f"_{ignore.value}.").matches(exten):
            lines.append(_row("Ignore pattern =>", f"'{ignore.value}'", ctx.registrar))
    if not included:
        for switch in ctx.switches:
            lines.append(_row("Alt. Switch =>", f"'{switch.value}'", ctx.registrar))
    if printed:
        lines.append("")


def show_applications(registry: AppRegistry, like: str | None = None) -> str:
    """``core show applications [like <text>]``."""
    lines = [
        "    -= Registered Asterisk Applications =-"
        if like is None
        else "    -= Matching Asterisk Applications =-"
    ]
    matched = 0
    for app in registry:
        if like is not None and like.lower() not in app.name.lower():
            continue
        matched += 1
        lines.append(f"  {app.name:>20}: {app.synopsis}")
    if like is None:
        lines.append(f"    -= {len(registry)} Applications Registered =-")
    else:
        lines.append(f"    -= {matched} Applications Matching =-")
    return "\n".join(lines) + "\n"


def show_functions(registry: FunctionRegistry, like: str | None = None) -> str:
    """``core show functions [like <text>]``."""
    lines = [
        f"{'Installed' if like is None else 'Matching'} Custom Functions:",
        "-" * 80,
    ]
    count = 0
    for function in registry:
        if like is not None and like not in function.name:
            continue
        count += 1
        lines.append(f"{function.name[:20]:<20}  {function.syntax[:35]:<35}  {function.synopsis}")
    lines.append(f"{count} {'matching ' if like is not None else ''}custom functions installed.")
    return "\n".join(lines) + "\n"
