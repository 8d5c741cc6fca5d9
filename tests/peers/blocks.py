"""Code blocks of a peer's README or docs, and which of them are programs.

A block is a fenced block (```lang ... ```, indented fences inside list items too). The docs seed is
text extracted from a PDF: a block cut by a page break ("(continues on next page)" / "(continued from
previous page)") is joined again first. Each block is then classified by rule, never by hand:

- a language tag other than python (```toml, ```bash, ```SQL) or, untagged, text that does not compile
  as Python: not Python;
- Python that does not compile (``continue`` outside a loop, ``Store(db_path, *, schema)``): a fragment;
- Python with ``...`` in it: a sketch (the ellipsis stands for code left out);
- Python using a name it neither defines nor imports (``store``, ``train``): an excerpt of a larger
  program;
- anything else is a program, run as a script;
- SQL (```sql, or untagged text starting with ``BEGIN;``) that creates SQLTrack's own tables (``CREATE
  TABLE experiments``) is its base schema, which ``pgtrack setup`` replaces; other SQL is a user's schema
  script, for ``sqltrack setup v001.sql`` (``pgtrack setup v001.sql``).

A TOML block that parses and has a ``[project]`` table is the ``wallow.toml`` of the program blocks
after it (up to the next such block): that is how the README hands its schema to the code below it.
"""
from __future__ import annotations

import ast
import builtins
import re
import symtable
import sys
import textwrap
from dataclasses import dataclass
from typing import List, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
PAGE_BREAK = re.compile(r"\n```[ \t]*\n\s*\(continues on next page\)\s*\n\s*\(continued from previous page\)\s*\n```[ \t]*\n")


@dataclass
class Block:
    line: int              # the line of the opening fence, 1-based
    lang: str              # the tag, lower-cased ("" untagged)
    code: str              # dedented
    kind: str              # "program", "script" (SQL), or why it is neither
    toml: Optional[str]    # the wallow.toml in force for it (programs only)

    @property
    def is_program(self) -> bool:
        return self.kind == "program"

    @property
    def is_script(self) -> bool:
        return self.kind == "script"


def _free_names(code: str) -> List[str]:
    """Names the code reads at module level or as globals of its functions, that it never binds."""
    top = symtable.symtable(code, "<block>", "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    used = set()

    def walk(table: symtable.SymbolTable) -> None:
        for symbol in table.get_symbols():
            if table is top and symbol.is_referenced() and symbol.get_name() not in bound:
                used.add(symbol.get_name())
            elif table is not top and symbol.is_global() and symbol.is_referenced():
                used.add(symbol.get_name())
        for child in table.get_children():
            walk(child)

    walk(top)
    return sorted(name for name in used - bound if not hasattr(builtins, name) and name != "__file__")


def _sql(lang: str, code: str) -> Optional[str]:
    if lang == "sql" or (not lang and code.lstrip().upper().startswith("BEGIN;")):
        if re.search(r"create\s+table\s+experiments\b", code, re.I):
            return "SQLTrack's base schema (pgtrack setup makes pgtrack's)"
        return "script"
    return None


def classify(lang: str, code: str) -> str:
    sql = _sql(lang, code)
    if sql:
        return sql
    if lang not in ("", "python", "py", "python3"):
        return f"not Python (```{lang})"
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return "not Python" if not lang else f"a fragment ({exc.msg}, line {exc.lineno})"
    try:
        compile(code, "<block>", "exec")
    except SyntaxError as exc:
        return f"a fragment ({exc.msg}, line {exc.lineno})"
    if any(isinstance(node, ast.Constant) and node.value is Ellipsis for node in ast.walk(tree)):
        return "a sketch (... stands for code left out)"
    free = _free_names(code)
    if free:
        return f"an excerpt (uses {', '.join(free)}, defined elsewhere)"
    return "program"


def _wallow_toml(lang: str, code: str) -> bool:
    if lang != "toml":
        return False
    try:
        return isinstance(tomllib.loads(code).get("project"), dict)
    except tomllib.TOMLDecodeError:
        return False


def blocks(text: str) -> List[Block]:
    text = PAGE_BREAK.sub("\n", text)
    found, toml = [], None
    for match in FENCE.finditer(text):
        lang = match.group("lang").strip().lower()
        code = textwrap.dedent(match.group("body"))
        line = text.count("\n", 0, match.start()) + 1
        kind = classify(lang, code)
        if _wallow_toml(lang, code):
            toml = code
        found.append(Block(line, lang, code, kind, toml if kind == "program" else None))
    return found


def peer_imports(code: str, peer: str) -> List[str]:
    """The import statements of ``peer`` in a block, whether or not the block is a program, each as one
    statement (from the parse tree; in a fragment that does not parse, by pattern)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        pattern = re.compile(rf"^[ \t]*(from[ \t]+{peer}(?:\.[\w.]+)?[ \t]+import[ \t]+[^\n(]+"
                             rf"|import[ \t]+{peer}(?:\.[\w.]+)?(?:[ \t]+as[ \t]+\w+)?[ \t]*$)", re.M)
        return [match.group(1) for match in pattern.finditer(code)]
    found = []
    for node in ast.walk(tree):
        modules = ([node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                   else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        if any(m == peer or m.startswith(peer + ".") for m in modules):
            found.append(ast.get_source_segment(code, node))
    return found
