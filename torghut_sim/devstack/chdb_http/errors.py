"""Errors the ClickHouse way: numeric code, symbolic name, message, and the HTTP status for each."""

from __future__ import annotations

import re

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
