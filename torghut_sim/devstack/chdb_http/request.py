"""What one request asks for (URL and form parameters, split as ClickHouse does) and who asks."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torghut_sim.devstack.chdb_http.errors import ClickHouseError, auth_error

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
