"""Fixtures of the unit tests, and a lighter hypothesis profile for mutation testing."""

from __future__ import annotations

import os

import kubespawner.spawner
import pytest
from hypothesis import settings


@pytest.fixture
def kubespawner_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets a test create KubeSpawner objects (``_mock=True``): no Kubernetes client is built."""
    monkeypatch.setattr(kubespawner.spawner, "load_config", lambda **_: None)
    monkeypatch.setattr(kubespawner.spawner, "shared_client", lambda *_: None)


# `./dev mutate` runs the property tests once per mutant: fewer examples keep the run in
# minutes; a mutant they would catch only on a rare example counts as surviving.
settings.register_profile("mutate", max_examples=20, deadline=None)
if os.environ.get("UNILIM_MUTATE"):
    settings.load_profile("mutate")
    # Loading the settings imports the spawner and authenticator (JupyterHub, KubeSpawner:
    # seconds). Imported once here, before mutmut forks a process per mutant.
    import unilim_hub.authenticator
    import unilim_hub.spawner  # noqa: F401
