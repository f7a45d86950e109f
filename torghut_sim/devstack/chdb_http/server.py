"""The HTTP layer: a threaded server whose handler authenticates, reads the body and answers as ClickHouse."""

from __future__ import annotations

import contextlib
import dataclasses
import email.message
import email.parser
import email.policy
import io
import json
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO
from urllib.parse import parse_qsl, urlsplit

from torghut_sim.devstack.chdb_http.engine import Engine, Outcome, Statement
from torghut_sim.devstack.chdb_http.errors import ClickHouseError
from torghut_sim.devstack.chdb_http.formats import body_decoder, content_type
from torghut_sim.devstack.chdb_http.request import (
    Credentials,
    RequestParams,
    parse_params,
    request_credentials,
)
from torghut_sim.devstack.chdb_http.sql import split_insert

_PEEK_BYTES = 1 << 20
_SPOOL_MEMORY = 64 << 20
_CHUNK = 1 << 20
_OK = b"Ok.\n"


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
