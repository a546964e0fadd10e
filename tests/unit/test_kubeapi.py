"""Calls to a failing API server: which failures are retried, how long apart, until when."""

from __future__ import annotations

import time

import aiohttp
import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from unilim_hub import kubeapi
from unilim_hub.kubeapi import Backoff, retrying


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits of the backoff, taken at once instead of slept."""
    waited: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(kubeapi.asyncio, "sleep", no_sleep)
    return waited


async def test_waits_double_from_half_a_second_to_eight_each_jittered(waits) -> None:
    backoff = Backoff(time.monotonic() + 3600)
    for _ in range(7):
        await backoff.wait()
    for waited, delay in zip(waits, [0.5, 1, 2, 4, 8, 8, 8], strict=True):
        assert delay * 0.5 <= waited <= delay * 1.5


def test_no_wait_is_begun_that_would_end_after_the_deadline() -> None:
    assert not Backoff(time.monotonic() + 1).expired()
    assert Backoff(time.monotonic() + 0.4).expired()


async def test_a_call_is_tried_again_after_transient_failures(waits) -> None:
    failures = [ApiException(status=503), aiohttp.ClientConnectionError()]

    async def call() -> str:
        if failures:
            raise failures.pop(0)
        return "created"

    assert await retrying(call, 30, "Creating a thing") == "created"
    assert len(waits) == 2


async def test_a_refusal_is_raised_at_once(waits) -> None:
    async def call() -> str:
        raise ApiException(status=422)

    with pytest.raises(ApiException):
        await retrying(call, 30, "Creating a thing")
    assert waits == []


async def test_the_last_failure_is_raised_once_the_time_is_up(waits) -> None:
    tries = 0

    async def call() -> str:
        nonlocal tries
        tries += 1
        raise ApiException(status=500 + tries)

    with pytest.raises(ApiException) as raised:
        await retrying(call, 1.6, "Creating a thing")  # waits of 0.5 and 1 s fit, not 2 s
    assert (tries, raised.value.status) == (3, 503)
