"""Fixtures of the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio.config import kube_config

# KubeSpawner loads a client configuration when created. This one is never used (a unit
# test makes no request) and points at a closed loopback port.
KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


@pytest.fixture
def kubespawner_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lets a test create KubeSpawner objects (``_mock=True``, in an async test)."""
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    # Read at import time by kubernetes_asyncio, so the variable alone is too late.
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "kubeconfig"))
