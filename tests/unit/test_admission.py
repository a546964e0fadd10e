"""Admission: the pure decision, the ledger against a live view, and the creation queue."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from unilim_hub import admission, metrics
from unilim_hub.admission import Ledger
from unilim_hub.cluster import CHARGED_GROUP, PodIndex, charged_label, quantity
from unilim_hub.kubeapi import transient
from unilim_hub.podqueue import (
    ApiUnavailable,
    PodCreationQueue,
    Ticket,
    create_until,
    queue_progress,
)
from unilim_hub.policy.admission import (
    Admitted,
    Charge,
    Node,
    NoRoom,
    Usage,
    admit,
    charge,
    one_server,
    room_left,
)
from unilim_hub.policy.models import GroupNaming, GroupQuota

SMALL = one_server(200, 1024**3)


def test_quota_refusal_names_the_limit_and_the_usage():
    charged = Charge("student", GroupQuota("student", servers=100))
    assert admit(charged, Usage(99, 0, 0), SMALL) == Admitted("student")
    assert admit(charged, Usage(100, 0, 0), SMALL) == NoRoom("quota.servers", "student", 100, 100)


def test_pooled_cpu_and_memory_count_the_guarantees():
    charged = Charge("g", GroupQuota("g", cpu=1000, memory=4 * 1024**3))
    assert admit(charged, Usage(4, 800, 0), SMALL) == Admitted("g")
    assert admit(charged, Usage(5, 900, 0), SMALL) == NoRoom("quota.cpu", "g", 1000, 900)
    assert admit(charged, Usage(3, 0, 4 * 1024**3), SMALL).reason == "quota.memory"  # type: ignore[union-attr]


def test_a_course_profile_is_charged_to_its_course_else_the_highest_priority_group():
    naming = GroupNaming()
    baseline = {"student": GroupQuota("student", servers=900, priority=10)}
    assert charge("info101", ["student"], naming, baseline, {}) == Charge("course-info101")
    overrides = {"course-info101": {"servers": 150}}
    assert charge("info101", ["student"], naming, baseline, overrides) == Charge(
        "course-info101", GroupQuota("course-info101", servers=150)
    )
    assert charge(None, ["student", "course-info101"], naming, baseline, {}).group == "student"
    assert charge(None, ["alumni"], naming, baseline, {}) == Charge(None)


def test_a_full_cluster_is_refused_and_a_burst_cannot_overbook_the_last_slots():
    nodes = [Node("a", Usage(1, 4000, 8 * 1024**3)), Node("b", Usage(0, 56000, 1024**4))]
    assert admit(Charge(None), Usage(), SMALL, nodes) == Admitted(None)
    assert admit(Charge(None), Usage(), SMALL, nodes, unplaced=SMALL).reason == "capacity"  # type: ignore[union-attr]
    assert admit(Charge(None), Usage(), one_server(8000, 0), nodes).reason == "capacity"  # type: ignore[union-attr]
    assert admit(Charge(None), Usage(), SMALL, []).reason == "capacity"  # type: ignore[union-attr]
    assert admit(Charge(None), Usage(), SMALL, None) == Admitted(None)  # nodes not known yet


GIB = 1024**3


def test_a_start_that_exactly_reaches_each_limit_of_the_group_is_admitted():
    # One server more counts one place and exactly its guarantees: the last place, the
    # last millicore and the last byte of a group are given, one more is refused.
    charged = Charge("g", GroupQuota("g", servers=3, cpu=1000, memory=4 * GIB))
    usage = Usage(2, 800, 3 * GIB)
    assert admit(charged, usage, one_server(200, GIB)) == Admitted("g")
    assert admit(charged, usage, one_server(201, GIB)) == NoRoom("quota.cpu", "g", 1000, 800)
    assert admit(charged, usage, one_server(200, GIB + 1)) == NoRoom(
        "quota.memory", "g", 4 * GIB, 3 * GIB
    )
    assert admit(charged, Usage(3, 0, 0), one_server(0, 0)) == NoRoom("quota.servers", "g", 3, 3)


def test_a_node_short_of_any_one_resource_cannot_take_the_server():
    request = one_server(200, GIB)
    exactly = Usage(1, 200, GIB)
    assert admit(Charge(None), Usage(), request, [Node("a", exactly)]) == Admitted(None)
    for short in (Usage(0, 200, GIB), Usage(1, 199, GIB), Usage(1, 200, GIB - 1)):
        refused = admit(Charge(None), Usage(), request, [Node("a", short)])
        assert refused == NoRoom("capacity", None, 0, 0), short


def test_cpu_or_memory_promised_to_starts_not_yet_placed_is_not_given_twice():
    # Room on the node, but the starts in flight already hold all but this much of it.
    nodes = [Node("a", Usage(10, 1000, 8 * GIB))]
    request = one_server(200, GIB)
    fills_it = Usage(9, 800, 7 * GIB)
    assert admit(Charge(None), Usage(), request, nodes, fills_it) == Admitted(None)
    for promised in (Usage(0, 801, 0), Usage(0, 0, 7 * GIB + 1), Usage(10, 0, 0)):
        refused = admit(Charge(None), Usage(), request, nodes, promised)
        assert refused == NoRoom("capacity", None, 0, 0), promised


def test_a_full_cluster_refusal_names_the_group_the_start_was_charged_to():
    charged = Charge("student", GroupQuota("student", servers=100))
    full = [Node("a", Usage(0, 4000, 8 * GIB))]
    assert admit(charged, Usage(1, 0, 0), SMALL, full) == NoRoom("capacity", "student", 0, 0)


def test_a_start_outside_courses_counts_against_the_users_own_group_quota():
    naming = GroupNaming()
    student = GroupQuota("student", servers=2, priority=10)
    charged = charge(None, ["student", "course-info101"], naming, {"student": student}, {})
    assert charged == Charge("student", student)
    assert admit(charged, Usage(2, 0, 0), SMALL) == NoRoom("quota.servers", "student", 2, 2)


def test_a_course_limit_set_in_the_configuration_applies_without_a_group_property():
    naming = GroupNaming(course_prefix="cours-")
    course = GroupQuota("cours-info101", servers=150)
    charged = charge("info101", ["student"], naming, {"cours-info101": course}, {})
    assert charged == Charge("cours-info101", course)
    refused = NoRoom("quota.servers", "cours-info101", 150, 150)
    assert admit(charged, Usage(150, 0, 0), SMALL) == refused


def test_the_group_limits_are_reported_with_their_usage_and_only_those_set():
    usage = Usage(112, 22400, 112 * GIB)
    assert room_left(None, usage) == {}
    assert room_left(GroupQuota("course-info101", servers=150), usage) == {"servers": (112, 150)}
    pooled = GroupQuota("g", cpu=32000, memory=256 * GIB)
    assert room_left(pooled, usage) == {"cpu": (22400, 32000), "memory": (112 * GIB, 256 * GIB)}
    every = GroupQuota("g", servers=200, cpu=32000, memory=256 * GIB)
    assert list(room_left(every, usage)) == ["servers", "cpu", "memory"]


def test_kubernetes_quantities():
    assert quantity("500m", 1000) == 500
    assert quantity("2", 1000) == 2000
    assert quantity("4Gi") == 4 * 1024**3
    assert quantity("1e3") == 1000
    assert quantity("junk") == 0


def test_a_group_name_that_is_no_label_value_gets_a_stable_one():
    assert charged_label("course-info101") == "course-info101"
    assert charged_label("Équipe A") == charged_label("Équipe A") != "Équipe A"
    assert len(charged_label("x" * 100)) <= 63


class FakeView:
    """The cluster view as the ledger sees it: a pod index, no nodes."""

    def __init__(self) -> None:
        self.listeners: list[Any] = []
        self.index = PodIndex({}, self._changed)

    def _changed(self, key: str, live: bool) -> None:
        for listener in self.listeners:
            listener(key, live)

    def free_nodes(self) -> None:
        return None

    def unscheduled(self) -> Usage:
        return Usage()

    def watching(self) -> bool:
        return True


def pod(name: str, group: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {CHARGED_GROUP: group}},
        "spec": {
            "nodeName": "n1",
            "containers": [{"resources": {"requests": {"cpu": "200m", "memory": "1Gi"}}}],
        },
        "status": {"phase": phase},
    }


QUOTA = Charge("student", GroupQuota("student", servers=3))
KEYS = [f"ns/jupyter-{n}" for n in range(6)]
operations = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "seen", "gone", "release", "fail"]), st.sampled_from(KEYS)
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_the_ledger_never_exceeds_a_limit_and_counts_each_server_once(steps):
    view = FakeView()
    ledger = Ledger(view)  # type: ignore[arg-type]
    for operation, key in steps:
        if operation == "reserve":
            ledger.reserve(key, QUOTA, SMALL)
        elif operation == "seen" and key in ledger.reservations:
            view.index[key] = pod(key, "student")  # pods only exist for admitted servers
        elif operation == "gone":
            view.index.pop(key, None)
        elif operation == "fail" and key in view.index:
            view.index[key] = pod(key, "student", "Failed")
        elif operation == "release":
            ledger.release(key)
        servers = set(ledger.reservations) | set(view.index.entries)
        assert ledger.usage("student").servers == len(servers)  # none lost, none twice
        assert len(servers) <= 3


def test_a_restarted_hub_counts_the_pods_it_finds():
    view = FakeView()
    view.index["ns/a"] = pod("a", "student")
    view.index["ns/b"] = pod("b", "student")
    ledger = Ledger(view)  # type: ignore[arg-type]
    assert ledger.usage("student") == Usage(2, 400, 2 * 1024**3)
    # A server whose pod survived the restart starts again: it replaces its pod.
    assert isinstance(ledger.reserve("ns/b", QUOTA, SMALL)[0], Admitted)
    assert isinstance(ledger.reserve("ns/c", QUOTA, SMALL)[0], Admitted)
    assert ledger.reserve("ns/d", QUOTA, SMALL)[0] == NoRoom("quota.servers", "student", 3, 3)


def scraped_usage(group: str) -> dict[str, float]:
    """unilim_group_usage of `group` as /hub/metrics serves it, by resource."""
    text = generate_latest(REGISTRY).decode()
    return {
        sample.labels["resource"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "unilim_group_usage" and sample.labels["group"] == group
    }


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """The hub's only ledger, over a fake view; no group limit recorded before or after."""
    ledger = Ledger(FakeView())  # type: ignore[arg-type]
    monkeypatch.setattr(admission, "_ledgers", {0: ledger})
    metrics.GROUP_LIMIT.clear()
    yield ledger
    metrics.GROUP_LIMIT.clear()


def test_the_group_usage_metric_follows_the_cluster_not_the_last_start(ledger: Ledger):
    group = "Équipe A"  # no label value: its pods carry a digest, the metric its name
    view = ledger.view
    assert scraped_usage(group) == {}
    survivor = pod("a", charged_label(group))
    survivor["metadata"]["annotations"] = {CHARGED_GROUP: group}
    view.index["ns/a"] = survivor  # found after a hub restart, before any start
    assert scraped_usage(group) == {"servers": 1, "cpu": 0.2, "memory": 1024**3}
    charged = Charge(group, GroupQuota(group, servers=5))
    ledger.reserve("ns/b", charged, SMALL)
    admission._record(charged, ledger.usage(group))
    assert scraped_usage(group)["servers"] == 2  # the start in flight counts
    view.index.pop("ns/a")
    ledger.release("ns/b")
    assert scraped_usage(group) == {"servers": 0, "cpu": 0, "memory": 0}


def test_the_group_usage_metric_is_absent_while_the_cluster_is_not_watched(ledger, monkeypatch):
    charged = Charge("student", GroupQuota("student", servers=5))
    ledger.view.index["ns/a"] = pod("a", "student")  # made by an older hub: no annotation
    admission._record(charged, ledger.usage("student"))
    assert scraped_usage("student")["servers"] == 1  # named by its label
    monkeypatch.setattr(ledger.view, "watching", lambda: False)  # the API server away
    assert scraped_usage("student") == {}  # not a false 0


async def test_the_queue_serves_in_arrival_order_with_a_bounded_number_in_flight():
    queue = PodCreationQueue(2)
    order: list[int] = []
    in_flight = most = 0
    tickets = [Ticket(queue) for _ in range(6)]

    async def create(n: int) -> None:
        nonlocal in_flight, most
        async with queue.slot(tickets[n]):
            in_flight += 1
            most = max(most, in_flight)
            order.append(n)
            await asyncio.sleep(0.01)
            in_flight -= 1

    tasks = [asyncio.create_task(create(n)) for n in range(6)]
    await asyncio.sleep(0)
    assert [t.position() for t in tickets] == [0, 0, 1, 2, 3, 4]
    await asyncio.gather(*tasks)
    assert order == list(range(6))
    assert most == 2
    assert queue.in_flight == 0


async def test_a_start_cancelled_while_waiting_leaves_the_queue():
    queue = PodCreationQueue(1)
    first, second, third = Ticket(queue), Ticket(queue), Ticket(queue)
    release = asyncio.Event()

    async def hold(ticket: Ticket) -> None:
        async with queue.slot(ticket):
            await release.wait()

    holder = asyncio.create_task(hold(first))
    waiting = asyncio.create_task(hold(second))
    behind = asyncio.create_task(hold(third))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.sleep(0)
    assert third.position() == 1
    release.set()
    await asyncio.gather(holder, behind)
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert queue.in_flight == 0


async def test_transient_api_failures_are_retried_until_the_pod_is_created():
    queue = PodCreationQueue(1)
    failures = [ApiException(status=429), ApiException(status=503), aiohttp.ClientConnectionError()]
    tries = 0

    async def attempt() -> bool:
        nonlocal tries
        tries += 1
        if failures:
            raise failures.pop(0)
        return True

    async def not_there() -> bool:
        return False

    deadline = time.monotonic() + 30
    assert await create_until(queue, Ticket(queue), attempt, not_there, deadline)
    assert tries == 4


async def test_a_pod_created_by_a_timed_out_try_is_kept_not_made_again():
    queue = PodCreationQueue(1)
    attempts = 0

    async def attempt() -> bool:
        nonlocal attempts
        attempts += 1
        return False  # timed out on the hub's side

    async def there() -> bool:
        return True

    assert await create_until(queue, Ticket(queue), attempt, there, time.monotonic() + 30)
    assert attempts == 1


async def test_an_api_server_away_past_the_deadline_ends_the_start_cleanly():
    queue = PodCreationQueue(1)

    async def attempt() -> bool:
        raise ApiException(status=500)

    async def not_there() -> bool:
        return False

    with pytest.raises(ApiUnavailable):
        await create_until(queue, Ticket(queue), attempt, not_there, time.monotonic() + 1)
    assert queue.in_flight == 0


async def test_a_refused_creation_is_not_retried():
    queue = PodCreationQueue(1)

    async def attempt() -> bool:
        raise ApiException(status=403)

    async def not_there() -> bool:
        return False

    with pytest.raises(ApiException):
        await create_until(queue, Ticket(queue), attempt, not_there, time.monotonic() + 30)


async def test_a_waiting_start_shows_its_place_in_the_queue_in_the_users_language():
    queue = PodCreationQueue(1)

    class Starting:
        _starting = asyncio.get_running_loop().create_future()
        _ticket = Ticket(queue)

        def language(self) -> str:
            return "fr"

    spawner = Starting()
    holder = asyncio.create_task(_hold(queue, Ticket(queue)))
    waiting = asyncio.create_task(_hold(queue, spawner._ticket))
    await asyncio.sleep(0)
    events = queue_progress(spawner)
    first = await anext(events)
    assert first["message"].endswith("(position 1 dans la file).")
    holder.cancel()
    await asyncio.sleep(0)
    assert spawner._ticket.position() == 0  # its turn came
    spawner._ticket.done = True
    waiting.cancel()
    await asyncio.gather(holder, waiting, return_exceptions=True)
    assert [event async for event in events] == []


async def _hold(queue: PodCreationQueue, ticket: Ticket) -> None:
    async with queue.slot(ticket):
        await asyncio.sleep(3600)


def test_an_api_server_that_just_restarted_is_waited_for_a_pod_it_refuses_is_not():
    rbac = ApiException(status=403)
    rbac.body = 'pods is forbidden: User "system:serviceaccount:u:hub" cannot create resource'
    assert transient(rbac)
    assert transient(ApiException(status=401))
    assert transient(ApiException(status=504))
    psa = ApiException(status=403)
    psa.body = 'pods "x" is forbidden: violates PodSecurity "restricted:latest"'
    assert not transient(psa)
    assert not transient(ApiException(status=422))


async def test_polls_start_the_view_in_the_background_one_attempt_at_a_time(monkeypatch):
    listed = asyncio.Event()
    attempts: list[object] = []

    async def first_list(spawner: object) -> None:  # the view's first list, slow
        attempts.append(spawner)
        await listed.wait()

    monkeypatch.setattr(admission, "watched_view", first_list)
    monkeypatch.setattr(admission, "current_view", lambda scope: None)
    spawner = SimpleNamespace(cluster_pods_scope="namespace", namespace="ns")
    admission.watch_soon(spawner)  # returns at once: a poll never waits for the list
    admission.watch_soon(spawner)
    await asyncio.sleep(0)
    assert len(attempts) == 1
    listed.set()
    while admission._background:
        await asyncio.sleep(0)
    admission.watch_soon(spawner)  # still not watching (the list failed): tried again
    await asyncio.sleep(0)
    assert len(attempts) == 2
    listed.set()
    while admission._background:
        await asyncio.sleep(0)
