"""The values admins type: memory, CPU, counts, names, dates."""

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unilim_hub.policy.problems import InvalidValue
from unilim_hub.policy.quantities import (
    format_cpu,
    format_memory,
    parse_count,
    parse_cpu,
    parse_date,
    parse_memory,
    parse_names,
)

GiB = 1024**3


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("4G", 4 * GiB),
        ("4Gi", 4 * GiB),
        ("4GB", 4 * GiB),
        ("4g", 4 * GiB),
        ("512Mi", 512 * 1024**2),
        ("512M", 512 * 1024**2),
        ("1.5G", int(1.5 * GiB)),
        (" 2T ", 2 * 1024**4),
        ("1073741824", GiB),
        (1073741824, GiB),
    ],
)
def test_memory_as_admins_write_it(typed, expected):
    assert parse_memory(typed) == expected


@pytest.mark.parametrize(
    "typed", ["4Gx", "G", "", "four gigs", "4 G B", "1e9", "-1G", None, [4], True]
)
def test_memory_junk_is_a_typed_error(typed):
    with pytest.raises(InvalidValue) as error:
        parse_memory(typed)
    assert error.value.code in {"memory.invalid", "value.negative", "value.type"}


@pytest.mark.parametrize(
    ("typed", "millicores"),
    [("2", 2000), ("1.5", 1500), ("500m", 500), (0.2, 200), (4, 4000), ("0", 0)],
)
def test_cpu_as_admins_write_it(typed, millicores):
    assert parse_cpu(typed) == millicores


@pytest.mark.parametrize("typed", ["2 cores", "-1", "0.0001", "m", "nan", "inf", "1,5"])
def test_cpu_junk_is_a_typed_error(typed):
    with pytest.raises(InvalidValue):
        parse_cpu(typed)


def test_counts_are_whole_and_not_negative():
    assert parse_count("150") == 150
    assert parse_count(0) == 0
    for junk in ("1.5", "-3", "lots", "1e3"):
        with pytest.raises(InvalidValue):
            parse_count(junk)


def test_name_lists_from_the_admin_panel_or_json():
    assert parse_names("python, r") == ("python", "r")
    assert parse_names(" python,,r, python ") == ("python", "r")
    assert parse_names(["python", "r"]) == ("python", "r")
    assert parse_names("") == ()
    with pytest.raises(InvalidValue):
        parse_names("Python R")


def test_dates_are_iso():
    assert parse_date("2026-09-01") == date(2026, 9, 1)
    with pytest.raises(InvalidValue):
        parse_date("01/09/2026")


def test_formatting_reads_like_the_input():
    assert format_memory(4 * GiB) == "4G"
    assert format_memory(int(1.5 * GiB)) == "1.5G"
    assert format_memory(512 * 1024**2) == "512M"
    assert format_cpu(500) == "0.5"
    assert format_cpu(2000) == "2"


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["", "K", "M", "G", "T"]))
def test_memory_round_trips_through_its_display(number, unit):
    parsed = parse_memory(f"{number}{unit}")
    assert parse_memory(format_memory(parsed)) == parsed


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.lists(st.text())))
def test_parsers_only_ever_raise_invalid_value(junk):
    for parser in (parse_memory, parse_cpu, parse_count, parse_names, parse_date):
        with contextlib.suppress(InvalidValue):
            parser(junk)
