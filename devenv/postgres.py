"""The hub's database server in the devenv: PostgreSQL from Debian's package `postgresql`.

In production the hub pod may be restarted in the other server room, so its database
cannot be a SQLite file on a volume pinned to one room: the hub uses PostgreSQL, and so
do the demo and the tests. One server, on 127.0.0.1 only (no Unix socket), its data in
STATE/postgres/data, run as the `postgres` system user (PostgreSQL refuses root).
Every hub gets a database of its own, owned by the role `jupyterhub` (password auth).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors, sql

from devenv import paths, ports, procs
from devenv.component import Component, step

PACKAGE = "postgresql"  # Debian's: the server of the release's major version
SERVER_USER = "postgres"  # the system user Debian's package creates
SUPERUSER = "postgres"
HUB_ROLE = "jupyterhub"
ADDRESS = f"{ports.HOST}:{ports.POSTGRES}"
# Names of the hubs' databases; the sweep drops only these.
DATABASE_PREFIX = "hub_"


def server_bin() -> Path | None:
    """Folder of the newest installed server (/usr/lib/postgresql/<major>/bin), if any."""
    found = [
        folder
        for folder in Path("/usr/lib/postgresql").glob("*/bin")
        if (folder / "postgres").exists() and (folder / "initdb").exists()
    ]
    return max(found, key=lambda folder: int(folder.parent.name), default=None)


def install() -> Path:
    """Debian's server, installed with apt-get when missing (CI starts from a bare machine)."""
    found = server_bin()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise procs.StartError(f"PostgreSQL is missing: run 'sudo apt-get install {PACKAGE}'")
    env = {**procs.clean_env(), "DEBIAN_FRONTEND": "noninteractive"}
    with step(f"apt-get install {PACKAGE}"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", PACKAGE],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    found = server_bin()
    if found is None:
        raise procs.StartError(f"apt-get installed {PACKAGE} but no server in /usr/lib/postgresql")
    return found


def password(role: str) -> str:
    """The role's password, made at the first start and kept in STATE/postgres."""
    path = paths.state_dir("postgres") / f"{role}-password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def connect(database: str = "postgres", role: str = HUB_ROLE) -> psycopg.Connection[Any]:
    """A connection as `role` over TCP to 127.0.0.1 (autocommit: DDL runs at once)."""
    return psycopg.connect(
        host=ports.HOST,
        port=ports.POSTGRES,
        dbname=database,
        user=role,
        password=password(role),
        connect_timeout=5,
        autocommit=True,
    )


def url(database: str) -> str:
    """SQLAlchemy URL of a hub database, naming its driver (psycopg 3): SQLAlchemy's
    default for a bare postgresql:// is psycopg2 before 2.1, psycopg from 2.1 on."""
    return f"postgresql+psycopg://{HUB_ROLE}:{password(HUB_ROLE)}@{ADDRESS}/{database}"


def _as_server_user() -> list[str]:
    """Prefix that runs a command as the server's user: PostgreSQL refuses to run as root,
    so root runs it as `postgres`; anyone else runs it as themselves."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups"]
    if not all(
        folder.stat().st_mode & stat.S_IXOTH for folder in (paths.STATE, *paths.STATE.parents)
    ):
        # The state is under a folder others cannot enter (root's home is 0700): let the
        # server pass through folders, rather than open root's home to every user.
        prefix += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    return [*prefix, "--"]


def _owned_by_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, SERVER_USER, SERVER_USER)


def _initialised_data_dir(bin_dir: Path) -> Path:
    """STATE/postgres/data, made by initdb at the first start (superuser with a password)."""
    data = paths.data_dir("postgres")
    version = data / "PG_VERSION"
    if version.exists():
        if version.read_text().strip() != bin_dir.parent.name:
            raise procs.StartError(
                f"{data} is a PostgreSQL {version.read_text().strip()} cluster but the "
                f"server installed is {bin_dir.parent.name}: remove {data.parent} and start again"
            )
        return data
    data.chmod(0o700)  # PostgreSQL refuses a data directory others can read
    _owned_by_server_user(data)
    pwfile = paths.state_dir("postgres") / "initdb-pwfile"
    pwfile.write_text(password(SUPERUSER))
    _owned_by_server_user(pwfile)
    with step("initdb"):
        subprocess.run(
            [
                *_as_server_user(),
                str(bin_dir / "initdb"),
                f"--pgdata={data}",
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ],
            check=True,
            env=_env(),
            cwd=data,
            stdout=subprocess.DEVNULL,
        )
    pwfile.unlink()
    return data


def _env() -> dict[str, str]:
    """Minimal: PG* variables would change where the tools connect or what they read."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def _server_argv(bin_dir: Path, data: Path) -> list[str]:
    return [
        *_as_server_user(),
        str(bin_dir / "postgres"),
        "-D",
        str(data),
        "-c",
        f"listen_addresses={ports.HOST}",
        "-c",
        f"port={ports.POSTGRES}",
        "-c",
        "unix_socket_directories=",  # no socket in /var/run/postgresql: TCP only
        "-c",
        "fsync=off",  # the devenv's data is disposable; spare the shared machine's disk
    ]


def _superuser_can_connect() -> bool:
    connect(role=SUPERUSER).close()
    return True


def _ensure_hub_role() -> None:
    """The hub's role: logs in with its password, creates the hubs' databases."""
    with connect(role=SUPERUSER) as connection:
        found = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (HUB_ROLE,))
        verb = "ALTER" if found.fetchone() else "CREATE"
        # A utility statement takes no bound parameters: the password goes in as a literal.
        statement = sql.SQL("{} ROLE {} LOGIN CREATEDB PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(HUB_ROLE), sql.Literal(password(HUB_ROLE))
        )
        connection.execute(statement)


def hub_database(state: Path) -> str:
    """URL of the database of the hub whose state folder is `state`.

    A new state folder gets a new, empty database; its name is kept in the folder, so a
    hub restarted on the same state finds its data again. Databases whose folder is gone
    (pytest's old temporary folders) are dropped here, so they do not pile up.
    """
    name_file = state / "database"
    if not name_file.exists():
        name_file.write_text(f"{DATABASE_PREFIX}{secrets.token_hex(8)}\n")
    name = name_file.read_text().strip()
    with connect() as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            database = sql.Identifier(name)
            connection.execute(sql.SQL("CREATE DATABASE {}").format(database))
            connection.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(database, sql.Literal(str(state)))
            )
            _drop_orphans(connection)
    return url(name)


def _drop_orphans(connection: psycopg.Connection[Any]) -> None:
    """Drop the hub databases whose state folder (their comment) no longer exists."""
    found = connection.execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database"
        " WHERE starts_with(datname, %s)",
        (DATABASE_PREFIX,),
    )
    for name, folder in found.fetchall():
        if folder and not Path(folder).exists():
            # A hub still connected to it keeps it until a later sweep.
            with contextlib.suppress(errors.ObjectInUse):
                connection.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))


class PostgreSQL(Component):
    name = "postgres"

    def install(self) -> None:
        install()

    def healthy(self) -> bool:
        if not procs.tcp_open(ports.HOST, ports.POSTGRES):
            return False
        try:
            connect().close()
        except psycopg.Error:
            return False
        return True

    def launch(self) -> None:
        if procs.tcp_open(ports.HOST, ports.POSTGRES):
            raise procs.StartError(
                f"{ADDRESS} is taken by a process where the role {HUB_ROLE} cannot log in "
                f"(see `ss -ltnp 'sport = {ports.POSTGRES}'`): stop it first"
            )
        bin_dir = install()
        data = _initialised_data_dir(bin_dir)
        procs.start(self.name, _server_argv(bin_dir, data), env=_env(), cwd=data)
        procs.wait_ready(self.name, _superuser_can_connect, 60, f"PostgreSQL on {ADDRESS}")
        _ensure_hub_role()

    def stop(self) -> None:
        """Fast shutdown (SIGINT): ends the hubs' sessions, then checkpoints. procs.stop's
        SIGTERM would wait for every hub to disconnect, and the server's children live in
        sessions of their own, out of reach of a signal to its process group."""
        leader = self.pid()
        if leader is not None:
            os.kill(leader, signal.SIGINT)
            deadline = time.monotonic() + 30
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.1)
        procs.stop(self.name)

    def describe(self) -> str:
        bin_dir = server_bin()
        version = bin_dir.parent.name if bin_dir else "not installed"
        return f"{super().describe()} postgresql {version} {ADDRESS} role {HUB_ROLE}"
