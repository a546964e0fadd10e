"""Start, watch and stop the devenv's background processes, by pid file only.

Each process runs detached in its own session (so a whole process group can be
stopped, and nothing else), with stdout+stderr in STATE/<name>/log.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from devenv import paths

# Popen objects of processes started by this Python process, so that we can reap
# them: a dead child stays a zombie (and looks alive) until its parent waits for it.
_children: dict[int, subprocess.Popen[bytes]] = {}

_STRIPPED_PREFIXES = ("AWS_",)
_STRIPPED_NAMES = {
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "ftp_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "FTP_PROXY",
}


class StartError(RuntimeError):
    """A component failed to build, start or become healthy."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment minus proxies and AWS_* credentials, plus `extra`.

    Proxies could route loopback traffic elsewhere; AWS_* variables would become
    credentials (an admin identity in SeaweedFS).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _STRIPPED_NAMES and not k.startswith(_STRIPPED_PREFIXES)
    }
    env.update(extra or {})
    return env


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    return "\n".join(text.splitlines()[-lines:])


def _proc_start_time(pid: int) -> str | None:
    """Kernel start time of a pid (field 22 of /proc/pid/stat), None if gone or zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _reap(pid: int) -> None:
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)


def pid(name: str) -> int | None:
    """The pid recorded for `name` if that very process is still alive."""
    try:
        recorded = paths.pid_file(name).read_text().split()
    except FileNotFoundError:
        return None
    if not recorded:
        return None
    number = int(recorded[0])
    _reap(number)
    started = _proc_start_time(number)
    # The start time guards against a recycled pid belonging to someone else.
    if started is None or (len(recorded) > 1 and recorded[1] != started):
        return None
    return number


def start(
    name: str,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start argv detached, logging to STATE/name/log; return its pid.

    `env` is the full environment of the process (default: clean_env()).
    """
    log = paths.log_file(name)
    with open(log, "wb") as out:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env() if env is None else env,
            cwd=cwd,
            start_new_session=True,
        )
    _children[child.pid] = child
    started = _proc_start_time(child.pid) or ""
    paths.pid_file(name).write_text(f"{child.pid} {started}\n")
    return child.pid


def _live_processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, fields of /proc/pid/stat after the command name) of every live process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] not in ("Z", "X"):
            yield int(entry.name), fields


def _group_alive(pgid: int) -> bool:
    return any(int(fields[2]) == pgid for _, fields in _live_processes())


def session_pids(leader: int) -> list[int]:
    """Live processes in the session `leader` started (it and all its children)."""
    return [pid for pid, fields in _live_processes() if int(fields[3]) == leader]


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of some processes (VmRSS, summed)."""
    total = 0
    for number in pids:
        try:
            status = Path(f"/proc/{number}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def stop(name: str, timeout: float = 10) -> bool:
    """SIGTERM, then SIGKILL, the process group recorded for `name`. True if it ran."""
    number = pid(name)
    if number is None:
        paths.pid_file(name).unlink(missing_ok=True)
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(number, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(number)
            if not _group_alive(number):
                break
            time.sleep(0.1)
        else:
            continue
        break
    _reap(number)
    paths.pid_file(name).unlink(missing_ok=True)
    return True


def wait_ready(name: str, check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until it is true; raise StartError if `name` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:  # a check that throws just means "not ready yet"
            pass
        if pid(name) is None:
            raise _start_error(name, f"{what}: the process exited before it was ready")
        if time.monotonic() > deadline:
            raise _start_error(name, f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.2)


def _start_error(name: str, message: str) -> StartError:
    log = paths.log_file(name)
    return StartError(f"{message}\nlog: {log}\n--- last lines ---\n{tail(log)}")


def _require_loopback(host: str) -> None:
    """Refuse anything but a literal IP in 127.0.0.0/8 or ::1 (DESIGN.md, loopback only).

    Names are refused, `localhost` included: what a name resolves to depends on the
    machine's resolver (/etc/hosts, DNS), and resolving may itself send a DNS query.
    """
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to contact {host!r}: not a literal loopback IP address")


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ok(url: str, timeout: float = 2, context: ssl.SSLContext | None = None) -> bool:
    """True if a GET on a loopback URL answers 2xx/3xx (never through a proxy)."""
    _require_loopback(urllib.parse.urlsplit(url).hostname or "")
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers) if context else _NO_PROXY
    try:
        with opener.open(url, timeout=timeout) as response:
            return 200 <= response.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


def tcp_open(host: str, port: int, timeout: float = 1) -> bool:
    """True if something accepts TCP connections on a loopback host:port."""
    _require_loopback(host)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
