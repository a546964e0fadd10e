"""User-typed text made safe for one log line or message: escaped, then cut."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from unilim_hub.policy.problems import InvalidValue
from unilim_hub.policy.untrusted import SHOWN_LENGTH, shown


def test_control_characters_are_escaped_and_other_letters_kept():
    assert shown("python\n[E] forged\x1b[31m\u2028") == "python\\n[E] forged\\x1b[31m\\u2028"
    assert shown("café — ｊｅａｎ") == "café — ｊｅａｎ"


def test_values_that_are_not_text_are_shown_as_python_writes_them():
    assert (shown(5), shown(None), shown(False), shown(["a"])) == ("5", "None", "False", "['a']")


def test_long_text_is_cut_to_the_limit_with_an_ellipsis():
    assert shown("a" * SHOWN_LENGTH) == "a" * SHOWN_LENGTH
    assert shown("a" * (SHOWN_LENGTH + 1)) == "a" * (SHOWN_LENGTH - 1) + "…"
    assert shown("abcdef", limit=4) == "abc…"
    assert shown("\n" * 1000, limit=8) == "\\n\\n\\n\\" + "…"


@given(st.text(), st.integers(min_value=1, max_value=200))
def test_shown_text_is_one_line_of_at_most_the_limit(text, limit):
    result = shown(text, limit)
    assert len(result) <= limit
    assert all(char.isprintable() for char in result)
    if len(text) <= limit and text.isprintable():
        assert result == text


def test_an_invalid_value_carries_its_code_and_values():
    error = InvalidValue("memory.invalid", value="4Gx")
    assert error.args == ("memory.invalid", {"value": "4Gx"})
