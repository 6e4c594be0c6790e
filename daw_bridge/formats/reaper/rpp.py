"""REAPER's ``.rpp`` chunk syntax: quoted tokens, plain numbers, nested ``<NAME ... >`` blocks.

Writing (:func:`rpp_string`, :func:`rpp_number`, :class:`RppWriter`) and reading
(:func:`parse_rpp` into :class:`RppChunk`); the quoting rules: ``docs/formats.md`` (REAPER).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from daw_bridge.errors import SessionReadError

#: Name of the extra (muted) track holding the automix render, when ``mix=`` is given.
AI_MIX_TRACK = "AI mix"
#: REAPER's quote marks, in the order a string tries them.
QUOTES = ('"', "'", "`")


def rpp_string(text: str) -> str:
    """``text`` as one token of REAPER's chunk syntax, always quoted.

    Newlines become spaces (a line is one attribute). The quote character is the first of
    ``"``, ``'``, `````` that ``text`` does not contain; if it contains all three it is wrapped in
    backticks and its own backticks become ``'`` (REAPER's rule: the format has no escapes).
    """
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    for quote in QUOTES:
        if quote not in text:
            return f"{quote}{text}{quote}"
    return "`" + text.replace("`", "'") + "`"


def rpp_number(value: float) -> str:
    """A float written so that it reads back exactly, without an exponent (REAPER reads both,
    but plain decimals are what REAPER itself writes)."""
    value = float(value)
    if value == 0:
        return "0"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.20f}".rstrip("0").rstrip(".")
    return text


class RppWriter:
    """Lines of an ``.rpp`` file with REAPER's two-space indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, *tokens: str) -> None:
        self.lines.append("  " * self.depth + " ".join(tokens))

    def open(self, *tokens: str) -> None:
        self.lines.append("  " * self.depth + "<" + " ".join(tokens))
        self.depth += 1

    def close(self) -> None:
        self.depth -= 1
        self.lines.append("  " * self.depth + ">")

    def text_block(self, name: str, args: str, text_lines: Iterable[str]) -> None:
        self.open(name, *([args] if args else []))
        for text in text_lines:
            self.line("|" + text.replace("\r", " ").replace("\n", " "))
        self.close()

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def unique_names(wanted: Iterable[str], taken: set[str]) -> Iterator[str]:
    """Each wanted name, or ``name (2)``, ``name (3)``... when taken (case-insensitively); adds to ``taken``."""
    for name in wanted:
        candidate, n = name, 2
        while candidate.lower() in taken:
            candidate = f"{name} ({n})"
            n += 1
        taken.add(candidate.lower())
        yield candidate


def rpp_tokens(line: str) -> list[str]:
    """Split one line the way REAPER does: whitespace-separated tokens; a token starting with
    ``"``, ``'`` or a backtick runs to the next same quote; an unquoted token starting with
    ``#`` or ``;`` begins a comment that runs to the end of the line."""
    tokens: list[str] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        c = line[i]
        if c in QUOTES:
            end = line.find(c, i + 1)
            if end < 0:
                end = n
            tokens.append(line[i + 1 : end])
            i = end + 1
        elif c in "#;":
            break
        else:
            j = i
            while j < n and line[j] not in " \t":
                j += 1
            tokens.append(line[i:j])
            i = j
    return tokens


@dataclass
class RppChunk:
    """One ``<NAME args ... >`` block: its attribute lines (tokens), raw lines and sub-blocks."""

    name: str
    args: list[str]
    line_no: int
    lines: list[list[str]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    children: list[RppChunk] = field(default_factory=list)

    def get(self, key: str) -> list[str] | None:
        """The values of the first attribute line ``key`` (without the key), or None."""
        for tokens in self.lines:
            if tokens[0] == key:
                return tokens[1:]
        return None

    def all(self, name: str) -> list[RppChunk]:
        return [c for c in self.children if c.name == name]

    def first(self, name: str) -> RppChunk | None:
        for child in self.children:
            if child.name == name:
                return child
        return None


def parse_rpp(text: str, where: Path) -> RppChunk:
    """Parse a whole ``.rpp`` text into its root block; one-line errors for broken structure."""
    stack: list[RppChunk] = []
    root: RppChunk | None = None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s:
            continue
        if s.startswith("<"):
            tokens = rpp_tokens(s[1:])
            if not tokens:
                raise SessionReadError(f"{where}: line {line_no} opens a block with no name; re-save it from REAPER")
            chunk = RppChunk(tokens[0], tokens[1:], line_no)
            if stack:
                stack[-1].children.append(chunk)
            elif root is None:
                root = chunk
            else:
                raise SessionReadError(f"{where}: more than one top-level block (line {line_no}); re-save it from REAPER")
            stack.append(chunk)
        elif s == ">":
            if not stack:
                raise SessionReadError(f"{where}: line {line_no} closes a block that was never opened; re-save it from REAPER")
            stack.pop()
        else:
            if not stack:
                if root is None:
                    raise SessionReadError(
                        f"{where} is not a REAPER project (it does not start with <REAPER_PROJECT); give a .rpp file"
                    )
                continue  # text after the project: ignore
            stack[-1].raw.append(s)
            tokens = rpp_tokens(s)
            if tokens:
                stack[-1].lines.append(tokens)
    if root is None:
        raise SessionReadError(f"{where} is empty or not a REAPER project; give a .rpp file saved by REAPER")
    if stack:
        raise SessionReadError(
            f"{where} is cut short: the <{stack[-1].name} block opened on line {stack[-1].line_no} is never closed; "
            "re-save it from REAPER"
        )
    return root
