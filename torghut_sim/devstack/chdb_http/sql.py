"""SQL text: quoting, the SET statement of a request's settings, and where an INSERT's data starts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


def sql_string(value: str) -> str:
    """A ClickHouse single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_identifier(name: str) -> str:
    """A ClickHouse back-quoted identifier."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def set_statement(settings: Mapping[str, str]) -> str:
    """One `SET a = 'x', b = 'y'` statement; the engine parses each quoted value as the setting's type."""
    return "SET " + ", ".join(f"{name} = {sql_string(value)}" for name, value in settings.items())


_WORD_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_INSERT_RE = re.compile(rb"\s*INSERT\b", re.IGNORECASE)
_FORMAT_TAIL_RE = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class InsertData:
    """An `INSERT ... FORMAT <fmt>` statement followed by data: the statement head and where data starts."""

    head: str
    fmt: str
    data_offset: int


def _skip_quoted(text: bytes, pos: int) -> int:
    quote = text[pos : pos + 1]
    pos += 1
    while pos < len(text):
        char = text[pos : pos + 1]
        if char == b"\\":
            pos += 2
            continue
        if char == quote:
            if text[pos + 1 : pos + 2] == quote:  # a doubled quote is an escaped quote
                pos += 2
                continue
            return pos + 1
        pos += 1
    return pos


def split_insert(text: bytes) -> InsertData | None:
    """Find where the data of an `INSERT ... FORMAT X` statement starts; None for any other statement.

    Quoted strings, identifiers, comments and parentheses are skipped so that a `FORMAT` inside them
    does not count. `VALUES` (inline data the engine parses itself) and `SELECT` end the search.
    """
    if not _INSERT_RE.match(text):
        return None
    pos, depth = 0, 0
    while pos < len(text):
        char = text[pos : pos + 1]
        if char in (b"'", b'"', b"`"):
            pos = _skip_quoted(text, pos)
        elif text.startswith(b"--", pos) or char == b"#":
            newline = text.find(b"\n", pos)
            pos = len(text) if newline < 0 else newline + 1
        elif text.startswith(b"/*", pos):
            end = text.find(b"*/", pos + 2)
            pos = len(text) if end < 0 else end + 2
        elif char == b"(":
            depth, pos = depth + 1, pos + 1
        elif char == b")":
            depth, pos = depth - 1, pos + 1
        elif (word := _WORD_RE.match(text, pos)) is not None:
            upper = word.group(0).upper()
            if depth == 0 and upper in (b"VALUES", b"SELECT", b"WITH"):
                return None
            if depth == 0 and upper == b"FORMAT":
                name = _WORD_RE.match(text, _skip_blanks(text, word.end()))
                if name is None:
                    return None
                return InsertData(
                    head=text[: word.start()].decode().strip(),
                    fmt=name.group(0).decode(),
                    data_offset=_data_start(text, name.end()),
                )
            pos = word.end()
        else:
            pos += 1
    return None


def _skip_blanks(text: bytes, pos: int) -> int:
    while pos < len(text) and text[pos : pos + 1] in (b" ", b"\t", b"\n", b"\r", b"\f"):
        pos += 1
    return pos


def _data_start(text: bytes, pos: int) -> int:
    # Like ClickHouse: blanks up to and including one line break separate the format name from the data,
    # and nothing more, because binary data (Native, RowBinary) may itself start with such bytes.
    while pos < len(text) and text[pos : pos + 1] in (b" ", b"\t", b"\f"):
        pos += 1
    if text[pos : pos + 1] == b"\r":
        pos += 1
    if text[pos : pos + 1] == b"\n":
        pos += 1
    return pos


def output_format(sql: str, default: str) -> str:
    """The format a query's result comes in: its trailing FORMAT clause, else the default."""
    match = _FORMAT_TAIL_RE.search(sql)
    return match.group(1) if match else default
