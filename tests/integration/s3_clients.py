"""S3 clients built the way a user's server builds them: from the files of its Secret."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from kubernetes_asyncio import client

from devenv import kube

from .hub import Hub

# Variables that would take precedence over the files (the machine's own AWS settings).
_AWS_OVERRIDES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when the block ends: nothing listens


def run_id() -> str:
    """Unique names per run: objects of earlier runs stay in the devenv's S3."""
    return uuid.uuid4().hex[:6]


async def secret_files(core_v1: client.CoreV1Api, pod: str) -> dict[str, str] | None:
    """The files of the pod's S3 Secret, as the kubelet mounts them (None: no Secret)."""
    try:
        secret = await core_v1.read_namespaced_secret(f"{pod}-s3", kube.USER_NAMESPACE)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return {name: base64.b64decode(value).decode() for name, value in (secret.data or {}).items()}


def client_from_files(files: dict[str, str], folder: Path) -> Any:
    """boto3 reading AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    saved = {name: os.environ.pop(name) for name in _AWS_OVERRIDES if name in os.environ}
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(folder / "credentials")
    os.environ["AWS_CONFIG_FILE"] = str(folder / "config")
    try:
        # No endpoint, keys or region here: all of them come from the files.
        session = boto3.session.Session()
        return session.client("s3", config=Config(retries={"max_attempts": 1}, proxies={}))
    finally:
        del os.environ["AWS_SHARED_CREDENTIALS_FILE"], os.environ["AWS_CONFIG_FILE"]
        os.environ.update(saved)


def denied(call: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def start(hub: Hub, name: str) -> requests.Response:
    """Start ``name``'s server: 201 if it was ready at once, 202 if still starting."""
    answer = hub.api("POST", f"/users/{name}/server", json={"profile": "python"})
    answer.raise_for_status()
    return answer


def progress_messages(hub: Hub, name: str, timeout: float = 120) -> Iterator[dict[str, Any]]:
    """The start page's progress events of ``name``'s starting server, until it is ready."""
    deadline = time.monotonic() + timeout
    with hub.api("GET", f"/users/{name}/server/progress", stream=True) as response:
        response.raise_for_status()
        for line in response.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                event = json.loads(line.removeprefix("data:"))
                yield event
                if event.get("ready") or event.get("failed") or time.monotonic() > deadline:
                    return


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(1)
    raise AssertionError(f"{what}: not after {timeout} s")


def stop(hub: Hub, name: str) -> None:
    with_server = hub.api("DELETE", f"/users/{name}/server")
    if with_server.status_code not in (202, 204, 400, 404):
        with_server.raise_for_status()
