"""The start page's progress through a real hub: the pod's own Kubernetes events, read from
UnilimSpawner's index of events by pod (unilim_hub/events.py), and only this start's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .hub import LIGHT_PODS, Hub, light_pod_hub
from .s3_clients import progress_messages

PORTS = (18550, 18551, 18591)
# The start request answers after 1 s (202), so the progress is read while the pod starts.
EXTRA_CONFIG = f"""{LIGHT_PODS}
c.JupyterHub.tornado_settings.update({{"slow_spawn_timeout": 1}})
"""


@pytest.fixture(scope="module")
def progress_hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with light_pod_hub(tmp_path_factory.mktemp("progress-hub"), PORTS, EXTRA_CONFIG) as hub:
        yield hub


def scheduled_messages(hub: Hub, name: str) -> list[str]:
    """The scheduler's events the start page showed for ``name``'s start."""
    answer = hub.api("POST", f"/users/{name}/server", json={"profile": "python"})
    assert answer.status_code == 202, answer.text  # still starting: the page follows it
    messages = [event.get("message", "") for event in progress_messages(hub, name)]
    hub.wait_ready(name)
    return [m for m in messages if f"Successfully assigned jupyterhub/jupyter-{name}" in m]


def test_the_start_page_shows_the_pods_own_events_and_only_this_starts(progress_hub: Hub):
    progress_hub.add_user("prog1", ["student"])
    progress_hub.add_user("prog2", ["student"])
    assert len(scheduled_messages(progress_hub, "prog2")) == 1  # another user's pod first
    assert len(scheduled_messages(progress_hub, "prog1")) == 1
    progress_hub.api("DELETE", "/users/prog1/server")
    progress_hub.wait_stopped("prog1")
    # The new pod has the same name: the previous pod's events are not shown again.
    assert len(scheduled_messages(progress_hub, "prog1")) == 1
