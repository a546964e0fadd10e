"""The demo: the whole platform, then a hub on http://127.0.0.1:8000 with demo users."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from devenv import keycloak, kube, paths, platform, ports

CONFIG = platform.REPO / "config" / "jupyterhub_config.py"

USERS = (
    ("alice", "student, course info101", "the info101 course profiles first, then student ones"),
    ("bob", "student, course stat202", "the stat202 course profiles, then student ones"),
    ("chloe", "student, both courses", "the profiles of both courses"),
    ("tom", "teacher of info101", "staff profiles and the info101 course variants"),
    ("tina", "teacher of stat202", "staff profiles and the stat202 course variants"),
    ("sam", "staff", "staff profiles"),
    ("ada", "staff, hub admin", "the admin panel (group properties: quota.*, course.*)"),
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


def run() -> int:
    platform.up()
    env = {
        **os.environ,
        "KUBECONFIG": str(kube.HUB_KUBECONFIG),
        "PYTHONPATH": str(platform.REPO),
        "JUPYTERHUB_CRYPT_KEY": _crypt_key(),
    }
    print(banner(), file=sys.stderr)
    state = paths.STATE / "demo"
    state.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)]
    try:
        return subprocess.call(command, cwd=state, env=env)
    except KeyboardInterrupt:
        return 0


def _crypt_key() -> str:
    """auth_state is encrypted; the demo keeps one key in its state folder."""
    path = paths.STATE / "demo" / "crypt_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
