"""The values admins type: memory, CPU, counts, names, dates."""

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unilim_hub.i18n import human_memory
from unilim_hub.policy.problems import InvalidValue
from unilim_hub.policy.quantities import (
    format_cpu,
    format_memory,
    parse_count,
    parse_cpu,
    parse_date,
    parse_memory,
    parse_name,
    parse_names,
    parse_priority,
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


@pytest.mark.parametrize(
    ("unit", "power"), [("", 0), ("K", 1), ("M", 2), ("G", 3), ("T", 4), ("Ko", 1), ("To", 4)]
)
def test_memory_units_are_powers_of_1024(unit, power):
    # The round trip above passes with any unit table: pin the table itself.
    assert parse_memory(f"3{unit}") == 3 * 1024**power


@pytest.mark.parametrize(
    "typed", ["4 Go", "4Go", "4 go", "4GO", "4 Gio", "4G", "4 GB", "4Gi", 4 * GiB]
)
def test_memory_in_french_units_as_the_picker_writes_it(typed):
    # Issue 9.6: the French picker shows 4 GiB as "4 Go"; an admin copies what they see.
    assert parse_memory(typed) == 4 * GiB


@pytest.mark.parametrize(("typed", "expected"), [("512 Mo", 512 * 1024**2), ("1,5 Go", None)])
def test_other_french_memory_spellings(typed, expected):
    if expected is None:  # a decimal comma is refused, not read as 15 or 1
        with pytest.raises(InvalidValue):
            parse_memory(typed)
    else:
        assert parse_memory(typed) == expected


@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["K", "M", "G", "T"]))
def test_the_pickers_french_display_is_read_back_as_the_same_amount(number, unit):
    amount = number * 1024 ** "KMGT".index(unit) * 1024
    for language in ("fr", "en"):
        assert parse_memory(human_memory(amount, language)) == amount


@pytest.mark.parametrize("typed", ["Python", "PYTHON", "info101-R", "-python", "python-", "a b"])
def test_names_with_capitals_or_odd_ends_are_refused(typed):
    with pytest.raises(InvalidValue) as error:
        parse_name(typed)
    assert error.value.code == "name.invalid"


junk_values = st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.lists(st.text()))


@given(junk_values)
def test_parsers_return_a_value_of_their_kind_or_raise_invalid_value(junk):
    # Not just "does not crash": what is returned is what the parser promises.
    for parser, kind in (
        (parse_memory, int),
        (parse_cpu, int),
        (parse_count, int),
        (parse_names, tuple),
        (parse_date, date),
    ):
        with contextlib.suppress(InvalidValue):
            result = parser(junk)
            assert isinstance(result, kind), (parser, junk, result)
            if kind is int:
                assert result >= 0


@pytest.mark.parametrize(
    ("parser", "typed", "code", "shown"),
    [
        (parse_cpu, "2 cores", "cpu.invalid", "2 cores"),
        (parse_cpu, "0.0001", "cpu.invalid", "0.0001"),
        (parse_memory, "4Gx", "memory.invalid", "4Gx"),
        (parse_memory, "-1G", "value.negative", "-1G"),
        (parse_count, "lots", "count.invalid", "lots"),
        (parse_memory, [4], "value.type", "[4]"),
        (parse_cpu, True, "value.type", "True"),
        (parse_memory, " 2000000T ", "memory.invalid", "2000000T"),  # above the largest
        (parse_memory, "9" * 400, "memory.invalid", "9" * 400),
        (parse_cpu, "2000000", "cpu.invalid", "2000000"),
        (parse_priority, "-high", "count.invalid", "-high"),
        (parse_priority, " 1.5 ", "count.invalid", "1.5"),
    ],
)
def test_a_wrong_value_is_told_with_what_was_typed(parser, typed, code, shown):
    with pytest.raises(InvalidValue) as error:
        parser(typed)
    assert (error.value.code, error.value.params) == (code, {"value": shown})


def test_the_largest_amounts_are_accepted_and_one_more_is_not():
    assert parse_cpu("1000000") == 10**9  # a million cores: the largest CPU amount
    with pytest.raises(InvalidValue):
        parse_cpu("1000001")
    assert parse_memory(str(1024**6)) == 1024**6
    with pytest.raises(InvalidValue):
        parse_memory(str(2 * 1024**6))
