"""A captured field: its value, or the fact that it was absent (so restore removes what a run added)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict


class Captured(BaseModel):
    """One field as it was: `present` with its JSON value, or absent."""

    model_config = ConfigDict(frozen=True)

    present: bool
    value: Any = None

    @classmethod
    def of(cls, value: Any) -> Captured:
        """A present field with this value."""
        return cls(present=True, value=value)

    @classmethod
    def absent(cls) -> Captured:
        """A field that does not exist."""
        return cls(present=False, value=None)

    def same_as(self, other: Captured) -> bool:
        """True when both are absent, or both present with equal JSON values."""
        if self.present != other.present:
            return False
        return not self.present or canonical_json(self.value) == canonical_json(other.value)

    def describe(self) -> str:
        """A short human form for messages (`<absent>` or the JSON value)."""
        return canonical_json(self.value) if self.present else "<absent>"


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the form hashes and comparisons use."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_json(value: Any) -> str:
    """SHA-256 of the canonical JSON of a value (whole specs are compared by this, not stored)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
