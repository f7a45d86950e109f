"""A record kept as one JSON file beside a run: written atomically, read back whole or refused."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from torghut_sim.atomic_file import write_text_atomic
from torghut_sim.errors import TorghutSimError


class MarkerFile(BaseModel):
    """A frozen pydantic record stored as indented JSON; subclasses name the error an invalid file raises."""

    model_config = ConfigDict(frozen=True)

    # What an unreadable or invalid file raises: a TorghutSimError subclass with the marker's reason code.
    invalid_error: ClassVar[type[TorghutSimError]] = TorghutSimError

    def write(self, path: Path) -> None:
        """Write the record atomically (temp file + rename)."""
        write_text_atomic(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Self:
        """Load a record; an unreadable or invalid one is refused rather than ignored."""
        try:
            return cls.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise cls.invalid_error(f"{path}: {exc}") from None
