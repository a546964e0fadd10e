"""The shape every devenv part has: install (cached), start, stop, health, status."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from devenv import procs


def say(message: str) -> None:
    """Progress for humans, on stderr so that stdout stays parseable."""
    print(f"[devenv] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    """Print what is happening and how long it took (builds take minutes)."""
    say(f"{what} ...")
    began = time.monotonic()
    yield
    say(f"{what}: done in {time.monotonic() - began:.1f} s")


class Component:
    """One process of the devenv. Subclasses set `name` and implement the hooks."""

    name: str = ""

    def install(self) -> None:
        """Make the binaries/files available under CACHE. Idempotent."""

    def start(self) -> None:
        """Start the process if it is not already healthy. Idempotent."""
        if self.healthy():
            return
        self.install()
        # A process of ours that is alive but unhealthy is stale: replace it.
        self.stop()
        self.launch()

    def launch(self) -> None:
        """Start the process and wait until healthy (procs.start + procs.wait_ready)."""
        raise NotImplementedError

    def stop(self) -> None:
        procs.stop(self.name)

    def healthy(self) -> bool:
        raise NotImplementedError

    def pid(self) -> int | None:
        return procs.pid(self.name)

    def describe(self) -> str:
        """One status line: name, state, pid (subclasses add version and URL)."""
        state = "up" if self.healthy() else "down"
        return f"{self.name:<24} {state:<5} pid={self.pid() or '-'}"
