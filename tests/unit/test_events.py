"""The pod events a start shows: KubeSpawner's order and rule, read from an index by pod."""

from __future__ import annotations

from typing import Any

from unilim_hub.events import EventIndex, IndexedEventReflector, since


def event(uid: str, pod: str, at: str, namespace: str = "users", **times: Any) -> dict[str, Any]:
    return {
        "metadata": {"uid": uid, "namespace": namespace, "name": f"{pod}.{uid}"},
        "involvedObject": {"kind": "Pod", "namespace": namespace, "name": pod},
        "lastTimestamp": at,
        "eventTime": None,
        "message": f"{uid} on {pod}",
        **times,
    }


def uids(events: list[dict[str, Any]]) -> list[str]:
    return [e["metadata"]["uid"] for e in events]


def test_a_pods_events_are_its_own_oldest_first():
    index = EventIndex(
        {
            "a2": event("a2", "jupyter-ana", "2026-12-01T08:00:02Z"),
            "b1": event("b1", "jupyter-bob", "2026-12-01T08:00:00Z"),
            "a1": event("a1", "jupyter-ana", "2026-12-01T08:00:01Z"),
            "x1": event("x1", "jupyter-ana", "2026-12-01T08:00:00Z", namespace="other"),
        }
    )
    assert uids(index.of_pod("users", "jupyter-ana")) == ["a1", "a2"]
    assert uids(index.of_pod("users", "jupyter-bob")) == ["b1"]
    assert uids(index.of_pod("other", "jupyter-ana")) == ["x1"]
    assert index.of_pod("users", "jupyter-eve") == []


def test_an_event_with_only_an_event_time_sorts_among_the_others():
    late = event("a3", "jupyter-ana", None, eventTime="2026-12-01T08:00:03.500000Z")
    index = EventIndex({"a3": late, "a1": event("a1", "jupyter-ana", "2026-12-01T08:00:01Z")})
    assert uids(index.of_pod("users", "jupyter-ana")) == ["a1", "a3"]


def test_the_index_follows_the_watch():
    index = EventIndex({})
    index["a1"] = event("a1", "jupyter-ana", "2026-12-01T08:00:01Z")
    index["a2"] = event("a2", "jupyter-ana", "2026-12-01T08:00:02Z")
    # The same event seen again (its count grew): kept once, with its new time.
    index["a1"] = event("a1", "jupyter-ana", "2026-12-01T08:00:05Z")
    assert uids(index.of_pod("users", "jupyter-ana")) == ["a2", "a1"]
    index.pop("a2")
    index.pop("a2")  # deleted twice (a watch replays): no error
    assert uids(index.of_pod("users", "jupyter-ana")) == ["a1"]
    index.pop("a1")
    assert index.of_pod("users", "jupyter-ana") == [] and index.by_pod == {} and not index


def test_the_reflectors_resources_are_always_an_index():
    reflector = IndexedEventReflector.__new__(IndexedEventReflector)
    assert reflector.of_pod("users", "jupyter-ana") == []  # before the first list
    # After each full list KubeSpawner assigns a plain dict: it becomes an index.
    reflector.resources = {"a1": event("a1", "jupyter-ana", "2026-12-01T08:00:01Z")}
    assert isinstance(reflector.resources, EventIndex)
    assert uids(reflector.of_pod("users", "jupyter-ana")) == ["a1"]


def test_a_start_shows_only_the_events_after_the_last_one_seen_before_it():
    events = [event(u, "jupyter-ana", f"2026-12-01T08:00:0{n}Z") for n, u in enumerate("abcd")]
    assert uids(since(events, "b")) == ["c", "d"]
    assert uids(since(events, "d")) == []
    assert uids(since(events, None)) == ["a", "b", "c", "d"]
    assert uids(since(events, "gone")) == ["a", "b", "c", "d"]  # expired: all are new
