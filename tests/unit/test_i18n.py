"""Every text exists in French and English, with the same placeholders."""

import ast
import re
import string
from pathlib import Path

import pytest

from unilim_hub.i18n import (
    catalog,
    describe,
    human_memory,
    negotiate,
    size_label,
    terminal_language,
    translate,
)
from unilim_hub.policy.models import Size, Text
from unilim_hub.policy.problems import Problem
from unilim_hub.policy.properties import COURSE_DESCRIPTION, COURSE_PROFILES, COURSE_SWITCHES

GiB = 1024**3


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogs_have_the_same_messages_and_placeholders():
    english, french = catalog("en"), catalog("fr")
    assert english.keys() == french.keys()
    for code in english:
        assert placeholders(english[code]) == placeholders(french[code]), code


def test_every_code_in_the_code_has_a_message():
    source = "\n".join(
        p.read_text() for p in Path(__file__).parents[2].joinpath("unilim_hub").rglob("*.py")
    )
    used = set(re.findall(r'"([a-z_]+\.[a-z_]+)"', source))
    codes = {
        code for code in used if code.split(".")[0] in {c.split(".")[0] for c in catalog("en")}
    }
    # Group property keys look like message codes; they are not texts.
    assert codes - NOT_MESSAGES <= catalog("en").keys()


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE,en;q=0.5", "en"),
        ("de-DE", "fr"),
        ("", "fr"),
        (None, "fr"),
        ("en;q=0.2,fr;q=0.8", "fr"),
        ("fr;q=abc,en", "en"),
        ("fr;q=0,en;q=0.1", "en"),
        ("en;q=1, fr", "en"),  # no q is 1, and ties go to the first
        ("fr-FR,en;q=0.5", "fr"),  # a region is not a language
        ("EN-gb", "en"),
    ],
)
def test_language_from_the_browser(header, language):
    assert negotiate(header, default="fr") == language


def test_language_of_the_terminal(monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    assert terminal_language() == "en"
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert terminal_language() == "fr"


@pytest.mark.parametrize(
    "header", ["fr;q=0", "fr;q=0, de", "fr;q=0.0,en;q=0", "en;q=0,fr;q=0,de;q=1", "FR;q=0"]
)
def test_a_language_the_browser_refused_is_never_used(header):
    # q=0 means "not this one": neither the refused language nor, when all are refused,
    # anything but the site default.
    for default in ("fr", "en"):
        assert negotiate(header, default=default) == default
    assert negotiate("fr;q=0,en;q=0.1", default="fr") == "en"


# String literals that look like codes but are not messages: group property keys.
NOT_MESSAGES = {COURSE_PROFILES, COURSE_DESCRIPTION, *COURSE_SWITCHES}


def code_literals() -> set[str]:
    """Every string literal of the package shaped like a message code (``a.b``, ``a.b_c``)."""
    found = set()
    for path in Path(__file__).parents[2].joinpath("unilim_hub").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", node.value)
            ):
                found.add(node.value)
    return found


def test_every_message_code_used_in_the_code_is_in_both_catalogs():
    # A renamed code turns a friendly page into a 500: scan the source, whatever the prefix.
    prefixes = {code.split(".")[0] for code in catalog("en")}
    codes = {code for code in code_literals() if code.split(".")[0] in prefixes} - NOT_MESSAGES
    assert len(codes) > 50  # the scan finds the codes (it would pass vacuously otherwise)
    assert codes <= catalog("en").keys()
    assert codes <= catalog("fr").keys()


@pytest.mark.parametrize(
    ("variables", "language"),
    [
        ({"LC_ALL": "fr_FR.UTF-8", "LANG": "en_GB.UTF-8"}, "fr"),  # LC_ALL comes first
        ({"LC_MESSAGES": "fr_FR", "LANG": "en_US"}, "fr"),
        ({"LANG": "C", "LANGUAGE": "fr"}, "fr"),  # C and POSIX say nothing
        ({"LC_ALL": "POSIX", "LC_MESSAGES": "C.UTF-8", "LANGUAGE": "fr_CA"}, "fr"),
        ({"LANG": "de_DE.UTF-8", "LANGUAGE": "fr"}, "en"),  # the first one set decides
        ({"LANGUAGE": "FR"}, "fr"),
        ({"LANG": "fr.UTF-8"}, "fr"),
    ],
)
def test_language_of_the_terminal_from_the_first_locale_variable(monkeypatch, variables, language):
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert terminal_language() == language
    assert terminal_language("xx") == (language if language == "fr" else "xx")


def test_a_language_without_a_catalog_gets_english():
    assert translate("value.not_text", "de", value="3") == "3 should be a text."
    assert translate("value.not_text", "fr", value="3") == catalog("fr")["value.not_text"].format(
        value="3"
    )


def test_a_problem_with_a_close_name_suggests_it_after_the_message():
    problem = Problem(
        "UnilimSpawner.rooms[0].nme",
        "key.unknown",
        {"expected": "name, zone", "suggestion": "name"},
    )
    assert describe(problem, "en") == (
        "UnilimSpawner.rooms[0].nme: Unknown key. Accepted keys: name, zone. Did you mean 'name'?"
    )
    assert describe(problem, "fr") == (
        "UnilimSpawner.rooms[0].nme: Clé inconnue. Clés acceptées : name, zone. "
        "Vouliez-vous dire « name » ?"
    )


@pytest.mark.parametrize(
    ("size", "language", "label"),
    [
        (Size("m", Text("Moyen", "Medium"), 1000, 2000, 2 * GiB, 4 * GiB), "en",
         "Medium — 2 CPU · 4 GB RAM"),
        (Size("m", Text("Moyen", "Medium"), 1000, 2000, 2 * GiB, 4 * GiB), "fr",
         "Moyen — 2 CPU · 4 Go de RAM"),
        (Size("g", Text("GPU", "GPU"), 500, 500, GiB, 512 * 1024**2, gpu=1), "en",
         "GPU — 0.5 CPU · 512 MB RAM · 1 GPU"),
        (Size("g", Text("GPU", "GPU"), 500, 1500, GiB, 1536 * 1024**2, gpu=2), "fr",
         "GPU — 1.5 CPU · 1.5 Go de RAM · 2 GPU"),
    ],
)  # fmt: skip
def test_a_size_in_the_picker_says_its_cpu_memory_and_gpu_in_the_users_words(size, language, label):
    assert size_label(size, language) == label


@pytest.mark.parametrize(
    ("amount", "language", "shown"),
    [
        (4 * GiB, "de", "4 GB"),
        (64 * 1024, "fr", "64 Ko"),
        (1000, "fr", "1000"),
        (1000, "en", "1000"),
    ],
)
def test_memory_without_a_unit_or_in_another_language_is_still_readable(amount, language, shown):
    assert human_memory(amount, language) == shown
