"""Reading and writing manifests: YAML or JSON in, validated, with readable refusals; YAML out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from torghut_sim.manifest.dataset import DatasetManifest
from torghut_sim.manifest.section import ManifestError

# Refusals whose own reason code is more useful than `invalid_manifest`.
_REASON_ERRORS: tuple[str, ...] = ("unsupported_lane", "unsupported_schema_version", "inline_secret")


def _error_message(exc: ValidationError) -> str:
    """Locations and messages only: input values may be secrets and are never echoed."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_manifest(data: Any, source: str = "<manifest>") -> DatasetManifest:
    """Validate a mapping as a dataset manifest."""
    if not isinstance(data, Mapping):
        raise ManifestError(f"{source}: a manifest must be a mapping, got {type(data).__name__}")
    try:
        return DatasetManifest.model_validate(dict(data))
    except ValidationError as exc:
        types = {e["type"] for e in exc.errors()}
        reason = next((r for r in _REASON_ERRORS if r in types), "invalid_manifest")
        raise ManifestError(f"{source}: {_error_message(exc)}", reason=reason) from None


def read_mapping(path: Path) -> Any:
    """The parsed YAML or JSON content of a file (JSON when the suffix is .json)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} does not exist", reason="manifest_not_found") from None
    except OSError as exc:
        raise ManifestError(f"manifest {path} cannot be read: {exc}", reason="manifest_unreadable") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"manifest {path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
            reason="manifest_unreadable",
        ) from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ManifestError(f"manifest {path} is not valid: {first}", reason="manifest_unreadable") from None


def load_manifest(path: Path | str) -> DatasetManifest:
    """Load and validate a YAML or JSON manifest file."""
    p = Path(path)
    return parse_manifest(read_mapping(p), source=str(p))


def manifest_yaml(manifest: DatasetManifest) -> str:
    """The manifest as YAML text, sections in model order, unknown sections at the end."""
    return yaml.safe_dump(manifest.to_data(), sort_keys=False, default_flow_style=False, allow_unicode=True)


def dump_manifest(manifest: DatasetManifest, path: Path | str) -> Path:
    """Write the manifest as YAML (creating the directory); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(manifest_yaml(manifest), encoding="utf-8")
    return p
