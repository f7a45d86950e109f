"""Errors of the source dump, each with a stable reason code."""

from __future__ import annotations

from torghut_sim.errors import TorghutSimError


class DumpError(TorghutSimError):
    """The dump could not be produced or verified."""

    reason = "dump_failed"


class DumpFormatError(DumpError):
    """A dump line that is not a valid contract record."""

    reason = "dump_line_invalid"


class DumpHashMismatchError(DumpError):
    """An existing dump disagrees with its marker: corrupted or edited; never reused."""

    reason = "dump_hash_mismatch"
