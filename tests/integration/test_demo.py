"""`./dev demo`: the demo hub, its users and the courses it announces."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from devenv import ports, procs

from .hub import sso_login

REPO = Path(__file__).parents[2]
DEMO = f"http://{ports.HOST}:{ports.PROXY_PUBLIC}"


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not after {timeout} s")
        time.sleep(0.5)


def test_demo_logs_alice_in_with_her_course_first_and_stops_cleanly(platform, tmp_path):
    output = tmp_path / "demo.log"
    with output.open("w") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "devenv", "demo"],
            cwd=REPO,
            env=procs.clean_env({"PYTHONPATH": str(REPO)}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "unilim-hub demo on" in output.read_text(), 90, "the demo's banner")
        login = sso_login(DEMO, "alice", language="fr")
        page = login.session.get(f"{DEMO}/hub/spawn", timeout=30).text
        profiles = re.findall(r'<input[^>]*name="profile"[^>]*value="([^"]+)"', page)
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
    banner = output.read_text()
    assert "password of every user: unilim-demo" in banner
    assert all(name in banner for name in ("alice", "tom", "ada", "eve"))
    assert profiles[:2] == ["info101--spark", "info101--python"]  # as the banner promises
    # Nothing of the demo's hub is left: its proxy's port is free again.
    wait_for(lambda: not procs.tcp_open(ports.HOST, ports.PROXY_PUBLIC), 10, "port 8000 free")
