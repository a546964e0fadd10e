"""Where the devenv caches binaries and keeps per-component runtime state."""

from __future__ import annotations

import os
from pathlib import Path

CACHE = Path(os.environ.get("UNILIM_CACHE", "~/.cache/unilim-hub")).expanduser()
BIN = CACHE / "bin"
BUILD = CACHE / "build"
STATE = Path(os.environ.get("UNILIM_DEVENV_STATE", CACHE / "devenv-state")).expanduser()
KUBECONFIG = STATE / "kubeconfig"


def binary(name: str, version: str) -> Path:
    """Path of a cached, versioned binary (it may not exist yet)."""
    return BIN / f"{name}-{version}"


def state_dir(component: str) -> Path:
    """STATE/<component>, created on demand."""
    path = STATE / component
    path.mkdir(parents=True, exist_ok=True)
    return path


def pid_file(component: str) -> Path:
    return state_dir(component) / "pid"


def log_file(component: str) -> Path:
    return state_dir(component) / "log"


def data_dir(component: str) -> Path:
    path = state_dir(component) / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path
