"""Run the class-start benchmark: `python -m benchmarks.class_start --help`.

The steps: bring the local platform up; measure its own ceiling (light pods with no hub);
then, for each round, UnilimSpawner and plain KubeSpawner one after the other (the order
alternates between rounds), each on a fresh hub: create the users, send their starts
with the arrival pattern, wait for every outcome, read what the hub and the API server
spent, (UnilimSpawner) restart the hub with the servers running, stop and delete
everything. Whatever happens, Ctrl-C included, the hubs and the benchmark's pods go.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from devenv import kube, paths
from devenv import platform as devenv_platform
from tests.integration.hub import Hub, active_servers, group_usage, stop_all
from tests.integration.test_quotas_hub import start_page_message
from unilim_hub.cluster import CHARGED_GROUP

from . import measure
from .report import (
    Drill,
    Pattern,
    Phase,
    Start,
    arrival_offsets,
    comparison,
    ended_start,
    exact,
    parse_pattern,
    ready_times,
    reason_of,
)

# Not the tests' ports: the benchmark may run while a developer's demo does.
PORTS = (18750, 18751, 18791)
SPAWNERS = ("unilim", "kubernetes")
PREFIX = {"unilim": "bu", "kubernetes": "bk"}  # user names: bu0001, bk0001, ...
BODY: dict[str, dict[str, str]] = {"unilim": {"profile": "python"}, "kubernetes": {}}
LABELS = {**measure.LIGHT, measure.BENCH_LABEL: "class-start"}
COMMON_CONFIG = f"""
c.KubeSpawner.extra_labels = {LABELS!r}
c.KubeSpawner.start_timeout = 300
c.JupyterHub.cleanup_servers = False  # as z2jh: a hub restart leaves servers running
"""
# Plain KubeSpawner with the same light pods, profile-less; the user namespace enforces
# Pod Security "restricted", which a plain deployment meets with this security context.
KUBESPAWNER_CONFIG = """
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.JupyterHub.proxy_class = "jupyterhub.proxy.ConfigurableHTTPProxy"
c.KubeSpawner.container_security_context = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""
POLL_SECONDS = 2.0
LISTING_EVERY = 8  # polls: the hub is asked for the starts still waiting every 16 s
HUBS: list[Hub] = []  # running now: stopped on the way out, whatever happens


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def hub_config(spawner: str) -> str:
    return COMMON_CONFIG + (KUBESPAWNER_CONFIG if spawner == "kubernetes" else "")


def create_users(hub: Hub, names: list[str], course_size: int) -> None:
    """All in `student`; `course_size` at a time in a course group (course-bench-00, ...).

    The `student` group's quota is raised to the number of users, as an admin would for
    the day of a class start of that size: that many servers and a core each (the
    example policy's 900 servers and 180 cores, 0.2 per `python` server, would refuse
    the rest by design); its memory (1800G, 1G per server) stays the example's.
    """
    hub.api("POST", "/groups/student")
    count = str(len(names))
    hub.set_properties("student", {"quota.servers": count, "quota.cpu": count})
    for first in range(0, len(names), course_size):
        course = names[first : first + course_size]
        group = f"course-bench-{first // course_size:02}"
        hub.api("POST", "/users", json={"usernames": course})  # 409 for existing ones: fine
        hub.api("POST", f"/groups/{group}")
        for member_of in (group, "student"):
            hub.api("POST", f"/groups/{member_of}/users", json={"users": course}).raise_for_status()


def delete_users(hub: Hub, names: list[str]) -> None:
    stop_all(hub)
    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda name: hub.api("DELETE", f"/users/{name}"), names))


class Starts:
    """The outcome of every start, filled by the request threads and the poll.

    A server's readiness is read from the hub's log as it grows (JupyterHub logs each
    server ready, to the millisecond), which costs the hub nothing; only the starts that
    end without a server need the hub's API, a listing every LISTING_EVERY polls. (A
    listing every 2 s of 1,000 users is work the hub does during the burst that a class
    of students waiting on their start pages does not ask of it.)
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.lock = threading.Lock()
        self.sent_at: dict[str, float] = {}  # wall clock, as the hub's log
        self.accepted: set[str] = set()  # answered 202: outcome still to come
        self.done: dict[str, Start] = {}
        self.last = 0.0  # when the last outcome came (wall clock)
        self.ready_at: dict[str, float] = {}  # from the hub's log
        self.log_read = 0  # bytes of the log read so far
        self.polls = 0

    def finish(self, start: Start, at: float | None = None) -> None:
        with self.lock:
            self.accepted.discard(start.name)
            self.done[start.name] = start
            self.last = max(self.last, at or time.time())

    def send(self, name: str, body: dict[str, str], timeout: float, follow: bool) -> None:
        began = self.sent_at[name] = time.time()
        try:
            response = requests.post(
                f"{self.hub.url}/hub/api/users/{name}/server",
                json=body,
                headers={"Authorization": f"token {self.hub.token}"},
                timeout=timeout,
            )
        except requests.RequestException as error:
            self.finish(Start(name, "failed", reason=type(error).__name__))
            return
        if response.status_code == 201:  # the hub waited for it: ready now
            self.finish(Start(name, "ready", time.time() - began))
        elif response.status_code == 202:
            with self.lock:
                self.accepted.add(name)
            if follow:
                self.follow(name, timeout)
        else:
            outcome = "refused" if response.status_code == 429 else "failed"
            reason = f"HTTP {response.status_code}: {reason_of(message_of(response))}"
            self.finish(Start(name, outcome, reason=reason))

    def follow(self, name: str, timeout: float) -> None:
        """What a student's start page does: follow the start's progress events until it
        is ready or failed. A stream cut short leaves the outcome to the poll."""
        last: dict[str, Any] = {}
        try:
            with requests.get(
                f"{self.hub.url}/hub/api/users/{name}/server/progress",
                headers={"Authorization": f"token {self.hub.token}"},
                stream=True,
                timeout=timeout,
            ) as stream:
                for line in stream.iter_lines():  # bytes: the stream names no charset
                    if line.startswith(b"data:"):
                        last = json.loads(line.removeprefix(b"data:"))
                        if last.get("ready") or last.get("failed"):
                            break
        except (requests.RequestException, ValueError):
            return
        if last.get("ready"):
            self.finish(Start(name, "ready", time.time() - self.sent_at[name]))
        elif last.get("failed"):
            self.finish(ended_start(name, str(last.get("message", ""))))

    def read_log(self) -> None:
        """The servers the hub logged ready since the last read (whole lines only)."""
        with self.hub.log_path.open("rb") as log:
            log.seek(self.log_read)
            text = log.read()
        complete = text[: text.rfind(b"\n") + 1]
        self.log_read += len(complete)
        self.ready_at.update(ready_times(complete.decode(errors="replace")))

    def poll(self) -> None:
        """Ready (from the log), or gone: refused or failed after 202 (from the API)."""
        with self.lock:
            waiting = set(self.accepted)
        if not waiting:
            return
        self.read_log()
        for name in waiting & self.ready_at.keys():
            at = self.ready_at[name]
            self.finish(Start(name, "ready", at - self.sent_at[name]), at)
        self.polls += 1
        waiting -= self.ready_at.keys()
        if not waiting or self.polls % LISTING_EVERY:
            return
        try:
            listed = active_servers(self.hub)
        except (requests.RequestException, ValueError):  # the hub too busy to answer
            return
        for name in waiting:
            if name not in listed and not has_server(self.hub, name):  # paging can miss one
                self.finish(ended_start(name, start_page_message(self.hub, name)))


def has_server(hub: Hub, name: str) -> bool:
    try:
        return "" in hub.api("GET", f"/users/{name}").json().get("servers", {})
    except (requests.RequestException, ValueError):
        return True  # no answer: ask again at the next poll


def message_of(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", ""))
    except ValueError:
        return response.text[:200]


def start_all(
    hub: Hub, names: list[str], offsets: list[float], body: dict[str, str], args: Any
) -> tuple[list[Start], float]:
    """Send each start at its offset (one thread each), wait for every outcome; returns
    them and the seconds from the first request to the last outcome."""
    timeout: float = args.timeout
    starts = Starts(hub)
    first = time.monotonic() + 2  # every thread is waiting before the first request
    first_at = time.time() + 2

    def send(name: str, offset: float) -> None:
        time.sleep(max(0.0, first + offset - time.monotonic()))
        starts.send(name, body, timeout, args.progress)

    threads = [
        threading.Thread(target=send, args=item, daemon=True)
        for item in zip(names, offsets, strict=True)
    ]
    for thread in threads:
        thread.start()
    deadline = first + offsets[-1] + timeout
    while len(starts.done) < len(names) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        starts.poll()
    for name in names:
        if name not in starts.done:
            starts.finish(Start(name, "failed", reason=f"no outcome in {timeout:g} s"))
    starts.read_log()
    timed = [exact(starts.done[name], starts.sent_at[name], starts.ready_at) for name in names]
    return timed, max(starts.last - first_at, 0.0)


def hub_is_up(hub: Hub) -> bool:
    try:
        return hub.process is not None and hub.process.poll() is None and hub.api("GET", "/").ok
    except requests.RequestException:
        return False


def process_use(hub: Hub) -> tuple[float, int]:
    """The hub's CPU seconds and peak RSS so far (NaN, 0 once it has exited)."""
    try:
        assert hub.process is not None
        return measure.cpu_seconds(hub.process.pid), measure.peak_rss_bytes(hub.process.pid)
    except (OSError, IndexError, ValueError):
        return math.nan, 0


def measure_phase(hub: Hub, spawner: str, pattern: Pattern, names: list[str], args: Any) -> Phase:
    cpu_before, _ = process_use(hub)
    api_before = measure.api_requests()
    offsets = arrival_offsets(pattern, len(names))
    say(f"{spawner}: {len(names)} starts, {pattern}")
    starts, elapsed = start_all(hub, names, offsets, BODY[spawner], args)
    cpu_after, peak_rss = process_use(hub)
    api_after = measure.api_requests()
    return Phase(
        spawner=spawner,
        pattern=pattern,
        starts=starts,
        elapsed=elapsed,
        cpu_seconds=cpu_after - cpu_before,
        peak_rss_bytes=peak_rss,
        api_requests=api_after - api_before,
        hub_up=hub_is_up(hub),
    )


def pods_per_group() -> dict[str, int]:
    """The benchmark's pods at the API server, counted per charged group (what the
    hub's quota ledger counts)."""
    listing = kube.kubectl(
        "-n", kube.USER_NAMESPACE, "get", "pods", "-l", measure.BENCH_LABEL, "-o", "json"
    )
    labels = [pod["metadata"].get("labels", {}) for pod in json.loads(listing)["items"]]
    return dict(Counter(found[CHARGED_GROUP] for found in labels if CHARGED_GROUP in found))


def restart_drill(hub: Hub, running: list[str], probe: str, config: str) -> Drill:
    """Restart the hub with `running` servers up; a new user (`probe`) then starts."""
    before, usage_before = pods_per_group(), group_usage(hub, "student")
    say(f"restart drill: {len(running)} servers running, pods per group {before}")
    hub.stop()
    began = time.monotonic()
    hub.start(config, timeout=300)
    answered = time.monotonic() - began
    after = pods_per_group()
    # The hub counts usage once its watch of the cluster has listed the pods (the watch
    # starts at its first poll, in the background).
    deadline = time.monotonic() + 30
    while (usage_restarted := group_usage(hub, "student")) is None and time.monotonic() < deadline:
        time.sleep(1)
    ready_after, not_ready = None, None
    response = hub.api("POST", f"/users/{probe}/server", json=BODY["unilim"])
    accepted = response.status_code in (201, 202)
    if accepted:
        try:
            hub.wait_ready(probe, timeout=120)
            ready_after = time.monotonic() - began
        except RuntimeError as error:
            not_ready = str(error)
    else:
        not_ready = f"HTTP {response.status_code}: {message_of(response)}"
    deadline = time.monotonic() + 60  # the hub lists a kept server ready once it checked it
    while (kept := ready_among(hub, running)) < len(running) and time.monotonic() < deadline:
        time.sleep(1)
    usage = (usage_before, usage_restarted, group_usage(hub, "student"))
    return Drill(
        len(running), answered, ready_after, kept, before, after, usage, not_ready, accepted
    )


def ready_among(hub: Hub, names: list[str]) -> int:
    listed = active_servers(hub)
    return sum(1 for name in names if listed.get(name))


def run_spawner(
    spawner: str, pattern: Pattern, workdir: Path, args: Any
) -> tuple[Phase, Drill | None]:
    """One spawner on a fresh hub: users, starts, (UnilimSpawner) restart drill, clean-up."""
    workdir.mkdir()
    hub = Hub(workdir, ports=PORTS)
    HUBS.append(hub)
    names = [f"{PREFIX[spawner]}{i:04}" for i in range(args.n)]
    probe = f"{PREFIX[spawner]}probe"
    drill = None
    try:
        hub.start(hub_config(spawner))
        create_users(hub, [*names, probe], args.course_size)
        phase = measure_phase(hub, spawner, pattern, names, args)
        keep_log(hub, f"{workdir.name}-starts")  # the drill's restart starts a new log
        say(f"{spawner}: {phase.count('ready')} ready in {phase.elapsed:.1f} s")
        if args.drill and spawner == "unilim" and phase.hub_up:
            ready = [s.name for s in phase.starts if s.outcome == "ready"]
            drill = restart_drill(hub, ready, probe, hub_config(spawner))
        if hub_is_up(hub):
            delete_users(hub, [*names, probe])
    finally:
        hub.stop()
        HUBS.remove(hub)
        keep_log(hub, f"{workdir.name}-end")
        measure.delete_bench_pods()
    return phase, drill


LOGS = paths.STATE / "benchmarks" / time.strftime("class-start-%Y%m%d-%H%M%S")


def keep_log(hub: Hub, name: str) -> None:
    """A copy of the hub's log, kept after the run (a hub that died is read afterwards)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    if hub.log_path.exists():
        shutil.copyfile(hub.log_path, LOGS / f"{name}.log")


def run(args: Any, workdir: Path) -> None:
    pattern = parse_pattern(args.pattern)
    if args.ceiling:
        say(f"platform ceiling: {args.ceiling} light pods, no hub")
        try:
            print(asyncio.run(measure.ceiling(args.ceiling, args.ceiling_concurrency)), flush=True)
        finally:
            measure.delete_bench_pods()
    spawners = list(SPAWNERS) if args.spawner == "both" else [args.spawner]
    for round_ in range(args.rounds):
        order = spawners if round_ % 2 == 0 else spawners[::-1]  # ABBA: drift cancels
        phases: dict[str, Phase] = {}
        for spawner in order:
            phase, drill = run_spawner(spawner, pattern, workdir / f"{spawner}-{round_}", args)
            phases[spawner] = phase
            if drill is not None:
                print(drill, flush=True)
        print(f"\nround {round_ + 1} of {args.rounds}", flush=True)
        if len(phases) == 2:
            print(comparison(phases["unilim"], phases["kubernetes"]), flush=True)
        else:
            (only,) = phases.values()
            print(comparison(only, only), flush=True)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.class_start",
        description="A class start on the local platform: UnilimSpawner against plain "
        "KubeSpawner, with light pods (docs/operators/performance.md).",
    )
    parser.add_argument("--n", type=int, default=100, help="users who start (default 100)")
    parser.add_argument(
        "--pattern",
        default="burst",
        help="burst (all in the same second), rate:<starts per second>, or curve[:<seconds>] "
        "(the 8:00 arrivals, 600 s unless given)",
    )
    parser.add_argument("--spawner", choices=["unilim", "kubernetes", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (default 1)")
    parser.add_argument("--course-size", type=int, default=30, help="users per course group")
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds a start may take (default 300)"
    )
    parser.add_argument(
        "--ceiling", type=int, default=None, help="light pods of the ceiling (default N; 0: skip)"
    )
    parser.add_argument("--ceiling-concurrency", type=int, default=100)
    parser.add_argument("--no-drill", dest="drill", action="store_false", help="no hub restart")
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="do not follow each start's progress events, as a start page does",
    )
    args = parser.parse_args(argv)
    parse_pattern(args.pattern)  # a typo fails here, before the platform comes up
    if args.ceiling is None:
        args.ceiling = args.n
    return args


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    # Loopback only: a proxy setting of the machine would route even 127.0.0.1 elsewhere.
    for variable in [
        v for v in os.environ if v.lower() in ("http_proxy", "https_proxy", "all_proxy")
    ]:
        del os.environ[variable]
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.0/8,localhost"
    started: list[str] = []
    try:
        devenv_platform.up(started=started)
        kube.ensure_hub_rbac()
        measure.delete_bench_pods()  # an interrupted run's leftovers
        with tempfile.TemporaryDirectory(prefix="class-start-") as workdir:
            run(args, Path(workdir))
        say(f"the hubs' logs: {LOGS}")
    except KeyboardInterrupt:
        say("interrupted: stopping the hubs and deleting the benchmark's pods")
    finally:
        for hub in list(HUBS):
            hub.stop()
        measure.delete_bench_pods()
        devenv_platform.down(started)  # only what this run started


if __name__ == "__main__":
    main()
