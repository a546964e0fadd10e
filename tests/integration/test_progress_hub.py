"""A start followed as a person sees it, through a real hub: the start page's progress shows
the pod's own Kubernetes events, read from UnilimSpawner's index of events by pod
(unilim_hub/events.py), and only this start's; a server ready while the proxy cannot answer
still becomes the user's (unilim_hub/proxy.py)."""

from __future__ import annotations

import json
import os
import signal
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
        lift_gate(self.name)
        self.reader.join(timeout=120)
        self.hub.wait_ready(self.name)


def lift_gate(name: str) -> None:
    kube.kubectl(
        *("-n", kube.USER_NAMESPACE, "patch", "pod", f"jupyter-{name}", "--type=json"),
        '-p=[{"op": "remove", "path": "/spec/schedulingGates"}]',
    )


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


def test_a_server_ready_while_the_proxy_does_not_answer_for_45_s_is_kept(progress_hub: Hub):
    # What a class start did to the hub's event loop (docs/operators/performance.md): its
    # requests to the proxy's API got no answer in time. JupyterHub alone gives up on the
    # route after 30 s and stops the server; UnilimProxy keeps trying.
    progress_hub.add_user("prog3", ["student"])
    answer = progress_hub.api("POST", "/users/prog3/server", json={"profile": "python"})
    assert answer.status_code == 202, answer.text
    wait_for_pod("prog3")
    proxy = int((progress_hub.workdir / "jupyterhub-proxy.pid").read_text())
    os.kill(proxy, signal.SIGSTOP)
    try:
        lift_gate("prog3")  # the server is ready in seconds; its route waits on the proxy
        time.sleep(45)
    finally:
        os.kill(proxy, signal.SIGCONT)
    progress_hub.wait_ready("prog3", timeout=150)
    assert progress_hub.api("GET", "/users/prog3").json()["servers"][""]["ready"]
