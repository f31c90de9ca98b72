"""``$[ ... ]`` expressions, as Asterisk's ``main/ast_expr2.y`` / ``ast_expr2.fl`` evaluate them.

Values are strings, numeric strings, or numbers (Asterisk computes in ``long double`` and prints
with ``%.18Lg``; here numbers are exact fractions printed to 18 significant digits, which gives
the same text for everything a dialplan does: ``$[7/2]`` is ``3.5``, ``$[10/3]`` is
``3.33333333333333333``).

Operators, loosest first (all left-associative except the unary ones):

======================  ==================================================================
``a ? b :: c``          ternary: ``b`` when ``a`` is non-empty and non-zero, else ``c``
``|``  ``||``           ``a`` unless it is empty or zero, then ``b``
``&``  ``&&``           ``a`` when both are non-empty and non-zero, else ``0``
``= == != < > <= >=``   numeric when both sides are numbers, else string (``strcoll``) compare
``+ -``                 numeric (a non-numeric side is treated as Asterisk does, with a warning)
``* / %``               numeric; division by zero warns and gives 2147483647 (``INT_MAX``)
``-x``  ``!x``          negation, logical not (``!`` of a non-numeric string is ``atoi`` based)
``a : re``  ``=~``      POSIX ERE match (``:`` anchored at the start): the first group, or the
                        match length; ``~~`` concatenates
``( )``  ``F(args)``    grouping; ABS, SQRT, FLOOR ... and dialplan functions
======================  ==================================================================

Tokens need no spaces around operators. ``"quoted strings"`` keep their quotes in comparisons
and in the result, exactly as Asterisk does; the regex operators strip them. A syntax error logs
a warning and the expression's value is ``0`` (what ``ast_expr`` returns when the parse fails);
an empty expression is the empty string. Known difference: Python's ``re`` is leftmost-first
where POSIX regexes are leftmost-longest, so alternations can capture differently.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction

log = logging.getLogger(__name__)

FunctionCaller = Callable[[str, str], str | None]
"""``(NAME, "arg1,arg2")`` -> the function's value, or None when there is no such function."""

INT_MAX = 2147483647

_OPERATORS = (
    "||",
    "&&",
    "==",
    "=~",
    "~~",
    ">=",
    "<=",
    "!=",
    "::",
    "|",
    "&",
    "=",
    ">",
    "<",
    "+",
    ",",
    "-",
    "*",
    "/",
    "%",
    "?",
    "!",
    ":",
    "(",
    ")",
)
_CANONICAL = {"||": "|", "&&": "&", "==": "="}
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# ([a-zA-Z0-9\.';\\_^#@]|[\x80-\xff]|($[^{]))+ from ast_expr2.fl
_WORD = re.compile(r"(?:[a-zA-Z0-9.';\\_^#@\x80-\U0010ffff]|\$(?!\{))+")
_STRTOLD = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_POSIX_CLASSES = {
    "[:alnum:]": r"a-zA-Z0-9",
    "[:alpha:]": r"a-zA-Z",
    "[:blank:]": r" \t",
    "[:digit:]": r"0-9",
    "[:lower:]": r"a-z",
    "[:space:]": r"\s",
    "[:upper:]": r"A-Z",
    "[:xdigit:]": r"0-9A-Fa-f",
    "[:punct:]": r"!-/:-@\[-`{-~",
}
_PRINT = Context(prec=18)

_MATH1: dict[str, Callable[[float], float]] = {
    "COS": math.cos,
    "SIN": math.sin,
    "TAN": math.tan,
    "ACOS": math.acos,
    "ASIN": math.asin,
    "ATAN": math.atan,
    "SQRT": math.sqrt,
    "FLOOR": math.floor,
    "CEIL": math.ceil,
    "ROUND": lambda x: float(math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1)),
    "RINT": lambda x: float(round(x)),
    "TRUNC": math.trunc,
    "EXP": math.exp,
    "EXP2": lambda x: 2.0**x,
    "EXP10": lambda x: 10.0**x,
    "LOG": math.log,
    "LOG2": math.log2,
    "LOG10": math.log10,
}
_MATH2: dict[str, Callable[[float, float], float]] = {
    "ATAN2": math.atan2,
    "POW": math.pow,
    "REMAINDER": math.remainder,
}


class ExprSyntaxError(ValueError):
    """The expression does not parse (logged; the expression evaluates to ``0``)."""


@dataclass(slots=True)
class _Value:
    """``struct val``: kind is "number", "numeric" (a numeric string) or "string"."""

    kind: str
    text: str = ""
    number: Fraction = Fraction(0)

    @classmethod
    def num(cls, value: Fraction | int) -> _Value:
        return cls("number", number=Fraction(value))

    @classmethod
    def string(cls, text: str) -> _Value:
        """``make_str``: numeric when it starts with a digit/'-'/'.' and has only digits and '.'."""
        numeric = bool(text) and text[0] in "0123456789-." and all(c in "0123456789." for c in text)
        return cls("numeric" if numeric else "string", text=text)

    def to_number(self) -> bool:
        """``to_number``: converts a numeric string in place; False for a real string."""
        if self.kind == "number":
            return True
        if self.kind == "string":
            return False
        self.number = _strtold(self.text)
        self.kind = "number"
        return True

    def as_text(self) -> str:
        return format_number(self.number) if self.kind == "number" else self.text

    def is_zero_or_null(self) -> bool:
        if self.kind == "number":
            return self.number == 0
        return self.text == "" or (self.to_number() and self.number == 0)


def format_number(value: Fraction) -> str:
    """``%.18Lg``: 18 significant digits, trailing zeros dropped, exponent form out of range."""
    if value == 0:
        return "0"
    d = _PRINT.divide(Decimal(value.numerator), Decimal(value.denominator))
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0") or "0"
    adjusted = d.adjusted()
    minus = "-" if sign else ""
    if adjusted < -4 or adjusted >= 18:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'+' if adjusted >= 0 else '-'}{abs(adjusted):02d}"
    if adjusted < 0:
        return f"{minus}0.{'0' * (-adjusted - 1)}{text}"
    whole, frac = text[: adjusted + 1], text[adjusted + 1 :]
    whole = whole.ljust(adjusted + 1, "0")
    return f"{minus}{whole}.{frac}" if frac else f"{minus}{whole}"


def _strtold(text: str) -> Fraction:
    m = _STRTOLD.match(text)
    return Fraction(m.group().strip()) if m else Fraction(0)


def _tokenize(expr: str) -> list[tuple[str, str]]:
    """(kind, text) pairs; kind is "op", "num" (numeric string) or "str"."""
    tokens: list[tuple[str, str]] = []
    i = 0
    n = len(expr)
    while i < n:
        c = expr[i]
        if c in " \t\r\n":
            i += 1
            continue
        if c == '"':
            end = expr.find('"', i + 1)
            if end < 0:
                raise ExprSyntaxError("unterminated quoted string")
            tokens.append(("str", expr[i : end + 1]))
            i = end + 1
            continue
        if expr.startswith("${", i):
            end = _skip_braces(expr, i + 2)
            tail = re.compile(r"[^-\t\r \n$():?%/+=*<>!|&]*").match(expr, end)
            assert tail is not None
            tokens.append(("str", expr[i : tail.end()]))
            i = tail.end()
            continue
        number = _NUMBER.match(expr, i)
        word = _WORD.match(expr, i)
        if number and (word is None or number.end() >= word.end()):
            tokens.append(("num", number.group()))
            i = number.end()
            continue
        if word:
            tokens.append(("str", word.group()))
            i = word.end()
            continue
        for op in _OPERATORS:
            if expr.startswith(op, i):
                tokens.append(("op", _CANONICAL.get(op, op)))
                i += len(op)
                break
        else:
            # flex's default rule echoes an unmatched character and moves on.
            i += 1
    return tokens


def _skip_braces(expr: str, i: int) -> int:
    depth = 1
    while i < len(expr) and depth:
        if expr[i] == "{":
            depth += 1
        elif expr[i] == "}":
            depth -= 1
        i += 1
    return i


# Binding powers from the %left/%right lines of ast_expr2.y.
_BINARY = {
    "?": 2,
    "|": 3,
    "&": 4,
    "=": 5,
    ">": 5,
    "<": 5,
    ">=": 5,
    "<=": 5,
    "!=": 5,
    "+": 6,
    "-": 6,
    "*": 7,
    "/": 7,
    "%": 7,
    ":": 9,
    "=~": 9,
    "~~": 9,
}
_UNARY_POWER = 8


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], call: FunctionCaller | None) -> None:
        self.tokens = tokens
        self.pos = 0
        self.call = call

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExprSyntaxError("syntax error, unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, op: str) -> None:
        token = self.next()
        if token != ("op", op):
            raise ExprSyntaxError(f"syntax error, unexpected '{token[1]}', expecting '{op}'")

    def parse(self) -> _Value:
        if self.peek() is None:
            return _Value("string", "")
        value = self.expression(0)
        token = self.peek()
        if token is not None:
            raise ExprSyntaxError(f"syntax error, unexpected '{token[1]}'")
        return value

    def expression(self, min_power: int) -> _Value:
        left = self.prefix()
        while True:
            token = self.peek()
            if token is None or token[0] != "op" or token[1] not in _BINARY:
                return left
            op = token[1]
            power = _BINARY[op]
            if power < min_power:
                return left
            self.pos += 1
            if op == "?":
                middle = self.expression(2)
                self.expect("::")
                right = self.expression(3)
                left = _cond(left, middle, right)
            else:
                left = _apply(op, left, self.expression(power + 1))

    def prefix(self) -> _Value:
        kind, text = self.next()
        if kind == "op":
            if text == "(":
                value = self.expression(0)
                self.expect(")")
                return value
            if text == "-":
                return _negate(self.expression(_UNARY_POWER))
            if text == "!":
                return _compl(self.expression(_UNARY_POWER))
            raise ExprSyntaxError(f"syntax error, unexpected '{text}'")
        if self.peek() == ("op", "("):
            self.pos += 1
            args = self.arguments()
            return self.function(text, args)
        return _Value("numeric" if kind == "num" else "string", text=text)

    def arguments(self) -> list[_Value]:
        args = [self.expression(1)]
        while True:
            token = self.next()
            if token == ("op", ")"):
                return args
            if token != ("op", ","):
                raise ExprSyntaxError(f"syntax error, unexpected '{token[1]}'")
            if self.peek() == ("op", ")"):
                args.append(_Value("string", ""))
            else:
                args.append(self.expression(1))

    def function(self, name: str, args: list[_Value]) -> _Value:
        if not re.fullmatch(r"[A-Z0-9_]+", name):
            log.error("Error! '%s' is not possibly a function name!", name)
            return _Value.num(0)
        if name in _MATH1 or name in _MATH2 or name == "ABS":
            return _math(name, args)
        text = ",".join(a.as_text() for a in args)
        result = None if self.call is None else self.call(name, text)
        if result is None:
            log.error("Error! '%s' doesn't appear to be an available function!", name)
            return _Value.num(0)
        if all(c in "-0123456789. \t" for c in result):
            return _Value.num(_strtold(result))
        return _Value.string(result)


def _math(name: str, args: list[_Value]) -> _Value:
    wanted = 2 if name in _MATH2 else 1
    if len(args) != wanted:
        log.warning("Wrong args to %s() function", name)
        return _Value.num(0)
    numbers = []
    for arg in args:
        arg.to_number()
        numbers.append(arg.number)
    if name == "ABS":
        return _Value.num(abs(numbers[0]))
    try:
        if wanted == 1:
            result = _MATH1[name](float(numbers[0]))
        else:
            result = _MATH2[name](float(numbers[0]), float(numbers[1]))
        return _Value.num(Fraction(result))
    except (ValueError, OverflowError, ZeroDivisionError):
        log.warning("%s() of an out-of-range value", name)
        return _Value.num(0)


def _compare(op: str, a: _Value, b: _Value) -> _Value:
    if a.kind == "string" or b.kind == "string":
        sa, sb = a.as_text(), b.as_text()
        order = (sa > sb) - (sa < sb)
    else:
        a.to_number()
        b.to_number()
        order = (a.number > b.number) - (a.number < b.number)
    results = {
        "=": order == 0,
        "!=": order != 0,
        "<": order < 0,
        ">": order > 0,
        "<=": order <= 0,
        ">=": order >= 0,
    }
    return _Value.num(1 if results[op] else 0)


def _apply(op: str, a: _Value, b: _Value) -> _Value:
    if op == "|":
        return b if a.is_zero_or_null() else a
    if op == "&":
        return _Value.num(0) if a.is_zero_or_null() or b.is_zero_or_null() else a
    if op in ("=", "!=", "<", ">", "<=", ">="):
        return _compare(op, a, b)
    if op == "+":
        return _plus(a, b)
    if op == "-":
        return _minus(a, b)
    if op == "*":
        if not a.to_number() or not b.to_number():
            log.warning("non-numeric argument")
            return _Value.num(0)
        return _Value.num(a.number * b.number)
    if op == "/":
        return _divide(a, b)
    if op == "%":
        if not a.to_number() or not b.to_number():
            log.warning("non-numeric argument")
            return _Value.num(0)
        if b.number == 0:
            log.warning("div by zero")
            return b
        quotient = a.number / b.number
        return _Value.num(a.number - b.number * math.trunc(quotient))
    if op == "~~":
        return _Value.string(_unquote(a.as_text()) + _unquote(b.as_text()))
    return _regex(a, b, anchored=op == ":")


def _plus(a: _Value, b: _Value) -> _Value:
    if not a.to_number():
        log.warning("non-numeric argument")
        return b if b.to_number() else _Value.num(0)
    if not b.to_number():
        return a
    return _Value.num(a.number + b.number)


def _minus(a: _Value, b: _Value) -> _Value:
    if not a.to_number():
        log.warning("non-numeric argument")
        return _Value.num(-b.number) if b.to_number() else _Value.num(0)
    if not b.to_number():
        log.warning("non-numeric argument")
        return a
    return _Value.num(a.number - b.number)


def _divide(a: _Value, b: _Value) -> _Value:
    if not a.to_number():
        log.warning("non-numeric argument")
        return _Value.num(0)
    if not b.to_number():
        log.warning("non-numeric argument")
        return _Value.num(INT_MAX)
    if b.number == 0:
        log.warning("division by zero")
        return _Value.num(INT_MAX)
    return _Value.num(a.number / b.number)


def _negate(a: _Value) -> _Value:
    if not a.to_number():
        log.warning("non-numeric argument")
        return _Value.num(0)
    return _Value.num(-a.number)


def _compl(a: _Value) -> _Value:
    if a.kind == "number":
        truth = a.number != 0
    elif a.text in ("", "0"):
        truth = False
    else:
        m = re.match(r"\s*[+-]?\d+", a.text)
        truth = m is not None and int(m.group()) != 0
    return _Value.num(0 if truth else 1)


def _cond(a: _Value, b: _Value, c: _Value) -> _Value:
    if a.kind == "string":
        return b if a.text not in ("", '""', "0") else c
    a.to_number()
    return b if a.number != 0 else c


def _unquote(text: str) -> str:
    """``strip_quotes``: a value wrapped in quotes loses every double quote."""
    if len(text) >= 1 and text[0] == '"' and text[-1] == '"':
        return text.replace('"', "")
    return text


def _posix_to_python(pattern: str) -> str:
    for posix, python in _POSIX_CLASSES.items():
        pattern = pattern.replace(posix, python)
    return pattern


def _regex(a: _Value, b: _Value, anchored: bool) -> _Value:
    subject = _unquote(a.as_text())
    try:
        compiled = re.compile(_posix_to_python(_unquote(b.as_text())))
    except re.error as e:
        log.warning("regcomp() error : %s", e)
        return _Value.string("")
    m = compiled.match(subject) if anchored else compiled.search(subject)
    if m is None:
        return _Value.num(0) if compiled.groups == 0 else _Value.string("")
    if compiled.groups and m.start(1) >= 0:
        return _Value.string(m.group(1))
    return _Value.num(m.end() - m.start())


def evaluate(expression: str, call: FunctionCaller | None = None) -> str:
    """The text ``$[expression]`` expands to (after variable substitution).

    :param call: reads a dialplan function used inside the expression (``LEN(x)``).
    """
    try:
        value = _Parser(_tokenize(expression), call).parse()
    except ExprSyntaxError as e:
        log.warning("ast_yyerror(): syntax error: %s; Input:\n%s", e, expression)
        return "0"
    return value.as_text()
