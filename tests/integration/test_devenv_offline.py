"""Keycloak and SeaweedFS send nothing outside loopback: no DNS query, no connection.

A listening-socket check cannot see a client-side leak (Keycloak once reverse-resolved
the machine's address through the DNS server at every start). So both servers start,
with a fresh state, in a network namespace of their own holding a non-loopback address
like a real machine, under strace; every connect/send to a non-loopback address fails
there, and strace records it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def network_namespace_tools() -> None:
    """A missing tool is a failure, never a skip: CI must not pass without this check."""
    missing = [tool for tool in ("unshare", "ip", "strace") if not shutil.which(tool)]
    if os.geteuid() != 0 or missing:
        tools = ", ".join(missing) or "unshare, ip, strace"
        pytest.fail(f"needs root and {tools} (./dev test installs them)")


# Runs inside the namespace: both servers from an empty state, one use each, stop.
PROBE = """
import json, urllib.parse, urllib.request
from devenv import keycloak, ports, s3
# SeaweedFS names its gRPC unix sockets /tmp/seaweedfs-<part>-grpc-<port>.sock, shared
# across network namespaces: other gRPC ports keep the running devenv's sockets intact.
for name in dir(ports):
    if name.startswith("SEAWEEDFS_") and name.endswith("_GRPC"):
        setattr(ports, name, getattr(ports, name) + 100)
parts = [keycloak.Keycloak(), s3.SeaweedFS()]
for part in parts:
    part.start()
form = {"grant_type": "password", "client_id": keycloak.CLIENT_ID,
        "client_secret": keycloak.CLIENT_SECRET, "username": "alice",
        "password": keycloak.DEMO_PASSWORD, "scope": "openid"}
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
url = keycloak.ISSUER + "/protocol/openid-connect/token"
assert "id_token" in json.load(opener.open(url, urllib.parse.urlencode(form).encode()))
assert s3.admin_client().list_buckets()["Buckets"]
for part in reversed(parts):
    part.stop()
print("probe ok")
"""

# Inside the namespace: loopback up, plus an address of TEST-NET-1 standing for the
# machine's own interface (what Java's "first non-loopback address" lookups find).
SETUP = 'ip link set lo up && ip addr add 192.0.2.2/24 dev lo && exec "$@"'

_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')


def _outside_loopback(trace: str) -> list[str]:
    leaks = []
    for line in trace.splitlines():
        if not re.search(r"\b(connect|sendto|sendmsg)\(", line):
            continue
        for v4, v6 in _ADDRESS.findall(line):
            address = ipaddress.ip_address(v4 or v6)
            if not (address.is_loopback or address.is_unspecified):
                leaks.append(line[:300])
    return leaks


def test_keycloak_and_s3_never_leave_loopback(tmp_path: Path) -> None:
    trace = tmp_path / "strace.txt"
    env = {
        **os.environ,
        "UNILIM_DEVENV_STATE": str(tmp_path / "state"),
        "PYTHONPATH": str(REPO),
    }
    command = [
        "unshare", "--net", "sh", "-c", SETUP, "sh",
        "strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace),
        sys.executable, "-c", PROBE,
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=420, check=False
    )
    assert result.returncode == 0 and "probe ok" in result.stdout, result.stderr[-3000:]
    assert _outside_loopback(trace.read_text()) == []
