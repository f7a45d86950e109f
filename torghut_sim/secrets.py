"""Secrets and DSNs: values come only from named environment variables and are never shown.

A `Secret` wraps a value whose repr/str is `***`; `redact_dsn`/`redact_text` turn every credential in
a DSN or free text into `user:***@host` before it is printed or stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from torghut_sim.errors import TorghutSimError

MASK = "***"
# scheme://user:password@ in URLs anywhere in a text; the password part stops at '@' or whitespace.
_URL_CREDENTIALS = re.compile(r"(?P<prefix>[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+):(?P<pw>[^\s@]*)@")
# password=... in libpq key/value DSNs and URL query strings.
_PASSWORD_PARAM = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<value>'[^']*'|[^\s&]+)", re.IGNORECASE)


class SecretError(TorghutSimError):
    """A secret that cannot be resolved."""

    reason = "secret_error"


class MissingSecretError(SecretError):
    """A named environment variable that should hold a secret is not set."""

    reason = "missing_secret"


class DsnError(TorghutSimError):
    """A DSN that cannot be parsed."""

    reason = "invalid_dsn"


@dataclass(frozen=True)
class Secret:
    """A secret value that never appears in repr, str or logs; call `reveal()` at the point of use."""

    _value: str = field(repr=False)
    source: str = ""

    def reveal(self) -> str:
        """The plain value, for handing to a client library only."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK}, source={self.source!r})"

    def __str__(self) -> str:
        return MASK


def secret_from_env(var: str, environ: Mapping[str, str] | None = None, allow_empty: bool = False) -> Secret:
    """The secret held by one environment variable; a missing (or empty) one names the variable."""
    env = os.environ if environ is None else environ
    value = env.get(var)
    if value is None or (value == "" and not allow_empty):
        state = "not set" if value is None else "empty"
        raise MissingSecretError(f"environment variable {var} is {state}; it must hold the secret")
    return Secret(value, source=var)


def optional_secret_from_env(var: str | None, environ: Mapping[str, str] | None = None) -> Secret | None:
    """The secret of a variable when one is named, `None` when the manifest names none."""
    return None if var is None else secret_from_env(var, environ)


def redact_dsn(dsn: str) -> str:
    """A DSN with its password replaced by `***` (`user:***@host`); without a password it is unchanged."""
    return redact_text(dsn)


def redact_text(text: str) -> str:
    """Every URL credential and `password=` parameter in a text replaced by `***`."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('prefix')}:{MASK}@", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group('key')}{MASK}", text)


def dsn_has_password(dsn: str) -> bool:
    """Whether a DSN carries a password inline (which the manifest must not)."""
    return redact_text(dsn) != dsn


def dsn_database(dsn: str) -> str:
    """The database name (path) of a URL DSN."""
    parts = urlsplit(dsn)
    if not parts.scheme or not parts.hostname:
        raise DsnError(f"DSN {redact_dsn(dsn)!r} is not a URL of the form scheme://user@host/db")
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise DsnError(f"DSN {redact_dsn(dsn)!r} names no database")
    return database


def dsn_with_database(dsn: str, database: str) -> str:
    """The same URL DSN pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{quote(database)}"))


def dsn_with_password(dsn: str, password: Secret | None) -> Secret:
    """A URL DSN with the password inserted (URL-encoded); the result is itself a secret."""
    if password is None:
        return Secret(dsn, source="dsn")
    parts = urlsplit(dsn)
    if parts.username is None:
        raise DsnError(f"DSN {redact_dsn(dsn)!r} has no user to attach a password to")
    host = parts.netloc.rsplit("@", 1)[1]
    netloc = f"{parts.username}:{quote(password.reveal(), safe='')}@{host}"
    return Secret(urlunsplit(parts._replace(netloc=netloc)), source=password.source)
