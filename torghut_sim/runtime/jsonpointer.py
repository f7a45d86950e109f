"""RFC 6901 JSON pointers over plain dicts/lists: reading a field as present-or-absent and escaping keys."""

from __future__ import annotations

from typing import Any

from torghut_sim.runtime.fields import Captured


def escape(token: str) -> str:
    """One reference token, escaped for use inside a pointer."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    """One reference token as written in a pointer, unescaped."""
    return token.replace("~1", "/").replace("~0", "~")


def join(*tokens: str | int) -> str:
    """A pointer from raw tokens."""
    return "".join(f"/{escape(str(t))}" for t in tokens)


def split(pointer: str) -> list[str]:
    """The unescaped tokens of a pointer (`""` is the whole document)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [unescape(t) for t in pointer[1:].split("/")]


def read(document: Any, pointer: str) -> Captured:
    """The value at a pointer, or absent when any step of the path is missing."""
    node = document
    for token in split(pointer):
        if isinstance(node, dict):
            if token not in node:
                return Captured.absent()
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or int(token) >= len(node):
                return Captured.absent()
            node = node[int(token)]
        else:
            return Captured.absent()
    return Captured.of(node)
