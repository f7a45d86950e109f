"""The embedded engine (chdb) on one data path: HTTP sessions as long-lived connections, one engine lock."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torghut_sim.devstack.chdb_http.errors import ClickHouseError, engine_error
from torghut_sim.devstack.chdb_http.request import RequestParams
from torghut_sim.devstack.chdb_http.sql import (
    InsertData,
    output_format,
    set_statement,
    sql_identifier,
    sql_string,
)


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
