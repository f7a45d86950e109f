"""What every manifest section shares: unknown keys kept and reported, no secret written in the file."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

from torghut_sim.errors import TorghutSimError
from torghut_sim.secrets import dsn_has_password


class ManifestError(TorghutSimError):
    """A manifest that cannot be read or does not validate."""

    reason = "invalid_manifest"


def no_inline_secret(value: str | None, field: str, env_field: str) -> str | None:
    """Refuse a secret written into the file; only an empty placeholder is accepted."""
    if value:
        raise PydanticCustomError(
            "inline_secret",
            "{field} must not hold a secret in the file; name an environment variable in {env_field}",
            {"field": field, "env_field": env_field},
        )
    return value


def no_dsn_password(value: str | None, field: str) -> str | None:
    """Refuse a DSN with an inline password; passwords come from `*_password_env`."""
    if value is not None and dsn_has_password(value):
        raise PydanticCustomError(
            "inline_secret",
            "{field} must not carry a password; use the matching *_password_env variable",
            {"field": field},
        )
    return value


class Section(BaseModel):
    """A manifest section: unknown keys are kept (and reported), never dropped."""

    model_config = ConfigDict(extra="allow")

    def unknown_keys(self) -> list[str]:
        """Keys present in the file that this model does not know."""
        return sorted((self.model_extra or {}).keys())
