"""The demo: the whole platform, then a hub on http://127.0.0.1:8000 with demo users."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from devenv import keycloak, kube, paths, platform, ports, postgres, procs, proxy

CONFIG = platform.REPO / "devenv" / "jupyterhub_config.py"

USERS = (
    ("alice", "student, course info101", "the info101 course profiles first, then student ones"),
    ("bob", "student, course stat202", "the stat202 course profiles, then student ones"),
    ("chloe", "student, both courses", "the profiles of both courses"),
    ("tom", "teacher of info101", "the course service (/services/courses/): info101 only"),
    ("tina", "teacher of stat202", "staff profiles and the stat202 course variants"),
    ("sam", "staff", "staff profiles"),
    ("ada", "staff, hub admin", "the admin panel; /services/courses/status"),
    ("eve", "alumni only", "the refusal: no allowed group"),
)


def banner() -> str:
    url = f"http://{ports.HOST}:{ports.PROXY_PUBLIC}"
    lines = [
        f"\nunilim-hub demo on {url}  (password of every user: {keycloak.DEMO_PASSWORD})\n",
        f"  {'user':<7} {'who':<26} what to try",
    ]
    lines += [f"  {name:<7} {who:<26} {what}" for name, who, what in USERS]
    lines.append(
        "\nCtrl-C stops the hub; `./dev demo` again restarts it; "
        "`python -m devenv down` stops the platform.\n"
    )
    return "\n".join(lines)


# What the demo's teachers would have set in the course service.
COURSES = {
    "course-info101": {
        "course.profiles": "spark, python",
        "course.python.size": "large",
    },
    "course-stat202": {"course.profiles": "r", "course.r.tag": "2025-10-20"},
}


def run() -> int:
    platform.up()
    proxy.install()
    token = secrets.token_hex(16)
    state = paths.STATE / "demo"
    state.mkdir(parents=True, exist_ok=True)
    env = procs.clean_env(
        {
            "KUBECONFIG": str(kube.HUB_KUBECONFIG),
            "PYTHONPATH": str(platform.REPO),
            "JUPYTERHUB_CRYPT_KEY": _crypt_key(),
            "UNILIM_HUB_STATE": str(state),
            "UNILIM_HUB_DB_URL": postgres.hub_database(state),
            "UNILIM_HUB_SERVICE_TOKEN": token,
        }
    )
    command = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)]
    hub = subprocess.Popen(command, cwd=state, env=env)
    # `kill` or a CI time-out stops the demo like Ctrl-C: the hub must not outlive it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _set_up_courses(token)
        print(banner(), file=sys.stderr)
        return hub.wait()
    except KeyboardInterrupt:
        hub.terminate()
        return hub.wait()


def _set_up_courses(token: str) -> None:
    """Course groups and their profiles, read-modify-write as the course service does."""
    api = f"http://{ports.HOST}:{ports.PROXY_PUBLIC}/hub/api"
    deadline = time.monotonic() + 60
    while not procs.http_ok(api):
        if time.monotonic() > deadline:
            raise procs.StartError(f"the demo hub did not answer on {api} within 60 s")
        time.sleep(0.5)
    for group, assigned in COURSES.items():
        _call(api, token, "POST", f"/groups/{group}")  # 409 when it exists already
        current = json.loads(_call(api, token, "GET", f"/groups/{group}") or "{}")
        properties = {**current.get("properties", {}), **assigned}
        _call(api, token, "PUT", f"/groups/{group}/properties", properties)


def _call(api: str, token: str, method: str, path: str, body: object = None) -> str:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api + path, data=data, method=method)
    request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise
        return ""


def _crypt_key() -> str:
    """auth_state is encrypted; the demo keeps one key in its state folder."""
    path = paths.STATE / "demo" / "crypt_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
