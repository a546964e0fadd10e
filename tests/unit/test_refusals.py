"""The hub's latest refused starts: bounded, newest first, served only with their scope."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from tornado import web

from unilim_hub import refusals


def test_the_latest_refusals_are_bounded_and_the_newest_comes_first(monkeypatch) -> None:
    monkeypatch.setattr(refusals, "_latest", refusals.deque(maxlen=3))
    before = (
        REGISTRY.get_sample_value("unilim_spawn_refusals_total", {"reason": "quota.servers"}) or 0
    )
    for n in range(5):
        refusals.count(f"user{n}", "quota.servers", f"message {n}")
    assert [item.user for item in refusals.latest()] == ["user4", "user3", "user2"]
    after = REGISTRY.get_sample_value("unilim_spawn_refusals_total", {"reason": "quota.servers"})
    assert after == before + 5  # every refusal is counted, kept or not
    entry = refusals.latest()[0].as_json()
    assert entry["at"].endswith("+00:00") and entry["message"] == "message 4"


def _handler(scopes: dict[str, object]) -> SimpleNamespace:
    written: list[str] = []
    handler = SimpleNamespace(
        parsed_scopes=scopes, set_header=lambda *args: None, finish=written.append
    )
    handler.written = written
    return handler


def test_the_hub_serves_them_only_with_their_scope() -> None:
    with pytest.raises(web.HTTPError) as refused:
        refusals.LatestRefusalsHandler.get(_handler({"read:metrics": set()}))
    assert refused.value.status_code == 403
    allowed = _handler({refusals.REFUSALS_SCOPE: set()})
    refusals.LatestRefusalsHandler.get(allowed)
    assert '"limit": 100' in allowed.written[0]
