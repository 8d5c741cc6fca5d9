"""The runs table's filter expressions, parsed and evaluated in Python (never turned into SQL).

    lr > 0.001 and status = COMPLETED
    (optimizer = adam or optimizer = "sgd") and not error
    [best val_loss] < 0.3 and worker ~ gpu

A comparison is ``COLUMN OP VALUE`` with OP one of ``= == != < <= > >=`` or ``~`` (contains,
case-insensitive); a bare column is true when the value is set and not false/0/empty. Columns are
the table's column names; one with spaces or symbols goes in brackets (``[best val/loss]``) or
backquotes. Values are numbers, quoted strings or bare words. ``and``, ``or``, ``not`` and
parentheses combine them. Text comparisons ignore case. A bad expression raises FilterError naming
the position and the known columns.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Sequence, Tuple

Row = Dict[str, Any]
Predicate = Callable[[Row], bool]

TOKEN = re.compile(r"""
    \s*(?:
      (?P<bracket>\[[^\]]*\]|`[^`]*`)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op><=|>=|==|!=|<>|=|<|>|~)
    | (?P<paren>[()])
    | (?P<word>[^\s()<>=!~"'`\[\]]+)
    )""", re.X)


class FilterError(ValueError):
    pass


def _tokens(text: str) -> List[Tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"cannot read the filter at position {pos}: {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        assert kind is not None  # a match of some length took one of the named alternatives
        out.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", [], {})


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None:
        return op in ("!=", "<>") and right is not None
    if isinstance(left, bool) or isinstance(right, bool):
        left = str(left).lower()
        right = str(right).lower()
    if isinstance(left, (int, float)) and not isinstance(right, (int, float)):
        right = _number(str(right))
        if right is None:
            return op in ("!=", "<>")
    if not isinstance(left, (int, float)) or not isinstance(right, (int, float)):
        left, right = str(left).lower(), str(right).lower()
    if op == "~":
        return str(right) in str(left)
    if op in ("=", "=="):
        return left == right
    if op in ("!=", "<>"):
        return left != right
    try:
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str, columns: Sequence[str]):
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.columns = {c.lower(): c for c in columns}

    def peek(self) -> Tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.text))

    def take(self) -> Tuple[str, str, int]:
        token = self.peek()
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        kind, value, _ = self.peek()
        if kind == "word" and value.lower() == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        kind, value, pos = self.peek()
        if kind != "end":
            raise FilterError(f"unexpected {value!r} at position {pos}")
        return predicate

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.keyword("or"):
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))  # parts does not change after this

    def parse_and(self) -> Predicate:
        parts = [self.parse_not()]
        while self.keyword("and"):
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))  # parts does not change after this

    def parse_not(self) -> Predicate:
        if self.keyword("not"):
            inner = self.parse_not()
            return lambda row: not inner(row)
        return self.parse_atom()

    def column(self, token: Tuple[str, str, int]) -> str:
        kind, value, pos = token
        name = value[1:-1] if kind == "bracket" else value
        found = self.columns.get(name.lower())
        if found is None:
            raise FilterError(f"unknown column {name!r} at position {pos}; columns: {', '.join(self.columns.values())}")
        return found

    def parse_atom(self) -> Predicate:
        kind, value, pos = self.peek()
        if kind == "paren" and value == "(":
            self.take()
            inner = self.parse_or()
            if self.take()[1] != ")":
                raise FilterError(f"missing ) for the ( at position {pos}")
            return inner
        if kind not in ("word", "bracket"):
            raise FilterError(f"expected a column at position {pos}, got {value or 'the end'!r}")
        column = self.column(self.take())
        if self.peek()[0] != "op":
            return lambda row: _truthy(row.get(column))
        op = self.take()[1]
        vkind, raw, vpos = self.take()
        if vkind == "string":
            right: Any = bytes(raw[1:-1], "utf-8").decode("unicode_escape")
        elif vkind == "word":
            number = _number(raw)
            right = raw if number is None else number
            if raw.lower() in ("null", "none"):
                right = None
        else:
            raise FilterError(f"expected a value after {op} at position {vpos}")
        if right is None:
            return (lambda row: row.get(column) is None) if op in ("=", "==") else (lambda row: row.get(column) is not None)
        return lambda row: _compare(row.get(column), op, right)


def compile_filter(text: str, columns: Sequence[str]) -> Predicate:
    """A predicate over table rows; an empty filter keeps everything."""
    if not text or not text.strip():
        return lambda row: True
    return _Parser(text, columns).parse()
