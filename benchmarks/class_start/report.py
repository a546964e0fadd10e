"""The pure parts of the class-start benchmark: arrival schedules, outcomes, the report.

No I/O here: what the run measured comes in as values, the report goes out as text.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field

# What UnilimSpawner's refusals say first (the catalog's spawn.* messages, in English):
# a start that ended with it after the hub had answered 202 was refused, not failed.
REFUSAL_START = "Your server cannot start"
# A curve without a duration: 10 minutes, the students of an 8:00 lecture arriving from
# about 7:57 to 8:07.
CURVE_SECONDS = 600.0
# Where the curve peaks, as a fraction of its duration (about 7:59:30 of 7:57–8:07).
CURVE_PEAK = 0.25


@dataclass(frozen=True)
class Pattern:
    """How the start requests arrive: ``burst`` (all in the same second), ``rate``
    (``per_second`` a second, evenly) or ``curve`` (over ``seconds``, peaking early)."""

    kind: str
    per_second: float = 0.0
    seconds: float = 0.0

    def __str__(self) -> str:
        if self.kind == "rate":
            return f"rate:{self.per_second:g}"
        if self.kind == "curve":
            return f"curve:{self.seconds:g}"
        return self.kind


def parse_pattern(text: str) -> Pattern:
    """``burst``, ``rate:5`` (starts per second) or ``curve`` / ``curve:120`` (seconds)."""
    kind, _, value = text.partition(":")
    try:
        if kind == "burst" and not value:
            return Pattern("burst")
        if kind == "rate" and float(value) > 0:
            return Pattern("rate", per_second=float(value))
        if kind == "curve" and (not value or float(value) > 0):
            return Pattern("curve", seconds=float(value) if value else CURVE_SECONDS)
    except ValueError:
        pass
    raise ValueError(f"unknown arrival pattern {text!r}: burst, rate:<per second> or curve[:<s>]")


def arrival_offsets(pattern: Pattern, n: int) -> list[float]:
    """Seconds after the first request at which each of the ``n`` starts is sent, in order."""
    if pattern.kind == "burst":
        return [0.0] * n
    if pattern.kind == "rate":
        return [i / pattern.per_second for i in range(n)]
    # The curve: a triangular distribution (0, peak, seconds); the i-th student arrives at
    # its (i + 0.5) / n quantile, so a run is the same every time.
    return [_triangular_quantile((i + 0.5) / n, pattern.seconds) for i in range(n)]


def _triangular_quantile(u: float, seconds: float) -> float:
    peak = CURVE_PEAK * seconds
    if u < CURVE_PEAK:
        return math.sqrt(u * seconds * peak)
    return seconds - math.sqrt((1 - u) * seconds * (seconds - peak))


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (q in 0..100); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def reason_of(message: str) -> str:
    """A refusal's reason, the same for every user it hit: its first sentence, numbers and
    quoted names left out ("…already has N of its N servers running")."""
    first = message.removeprefix("Spawn failed: ").split(". ")[0]
    return re.sub(r"\d+(\.\d+)?", "N", first).strip()[:120]


# JupyterHub's own line when a server is ready (handlers/base.py), with the log's time.
READY_LINE = re.compile(
    r"^\[I (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) JupyterHub [\w.]+:\d+\] "
    r"User (\S+) took [\d.]+ seconds to start"
)


@dataclass(frozen=True)
class Start:
    """One user's start: ``ready``, ``refused`` or ``failed``; ``seconds`` from its request
    to its server ready (ready ones only)."""

    name: str
    outcome: str
    seconds: float | None = None
    reason: str = ""


def ready_times(log: str) -> dict[str, float]:
    """When the hub logged each user's server ready (epoch seconds, ms resolution)."""
    found = {}
    for line in log.splitlines():
        if match := READY_LINE.match(line):
            stamp = time.mktime(time.strptime(match[1][:19], "%Y-%m-%d %H:%M:%S"))
            found[match[2]] = stamp + float(match[1][19:])
    return found


def exact(start: Start, sent_at: float, ready_at: dict[str, float]) -> Start:
    """A ready start timed by the hub's log rather than by the poll that saw it."""
    if start.outcome != "ready" or start.name not in ready_at:
        return start
    return Start(start.name, "ready", max(ready_at[start.name] - sent_at, 0.0))


def ended_start(name: str, message: str) -> Start:
    """A start the hub accepted (202) that ended without a server."""
    if REFUSAL_START in message:
        return Start(name, "refused", reason=reason_of(message))
    return Start(name, "failed", reason=reason_of(message) or "ended without a message")


@dataclass(frozen=True)
class Phase:
    """What one spawner did with one arrival pattern, from the first request to the last
    outcome (``elapsed`` seconds), and what the hub and the API server spent on it."""

    spawner: str
    pattern: Pattern
    starts: list[Start]
    elapsed: float
    cpu_seconds: float
    peak_rss_bytes: int
    api_requests: float
    hub_up: bool
    notes: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for start in self.starts if start.outcome == outcome)

    def reasons(self, outcome: str) -> Counter[str]:
        return Counter(s.reason for s in self.starts if s.outcome == outcome)

    def times(self) -> list[float]:
        return [s.seconds for s in self.starts if s.seconds is not None]

    def per_start(self, total: float) -> float | None:
        return total / len(self.starts) if self.starts else None

    def starts_per_second(self) -> float | None:
        ready = self.count("ready")
        return ready / self.elapsed if ready and self.elapsed > 0 else None


def api_request_total(metrics: str) -> float:
    """The sum of the API server's ``apiserver_request_total`` counters (its /metrics text)."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith("apiserver_request_total{") or line.startswith(
            "apiserver_request_total "
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None or theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}×"


def _rows(phase: Phase) -> dict[str, tuple[str, float | None]]:
    """Each row of the report: its text, and the number a ratio is taken of (or None)."""
    times = phase.times()
    rss = phase.peak_rss_bytes / 2**20
    rows: dict[str, tuple[str, float | None]] = {
        "ready": (str(phase.count("ready")), None),
        "refused": (str(phase.count("refused")), None),
        "failed": (str(phase.count("failed")), None),
    }
    for name, q in (("p50", 50), ("p95", 95), ("max", 100)):
        value = percentile(times, q)
        rows[f"time to ready {name} (s)"] = (_number(value, 1), value)
    rate, cpu = phase.starts_per_second(), phase.per_start(phase.cpu_seconds)
    api = phase.per_start(phase.api_requests)
    rows["starts per second"] = (_number(rate), rate)
    rows["hub CPU seconds per start"] = (_number(cpu, 3), cpu)
    rows["hub peak RSS (MiB)"] = (_number(rss, 0), rss)
    rows["API-server requests per start"] = (_number(api, 1), api)
    rows["hub stayed up"] = ("yes" if phase.hub_up else "NO", None)
    return rows


def comparison(ours: Phase, theirs: Phase) -> str:
    """The two spawners side by side, with the ratio ours / theirs where it means something."""
    left, right = _rows(ours), _rows(theirs)
    width = max(len(name) for name in left)
    lines = [
        f"{len(ours.starts)} users, {ours.pattern}",
        f"{'':<{width}} | {ours.spawner:>12} | {theirs.spawner:>12} | ratio",
    ]
    for name, (text, value) in left.items():
        other_text, other_value = right[name]
        lines.append(
            f"{name:<{width}} | {text:>12} | {other_text:>12} | {_ratio(value, other_value)}"
        )
    for phase in (ours, theirs):
        for outcome in ("refused", "failed"):
            for reason, count in sorted(phase.reasons(outcome).items()):
                lines.append(f"{phase.spawner} {outcome} ×{count}: {reason}")
        lines += [f"{phase.spawner}: {note}" for note in phase.notes]
    return "\n".join(lines)


@dataclass(frozen=True)
class Ceiling:
    """The platform with no hub: ``n`` light pods created at once, ``created`` seconds until
    the API server had accepted them all, ``ready`` until the pod runner served them all."""

    n: int
    created: float
    ready: float | None

    def __str__(self) -> str:
        ready = (
            f"all served by the pod runner after {self.ready:.1f} s "
            f"({self.n / self.ready:.1f} pods/s)"
            if self.ready
            else "not all served by the pod runner in time"
        )
        return (
            f"platform ceiling (no hub): {self.n} pods created in {self.created:.1f} s "
            f"({self.n / self.created:.1f} pods/s); {ready}"
        )


@dataclass(frozen=True)
class Drill:
    """A hub restart with ``running`` servers: seconds until the hub answered and until a
    new start was ready; servers and per-group pod counts before and after; the hub's own
    count of the `student` group's servers (unilim_group_usage) before the restart, once
    it answered again, and after the new start; why the new start was not ready, if not."""

    running: int
    answered: float
    new_start_ready: float | None
    kept: int
    groups_before: dict[str, int]
    groups_after: dict[str, int]
    usage: tuple[float | None, float | None, float | None]
    not_ready: str | None = None
    new_start_accepted: bool = True  # not refused: its server counts, ready or not yet

    def __str__(self) -> str:
        new = f"{_number(self.new_start_ready, 1)} s"
        if self.not_ready:
            new += f" ({self.not_ready})"
        same = "unchanged" if self.groups_before == self.groups_after else "CHANGED"
        before, restarted, after = (_number(value, 0) for value in self.usage)
        added = 1 if self.new_start_accepted else 0
        expected = (self.kept, self.kept, self.kept + added)
        verdict = "as expected" if self.usage == expected else "NOT as expected"
        return "\n".join(
            [
                f"hub restart with {self.running} servers running: answered after "
                f"{self.answered:.1f} s, a new start ready after {new}",
                f"servers kept: {self.kept} of {self.running}; pods per charged group {same}: "
                f"{self.groups_before} -> {self.groups_after}",
                f"the hub's usage of the group student: {before} servers before the restart, "
                f"{restarted} once it answered, {after} after the new start (the kept ones, "
                f"then + {added}: {verdict})",
            ]
        )
