"""How the hub starts the course service: what it is given, from the devenv and the chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from traitlets.config import Config

from unilim_hub.courses import BIND_VARIABLE, SETTINGS_VARIABLE
from unilim_hub.courses.launch import add_course_service

CHART_VALUES = Path(__file__).parents[2] / "helm" / "unilim-hub" / "values.yaml"


def _configured(c: Config) -> dict[str, Any]:
    # The config appends to the hub's list: a lazy value until JupyterHub applies it.
    [service] = c.JupyterHub.services.get_value([])
    return dict(service)


def test_the_hubs_s3_keys_never_reach_the_course_service() -> None:
    c = Config()
    c.UnilimSpawner.s3_access_key = "hub-access-key-xyz"
    c.UnilimSpawner.s3_secret_key = "hub-secret-key-xyz"
    add_course_service(c, url="http://127.0.0.1:10101", state_dir="/tmp/courses")
    environment = _configured(c)["environment"]
    passed = json.dumps(environment)
    assert "hub-secret-key-xyz" not in passed and "hub-access-key-xyz" not in passed
    settings = json.loads(environment[SETTINGS_VARIABLE])
    assert "UnilimSpawner.s3_endpoint" in settings  # the other settings still travel


def test_in_the_charts_hub_pod_the_service_listens_on_every_address() -> None:
    """The chart names the service by the hub's Service (no address of the pod itself):
    it must listen on 0.0.0.0, or it cannot bind at all."""
    values = yaml.safe_load(CHART_VALUES.read_text())
    snippet = values["jupyterhub"]["hub"]["extraConfig"]["zz-unilim-course-service"]
    c = Config()
    exec(compile(snippet, "chart extraConfig", "exec"), {"c": c})  # as z2jh runs it
    service = _configured(c)
    assert urlparse(str(service["url"])).hostname == "hub"
    assert service["environment"][BIND_VARIABLE] == "0.0.0.0"


def test_on_the_local_platform_it_listens_where_its_url_says() -> None:
    c = Config()
    add_course_service(c, url="http://127.0.0.1:10101", state_dir="/tmp/courses")
    assert BIND_VARIABLE not in _configured(c)["environment"]
