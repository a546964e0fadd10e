"""The hubs' database server: PostgreSQL on loopback, not as root, one database per hub."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from devenv import paths, ports
from devenv import postgres as server
from tests.integration import sockets
from tests.integration.hub import Hub


def server_pids() -> list[int]:
    """The postmaster and its children (each of them lives in a session of its own)."""
    leader = server.PostgreSQL().pid()
    assert leader is not None, "PostgreSQL is not running"
    children = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _parent(entry) == leader
    ]
    return [leader, *children]


def _parent(entry: Path) -> int | None:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None


def user_ids(pid: int) -> set[int]:
    """Real, effective, saved and file-system user ids of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    return {int(uid) for uid in line.split()[1:]}


def rows(database_of: Path, query: str) -> list[tuple[object, ...]]:
    """What `query` returns in the database of the hub whose state folder is `database_of`."""
    name = (database_of / "database").read_text().strip()
    with server.connect(name) as connection:
        return connection.execute(query).fetchall()


def test_the_database_server_listens_on_loopback_only_and_has_no_unix_socket(postgres):
    found = sockets.listeners_of(server_pids())
    assert [str(listener) for listener in found] == [f"tcp {ports.HOST}:{ports.POSTGRES}"]
    unix_sockets = Path("/proc/net/unix").read_text()
    assert f".s.PGSQL.{ports.POSTGRES}" not in unix_sockets


def test_the_database_server_does_not_run_as_root(postgres):
    pids = server_pids()
    assert len(pids) > 1, "found no server process besides the postmaster: the check is broken"
    assert {pid: user_ids(pid) for pid in pids if 0 in user_ids(pid)} == {}


def test_a_wrong_password_is_refused(postgres, monkeypatch):
    monkeypatch.setattr(server, "password", lambda role: "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        server.connect()


def test_a_user_created_through_the_hub_api_is_a_row_in_postgres(hub: Hub):
    hub.add_user("pauline", [])
    assert ("pauline",) in rows(hub.workdir, "SELECT name FROM users")
    assert not list(hub.workdir.glob("*.sqlite")), "the hub still writes a SQLite file"


def test_a_new_hub_gets_an_empty_database_and_finds_it_again_after_a_restart(
    hub: Hub, tmp_path: Path
):
    hub.add_user("pauline", [])
    other = Hub(tmp_path, ports=(18700, 18701, 18781))
    try:
        other.start()
        assert other.api("GET", "/users/pauline").status_code == 404
        other.add_user("quentin", [])
        other.stop()
        other.start()
        assert other.api("GET", "/users/quentin").ok
    finally:
        other.stop()
    assert (hub.workdir / "database").read_text() != (tmp_path / "database").read_text()


def test_the_database_of_a_removed_state_folder_is_dropped(postgres, tmp_path: Path):
    gone, kept = tmp_path / "gone", tmp_path / "kept"
    gone.mkdir()
    kept.mkdir()
    server.hub_database(gone)
    name = (gone / "database").read_text().strip()
    (gone / "database").unlink()
    gone.rmdir()
    server.hub_database(kept)  # a new database: the sweep runs
    assert (name,) not in rows(kept, "SELECT datname FROM pg_database")


def test_the_server_keeps_its_data_in_the_devenv_state(postgres):
    with server.connect(role=server.SUPERUSER) as connection:
        found = connection.execute("SHOW data_directory").fetchone()
    assert found is not None
    assert Path(found[0]) == paths.STATE / "postgres" / "data"
