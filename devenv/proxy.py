"""configurable-http-proxy, the proxy JupyterHub starts in front of itself (npm package).

Only installed here: the hub launches it (ConfigurableHTTPProxy.command = command()).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from devenv import paths, procs
from devenv.component import step

VERSION = "5.3.0"  # needs Node.js >= 20
PREFIX = paths.CACHE / "node" / f"chp-{VERSION}"


def binary() -> Path:
    return PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"


def install() -> Path:
    """`npm install` the pinned version into CACHE once; return the executable."""
    if binary().exists():
        return binary()
    npm = shutil.which("npm")
    if npm is None:
        raise procs.StartError("configurable-http-proxy needs Node.js >= 20 and npm on PATH")
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
