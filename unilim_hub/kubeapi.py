"""How the hub meets a failing Kubernetes API server, in one place.

Every call the hub makes to the API server can fail in two ways: the server answers with
an error (:class:`ApiException`), or it does not answer at all (connection refused or
reset, a timeout: aiohttp and OS errors). A caller that catches only the first turns an
API server restart into a traceback page, so callers catch :data:`FAILURES`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger("unilim_hub.kubeapi")

# Everything a call to the API server raises when the call, not our code, failed.
FAILURES = (ApiException, aiohttp.ClientError, OSError, TimeoutError)

T = TypeVar("T")


def transient(error: BaseException) -> bool:
    """A failure worth retrying: the API server overloaded, restarting or unreachable.

    Right after it starts, the API server refuses the hub's requests (401, or 403 "User
    ... cannot ...") until it has loaded tokens and RBAC: retried too. Other refusals
    (a pod that violates Pod Security, a ResourceQuota) are the server's own failure.
    """
    if isinstance(error, ApiException):
        status = error.status or 0
        not_yet_authorized = status == 401 or (status == 403 and " cannot " in str(error.body))
        return status == 429 or status >= 500 or not_yet_authorized
    return isinstance(error, aiohttp.ClientError | ConnectionError | TimeoutError | OSError)


class Backoff:
    """The waits between tries of a call to the API server, until a deadline
    (``time.monotonic()``): 0.5 s doubling to 8 s, jittered, so that calls that failed
    together (an API server restart) do not all try again at the same instant."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.delay = 0.5

    def expired(self) -> bool:
        """The next wait would end after the deadline: give up now."""
        return time.monotonic() + self.delay > self.deadline

    async def wait(self) -> None:
        await asyncio.sleep(self.delay * random.uniform(0.5, 1.5))
        self.delay = min(self.delay * 2, 8)


async def retrying(call: Callable[[], Awaitable[T]], seconds: float, what: str) -> T:
    """``call()``, tried again after transient failures for up to ``seconds`` (see
    :class:`Backoff`). Raises the last failure, or at once a failure that is not
    transient. ``what`` names the call in the log."""
    backoff = Backoff(time.monotonic() + seconds)
    while True:
        try:
            return await call()
        except FAILURES as error:
            if not transient(error) or backoff.expired():
                raise
            log.warning("%s failed (%s), will retry", what, error)
        await backoff.wait()
