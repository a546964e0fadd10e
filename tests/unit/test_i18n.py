"""Every text exists in French and English, with the same placeholders."""

import re
import string
from pathlib import Path

import pytest

from unilim_hub.i18n import catalog, negotiate, terminal_language
from unilim_hub.policy.properties import COURSE_PROFILES


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
    assert codes - {COURSE_PROFILES} <= catalog("en").keys()


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
