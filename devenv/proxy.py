"""configurable-http-proxy, the proxy JupyterHub starts in front of itself (npm package).

Only installed here: the hub launches it (ConfigurableHTTPProxy.command = command()).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from devenv import paths, procs
from devenv.component import step

VERSION = "5.3.0"
NODE_MAJOR = 20  # the oldest Node.js that configurable-http-proxy 5 runs on
PREFIX = paths.CACHE / "node" / f"chp-{VERSION}"


def binary() -> Path:
    return PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"


@cache
def require_node() -> None:
    """Checked even when the proxy is installed: with an old Node.js the hub would only
    fail later, when it starts the proxy, with the reason buried in the proxy's output."""
    needed = f"configurable-http-proxy {VERSION} needs Node.js >= {NODE_MAJOR}"
    node = shutil.which("node")
    if node is None:
        raise procs.StartError(f"{needed}, `node` is not on PATH: install Node.js {NODE_MAJOR}")
    found = subprocess.run([node, "--version"], check=False, capture_output=True, text=True)
    major = re.match(r"v(\d+)\.", found.stdout)
    if major is None or int(major.group(1)) < NODE_MAJOR:
        version = found.stdout.strip() or found.stderr.strip()
        raise procs.StartError(f"{needed}, found {version} ({node}): install Node.js {NODE_MAJOR}")


def install() -> Path:
    """`npm install` the pinned version into CACHE once; return the executable."""
    require_node()
    if binary().exists():
        return binary()
    npm = shutil.which("npm")
    if npm is None:
        raise procs.StartError(f"configurable-http-proxy {VERSION} needs npm on PATH")
    PREFIX.mkdir(parents=True, exist_ok=True)
    with step(f"npm install configurable-http-proxy@{VERSION} into {PREFIX}"):
        result = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(PREFIX),
                "--no-audit",
                "--no-fund",
                "--no-update-notifier",
                "--omit=dev",
                f"configurable-http-proxy@{VERSION}",
            ],
            check=False,
            capture_output=True,
            text=True,
            env=procs.clean_env(),
        )
    if result.returncode != 0 or not binary().exists():
        raise procs.StartError(
            f"npm install configurable-http-proxy@{VERSION} failed:\n{result.stdout}{result.stderr}"
        )
    return binary()


def command() -> list[str]:
    """The value for c.ConfigurableHTTPProxy.command."""
    return [str(install())]
