"""The start page's progress through a real hub: the pod's own Kubernetes events, read from
UnilimSpawner's index of events by pod (unilim_hub/events.py), and only this start's."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from devenv import kube

from .hub import LIGHT_PODS, Hub, light_pod_hub
from .s3_clients import progress_messages

PORTS = (18550, 18551, 18591)
GATE = "unilim.fr/held-by-test"
# Each pod is created held back from scheduling (a scheduling gate, which only the test
# lifts): its start stays pending while the test posts events about it and reads the page.
EXTRA_CONFIG = f"""{LIGHT_PODS}
c.JupyterHub.tornado_settings.update({{"slow_spawn_timeout": 1}})
c.KubeSpawner.extra_pod_config = {{"schedulingGates": [{{"name": "{GATE}"}}]}}
"""


@pytest.fixture(scope="module")
def progress_hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with light_pod_hub(tmp_path_factory.mktemp("progress-hub"), PORTS, EXTRA_CONFIG) as hub:
        yield hub


class StartPage:
    """A user's start page: asks for the server, then follows its progress messages."""

    def __init__(self, hub: Hub, name: str) -> None:
        answer = hub.api("POST", f"/users/{name}/server", json={"profile": "python"})
        assert answer.status_code == 202, answer.text  # held back: still starting
        self.hub, self.name, self.messages = hub, name, list[str]()
        self.reader = threading.Thread(target=self._follow, daemon=True)
        self.reader.start()

    def _follow(self) -> None:
        for event in progress_messages(self.hub, self.name):
            self.messages.append(event.get("message", ""))

    def shows(self, text: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in message for message in self.messages):
                return True
            time.sleep(0.5)
        return False

    def release(self) -> None:
        """Lift the pod's scheduling gate: it starts, the page ends with "ready"."""
        kube.kubectl(
            *("-n", kube.USER_NAMESPACE, "patch", "pod", f"jupyter-{self.name}", "--type=json"),
            '-p=[{"op": "remove", "path": "/spec/schedulingGates"}]',
        )
        self.reader.join(timeout=120)
        self.hub.wait_ready(self.name)


def post_event(name: str, note: str) -> None:
    """An event about ``name``'s pod, as a controller would post it."""
    pod = json.loads(
        kube.kubectl("-n", kube.USER_NAMESPACE, "get", "pod", f"jupyter-{name}", "-o", "json")
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"jupyter-{name}.", "namespace": kube.USER_NAMESPACE},
        "involvedObject": {
            "kind": "Pod",
            "namespace": kube.USER_NAMESPACE,
            "name": f"jupyter-{name}",
            "uid": pod["metadata"]["uid"],
        },
        "reason": "Noted",
        "message": note,
        "type": "Normal",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "source": {"component": "unilim-test"},
    }
    kube.kubectl("create", "-f", "-", input=json.dumps(event))


def wait_for_pod(name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while kube.run_kubectl("-n", kube.USER_NAMESPACE, "get", "pod", f"jupyter-{name}").returncode:
        assert time.monotonic() < deadline, f"no pod for {name} after {timeout} s"
        time.sleep(0.5)


def test_the_start_page_shows_the_pods_own_events_and_only_this_starts(progress_hub: Hub):
    for name in ("prog1", "prog2"):
        progress_hub.add_user(name, ["student"])
    other, page = StartPage(progress_hub, "prog2"), StartPage(progress_hub, "prog1")
    for name in ("prog1", "prog2"):
        wait_for_pod(name)
        post_event(name, f"first note about {name}")
    assert page.shows("first note about prog1")
    assert other.shows("first note about prog2")
    assert not any("prog2" in message for message in page.messages)
    page.release()
    other.release()

    progress_hub.api("DELETE", "/users/prog1/server")
    progress_hub.wait_stopped("prog1")
    again = StartPage(progress_hub, "prog1")
    wait_for_pod("prog1")
    post_event("prog1", "second note about prog1")
    assert again.shows("second note about prog1")
    # The new pod has the same name: the previous pod's events are not shown again.
    assert not any("first note" in message for message in again.messages), again.messages
    again.release()
