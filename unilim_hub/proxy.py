"""The hub's client of configurable-http-proxy, patient during a class start.

JupyterHub adds a ready server's route at the proxy's API with requests that time out
after 10 s, tried again for 30 s (both fixed in ``jupyterhub/proxy.py``); when they run
out, it stops the server "to avoid inconsistent state" and the start fails. In a class
start the hub's event loop can stay busy longer than that (up to 16 s at a time with
1,000 starts in the same second, docs/operators/performance.md): a ready server was lost
to the hub's own load. UnilimProxy keeps trying for ``route_timeout`` seconds.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.proxy import ConfigurableHTTPProxy
from jupyterhub.utils import exponential_backoff
from traitlets import Float


class UnilimProxy(ConfigurableHTTPProxy):  # type: ignore[misc]  # upstream is untyped
    """ConfigurableHTTPProxy whose route additions outlast a busy minute."""

    route_timeout = Float(
        120.0,
        config=True,
        help="Seconds a server's route is tried at the proxy's API before its start fails "
        "(JupyterHub alone: 30). A proxy that is really down is found out this much later.",
    )

    async def add_route(self, routespec: str, target: str, data: dict[str, Any]) -> None:
        add = super().add_route

        async def added() -> bool:
            try:
                await add(routespec, target, data)
            except TimeoutError:  # JupyterHub's own 30 s of tries ran out
                self.log.warning("The proxy did not take the route %s yet: trying again", routespec)
                return False
            return True

        await exponential_backoff(
            added,
            f"The proxy did not take the route {routespec} in {self.route_timeout:g} s",
            timeout=self.route_timeout,
        )
