"""The pod-creation queue, shared by every spawner of the hub.

It bounds the pod creations in flight toward the API server (a class start would
otherwise time them all out) and serves the waiting starts first come, first served;
each waiting start shows its place on the spawn page. Transient API failures are retried
until the start's deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from . import metrics
from .i18n import translate
from .kubeapi import Backoff, transient

log = logging.getLogger("unilim_hub.podqueue")


class Ticket:
    """One start's place in the queue."""

    def __init__(self, queue: PodCreationQueue) -> None:
        self.queue = queue
        self.waiting = False
        self.done = False

    def position(self) -> int:
        """1 for the next one served; 0 when not waiting."""
        try:
            return self.queue.waiters.index(self) + 1 if self.waiting else 0
        except ValueError:
            return 0


class PodCreationQueue:
    """At most ``concurrency`` pod creations in flight; the others wait in arrival order."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.in_flight = 0
        self.waiters: deque[Ticket] = deque()
        self.futures: dict[Ticket, asyncio.Future[None]] = {}

    @asynccontextmanager
    async def slot(self, ticket: Ticket) -> AsyncIterator[None]:
        if self.in_flight < self.concurrency and not self.waiters:
            self.in_flight += 1
        else:
            await self._wait(ticket)
        try:
            yield
        finally:
            self._hand_over()

    async def _wait(self, ticket: Ticket) -> None:
        future = asyncio.get_running_loop().create_future()
        self.waiters.append(ticket)
        self.futures[ticket] = future
        ticket.waiting = True
        began = time.monotonic()
        metrics.QUEUE_LENGTH.set(len(self.waiters))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._hand_over()  # handed a slot while being cancelled: pass it on
            else:
                self._forget(ticket)
            raise
        finally:
            ticket.waiting = False
            self.futures.pop(ticket, None)
            metrics.QUEUE_WAIT.observe(time.monotonic() - began)

    def _forget(self, ticket: Ticket) -> None:
        if ticket in self.waiters:
            self.waiters.remove(ticket)
        metrics.QUEUE_LENGTH.set(len(self.waiters))

    def _hand_over(self) -> None:
        """A slot is free: give it to the longest waiting start, or free it."""
        while self.waiters:
            future = self.futures.get(self.waiters.popleft())
            metrics.QUEUE_LENGTH.set(len(self.waiters))
            if future is not None and not future.done():
                future.set_result(None)
                return
        self.in_flight -= 1


_queues: dict[int, PodCreationQueue] = {}


def shared_queue(concurrency: int) -> PodCreationQueue:
    loop = id(asyncio.get_running_loop())
    queue = _queues.get(loop)
    if queue is None:
        queue = _queues[loop] = PodCreationQueue(concurrency)
    queue.concurrency = concurrency
    return queue


class ApiUnavailable(Exception):
    """The API server did not take the pod before the start's deadline."""


async def create_until(
    queue: PodCreationQueue,
    ticket: Ticket,
    attempt: Callable[[], Awaitable[bool]],
    already_created: Callable[[], Awaitable[bool]],
    deadline: float,
) -> bool:
    """Create the pod through the queue, retrying transient failures until ``deadline``
    (``time.monotonic()``); raises :class:`ApiUnavailable` after it."""
    backoff = Backoff(deadline)
    tries = 0
    while True:
        async with queue.slot(ticket):
            try:
                # After a try that may have reached the API server, the pod may exist.
                created = bool(tries) and await already_created()
                created = created or await attempt()
            except Exception as error:
                if not transient(error):
                    raise
                log.warning("Creating a pod failed (%s), will retry", error)
                metrics.API_RETRIES.inc()
                created = False
        tries += 1
        if created:
            ticket.done = True
            return True
        if backoff.expired():
            ticket.done = True
            raise ApiUnavailable()
        await backoff.wait()


async def queue_progress(spawner: Any) -> AsyncIterator[dict[str, Any]]:
    """ "Waiting for a slot, position N" while the start waits in the queue."""
    shown = 0
    while spawner._starting is not None and not spawner._starting.done():
        ticket: Ticket | None = spawner._ticket
        if ticket is not None and ticket.done:
            return
        position = ticket.position() if ticket is not None else 0
        if position and position != shown:
            shown = position
            message = translate("spawn.waiting_slot", spawner.language(), position=position)
            yield {"progress": 5, "message": message}
        await asyncio.sleep(1)
