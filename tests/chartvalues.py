"""The chart's values as Argo CD gives them to Helm, and the upstream schemas they must meet.

Argo CD renders helm/unilim-hub with its values.yaml, then config/unilim.yaml (the site's
policy), then config/environments/<env>.yaml; Helm merges them as `coalesce` does here. The
upstream schemas (Zero to JupyterHub's values, Argo CD's CRDs) are data kept beside the
repository, in ../shared/schemas, never copied into it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "unilim-hub"
SCHEMAS = REPO.parent / "shared" / "schemas"
ENVIRONMENTS = ("preprod", "prod")
Z2JH_SCHEMA = "z2jh-4.4.0-values.schema.yaml"
Z2JH_DEFAULTS = "z2jh-4.4.0-values.yaml"


def shared_schema(name: str) -> Path:
    """A file of ../shared/schemas; the test fails, saying which file and where, if missing."""
    path = SCHEMAS / name
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the tests read the upstream schemas from ../shared/schemas "
            f"beside the repository (see the README there: {name} comes unchanged from its "
            "upstream release); they are never copied into the repository",
            pytrace=False,
        )
    return path


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text("utf-8"))


def value_files(environment: str) -> list[Path]:
    """The value files of an environment, in Argo CD's order (config/argocd/)."""
    config = REPO / "config"
    return [config / "unilim.yaml", config / "environments" / f"{environment}.yaml"]


def coalesce(base: Any, overlay: Any) -> Any:
    """Helm's merge of values: maps merge key by key, anything else is replaced, and a null
    in the overlay removes the key (how a values file unsets a default)."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return copy.deepcopy(overlay)
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def site_values(environment: str) -> dict[str, Any]:
    """The chart's values for an environment: values.yaml, then each value file."""
    values = load(CHART / "values.yaml")
    for path in value_files(environment):
        values = coalesce(values, load(path))
    return values


def subchart_values(environment: str) -> dict[str, Any]:
    """What Zero to JupyterHub receives: its own defaults under our `jupyterhub:` values."""
    defaults = load(shared_schema(Z2JH_DEFAULTS))
    return coalesce(defaults, site_values(environment)["jupyterhub"])
