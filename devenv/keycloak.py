"""The identity provider of the devenv: Keycloak (server distribution from Maven Central).

Runs `kc.sh start-dev` on 127.0.0.1 with the `unilim` realm of devenv/realm imported.
The H2 database lives in STATE/keycloak/data and is kept between starts (skipping the
schema creation and the import makes a warm start several seconds faster); it is wiped
whenever the realm file or the Keycloak version changes, so the realm always matches Git.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tarfile
from functools import cache
from pathlib import Path

from devenv import paths, ports, procs
from devenv.component import Component, step

VERSION = os.environ.get("UNILIM_KEYCLOAK_VERSION", "26.7.3")
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:tar.gz"
REALM = "unilim"
REALM_FILE = Path(__file__).resolve().parent / "realm" / "unilim-realm.json"
URL = f"http://{ports.HOST}:{ports.KEYCLOAK}"
ISSUER = f"{URL}/realms/{REALM}"
CLIENT_ID = "unilim-hub"
CLIENT_SECRET = "unilim-hub-dev-secret"
DEMO_PASSWORD = "unilim-demo"
# The master realm's administrator, for the admin console and admin REST API (dev only).
ADMIN_USER = "admin"
ADMIN_PASSWORD = "unilim-dev-admin"

HOME = paths.CACHE / f"keycloak-{VERSION}"
_M2 = paths.CACHE / "m2"  # Maven's local repository for the devenv
# Keycloak 26 supports JDK 17, 21 and 25 (17 and 25 checked here).
_JDK_PREFERENCE = ("temurin-25", "temurin-21", "java-25", "java-21", "java-17", "temurin-17")
HEAP = "-Xms64m -Xmx640m"
# C1 only: on 2 cores the C2 compiler threads fight the start-up itself, and C1 alone
# halves a warm start (measured 6-9 s against 15-25 s); logins stay far from CPU-bound.
# Liquibase (schema creation) otherwise fetches https://config.liquibase.com/analytics.yaml.
# Vert.x would resolve names with its own DNS client, bypassing the hosts file below.
JVM_OPTIONS = (
    "-XX:TieredStopAtLevel=1",
    "-Djava.net.preferIPv4Stack=true",
    "-Dliquibase.analytics.enabled=false",
    "-Dvertx.disableDnsResolver=true",
)


@cache
def java_home() -> Path:
    """$UNILIM_JAVA_HOME, else the newest supported JDK under /usr/lib/jvm."""
    chosen = os.environ.get("UNILIM_JAVA_HOME")
    if chosen:
        return Path(chosen)
    jdks = sorted(Path("/usr/lib/jvm").glob("*/bin/java"))
    for prefix in _JDK_PREFERENCE:
        for java in jdks:
            if java.parent.parent.name.startswith(prefix):
                return java.parent.parent
    raise procs.StartError(
        "Keycloak needs a JDK 17, 21 or 25 in /usr/lib/jvm (or UNILIM_JAVA_HOME)"
    )


def java_version() -> str:
    out = subprocess.run(
        [str(java_home() / "bin" / "java"), "-version"], check=False, capture_output=True, text=True
    ).stderr
    match = re.search(r'version "([^"]+)"', out)
    return match.group(1) if match else "?"


def _download() -> Path:
    """The distribution tarball, by Maven from Maven Central (a local repo inside CACHE)."""
    if shutil.which("mvn") is None:
        raise procs.StartError(
            "Keycloak is downloaded with Maven (`mvn`), not found on PATH: "
            "install Maven: apt-get install maven"
        )
    download = paths.BUILD / "keycloak"
    download.mkdir(parents=True, exist_ok=True)
    with step(f"mvn dependency:copy {ARTIFACT} (~170 MB)"):
        result = subprocess.run(
            ["mvn", "-q", "-B", "-Dstyle.color=never", f"-Dmaven.repo.local={_M2}",
             "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={download}"],
            check=False, capture_output=True, text=True, env=procs.clean_env(),
        )  # fmt: skip
    if result.returncode != 0:
        raise procs.StartError(f"mvn could not fetch {ARTIFACT}:\n{result.stdout}{result.stderr}")
    # Unpacked below, the two copies of the tarball would only take 340 MB.
    shutil.rmtree(_M2 / "org" / "keycloak" / "keycloak-quarkus-dist", ignore_errors=True)
    return download / f"keycloak-quarkus-dist-{VERSION}.tar.gz"


def install() -> None:
    """Download and unpack the distribution into CACHE once."""
    if (HOME / "bin" / "kc.sh").exists():
        return
    tarball = _download()
    partial = HOME.with_name(HOME.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with step(f"unpack Keycloak {VERSION} into {HOME}"), tarfile.open(tarball) as archive:
        archive.extractall(partial, filter="tar")
    # The archive holds one top directory, keycloak-<version>/.
    (partial / f"keycloak-{VERSION}").rename(HOME)
    partial.rmdir()
    tarball.unlink()


def _realm_stamp() -> str:
    digest = hashlib.sha256(REALM_FILE.read_bytes())
    digest.update(VERSION.encode())
    return digest.hexdigest()


def _needs_import(data: Path) -> bool:
    """True unless the database holds this very realm (the stamp is written after a start)."""
    stamp = data / "realm.sha256"
    if stamp.exists() and stamp.read_text().strip() == _realm_stamp() and (data / "h2").exists():
        return False
    stamp.unlink(missing_ok=True)
    shutil.rmtree(data / "h2", ignore_errors=True)
    # --import-realm reads <home>/data/import.
    imports = HOME / "data" / "import"
    imports.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REALM_FILE, imports / REALM_FILE.name)
    return True


def _argv(data: Path, *, import_realm: bool) -> list[str]:
    h = ports.HOST
    return [
        str(HOME / "bin" / "kc.sh"),
        "start-dev",
        f"--http-host={h}",
        f"--http-port={ports.KEYCLOAK}",
        f"--hostname={URL}",
        f"--http-management-host={h}",
        f"--http-management-port={ports.KEYCLOAK_MANAGEMENT}",
        "--health-enabled=true",
        # Dev mode's default, spelled out: the clustered cache (`ispn`) would start JGroups,
        # which binds every interface and pings the other members it finds in the database.
        "--cache=local",
        "--db=dev-file",
        f"--db-url=jdbc:h2:file:{data / 'h2' / 'keycloakdb'};NON_KEYWORDS=VALUE",
        *(["--import-realm"] if import_realm else []),
    ]


def _hosts_file(state: Path) -> Path:
    """The JVM's only name service: no name is ever sent to a DNS server.

    Liquibase reverse-resolves the machine's first non-loopback address at every start
    (the owner of its lock), which the system resolver would send to the DNS server.
    Unknown names and addresses now simply fail to resolve.
    """
    hosts = state / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {socket.gethostname()}\n::1 localhost\n")
    return hosts


def _env(state: Path) -> dict[str, str]:
    """The caller's KC_*/QUARKUS_*/JAVA_OPTS* would silently change the server: drop them."""
    own = ("KC_", "KEYCLOAK_", "QUARKUS_", "JAVA_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")
    env = {k: v for k, v in procs.clean_env().items() if not k.startswith(own)}
    java_options = [
        *JVM_OPTIONS,
        f"-Djdk.net.hosts.file={_hosts_file(state)}",
        # Not in <home>/data, which every state (and a concurrent test's Keycloak) shares.
        f"-Dquarkus.transaction-manager.object-store.directory={state / 'data' / 'tx'}",
    ]
    env.update(
        {
            "JAVA_HOME": str(java_home()),
            "PATH": f"{java_home() / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "JAVA_OPTS_KC_HEAP": HEAP,
            "JAVA_OPTS_APPEND": " ".join(java_options),
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
    )
    return env


class Keycloak(Component):
    name = "keycloak"

    def install(self) -> None:
        install()

    def healthy(self) -> bool:
        # The realm's discovery document: the server is up *and* the import is done.
        return procs.http_ok(f"{ISSUER}/.well-known/openid-configuration")

    def launch(self) -> None:
        data = paths.data_dir(self.name)
        import_realm = _needs_import(data)
        argv = _argv(data, import_realm=import_realm)
        state = paths.state_dir(self.name)
        procs.start(self.name, argv, env=_env(state), cwd=state)
        # The first start also runs Quarkus' build step (30-40 s on 2 cores).
        procs.wait_ready(self.name, self.healthy, 240, f"Keycloak realm {REALM} at {ISSUER}")
        if import_realm:
            # Importing costs seconds at each start: skip it while the realm is unchanged.
            (data / "realm.sha256").write_text(_realm_stamp())

    def describe(self) -> str:
        return f"{super().describe()} keycloak {VERSION} (JDK {java_version()}) {ISSUER}"
