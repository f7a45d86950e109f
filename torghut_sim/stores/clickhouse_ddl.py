"""Pure rewrite of a production `SHOW CREATE TABLE` statement into a simulation database.

Three changes and nothing else: the table moves to the simulation database (`CREATE TABLE IF NOT EXISTS
<simdb>.<table>`, any pinned `UUID` dropped); the keeper path of a `Replicated*MergeTree('<path>',
'{replica}', ...)` engine becomes unique to the simulation database (two databases sharing a keeper path
would replicate into each other); every `TTL` clause is removed, because a replay of a window older
than the TTL (35 days in production) would be deleted by background merges right after it is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from torghut_sim.stores.errors import ClickHouseDDLError

_NAME = r"(?:`(?:[^`\\]|\\.)+`|\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_]*)"
_HEADER_RE = re.compile(
    rf"^\s*(?:CREATE|ATTACH)\s+(?:OR\s+REPLACE\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?P<name>{_NAME}(?:\s*\.\s*{_NAME})?)\s*(?:UUID\s+'[^']*'\s*)?",
    re.IGNORECASE,
)
_ENGINE_RE = re.compile(r"ENGINE\s*=\s*(?P<engine>Replicated\w*MergeTree)\s*\(", re.IGNORECASE)
# Macros that already make a keeper path unique per database (or per table instance).
_UNIQUE_MACROS = ("{database}", "{uuid}")
# Clauses that may follow a table-level TTL in a CREATE statement; the TTL ends where one starts.
_AFTER_TABLE_TTL = frozenset({"SETTINGS", "COMMENT", "ORDER", "PARTITION", "PRIMARY", "SAMPLE"})
_AFTER_COLUMN_TTL = frozenset({"PRIMARY", "SETTINGS"})


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str
    depth: int


def _unquote(name: str) -> str:
    name = name.strip()
    if name[:1] in '`"' and name[-1:] == name[:1]:
        return name[1:-1].replace("\\`", "`")
    return name


def quote_identifier(name: str) -> str:
    """A ClickHouse identifier in backticks."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _split_qualified(name: str) -> tuple[str | None, str]:
    parts = re.findall(_NAME, name)
    if len(parts) == 2:
        return _unquote(parts[0]), _unquote(parts[1])
    return None, _unquote(parts[0])


def _quoted_end(sql: str, start: int) -> int:
    """The index of the quote closing the quoted text that opens at `start` (backslash and '' escapes)."""
    quote, j, n = sql[start], start + 1, len(sql)
    while j < n:
        if sql[j] == "\\":
            j += 2
            continue
        if sql[j] == quote:
            if quote == "'" and j + 1 < n and sql[j + 1] == "'":
                j += 2
                continue
            break
        j += 1
    return j


def _tokens(sql: str) -> Iterator[_Token]:
    """Bare words and `(`, `)`, `,` outside quotes, each with its parenthesis depth."""
    i, depth, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'`\"":
            i = _quoted_end(sql, i) + 1
        elif ch == "(":
            yield _Token(i, i + 1, ch, depth)
            depth += 1
            i += 1
        elif ch == ")":
            depth -= 1
            yield _Token(i, i + 1, ch, depth)
            i += 1
        elif ch == ",":
            yield _Token(i, i + 1, ch, depth)
            i += 1
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            yield _Token(i, j, sql[i:j], depth)
            i = j
        else:
            i += 1
    if depth != 0:
        raise ClickHouseDDLError("unbalanced parentheses in CREATE TABLE statement")


def _ttl_spans(sql: str) -> list[tuple[int, int, bool]]:
    """(start, end, is_table_level) of every TTL clause, table-level and column-level."""
    tokens = list(_tokens(sql))
    spans: list[tuple[int, int, bool]] = []
    for k, tok in enumerate(tokens):
        if tok.text.upper() != "TTL" or tok.depth > 1:
            continue
        end = len(sql)
        if tok.depth == 0:
            for nxt in tokens[k + 1 :]:
                if nxt.depth == 0 and nxt.text.upper() in _AFTER_TABLE_TTL:
                    end = nxt.start
                    break
        else:
            for nxt in tokens[k + 1 :]:
                ends_column = nxt.depth == 1 and (nxt.text == "," or nxt.text.upper() in _AFTER_COLUMN_TTL)
                if ends_column or (nxt.depth == 0 and nxt.text == ")"):
                    end = nxt.start
                    break
        spans.append((tok.start, end, tok.depth == 0))
    return spans


def remove_ttl(sql: str) -> str:
    """`sql` without any table-level or column-level TTL clause."""
    for start, end, table_level in reversed(_ttl_spans(sql)):
        head, tail = sql[:start].rstrip(), sql[end:].lstrip()
        if table_level:
            sql = f"{head}\n{tail}" if tail else head
        else:
            sql = head + {",": "", ")": "\n"}.get(tail[:1], " ") + tail
    return sql.strip()


def _string_literal_at(sql: str, pos: int) -> tuple[str, int] | None:
    """The single-quoted literal starting at `pos` (after whitespace) and the index after it."""
    while pos < len(sql) and sql[pos].isspace():
        pos += 1
    if pos >= len(sql) or sql[pos] != "'":
        return None
    j, out = pos + 1, []
    while j < len(sql):
        ch = sql[j]
        if ch == "\\" and j + 1 < len(sql):
            out.append(sql[j + 1])
            j += 2
            continue
        if ch == "'":
            if j + 1 < len(sql) and sql[j + 1] == "'":
                out.append("'")
                j += 2
                continue
            return "".join(out), j + 1
        out.append(ch)
        j += 1
    raise ClickHouseDDLError("unterminated string literal in ENGINE arguments")


def unique_keeper_path(path: str, source_database: str | None, target_database: str) -> str:
    """A keeper path that differs from the production one and is unique to `target_database`."""
    if any(macro in path for macro in _UNIQUE_MACROS):
        return path
    segments = path.split("/")
    if source_database and source_database in segments:
        return "/".join(target_database if s == source_database else s for s in segments)
    # No database segment to swap: put the simulation database before the table's own segment.
    head, _, last = path.rstrip("/").rpartition("/")
    return f"{head}/{target_database}/{last}" if head or path.startswith("/") else f"{target_database}/{path}"


def _escape_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def keeper_path(sql: str) -> str | None:
    """The explicit keeper path of a Replicated engine, or None (not replicated / server default)."""
    match = _ENGINE_RE.search(sql)
    if match is None:
        return None
    literal = _string_literal_at(sql, match.end())
    return None if literal is None else literal[0]


def rewrite_create_table(ddl: str, target_database: str, target_table: str | None = None) -> str:
    """Rewrite a production `SHOW CREATE TABLE` statement into `target_database`, without TTL."""
    sql = ddl.strip().rstrip(";").strip()
    header = _HEADER_RE.match(sql)
    if header is None:
        raise ClickHouseDDLError(f"not a CREATE TABLE statement: {sql[:80]!r}")
    source_database, table = _split_qualified(header.group("name"))
    new_name = f"{quote_identifier(target_database)}.{quote_identifier(target_table or table)}"
    body = sql[header.end() :]
    sql = f"CREATE TABLE IF NOT EXISTS {new_name}\n{body.lstrip()}"

    engine = _ENGINE_RE.search(sql)
    if engine is not None:
        literal = _string_literal_at(sql, engine.end())
        # Without a literal path the server's default path applies, which contains {uuid}: unique.
        if literal is not None:
            path, after = literal
            start = sql.index("'", engine.end())
            new_path = unique_keeper_path(path, source_database, target_database)
            sql = sql[:start] + _escape_literal(new_path) + sql[after:]
    return remove_ttl(sql)
