"""How the devenv starts PostgreSQL: loopback only, never as root (no server started here)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from devenv import paths, postgres

BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.mark.parametrize("uid", [0, 1000])
def test_the_server_listens_on_loopback_only_without_a_unix_socket(monkeypatch, tmp_path, uid):
    # As root the argv depends on the state folder's modes: one of this test's, not the
    # machine's (a fresh machine has none yet).
    monkeypatch.setattr(postgres.os, "geteuid", lambda: uid)
    monkeypatch.setattr(paths, "STATE", tmp_path)
    argv = postgres._server_argv(BIN, Path("/state/postgres/data"))
    settings = [argv[i + 1] for i, flag in enumerate(argv) if flag == "-c"]
    assert "listen_addresses=127.0.0.1" in settings
    assert "unix_socket_directories=" in settings


def test_someone_else_than_root_runs_the_server_as_themselves(monkeypatch):
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 1000)
    assert postgres._as_server_user() == []


@pytest.mark.parametrize(("mode", "capability"), [(0o700, True), (0o755, False)])
def test_root_runs_the_server_as_postgres_passing_closed_folders_only_if_needed(
    monkeypatch, mode, capability
):
    # Not in tmp_path: pytest's own folder (/tmp/pytest-of-root) is closed to others.
    with tempfile.TemporaryDirectory() as top:
        home = Path(top) / "home"
        (home / "state").mkdir(parents=True)
        Path(top).chmod(0o755)
        home.chmod(mode)
        monkeypatch.setattr(postgres.os, "geteuid", lambda: 0)
        monkeypatch.setattr(paths, "STATE", home / "state")
        prefix = postgres._as_server_user()
    assert prefix[:3] == ["setpriv", "--reuid=postgres", "--regid=postgres"]
    assert prefix[-1] == "--"
    assert ("--ambient-caps=+dac_read_search" in prefix) is capability
