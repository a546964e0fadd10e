"""A real JupyterHub with UnilimSpawner, on the local platform, for integration tests.

Users log in with JupyterHub's DummyAuthenticator (``Hub(workdir)``), or through the
devenv's Keycloak with UnilimAuthenticator (``Hub(workdir, authenticator="sso")``, on its
own ports so that both hubs can run at once); a service token with the admin role drives
the REST API as an admin would.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import requests

from devenv import keycloak, kube, postgres, proxy

HOST = "127.0.0.1"
# Not the demo's ports, so the tests can run while the demo does.
PORTS = {"dummy": (18000, 18001, 18081), "sso": (18100, 18101, 18181)}
# Seconds after which the SSO test hub asks Keycloak again for a user's groups and roles.
SSO_REFRESH_AGE = 3
REPO = Path(__file__).parents[2]
# The local platform's hub configuration, shared with the demo.
CONFIG = REPO / "devenv" / "jupyterhub_config.py"

# Light pods (the pod runner's tiny responder): hundreds of servers stay cheap.
LIGHT_PODS = """
c.KubeSpawner.extra_labels = {"unilim.fr/podrunner": "light"}
c.UnilimSpawner.s3_mode = "off"  # light pods use no S3 (test_s3_hub.py tests it)
c.JupyterHub.cleanup_servers = False  # as z2jh: a hub restart leaves servers running
"""
LIGHT_POD_SELECTOR = "unilim.fr/podrunner=light"

# The message of JupyterHub's error page (templates/error.html).
_ERROR_MESSAGE = re.compile(r'<div class="error">.*?<p>(.*?)</p>', re.DOTALL)
# Keycloak's login form (the `kc-form-login` form of its login page).
_LOGIN_FORM = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"')


def error_message(page: requests.Response) -> str:
    """The message a person reads on the hub's error page ("" when there is none)."""
    # The page declares UTF-8 in <meta charset>, as browsers read it, not in its headers.
    found = _ERROR_MESSAGE.search(page.content.decode("utf-8"))
    return html.unescape(found.group(1)).strip() if found else ""


class SsoLogin(NamedTuple):
    session: requests.Session
    page: requests.Response  # the last page the browser shows
    authorize_url: str  # where the hub sent the browser at Keycloak ("" if it did not)


def sso_login(
    url: str, name: str, password: str = keycloak.DEMO_PASSWORD, language: str = "en"
) -> SsoLogin:
    """Log in to the hub at ``url`` as a browser does: the hub sends to Keycloak, the form
    is posted, Keycloak sends back to the hub with a code."""
    session = requests.Session()
    session.headers["Accept-Language"] = language
    page = session.get(f"{url}/hub/oauth_login", timeout=30)
    authorize_url = page.history[0].headers["Location"] if page.history else ""
    form = _LOGIN_FORM.search(page.text)
    if form is None:  # no Keycloak login page: the hub's answer is the outcome
        return SsoLogin(session, page, authorize_url)
    # Keycloak's cookies are Secure; browsers send them to http://127.0.0.1 (a secure
    # context), requests does not unless told.
    for cookie in session.cookies:
        cookie.secure = False
    response = session.post(
        html.unescape(form.group(1)),
        data={"username": name, "password": password, "credentialId": ""},
        timeout=30,
    )
    return SsoLogin(session, response, authorize_url)


class Hub:
    """A JupyterHub process; ``api()`` calls its REST API with an admin token."""

    def __init__(
        self,
        workdir: Path,
        authenticator: str = "dummy",
        refresh_age: int = 300,
        ports: tuple[int, int, int] | None = None,
    ) -> None:
        self.workdir = workdir
        self.authenticator = authenticator
        self.refresh_age = refresh_age
        self.ports = ports or PORTS[authenticator]  # public, proxy API, hub
        self.token = secrets.token_hex(16)
        self.crypt_key = secrets.token_hex(32)  # kept across restarts: auth_state survives
        self.url = f"http://{HOST}:{self.ports[0]}"
        self.log_path = workdir / "jupyterhub.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, extra_config: str = "", timeout: float = 60) -> None:
        """Start the hub; ``extra_config`` is configuration loaded after the shared one.
        Waits up to ``timeout`` seconds for its API to answer."""
        proxy.install()
        extra = self.workdir / "extra_config.py"
        extra.write_text(extra_config)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "UNILIM_HUB_STATE": str(self.workdir),
            "UNILIM_HUB_DB_URL": postgres.hub_database(self.workdir),
            "UNILIM_HUB_PORTS": ",".join(map(str, self.ports)),
            "UNILIM_HUB_AUTHENTICATOR": self.authenticator,
            "UNILIM_HUB_LANGUAGE": "en",
            "UNILIM_HUB_REFRESH_AGE": str(self.refresh_age),
            "UNILIM_HUB_SERVICE_TOKEN": self.token,
            "UNILIM_HUB_EXTRA_CONFIG": str(extra),
            # The hub talks to Kubernetes as its own service account, with the chart's RBAC.
            "KUBECONFIG": str(kube.HUB_KUBECONFIG),
            # auth_state (the SSO tokens) is encrypted with this key, kept across restarts.
            "JUPYTERHUB_CRYPT_KEY": self.crypt_key,
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"JupyterHub exited; see {self.log_path}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/hub/api", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"JupyterHub not ready after {timeout}s; see {self.log_path}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the hub, and its proxy even if the hub died without stopping it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        # JupyterHub starts configurable-http-proxy in a session of its own.
        proxy_pid = self.workdir / "jupyterhub-proxy.pid"
        if proxy_pid.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(proxy_pid.read_text()), signal.SIGTERM)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kwargs
        )

    def add_user(self, name: str, groups: list[str]) -> None:
        if not self.api("GET", f"/users/{name}").ok:
            self.api("POST", f"/users/{name}").raise_for_status()
        for group in groups:
            self.api("POST", f"/groups/{group}")  # 409 when it exists: fine
            self.api("POST", f"/groups/{group}/users", json={"users": [name]}).raise_for_status()

    def set_properties(self, group: str, properties: dict[str, Any]) -> None:
        self.api("POST", f"/groups/{group}")
        self.api("PUT", f"/groups/{group}/properties", json=properties).raise_for_status()

    def login(self, name: str) -> requests.Session:
        """A browser-like session of ``name`` (DummyAuthenticator accepts any password)."""
        session = requests.Session()
        session.get(f"{self.url}/hub/login", timeout=10)
        xsrf = session.cookies.get("_xsrf", "")
        response = session.post(
            f"{self.url}/hub/login",
            data={"username": name, "password": "x", "_xsrf": xsrf},
            timeout=30,
        )
        response.raise_for_status()
        return session

    def sso_login(
        self, name: str, password: str = keycloak.DEMO_PASSWORD, language: str = "en"
    ) -> SsoLogin:
        return sso_login(self.url, name, password, language)

    def wait_stopped(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            user = self.api("GET", f"/users/{name}").json()
            if not user.get("servers"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"{name}'s server still there after {timeout}s")

    def wait_ready(self, name: str, timeout: float = 120, server_name: str = "") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            servers = self.api("GET", f"/users/{name}").json().get("servers", {})
            server = servers.get(server_name)
            if server and server.get("ready"):
                return server
            if server is None:
                raise RuntimeError(f"{name}'s server went away:\n{self.log_tail()}")
            time.sleep(1)
        raise RuntimeError(f"{name}'s server not ready after {timeout}s:\n{self.log_tail()}")


@contextlib.contextmanager
def light_pod_hub(workdir: Path, ports: tuple[int, int, int], config: str) -> Iterator[Hub]:
    """A hub started with ``config`` (:data:`LIGHT_PODS` and more) on a cluster without
    light pods, whose servers are all stopped at the end, even after a failure."""
    kube.ensure_hub_rbac()  # a platform started before the hub could watch pods
    forget_light_pods()
    hub = Hub(workdir, ports=ports)
    try:
        hub.start(config)
        yield hub
    finally:
        try:
            if hub.process is not None and hub.process.poll() is None:
                stop_all(hub)
        finally:  # a server that would not stop must not leave the hub running
            hub.stop()
        forget_light_pods()


def forget_light_pods() -> None:
    """Pods count against their group and their room: none may be left by an interrupted run."""
    kube.kubectl(
        "-n", kube.USER_NAMESPACE, "delete", "pods", "-l", LIGHT_POD_SELECTOR, "--wait=true"
    )


def add_users(hub: Hub, names: list[str], group: str) -> None:
    hub.api("POST", "/users", json={"usernames": names})  # 409 for existing ones: fine
    hub.api("POST", f"/groups/{group}")
    hub.api("POST", f"/groups/{group}/users", json={"users": names}).raise_for_status()


def active_servers(hub: Hub) -> dict[str, bool]:
    """Every active user's default server, and whether it is ready (one paged listing).

    The pages are taken at different moments: users who start or stop meanwhile shift
    the later pages, so a user may come twice or be missed (callers ask about the ones
    they miss again). The offset counts the entries read, not the names, or a shifted
    page would be asked for forever."""
    found: dict[str, bool] = {}
    offset = 0
    while True:
        page = hub.api("GET", "/users", params={"state": "active", "offset": offset, "limit": 200})
        page.raise_for_status()
        if not page.json():
            return found
        offset += len(page.json())
        for user in page.json():
            server = user.get("servers", {}).get("")
            found[user["name"]] = bool(server and server.get("ready"))


def group_usage(hub: Hub, group: str, resource: str = "servers") -> float | None:
    """The hub's own count of what `group` uses (unilim_group_usage on /hub/metrics)."""
    metrics = requests.get(
        f"{hub.url}/hub/metrics", headers={"Authorization": f"token {hub.token}"}, timeout=30
    ).text
    wanted = f'unilim_group_usage{{group="{group}",resource="{resource}"}} '
    for line in metrics.splitlines():
        if line.startswith(wanted):
            return float(line.rsplit(" ", 1)[1])
    return None


def stop_all(hub: Hub) -> None:
    names = list(active_servers(hub))
    with ThreadPoolExecutor(50) as pool:
        list(pool.map(lambda name: hub.api("DELETE", f"/users/{name}/server"), names))
        list(pool.map(lambda name: hub.wait_stopped(name, 120), names))


def start_at_once(hub: Hub, names: list[str]) -> list[requests.Response]:
    """Every start request sent in the same instant, one thread each."""
    barrier = threading.Barrier(len(names))

    def start(name: str) -> requests.Response:
        barrier.wait()
        # A class start keeps the hub busy: wait longer for its answer than hub.api does.
        return requests.post(
            f"{hub.url}/hub/api/users/{name}/server",
            json={"profile": "python"},
            headers={"Authorization": f"token {hub.token}"},
            timeout=180,
        )

    with ThreadPoolExecutor(len(names)) as pool:
        return list(pool.map(start, names))


def outcome(hub: Hub, name: str, timeout: float) -> str:
    """'ready', or the message of a start that ended without a server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.process is None or hub.process.poll() is not None:
            return "hub exited"
        user = hub.api("GET", f"/users/{name}")
        if not user.ok:  # the proxy's 503 while the hub is too busy to answer
            time.sleep(1)
            continue
        server = user.json().get("servers", {}).get("")
        if server is None:
            return "stopped"
        if server.get("ready"):
            return "ready"
        time.sleep(1)
    return "timeout"
