"""`deploy/k8s/render.py` loaded as a module for the tests (the deploy folder is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "k8s"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("torghut_sim_deploy_render", DEPLOY / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


render = _load()
