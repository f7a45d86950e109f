"""Local stack only: a ClickHouse-compatible HTTP front end over the embedded ClickHouse engine (chdb).

No ClickHouse server binary is installable here, so the local stack serves the real engine from the
`chdb` wheel behind the subset of ClickHouse's HTTP interface that `clickhouse-connect` and plain HTTP
clients use: queries and DDL by GET/POST, inserts with a data body (any engine input format, Native
included, optionally gzip/deflate/zstd/lz4 encoded, chunked or not), `param_<name>` bind parameters,
settings as URL parameters, `database`/`default_format`/`query_id`, HTTP sessions (`session_id`),
user/password checks, `/ping`, and errors as `Code: N. DB::Exception: ...` with the
`X-ClickHouse-Exception-Code` header. Production never runs this module: it talks to a real cluster.

Responses are never compressed (clients read a missing Content-Encoding as identity) and results are
materialised before they are sent, so the engine lock is never held while a slow client reads.

Run: `python -m torghut_sim.devstack.chdb_http --host 127.0.0.1 --port N --path DIR [--user U
--password P | --password-env VAR]`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import dataclasses
import email.message
import email.parser
import email.policy
import hmac
import importlib
import io
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

# --------------------------------------------------------------------------------------------- errors

# ClickHouse's own mapping of exception names to HTTP statuses (src/Server/HTTP/exceptionCodeToHTTPStatus).
_STATUS_BY_NAME: dict[str, int] = {
    "REQUIRED_PASSWORD": 401,
    **dict.fromkeys(
        ("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"),
        403,
    ),
    **dict.fromkeys(
        (
            "BAD_ARGUMENTS",
            "CANNOT_COMPILE_REGEXP",
            "CANNOT_PARSE_TEXT",
            "CANNOT_PARSE_ESCAPE_SEQUENCE",
            "CANNOT_PARSE_QUOTED_STRING",
            "CANNOT_PARSE_DATE",
            "CANNOT_PARSE_DATETIME",
            "CANNOT_PARSE_NUMBER",
            "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
            "CANNOT_PARSE_IPV4",
            "CANNOT_PARSE_IPV6",
            "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
            "CANNOT_PARSE_UUID",
            "DUPLICATE_COLUMN",
            "ILLEGAL_COLUMN",
            "UNKNOWN_ELEMENT_IN_AST",
            "UNKNOWN_TYPE_OF_AST_NODE",
            "THERE_IS_NO_COLUMN",
            "TOO_DEEP_AST",
            "TOO_BIG_AST",
            "UNEXPECTED_AST_STRUCTURE",
            "SYNTAX_ERROR",
            "INCORRECT_DATA",
            "TYPE_MISMATCH",
            "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "UNKNOWN_TABLE",
            "UNKNOWN_FUNCTION",
            "UNKNOWN_IDENTIFIER",
            "UNKNOWN_TYPE",
            "UNKNOWN_STORAGE",
            "UNKNOWN_DATABASE",
            "UNKNOWN_SETTING",
            "UNKNOWN_DIRECTION_OF_SORTING",
            "UNKNOWN_AGGREGATE_FUNCTION",
            "UNKNOWN_FORMAT",
            "UNKNOWN_DATABASE_ENGINE",
            "UNKNOWN_TYPE_OF_QUERY",
            "UNKNOWN_ROLE",
        ),
        404,
    ),
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "CANNOT_SCHEDULE_TASK": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    # Not an engine exception: ClickHouse answers an unknown URL path with a plain 404.
    "UNKNOWN_HANDLER": 404,
}

_CODE_RE = re.compile(r"Code: (\d+)\. DB::Exception: ")
_TRAILER_RE = re.compile(r"(?:\s|\.)*\((?:version [^)]*|[A-Z][A-Z0-9_]*)\)(?:\s|\.)*$")
_NAME_RE = re.compile(r"\(([A-Z][A-Z0-9_]*)\)")


class ClickHouseError(Exception):
    """A failure reported to the client the ClickHouse way: numeric code, symbolic name and message."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {message}. ({name})")
        self.code = code
        self.name = name
        self.message = message

    @property
    def reason(self) -> str:
        """The stable snake_case reason code (ClickHouse's exception name, lower-cased)."""
        return self.name.lower()

    @property
    def http_status(self) -> int:
        """The HTTP status ClickHouse answers with for this exception."""
        return _STATUS_BY_NAME.get(self.name, 500)

    def body(self, version: str) -> bytes:
        """The response body exactly as a ClickHouse server formats it."""
        text = f"Code: {self.code}. DB::Exception: {self.message}. ({self.name}) (version {version})\n"
        return text.encode()


def engine_error(text: str) -> ClickHouseError:
    """Turn an exception text raised by chdb into a ClickHouseError with its code, name and message."""
    match = _CODE_RE.search(text)
    if match is None:
        return ClickHouseError(1002, "UNKNOWN_EXCEPTION", text.strip())
    code = int(match.group(1))
    # chdb sometimes nests the same exception ("Code: 108. DB::Exception: Code: 108. ...").
    message = _CODE_RE.sub("", text[match.end() :])
    name = ""
    while True:
        trailer = _TRAILER_RE.search(message)
        if trailer is None or trailer.start() == len(message):
            break
        found = _NAME_RE.search(trailer.group(0))
        if found:
            if name and found.group(1) != name:
                break  # an upper-case word in parentheses that belongs to the message
            name = found.group(1)
        message = message[: trailer.start()]
    return ClickHouseError(code, name or "UNKNOWN_EXCEPTION", message.strip().rstrip("."))


def auth_error(user: str) -> ClickHouseError:
    """ClickHouse's answer to a wrong user or password."""
    return ClickHouseError(
        516,
        "AUTHENTICATION_FAILED",
        f"{user}: Authentication failed: password is incorrect, or there is no user with such name",
    )


# ------------------------------------------------------------------------------------- URL parameters

# Parameters the HTTP handler consumes itself; everything else is a setting (ClickHouse's rule).
_RESERVED = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "quota_key",
        "query_id",
        "stacktrace",
        "role",
        "session_id",
        "session_timeout",
        "session_check",
        "close_session",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
    }
)
# Settings that only steer how ClickHouse's HTTP layer streams, compresses or cancels; this front end
# always buffers and never compresses, so applying them to the engine would change nothing.
IGNORED_SETTINGS = frozenset(
    {
        "enable_http_compression",
        "http_zlib_compression_level",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
        "http_wait_end_of_query",
        "http_response_buffer_size",
        "http_native_compression_disable_checksumming_on_decompress",
    }
)
_SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
# Output formats chdb's Python wrapper would convert to Python objects instead of returning bytes.
_WRAPPER_FORMATS = frozenset({"arrowtable", "dataframe", "datastore"})
DEFAULT_SESSION_TIMEOUT = 60.0
MAX_SESSION_TIMEOUT = 3600.0


@dataclass(frozen=True)
class RequestParams:
    """What one request's URL (and form fields) asks for, split the way ClickHouse's HTTP handler does."""

    query: str | None = None
    database: str | None = None
    default_format: str = "TabSeparated"
    query_id: str | None = None
    user: str | None = None
    password: str | None = None
    session_id: str | None = None
    session_timeout: float = DEFAULT_SESSION_TIMEOUT
    session_check: bool = False
    close_session: bool = False
    compress: bool = False
    decompress: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def parse_params(pairs: Sequence[tuple[str, str]]) -> RequestParams:
    """Split URL/form parameters into handler options, bind parameters and engine settings."""
    values: dict[str, Any] = {}
    settings: dict[str, str] = {}
    params: dict[str, str] = {}
    for key, value in pairs:
        if key.startswith("param_"):
            params[key[len("param_") :]] = value
        elif key in _RESERVED:
            values[key] = value
        elif key not in IGNORED_SETTINGS:
            if not _SETTING_NAME_RE.match(key):
                raise ClickHouseError(115, "UNKNOWN_SETTING", f"Unknown setting '{key}'")
            settings[key] = value
    timeout = DEFAULT_SESSION_TIMEOUT
    if "session_timeout" in values:
        try:
            timeout = float(values["session_timeout"])
        except ValueError:
            raise ClickHouseError(
                72, "CANNOT_PARSE_NUMBER", f"Cannot parse session_timeout {values['session_timeout']!r}"
            ) from None
        if not 0 < timeout <= MAX_SESSION_TIMEOUT:
            raise ClickHouseError(
                69,
                "ARGUMENT_OUT_OF_BOUND",
                f"Session timeout {timeout:g} is out of (0, {MAX_SESSION_TIMEOUT:g}]",
            )
    fmt = values.get("default_format") or "TabSeparated"
    if fmt.lower() in _WRAPPER_FORMATS:
        raise ClickHouseError(73, "UNKNOWN_FORMAT", f"Unknown format {fmt}")
    return RequestParams(
        query=values.get("query"),
        database=values.get("database") or None,
        default_format=fmt,
        query_id=values.get("query_id") or None,
        user=values.get("user"),
        password=values.get("password"),
        session_id=values.get("session_id") or None,
        session_timeout=timeout,
        session_check=_flag(values.get("session_check", "0")),
        close_session=_flag(values.get("close_session", "0")),
        compress=_flag(values.get("compress", "0")),
        decompress=_flag(values.get("decompress", "0")),
        settings=settings,
        params=params,
    )


def sql_string(value: str) -> str:
    """A ClickHouse single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_identifier(name: str) -> str:
    """A ClickHouse back-quoted identifier."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def set_statement(settings: Mapping[str, str]) -> str:
    """One `SET a = 'x', b = 'y'` statement; the engine parses each quoted value as the setting's type."""
    return "SET " + ", ".join(f"{name} = {sql_string(value)}" for name, value in settings.items())


# ---------------------------------------------------------------------------------------- SQL shapes

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


def content_type(fmt: str) -> str:
    """The Content-Type ClickHouse sends for a result format."""
    lower = fmt.lower()
    if lower.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if lower.startswith("json"):
        return "application/json; charset=UTF-8"
    if lower.startswith("csv"):
        return "text/csv; charset=UTF-8; header=absent"
    if lower.startswith(("native", "rowbinary", "arrow", "parquet", "orc", "avro", "protobuf", "msgpack")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


# -------------------------------------------------------------------------------------- body decoding


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes) -> bytes: ...


class BodyDecoder:
    """Streaming decoder of a Content-Encoding; clients send one frame per block, so frames are chained."""

    def __init__(self, factory: Callable[[], _Decompressor] | None) -> None:
        self._factory = factory
        self._current = factory() if factory else None

    def feed(self, data: bytes) -> bytes:
        """Decode the next piece of the body."""
        if self._factory is None or self._current is None:
            return data
        out = []
        while data:
            if self._current.eof:
                self._current = self._factory()
            out.append(self._current.decompress(data))
            data = self._current.unused_data if self._current.eof else b""
        return b"".join(out)

    def finish(self) -> None:
        """Fail when the body ended in the middle of a frame."""
        if self._current is not None and not self._current.eof:
            raise ClickHouseError(
                354, "CANNOT_DECOMPRESS", "The request body ended in the middle of a compressed frame"
            )


def _lz4() -> _Decompressor:
    # Imported by name: lz4 ships no type stubs, and only clients that send lz4 need it.
    decompressor: _Decompressor = importlib.import_module("lz4.frame").LZ4FrameDecompressor()
    return decompressor


def _zstd() -> _Decompressor:
    decompressor: _Decompressor = importlib.import_module("zstandard").ZstdDecompressor().decompressobj()
    return decompressor


_DECOMPRESSORS: dict[str, Callable[[], _Decompressor]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "deflate": zlib.decompressobj,
    "zstd": _zstd,
    "lz4": _lz4,
}


def body_decoder(encoding: str | None) -> BodyDecoder:
    """The decoder of a request's Content-Encoding header."""
    name = (encoding or "").strip().lower()
    if name in ("", "identity"):
        return BodyDecoder(None)
    if name not in _DECOMPRESSORS:
        raise ClickHouseError(
            638, "UNKNOWN_COMPRESSION_METHOD", f"Unknown HTTP Content-Encoding {encoding!r}"
        )
    return BodyDecoder(_DECOMPRESSORS[name])


# -------------------------------------------------------------------------------------------- engine


@dataclass
class Outcome:
    """A successful request: response body, the result format and ClickHouse's summary counters."""

    body: bytes
    fmt: str
    summary: dict[str, str]


@dataclass
class _Session:
    conn: Any
    lock: threading.Lock
    timeout: float
    last_used: float
    # What this session had before a request's URL settings/database, per setting: "name = value".
    baseline: dict[str, str] = field(default_factory=dict)
    database: str | None = None


def _current_database(session: _Session) -> str:
    if session.database is None:
        row = session.conn.query("SELECT currentDatabase()", "TabSeparatedRaw").bytes().decode()
        session.database = row.rstrip("\n")
    return session.database


_SESSION_STATEMENT_RE = re.compile(r"\s*(?:SET|USE)\b", re.IGNORECASE)


@dataclass
class Statement:
    """What to run: SQL text, or an insert head plus a data stream in a given input format."""

    sql: str = ""
    insert: InsertData | None = None
    data: Iterator[bytes] = field(default_factory=lambda: iter(()))


class Engine:
    """The embedded engine on one data path: a connection per request or per HTTP session, one lock.

    chdb keeps per-connection state (current database, SET settings, temporary tables) exactly like a
    ClickHouse session, so HTTP sessions map to long-lived connections and session-less requests to
    throw-away ones. Every engine call is serialised by one lock because the embedded engine is shared
    process-wide.
    """

    def __init__(self, path: Path) -> None:
        import chdb.state.sqlitelike as chdb_conn  # noqa: PLC0415  # heavy; only the server process needs it

        path.mkdir(parents=True, exist_ok=True)
        self._connect: Callable[[], Any] = lambda: chdb_conn.connect(str(path.resolve()))
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        # The engine shuts down when its last connection closes; this one keeps it up between requests.
        self._anchor = self._connect()
        row = self._anchor.query("SELECT version(), timezone()", "TabSeparated").bytes().decode()
        self.version, self.timezone = row.rstrip("\n").split("\t")

    def close(self) -> None:
        """Close every session and the engine."""
        with self._lock:
            for session in self._sessions.values():
                session.conn.close()
            self._sessions.clear()
            self._anchor.close()

    def _take_session(self, req: RequestParams) -> _Session | None:
        if req.session_id is None:
            return None
        now = time.monotonic()
        with self._lock:
            for sid, old in list(self._sessions.items()):
                if now - old.last_used > old.timeout and not old.lock.locked():
                    old.conn.close()
                    del self._sessions[sid]
            session = self._sessions.get(req.session_id)
            if session is None:
                if req.session_check:
                    raise ClickHouseError(372, "SESSION_NOT_FOUND", f"Session {req.session_id} not found")
                try:
                    session = _Session(self._connect(), threading.Lock(), req.session_timeout, now)
                except RuntimeError as exc:
                    raise engine_error(str(exc)) from None
                self._sessions[req.session_id] = session
            # Taken under the engine lock so that the sweep above never closes a session in use.
            if not session.lock.acquire(blocking=False):
                raise ClickHouseError(373, "SESSION_IS_LOCKED", "Session is locked by a concurrent client")
            session.timeout = req.session_timeout
            session.last_used = now
        return session

    def _release_session(self, req: RequestParams, session: _Session) -> None:
        session.last_used = time.monotonic()
        session.lock.release()
        if req.close_session and req.session_id is not None:
            with self._lock:
                if self._sessions.pop(req.session_id, None) is not None:
                    session.conn.close()

    def execute(self, req: RequestParams, stmt: Statement) -> Outcome:
        """Run one statement with the request's database, settings and parameters."""
        session = self._take_session(req)
        try:
            with self._lock:
                # A readonly setting cannot be undone afterwards, so such requests never touch the
                # session's own connection (they still see its current database).
                if session is None or "readonly" in req.settings:
                    return self._run_isolated(req, stmt, session)
                if _SESSION_STATEMENT_RE.match(stmt.sql):
                    # SET/USE change the session itself: run them bare so that undoing this request's
                    # URL settings cannot overwrite what they set, and forget what was known.
                    session.baseline.clear()
                    session.database = None
                    return self._run(session.conn, req, stmt)
                undo: list[str] = []
                try:
                    self._apply(session, req, undo)
                    return self._run(session.conn, req, stmt)
                finally:
                    for statement in reversed(undo):
                        session.conn.query(statement)
        except RuntimeError as exc:  # chdb raises ChdbError / RuntimeError for engine failures
            raise engine_error(str(exc)) from None
        finally:
            if session is not None:
                self._release_session(req, session)

    def _run_isolated(self, req: RequestParams, stmt: Statement, session: _Session | None) -> Outcome:
        conn = self._connect()
        try:
            database = req.database or (_current_database(session) if session else None)
            if database:
                conn.query(f"USE {sql_identifier(database)}")
            if req.settings:
                conn.query(set_statement(req.settings))
            return self._run(conn, req, stmt)
        finally:
            conn.close()

    def _apply(self, session: _Session, req: RequestParams, undo: list[str]) -> None:
        """Switch a session's database and settings for one request, recording in `undo` how to go back.

        What the session had before is looked up once and cached (system.settings is slow to scan),
        since only SET/USE statements change it.
        """
        if req.database:
            current = _current_database(session)
            if current != req.database:
                # Recorded before the change: undoing a change that failed half-way is harmless.
                undo.append(f"USE {sql_identifier(current)}")
                session.conn.query(f"USE {sql_identifier(req.database)}")
        if req.settings:
            missing = [name for name in req.settings if name not in session.baseline]
            if missing:
                names = ", ".join(sql_string(name) for name in missing)
                rows = session.conn.query(
                    f"SELECT name, value, changed FROM system.settings WHERE name IN ({names})", "JSONCompact"
                ).bytes()
                for name, value, changed in json.loads(rows)["data"]:
                    previous = sql_string(value) if int(changed) else "DEFAULT"
                    session.baseline[name] = f"{name} = {previous}"
                for name in missing:
                    if name not in session.baseline:  # system.settings lists every setting and alias
                        raise ClickHouseError(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
            undo.append("SET " + ", ".join(session.baseline[name] for name in req.settings))
            session.conn.query(set_statement(req.settings))

    def _run(self, conn: Any, req: RequestParams, stmt: Statement) -> Outcome:
        began = time.monotonic()
        if stmt.insert is not None:
            inserter = conn.send_insert(stmt.insert.head, stmt.insert.fmt)
            try:
                for chunk in stmt.data:
                    if chunk:
                        inserter.append(chunk)
                done = inserter.finish()
            except BaseException:
                with contextlib.suppress(RuntimeError):
                    inserter.cancel()
                raise
            summary = _summary(0, 0, done.rows_written, done.bytes_written, 0, 0, time.monotonic() - began)
            return Outcome(b"", req.default_format, summary)
        result = conn.query(stmt.sql, req.default_format, params=req.params)
        body = bytes(result.bytes())
        summary = _summary(
            result.rows_read(),
            result.bytes_read(),
            result.rows_written(),
            result.bytes_written(),
            result.rows_read(),
            len(body),
            time.monotonic() - began,
        )
        return Outcome(body, output_format(stmt.sql, req.default_format), summary)


def _summary(
    read_rows: int,
    read_bytes: int,
    written_rows: int,
    written_bytes: int,
    total: int,
    result_bytes: int,
    elapsed: float,
) -> dict[str, str]:
    # ClickHouse reports every counter as a string in X-ClickHouse-Summary.
    return {
        "read_rows": str(read_rows),
        "read_bytes": str(read_bytes),
        "written_rows": str(written_rows),
        "written_bytes": str(written_bytes),
        "total_rows_to_read": str(total),
        "result_rows": "0",
        "result_bytes": str(result_bytes),
        "elapsed_ns": str(int(elapsed * 1e9)),
    }


# ----------------------------------------------------------------------------------------- HTTP layer

_PEEK_BYTES = 1 << 20
_SPOOL_MEMORY = 64 << 20
_CHUNK = 1 << 20
_OK = b"Ok.\n"


@dataclass(frozen=True)
class Credentials:
    """Who may use the server; no password configured means any credentials are accepted."""

    user: str = "default"
    password: str | None = None

    def check(self, user: str | None, password: str | None) -> None:
        """Raise ClickHouse's authentication error unless user and password match."""
        if self.password is None:
            return
        name = user or "default"
        given = password or ""
        if name != self.user or not hmac.compare_digest(given.encode(), self.password.encode()):
            raise auth_error(name)


def request_credentials(headers: Mapping[str, str], req: RequestParams) -> tuple[str | None, str | None]:
    """The user and password of a request: X-ClickHouse headers, then basic auth, then URL parameters.

    `headers` has lower-case names.
    """
    if "x-clickhouse-user" in headers:
        return headers["x-clickhouse-user"], headers.get("x-clickhouse-key", "")
    auth = headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ClickHouseError(
                516, "AUTHENTICATION_FAILED", "Malformed basic Authorization header"
            ) from None
        return user, password
    return req.user, req.password


def _multipart_fields(content_type_header: str, body: bytes) -> list[tuple[str, str]]:
    parser = email.parser.BytesParser(_class=email.message.EmailMessage, policy=email.policy.HTTP)
    message = parser.parsebytes(b"Content-Type: " + content_type_header.encode() + b"\r\n\r\n" + body)
    fields: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is not None:
            raise ClickHouseError(
                48, "NOT_IMPLEMENTED", "External data tables are not supported by the local chdb front end"
            )
        if name:
            payload = part.get_payload(decode=True)
            fields.append((str(name), payload.decode() if isinstance(payload, bytes) else str(payload)))
    return fields


class ChdbHttpServer(ThreadingHTTPServer):
    """A threaded HTTP server bound to one Engine."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], engine: Engine, credentials: Credentials) -> None:
        super().__init__(address, _Handler)
        self.engine = engine
        self.credentials = credentials


def _check_handler(path: str) -> None:
    if path != "/":
        raise ClickHouseError(0, "UNKNOWN_HANDLER", f"There is no handle {path}. Use / or /ping")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each reply would wait for a delayed ACK.
    disable_nagle_algorithm = True
    server: ChdbHttpServer
    # Idle keep-alive connections are closed like ClickHouse's keep_alive_timeout does.
    timeout = 10

    def do_GET(self) -> None:
        """Serve a GET: health endpoints or a query in the URL."""
        self._serve()

    def do_POST(self) -> None:
        """Serve a POST: a query and/or data in the body."""
        self._serve()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log a request without its query string, which may carry a password."""
        self.log_message("%s %s %s", self.command, urlsplit(self.path).path, code)

    def _serve(self) -> None:
        self._body_read = False
        url = urlsplit(self.path)
        if url.path in ("/ping", "/replicas_status") or (url.path == "/" and not url.query and self._empty()):
            self._drain()
            self._reply(200, _OK, {"Content-Type": "text/html; charset=UTF-8"})
            return
        engine = self.server.engine
        self._query_id = str(uuid.uuid4())
        try:
            outcome = self._answer(url.path, url.query)
        except Exception as raised:  # noqa: BLE001  # a server answers every request, also on a bug here
            exc = (
                raised
                if isinstance(raised, ClickHouseError)
                else ClickHouseError(1001, "STD_EXCEPTION", f"{type(raised).__name__}: {raised}")
            )
            self.log_message("query %s failed: %s %s", self._query_id, exc.code, exc.name)
            if not self._body_read:
                self.close_connection = True  # an unread body would be taken for the next request
            self._reply(
                exc.http_status,
                exc.body(engine.version),
                {
                    "Content-Type": "text/plain; charset=UTF-8",
                    "X-ClickHouse-Exception-Code": str(exc.code),
                    "X-ClickHouse-Query-Id": self._query_id,
                },
            )
            return
        self._reply(
            200,
            outcome.body,
            {
                "Content-Type": content_type(outcome.fmt),
                "X-ClickHouse-Format": outcome.fmt,
                "X-ClickHouse-Query-Id": self._query_id,
                "X-ClickHouse-Timezone": engine.timezone,
                "X-ClickHouse-Server-Display-Name": "chdb-local",
                "X-ClickHouse-Summary": json.dumps(outcome.summary, separators=(",", ":")),
            },
        )

    def _answer(self, path: str, query: str) -> Outcome:
        """Authenticate, read the body and run the request."""
        _check_handler(path)
        pairs = parse_qsl(query, keep_blank_values=True)
        req = parse_params(pairs)
        self._query_id = req.query_id or self._query_id
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.credentials.check(*request_credentials(headers, req))
        with self._read_body() as spool:
            body: IO[bytes] = spool
            ctype = self.headers.get("Content-Type", "")
            if ctype.lower().startswith("multipart/form-data"):
                req = parse_params([*pairs, *_multipart_fields(ctype, spool.read())])
                body = io.BytesIO()
            req = self._with_headers(req)
            return self.server.engine.execute(req, self._statement(req, body))

    def _with_headers(self, req: RequestParams) -> RequestParams:
        # ClickHouse also takes the database and default format from X-ClickHouse-* headers.
        database = req.database or self.headers.get("X-ClickHouse-Database") or None
        fmt = self.headers.get("X-ClickHouse-Format")
        if database == req.database and not fmt:
            return req
        return dataclasses.replace(req, database=database, default_format=fmt or req.default_format)

    def _statement(self, req: RequestParams, body: IO[bytes]) -> Statement:
        if req.decompress or req.compress:
            raise ClickHouseError(
                48,
                "NOT_IMPLEMENTED",
                "ClickHouse's internal compression (compress/decompress=1) is not "
                "supported by the local chdb front end; use Content-Encoding instead",
            )
        prefix = (req.query.encode() + b"\n") if req.query else b""
        peek = prefix + body.read(_PEEK_BYTES)
        insert = split_insert(peek)
        if insert is not None:

            def data() -> Iterator[bytes]:
                yield peek[insert.data_offset :]
                while chunk := body.read(_CHUNK):
                    yield chunk

            return Statement(insert=insert, data=data())
        text = peek + body.read()
        try:
            sql = text.decode()
        except UnicodeDecodeError:
            raise ClickHouseError(62, "SYNTAX_ERROR", "The query is not valid UTF-8") from None
        if not sql.strip():
            raise ClickHouseError(62, "SYNTAX_ERROR", "Empty query")
        return Statement(sql=sql)

    def _empty(self) -> bool:
        return self.command == "GET" or self.headers.get("Content-Length", "") == "0"

    def _drain(self) -> None:
        with self._read_body():
            pass

    @contextlib.contextmanager
    def _read_body(self) -> Iterator[IO[bytes]]:
        """The decoded request body, spooled to memory and then to a temporary file."""
        decoder = body_decoder(self.headers.get("Content-Encoding"))
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY) as spool:
            for chunk in self._raw_chunks():
                spool.write(decoder.feed(chunk))
            decoder.finish()
            self._body_read = True
            spool.seek(0)
            yield spool

    def _raw_chunks(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                yield self.rfile.read(size)
                self.rfile.readline(3)
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, _CHUNK))
            if not chunk:
                raise ClickHouseError(33, "CANNOT_READ_ALL_DATA", "The request body ended early")
            remaining -= len(chunk)
            yield chunk

    def _reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", f"timeout={self.timeout}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# ------------------------------------------------------------------------------------------------ CLI


def build_parser() -> argparse.ArgumentParser:
    """The command line of the front end."""
    parser = argparse.ArgumentParser(prog="python -m torghut_sim.devstack.chdb_http", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", type=Path, required=True, help="the engine's data directory")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default=None)
    parser.add_argument("--password-env", default=None, help="read the password from this variable")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Open the engine on --path, then serve HTTP on --host:--port until SIGTERM/SIGINT."""
    args = build_parser().parse_args(argv)
    password = args.password
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            print(f"chdb_http: ${args.password_env} is not set", file=sys.stderr)
            return 2
    engine = Engine(args.path)
    try:
        server = ChdbHttpServer((args.host, args.port), engine, Credentials(args.user, password))
    except OSError as exc:
        engine.close()
        print(f"chdb_http: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1

    def _stop(signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever, so it must run off the signal-handling main thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(
        f"chdb_http: ClickHouse {engine.version} (chdb) on http://{args.host}:{args.port} data={args.path}",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
