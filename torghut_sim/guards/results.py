"""What a guard answers: a refusal with its reason code, or a result per guard of a mutation."""

from __future__ import annotations

from dataclasses import dataclass

from torghut_sim.errors import TorghutSimError


class GuardRefusalError(TorghutSimError):
    """One safety guard refused; `reason` says which rule."""

    reason = "guard_refused"


class GuardsRefusedError(TorghutSimError):
    """At least one guard refused; carries every result, `reason` is the first refusal's."""

    reason = "guard_refused"

    def __init__(self, results: list[GuardResult], entry_point: str | None = None) -> None:
        self.results = results
        self.entry_point = entry_point
        failed = [r for r in results if not r.ok]
        text = "; ".join(r.message for r in failed)
        prefix = f"{entry_point} refused: " if entry_point else ""
        super().__init__(prefix + text, reason=failed[0].reason if failed else None)


@dataclass(frozen=True)
class GuardResult:
    """The outcome of one guard on one subject."""

    name: str
    ok: bool
    reason: str | None
    message: str

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view for the plan."""
        return {"name": self.name, "ok": self.ok, "reason": self.reason, "message": self.message}
