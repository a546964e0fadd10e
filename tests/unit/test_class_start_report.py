"""The class-start benchmark's pure parts: arrival schedules, percentiles, the report."""

from __future__ import annotations

import time

import pytest

from benchmarks.class_start.report import (
    Ceiling,
    Drill,
    Pattern,
    Phase,
    Start,
    api_request_total,
    arrival_offsets,
    comparison,
    ended_start,
    exact,
    parse_pattern,
    percentile,
    ready_times,
    reason_of,
)

QUOTA = (
    "Spawn failed: Your server cannot start now: the group 'student' already has 100 of its "
    "100 servers running. Try again in a few minutes."
)


def test_patterns_are_read_as_an_operator_writes_them():
    assert parse_pattern("burst") == Pattern("burst")
    assert parse_pattern("rate:5") == Pattern("rate", per_second=5)
    assert parse_pattern("curve") == Pattern("curve", seconds=600)
    assert parse_pattern("curve:120") == Pattern("curve", seconds=120)
    assert str(parse_pattern("rate:2.5")) == "rate:2.5"


@pytest.mark.parametrize("text", ["rate", "rate:0", "rate:fast", "burst:3", "curve:-1", "wave"])
def test_a_mistyped_pattern_is_refused_before_anything_starts(text: str):
    with pytest.raises(ValueError, match="unknown arrival pattern"):
        parse_pattern(text)


def test_a_burst_sends_every_start_in_the_same_instant():
    assert arrival_offsets(Pattern("burst"), 4) == [0.0, 0.0, 0.0, 0.0]


def test_a_rate_spaces_the_starts_evenly():
    assert arrival_offsets(Pattern("rate", per_second=5), 4) == [0.0, 0.2, 0.4, 0.6]


def test_the_8_oclock_curve_peaks_early_and_stays_within_its_duration():
    offsets = arrival_offsets(Pattern("curve", seconds=600), 1000)
    assert offsets == sorted(offsets)
    assert offsets[0] > 0 and offsets[-1] < 600
    first_quarter = sum(1 for t in offsets if t < 150)
    assert first_quarter == 250  # the peak at 150 s: a quarter arrive before it
    # Densest around the peak: more arrivals in the minute around it than in the last one.
    assert sum(1 for t in offsets if 120 <= t < 180) > 3 * sum(1 for t in offsets if t >= 540)


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 100) == 100
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 50) is None


def test_refusals_of_different_users_have_the_same_reason():
    other = QUOTA.replace("100 of its 100", "7 of its 7")
    assert reason_of(QUOTA) == reason_of(other)
    assert reason_of(QUOTA).startswith("Your server cannot start now: the group 'student'")


def test_a_start_ended_after_202_is_refused_only_with_a_refusal_message():
    assert ended_start("a", QUOTA).outcome == "refused"
    assert ended_start("a", "Spawn failed: pod did not start in 300 seconds!").outcome == "failed"
    assert ended_start("a", "").reason == "ended without a message"


def test_api_server_requests_are_summed_over_every_label():
    metrics = "\n".join(
        [
            "# HELP apiserver_request_total Counter of apiserver requests",
            'apiserver_request_total{code="201",resource="pods",verb="POST"} 12',
            'apiserver_request_total{code="200",resource="pods",verb="WATCH"} 3.5',
            'apiserver_request_duration_seconds_count{verb="POST"} 99',
        ]
    )
    assert api_request_total(metrics) == 15.5


def phase(spawner: str, ready_times: list[float], refused: int = 0, cpu: float = 10) -> Phase:
    starts = [Start(f"u{i}", "ready", t) for i, t in enumerate(ready_times)]
    starts += [Start(f"r{i}", "refused", reason="quota") for i in range(refused)]
    return Phase(spawner, Pattern("burst"), starts, 10.0, cpu, 200 * 2**20, 500.0, True)


def test_the_report_puts_both_spawners_side_by_side_with_ratios():
    ours = phase("unilim", [1.0, 2.0, 3.0, 4.0], refused=1, cpu=12.5)
    theirs = phase("kubernetes", [1.0, 1.0, 2.0, 2.0, 2.0], cpu=10)
    lines = comparison(ours, theirs).splitlines()
    assert lines[0] == "5 users, burst"
    row = {line.split("|")[0].strip(): [c.strip() for c in line.split("|")[1:]] for line in lines}
    assert row["ready"] == ["4", "5", "-"]
    assert row["refused"] == ["1", "0", "-"]
    assert row["time to ready p95 (s)"] == ["4.0", "2.0", "2.00×"]
    assert row["starts per second"] == ["0.40", "0.50", "0.80×"]
    assert row["hub CPU seconds per start"] == ["2.500", "2.000", "1.25×"]
    assert row["hub peak RSS (MiB)"] == ["200", "200", "1.00×"]
    assert row["API-server requests per start"] == ["100.0", "100.0", "1.00×"]
    assert row["hub stayed up"] == ["yes", "yes", "-"]
    assert "unilim refused ×1: quota" in lines


def test_the_ceiling_and_the_restart_drill_read_as_sentences():
    ceiling = Ceiling(100, created=2.0, ready=4.0)
    assert str(ceiling) == (
        "platform ceiling (no hub): 100 pods created in 2.0 s (50.0 pods/s); "
        "all served by the pod runner after 4.0 s (25.0 pods/s)"
    )
    assert "not all served" in str(Ceiling(100, 2.0, None))
    drill = Drill(10, 5.0, 7.5, 10, {"student": 10}, {"student": 10}, (10, 10, 11))
    text = str(drill)
    assert "answered after 5.0 s, a new start ready after 7.5 s" in text
    assert "servers kept: 10 of 10; pods per charged group unchanged" in text
    assert (
        "the hub's usage of the group student: 10 servers before the restart, 10 once it "
        "answered, 11 after the new start (the kept ones, then + 1: as expected)"
    ) in text
    lost = str(Drill(10, 5.0, None, 9, {"student": 10}, {"student": 9}, (10, None, None)))
    assert "pods per charged group CHANGED" in lost
    assert "11 after" not in lost and "(the kept ones, then + 1: NOT as expected)" in lost
    full = Drill(
        10, 5.0, None, 10, {"student": 10}, {"student": 10}, (10, 10, 10), "HTTP 429", False
    )
    assert "a new start ready after - s (HTTP 429)" in str(full)
    assert "(the kept ones, then + 0: as expected)" in str(full)


def test_a_ready_start_is_timed_by_the_hubs_log_to_the_millisecond():
    log = (
        "[I 2026-11-30 08:00:03.250 JupyterHub base:1144] User bu0001 took 3.100 seconds to start\n"
        "[I 2026-11-30 08:00:04.000 JupyterHub log:192] 200 GET /hub/api/users (devenv@127.0.0.1)\n"
        "[W 2026-11-30 08:00:05.000 JupyterHub base:1247] User bu0002 is slow to start\n"
    )
    ready_at = ready_times(log)
    assert set(ready_at) == {"bu0001"}
    sent_at = time.mktime(time.strptime("2026-11-30 08:00:00", "%Y-%m-%d %H:%M:%S"))
    polled = Start("bu0001", "ready", 6.0)  # seen ready by a poll, seconds later
    assert exact(polled, sent_at, ready_at).seconds == pytest.approx(3.25)
    refused = Start("bu0002", "refused", reason="quota")
    assert exact(refused, sent_at, ready_at) == refused
